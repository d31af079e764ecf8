/** MCP control API (issue 5 contract): status, client configuration, tools, logs, start/stop. */
import { api } from "../../lib/api";

export interface Transport {
  name?: string;
  transport?: string;
  url?: string | null;
  command?: string | string[] | null;
  enabled?: boolean;
}

export interface McpStatus {
  running: boolean;
  transports?: Transport[] | Record<string, unknown>;
  uptime_seconds?: number | null;
  uptime?: number | null;
  sessions?: number;
  connected_sessions?: unknown[] | number;
  tool_set?: string;
}

export interface McpTool {
  name: string;
  description?: string | null;
  annotations?: Record<string, unknown> | null;
  read_only?: boolean;
  destructive?: boolean;
}

export interface LogEntry {
  timestamp: string;
  level: string;
  message: string;
}

export interface ClientConfig {
  id: string;
  name: string;
  snippet: string;
  hint?: string;
}

export const mcpKeys = {
  all: ["mcp"] as const,
  status: () => [...mcpKeys.all, "status"] as const,
  config: () => [...mcpKeys.all, "config"] as const,
  tools: () => [...mcpKeys.all, "tools"] as const,
  logs: () => [...mcpKeys.all, "logs"] as const,
};

export const getStatus = () => api<McpStatus>("/api/mcp/status");
export const startMcp = () => api<unknown>("/api/mcp/start", { method: "POST" });
export const stopMcp = () => api<unknown>("/api/mcp/stop", { method: "POST" });

export const listTools = () =>
  api<unknown>("/api/mcp/tools").then((b) => (Array.isArray(b) ? b : ((b as { tools?: McpTool[] })?.tools ?? [])) as McpTool[]);

export const getLogs = () =>
  api<unknown>("/api/mcp/logs").then((b) => (Array.isArray(b) ? b : ((b as { logs?: LogEntry[]; items?: LogEntry[] })?.logs ?? (b as { items?: LogEntry[] })?.items ?? [])) as LogEntry[]);

const pretty = (value: unknown) => (typeof value === "string" ? value : JSON.stringify(value, null, 2));
const CLIENT_NAMES: Record<string, string> = {
  cursor: "Cursor", "claude-desktop": "Claude Desktop", "claude-code": "Claude Code", "claude-code-stdio": "Claude Code (stdio)",
  windsurf: "Windsurf", vscode: "VS Code", sse: "SSE (other clients)", "streamable-http": "Streamable HTTP (other clients)",
};
const title = (id: string) => CLIENT_NAMES[id] ?? id.replace(/[_-]+/g, " ").replace(/\b\w/g, (c) => c.toUpperCase());

/** Normalise the config endpoint's answer (a map or a list of clients) into copy-ready snippets. */
export function normalizeConfig(body: unknown): ClientConfig[] {
  if (!body || typeof body !== "object") return [];
  const rec = body as Record<string, unknown>;
  const source = rec.clients ?? rec.configs ?? body;
  if (Array.isArray(source)) {
    return source.map((c, i) => {
      const item = (c ?? {}) as Record<string, unknown>;
      const id = String(item.id ?? item.client ?? item.name ?? i);
      const snippet = item.snippet ?? item.config ?? item.command ?? item.json ?? item;
      return { id, name: typeof item.name === "string" ? item.name : typeof item.label === "string" ? item.label : title(id), snippet: pretty(snippet), hint: typeof item.where === "string" ? `${item.where}${typeof item.transport === "string" ? ` · ${item.transport}` : ""}` : typeof item.path === "string" ? item.path : typeof item.hint === "string" ? item.hint : typeof item.file === "string" ? item.file : undefined };
    });
  }
  return Object.entries(source as Record<string, unknown>).map(([id, value]) => {
    const v = value as Record<string, unknown> | string;
    if (v && typeof v === "object" && ("snippet" in v || "config" in v || "command" in v)) {
      const snippet = v.snippet ?? v.config ?? v.command;
      return { id, name: String(v.name ?? v.label ?? title(id)), snippet: pretty(snippet), hint: typeof v.path === "string" ? v.path : typeof v.file === "string" ? v.file : undefined };
    }
    return { id, name: title(id), snippet: pretty(value) };
  });
}

export const getConfigSnippets = () => api<unknown>("/api/mcp/config").then(normalizeConfig);

/** Transports as a list whatever the server's shape. */
export function transportsOf(status: McpStatus | undefined): Transport[] {
  const t = status?.transports;
  if (!t) return [];
  if (Array.isArray(t)) return t;
  return Object.entries(t).map(([name, v]) => (typeof v === "string" ? { name, url: v } : { name, ...(v as Transport) }));
}
