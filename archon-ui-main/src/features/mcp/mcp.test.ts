import { normalizeConfig, transportsOf } from "./api";
import { logEntryOf } from "./McpPage";

it("turns the client list into copy-ready snippets", () => {
  const configs = normalizeConfig({
    clients: [
      { client: "cursor", transport: "streamable-http", where: "~/.cursor/mcp.json", config: { mcpServers: { archon: { url: "http://h:8051/mcp" } } }, command: null },
      { client: "claude-code", transport: "streamable-http", where: "shell", config: null, command: "claude mcp add --transport http archon http://h:8051/mcp" },
    ],
  });
  expect(configs.map((c) => c.name)).toEqual(["Cursor", "Claude Code"]);
  expect(JSON.parse(configs[0]!.snippet)).toEqual({ mcpServers: { archon: { url: "http://h:8051/mcp" } } });
  expect(configs[1]!.snippet).toBe("claude mcp add --transport http archon http://h:8051/mcp");
  expect(configs[0]!.hint).toContain("~/.cursor/mcp.json");
});

it("reads transports and log entries in either shape", () => {
  expect(transportsOf({ running: true, transports: { sse: "http://h/sse" } })).toEqual([{ name: "sse", url: "http://h/sse" }]);
  expect(logEntryOf({ timestamp: "t", level: "INFO", message: "m" })).toEqual({ timestamp: "t", level: "INFO", message: "m" });
  expect(logEntryOf({ type: "log", data: { timestamp: "t", level: "ERROR", message: "x" } })?.level).toBe("ERROR");
  expect(logEntryOf({ nothing: 1 })).toBeNull();
});
