/** MCP page: status and transports, start/stop, copy-ready client configuration, tools, live log stream. */
import { useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Empty, ErrorState, Loading } from "../../components/States";
import { useSocket } from "../../lib/useSocket";
import { getConfigSnippets, getLogs, getStatus, listTools, mcpKeys, startMcp, stopMcp, transportsOf, type LogEntry } from "./api";

const MAX_LOGS = 500;

/** A log-stream message: a bare entry or `{type, data}`. */
export function logEntryOf(message: unknown): LogEntry | null {
  if (!message || typeof message !== "object") return null;
  const rec = message as Record<string, unknown>;
  const entry = (rec.data && typeof rec.data === "object" ? rec.data : rec) as Record<string, unknown>;
  if (typeof entry.message !== "string") return null;
  return { timestamp: String(entry.timestamp ?? ""), level: String(entry.level ?? "INFO"), message: entry.message };
}

export function McpPage() {
  const status = useQuery({ queryKey: mcpKeys.status(), queryFn: getStatus, refetchInterval: 10_000 });
  const queryClient = useQueryClient();
  const toggle = useMutation({
    mutationFn: (run: boolean) => (run ? startMcp() : stopMcp()),
    onSettled: () => void queryClient.invalidateQueries({ queryKey: mcpKeys.status() }),
  });
  const s = status.data;
  const uptime = s?.uptime_seconds ?? s?.uptime;
  return (
    <section aria-labelledby="mcp-title" className="space-y-6">
      <h1 id="mcp-title" className="text-2xl font-bold">MCP server</h1>
      <section aria-labelledby="mcp-status" className="card space-y-3">
        <h2 id="mcp-status" className="font-semibold">Status</h2>
        {status.isPending ? <Loading /> : status.isError ? <ErrorState error={status.error} onRetry={() => void status.refetch()} /> : (
          <>
            <div className="flex flex-wrap items-center gap-3">
              <span data-testid="mcp-running" className={`badge ${s?.running ? "bg-green-100 text-green-800 dark:bg-green-900 dark:text-green-100" : "bg-red-100 text-red-800 dark:bg-red-900 dark:text-red-100"}`}>
                {s?.running ? "Running" : "Stopped"}
              </span>
              {uptime != null && <span className="text-sm text-slate-500">Uptime {Math.round(uptime)} s</span>}
              <span className="text-sm text-slate-500">Sessions: {typeof s?.sessions === "number" ? s.sessions : Array.isArray(s?.connected_sessions) ? s.connected_sessions.length : 0}</span>
              {s?.tool_set && <span className="text-sm text-slate-500">Tool set: {s.tool_set}</span>}
              <button type="button" className={s?.running ? "btn-secondary" : "btn-primary"} disabled={toggle.isPending} onClick={() => toggle.mutate(!s?.running)}>
                {s?.running ? "Stop HTTP listener" : "Start HTTP listener"}
              </button>
            </div>
            {toggle.error && <ErrorState error={toggle.error} />}
            <table className="w-full text-left text-sm">
              <caption className="sr-only">Transports</caption>
              <thead><tr><th scope="col" className="py-1">Transport</th><th scope="col">Endpoint</th></tr></thead>
              <tbody>
                {transportsOf(s).map((t, i) => (
                  <tr key={i} className="border-t border-slate-200 dark:border-slate-800">
                    <td className="py-1">{t.name ?? t.transport}</td>
                    <td className="font-mono text-xs">{t.url ?? (Array.isArray(t.command) ? t.command.join(" ") : t.command) ?? "–"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </>
        )}
      </section>
      <ClientConfigs />
      <Tools />
      <Logs />
    </section>
  );
}

function ClientConfigs() {
  const config = useQuery({ queryKey: mcpKeys.config(), queryFn: getConfigSnippets });
  const [active, setActive] = useState(0);
  const [copied, setCopied] = useState<string | null>(null);
  const items = config.data ?? [];
  const current = items[Math.min(active, items.length - 1)];
  const copy = async (text: string, id: string) => {
    try {
      await navigator.clipboard.writeText(text);
      setCopied(id);
    } catch {
      setCopied(null);
    }
  };
  return (
    <section aria-labelledby="mcp-config" className="card space-y-3">
      <h2 id="mcp-config" className="font-semibold">Connect a client</h2>
      {config.isPending ? <Loading /> : config.isError ? <ErrorState error={config.error} onRetry={() => void config.refetch()} /> : !current ? <Empty title="No client configuration available" /> : (
        <>
          <div role="tablist" aria-label="MCP clients" className="flex flex-wrap gap-1 border-b border-slate-200 dark:border-slate-700">
            {items.map((c, i) => (
              <button key={c.id} type="button" role="tab" aria-selected={c === current} className="tab" onClick={() => setActive(i)}>{c.name}</button>
            ))}
          </div>
          <div role="tabpanel" aria-label={current.name}>
            {current.hint && <p className="mb-1 text-xs text-slate-500">{current.hint}</p>}
            <pre className="overflow-x-auto rounded bg-slate-100 p-3 text-xs dark:bg-slate-800" data-testid="mcp-snippet"><code>{current.snippet}</code></pre>
            <button type="button" className="btn-secondary mt-2" onClick={() => void copy(current.snippet, current.id)}>
              {copied === current.id ? "Copied" : `Copy ${current.name} configuration`}
            </button>
          </div>
        </>
      )}
    </section>
  );
}

function Tools() {
  const tools = useQuery({ queryKey: mcpKeys.tools(), queryFn: listTools });
  return (
    <section aria-labelledby="mcp-tools" className="card space-y-2">
      <h2 id="mcp-tools" className="font-semibold">Tools {tools.data ? `(${tools.data.length})` : ""}</h2>
      {tools.isPending ? <Loading /> : tools.isError ? <ErrorState error={tools.error} onRetry={() => void tools.refetch()} /> : tools.data.length === 0 ? <Empty title="No tools exposed" /> : (
        <ul className="divide-y divide-slate-200 dark:divide-slate-800" aria-label="MCP tools">
          {tools.data.map((t) => {
            const readOnly = t.read_only ?? Boolean(t.annotations?.readOnlyHint);
            const destructive = t.destructive ?? Boolean(t.annotations?.destructiveHint);
            return (
              <li key={t.name} className="py-2">
                <p className="font-mono text-sm font-semibold">{t.name} {readOnly && <span className="badge font-sans">read-only</span>} {destructive && <span className="badge bg-red-100 font-sans dark:bg-red-900">destructive</span>}</p>
                {t.description && <p className="whitespace-pre-line text-sm text-slate-500">{t.description}</p>}
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}

function Logs() {
  const queryClient = useQueryClient();
  const logs = useQuery({ queryKey: mcpKeys.logs(), queryFn: getLogs, staleTime: Infinity });
  const [paused, setPaused] = useState(false);
  const live = useSocket<unknown>({
    path: paused ? null : "/api/mcp/logs/stream",
    onMessage: (msg, qc) => {
      const entries = Array.isArray(msg) ? msg.map(logEntryOf) : [logEntryOf(msg)];
      const fresh = entries.filter((e): e is LogEntry => e !== null);
      if (!fresh.length) return;
      qc.setQueryData<LogEntry[]>(mcpKeys.logs(), (old) => {
        const seen = new Set((old ?? []).map((e) => `${e.timestamp}|${e.message}`));
        return [...(old ?? []), ...fresh.filter((e) => !seen.has(`${e.timestamp}|${e.message}`))].slice(-MAX_LOGS);
      });
    },
  });
  const entries = logs.data ?? [];
  return (
    <section aria-labelledby="mcp-logs" className="card space-y-2">
      <div className="flex items-center justify-between">
        <h2 id="mcp-logs" className="font-semibold">Live log <span className="text-xs font-normal text-slate-500">({paused ? "paused" : live})</span></h2>
        <div className="flex gap-2">
          <button type="button" className="btn-ghost" onClick={() => setPaused(!paused)}>{paused ? "Resume" : "Pause"}</button>
          <button type="button" className="btn-ghost" onClick={() => queryClient.setQueryData(mcpKeys.logs(), [])}>Clear</button>
        </div>
      </div>
      {logs.isError && <ErrorState error={logs.error} />}
      <div className="max-h-80 overflow-y-auto rounded bg-slate-950 p-2 font-mono text-xs text-slate-100" role="log" aria-live="polite" aria-label="MCP log entries">
        {entries.length === 0 ? <p className="text-slate-400">No log entries yet. Tool calls appear here as clients make them.</p> : entries.map((e, i) => (
          <div key={i} className={e.level === "ERROR" ? "text-red-300" : e.level === "WARNING" ? "text-amber-300" : ""}>
            <span className="text-slate-400">{e.timestamp}</span> {e.level} {e.message}
          </div>
        ))}
      </div>
    </section>
  );
}
