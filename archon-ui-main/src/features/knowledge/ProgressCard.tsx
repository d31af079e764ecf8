/** Live progress of one crawl/upload job over WebSocket /api/crawl-progress/{id}, with cancel. */
import { useMutation, useQuery } from "@tanstack/react-query";
import { useSocket } from "../../lib/useSocket";
import { getProgress, knowledgeKeys, stopJob } from "./api";
import { removeJob, type ActiveJob } from "./activeJobs";
import { FINAL_STATUSES, FINAL_TYPES, type CrawlProgress, type ProgressMessage } from "./types";

export function logLines(log: CrawlProgress["log"]): string[] {
  if (!log) return [];
  return Array.isArray(log) ? log : [log];
}

export function ProgressCard({ job }: { job: ActiveJob }) {
  const key = knowledgeKeys.progress(job.progressId);
  const { data, error } = useQuery({
    queryKey: key,
    queryFn: () => getProgress(job.progressId),
    staleTime: Infinity,
    retry: 1,
  });
  const finished = data ? FINAL_STATUSES.has(data.status) : false;
  const socketStatus = useSocket<ProgressMessage>({
    path: finished ? null : `/api/crawl-progress/${encodeURIComponent(job.progressId)}`,
    onMessage: (msg, qc) => {
      if (!msg || typeof msg !== "object" || !msg.data) return;
      qc.setQueryData<CrawlProgress>(key, (old) => ({ ...(old ?? { progressId: job.progressId, status: "waiting" }), ...msg.data }));
      if (FINAL_TYPES.has(msg.type)) void qc.invalidateQueries({ queryKey: knowledgeKeys.lists() });
    },
    isFinal: (msg) => FINAL_TYPES.has(msg?.type),
  });
  const cancel = useMutation({ mutationFn: () => stopJob(job.progressId) });
  const pct = Math.max(0, Math.min(100, Math.round(data?.percentage ?? 0)));
  const status = data?.status ?? "waiting";
  const lines = (data?.logs?.length ? data.logs : logLines(data?.log)).slice(-5);
  const tone =
    status === "completed" ? "border-green-400" : status === "error" || status === "failed" ? "border-red-400" : status === "cancelled" ? "border-slate-400" : "border-indigo-400";
  return (
    <article className={`card border-l-4 ${tone}`} aria-label={`Progress of ${job.label}`} data-testid="progress-card" data-status={status}>
      <div className="flex items-start justify-between gap-2">
        <div className="min-w-0">
          <h3 className="truncate font-medium" title={job.label}>{job.label}</h3>
          <p className="text-xs text-slate-500">
            <span data-testid="progress-status">{status}</span>
            {data?.stage && data.stage !== status ? ` · ${data.stage}` : ""}
            {socketStatus === "closed" && !finished ? " · reconnecting…" : ""}
          </p>
        </div>
        {finished ? (
          <button type="button" className="btn-ghost" onClick={() => removeJob(job.progressId)} aria-label={`Dismiss ${job.label}`}>
            Dismiss
          </button>
        ) : (
          <button type="button" className="btn-secondary" onClick={() => cancel.mutate()} disabled={cancel.isPending || cancel.isSuccess}>
            {cancel.isSuccess ? "Cancelling…" : "Cancel"}
          </button>
        )}
      </div>
      <div className="mt-3 h-2 w-full overflow-hidden rounded bg-slate-200 dark:bg-slate-700" role="progressbar" aria-valuenow={pct} aria-valuemin={0} aria-valuemax={100} aria-label="Progress">
        <div className="h-full bg-indigo-500 transition-all" style={{ width: `${pct}%` }} />
      </div>
      <dl className="mt-2 grid grid-cols-3 gap-2 text-xs">
        <div><dt className="text-slate-500">Progress</dt><dd>{pct}%</dd></div>
        {data?.kind === "reembed" ? (
          <div><dt className="text-slate-500">Items</dt><dd>{data.embeddedItems ?? 0}{data.totalItems ? ` / ${data.totalItems}` : ""}</dd></div>
        ) : (
          <div><dt className="text-slate-500">Pages</dt><dd>{data?.processedPages ?? 0}{data?.totalPages ? ` / ${data.totalPages}` : ""}</dd></div>
        )}
        <div><dt className="text-slate-500">Chunks</dt><dd>{data?.chunksStored ?? 0}</dd></div>
      </dl>
      {data?.currentUrl && !finished && <p className="mt-1 truncate text-xs text-slate-500" title={data.currentUrl}>Now: {data.currentUrl}</p>}
      {data?.error && <p role="alert" className="mt-1 text-xs text-red-600 dark:text-red-400">{data.error}</p>}
      {error && !data && <p className="mt-1 text-xs text-red-600">{(error as Error).message}</p>}
      {cancel.error && <p role="alert" className="mt-1 text-xs text-red-600">{(cancel.error as Error).message}</p>}
      {lines.length > 0 && (
        <pre className="mt-2 max-h-24 overflow-y-auto whitespace-pre-wrap rounded bg-slate-100 p-2 text-xs dark:bg-slate-800" aria-label="Log tail">
          {lines.join("\n")}
        </pre>
      )}
    </article>
  );
}
