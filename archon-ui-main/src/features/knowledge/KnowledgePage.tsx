/** Knowledge base: sources (cards or table), filters, live jobs, add/inspect/edit/refresh/delete. */
import { useState } from "react";
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { ConfirmDialog } from "../../components/Modal";
import { Empty, ErrorState, Loading } from "../../components/States";
import { formatDate, formatNumber } from "../../lib/format";
import { useSocket } from "../../lib/useSocket";
import { deleteSource, knowledgeKeys, listSources, refreshSource } from "./api";
import { addJob, removeJob, useActiveJobs } from "./activeJobs";
import { AddKnowledgeDialog } from "./AddKnowledgeDialog";
import { EditSourceDialog } from "./EditSourceDialog";
import { ProgressCard } from "./ProgressCard";
import { SourceInspector } from "./SourceInspector";
import { FINAL_STATUSES, KNOWLEDGE_TYPES, type CrawlProgress, type Source, type SourceFilters } from "./types";

type View = "cards" | "table";

export function KnowledgePage() {
  const [filters, setFilters] = useState<SourceFilters>({ text: "", knowledge_type: "", tag: "", page: 1, per_page: 24 });
  const [view, setView] = useState<View>("cards");
  const [adding, setAdding] = useState(false);
  const [inspecting, setInspecting] = useState<Source | null>(null);
  const [editing, setEditing] = useState<Source | null>(null);
  const [deleting, setDeleting] = useState<Source | null>(null);
  const jobs = useActiveJobs();
  const queryClient = useQueryClient();
  const sources = useQuery({ queryKey: knowledgeKeys.list(filters), queryFn: () => listSources(filters), placeholderData: keepPreviousData });

  // Knowledge-base changes from any client (another tab, an MCP agent, a scheduled refresh).
  useSocket({
    path: "/api/knowledge-items/stream",
    onMessage: (_msg, qc) => void qc.invalidateQueries({ queryKey: knowledgeKeys.lists() }),
    onOpen: (qc) => void qc.invalidateQueries({ queryKey: knowledgeKeys.lists() }),
  });

  const refresh = useMutation({
    mutationFn: (s: Source) => refreshSource(s.source_id),
    onSuccess: (res, s) => addJob(res.progressId, `Refresh: ${s.title || s.url || s.source_id}`),
  });
  const remove = useMutation({
    mutationFn: (s: Source) => deleteSource(s.source_id),
    onSuccess: () => {
      setDeleting(null);
      void queryClient.invalidateQueries({ queryKey: knowledgeKeys.lists() });
    },
  });
  const update = (patch: Partial<SourceFilters>) => setFilters((f) => ({ ...f, page: 1, ...patch }));
  const data = sources.data;
  const pages = data ? Math.max(1, Math.ceil(data.total / data.per_page)) : 1;
  const actions = { onInspect: setInspecting, onEdit: setEditing, onDelete: setDeleting, onRefresh: (s: Source) => refresh.mutate(s) };

  return (
    <section aria-labelledby="kb-title" className="space-y-5">
      <div className="flex flex-wrap items-center justify-between gap-3">
        <h1 id="kb-title" className="text-2xl font-bold">Knowledge base</h1>
        <button type="button" className="btn-primary" onClick={() => setAdding(true)}>+ Add knowledge</button>
      </div>

      {jobs.length > 0 && (
        <section aria-labelledby="jobs-title" className="space-y-2">
          <div className="flex items-center justify-between">
            <h2 id="jobs-title" className="text-sm font-semibold text-slate-500">Jobs</h2>
            <button
              type="button"
              className="btn-ghost"
              onClick={() =>
                jobs.forEach((j) => {
                  const p = queryClient.getQueryData<CrawlProgress>(knowledgeKeys.progress(j.progressId));
                  if (p && FINAL_STATUSES.has(p.status)) removeJob(j.progressId);
                })
              }
            >
              Clear finished
            </button>
          </div>
          <div className="grid gap-3 md:grid-cols-2 xl:grid-cols-3">
            {jobs.map((job) => <ProgressCard key={job.progressId} job={job} />)}
          </div>
        </section>
      )}

      <form role="search" className="flex flex-wrap items-end gap-3" onSubmit={(e) => e.preventDefault()}>
        <div className="min-w-48 flex-1">
          <label className="label" htmlFor="kb-text">Search sources</label>
          <input id="kb-text" className="input" type="search" value={filters.text} onChange={(e) => update({ text: e.target.value })} placeholder="Title or URL" />
        </div>
        <div>
          <label className="label" htmlFor="kb-type">Type</label>
          <select id="kb-type" className="input" value={filters.knowledge_type} onChange={(e) => update({ knowledge_type: e.target.value })}>
            <option value="">All types</option>
            {KNOWLEDGE_TYPES.map((t) => <option key={t} value={t}>{t}</option>)}
          </select>
        </div>
        <div>
          <label className="label" htmlFor="kb-tag">Tag</label>
          <input id="kb-tag" className="input" value={filters.tag} onChange={(e) => update({ tag: e.target.value })} placeholder="any" />
        </div>
        <div role="group" aria-label="View" className="flex gap-1">
          <button type="button" className="btn-secondary" aria-pressed={view === "cards"} onClick={() => setView("cards")}>Cards</button>
          <button type="button" className="btn-secondary" aria-pressed={view === "table"} onClick={() => setView("table")}>Table</button>
        </div>
      </form>

      {refresh.error && <ErrorState error={refresh.error} />}
      {sources.isPending ? (
        <Loading label="Loading sources…" />
      ) : sources.isError ? (
        <ErrorState error={sources.error} onRetry={() => void sources.refetch()} />
      ) : data && data.items.length === 0 ? (
        <Empty title={filters.text || filters.knowledge_type || filters.tag ? "No source matches these filters" : "No knowledge yet"}>
          Crawl a documentation site or upload files with “Add knowledge”.
        </Empty>
      ) : view === "cards" ? (
        <ul className="grid gap-4 md:grid-cols-2 xl:grid-cols-3" aria-label="Sources">
          {data?.items.map((s) => <SourceCard key={s.source_id} source={s} {...actions} />)}
        </ul>
      ) : (
        <SourceTable sources={data?.items ?? []} {...actions} />
      )}

      {pages > 1 && (
        <nav aria-label="Pagination" className="flex items-center justify-center gap-3 text-sm">
          <button type="button" className="btn-secondary" disabled={filters.page <= 1} onClick={() => setFilters((f) => ({ ...f, page: f.page - 1 }))}>Previous</button>
          <span>Page {filters.page} of {pages}</span>
          <button type="button" className="btn-secondary" disabled={filters.page >= pages} onClick={() => setFilters((f) => ({ ...f, page: f.page + 1 }))}>Next</button>
        </nav>
      )}

      {adding && <AddKnowledgeDialog onClose={() => setAdding(false)} />}
      {inspecting && <SourceInspector source={inspecting} onClose={() => setInspecting(null)} />}
      {editing && <EditSourceDialog source={editing} onClose={() => setEditing(null)} />}
      {deleting && (
        <ConfirmDialog
          title="Delete source"
          message={<>Delete <strong>{deleting.title || deleting.url}</strong> with its {formatNumber(deleting.page_count)} pages, {formatNumber(deleting.chunk_count)} chunks and {formatNumber(deleting.code_example_count)} code examples? This cannot be undone.</>}
          confirmLabel="Delete"
          busy={remove.isPending}
          error={remove.error ? (remove.error as Error).message : null}
          onConfirm={() => remove.mutate(deleting)}
          onCancel={() => setDeleting(null)}
        />
      )}
    </section>
  );
}

interface SourceActions {
  onInspect: (s: Source) => void;
  onEdit: (s: Source) => void;
  onDelete: (s: Source) => void;
  onRefresh: (s: Source) => void;
}

function ActionButtons({ source, onInspect, onEdit, onDelete, onRefresh }: SourceActions & { source: Source }) {
  const name = source.title || source.url || source.source_id;
  return (
    <div className="flex flex-wrap gap-1">
      <button type="button" className="btn-secondary" onClick={() => onInspect(source)} aria-label={`Inspect ${name}`}>Inspect</button>
      <button type="button" className="btn-ghost" onClick={() => onRefresh(source)} aria-label={`Refresh ${name}`}>Refresh</button>
      <button type="button" className="btn-ghost" onClick={() => onEdit(source)} aria-label={`Edit ${name}`}>Edit</button>
      <button type="button" className="btn-ghost text-red-600 dark:text-red-400" onClick={() => onDelete(source)} aria-label={`Delete ${name}`}>Delete</button>
    </div>
  );
}

function SourceCard({ source, ...actions }: SourceActions & { source: Source }) {
  return (
    <li className="card flex flex-col gap-2" data-testid="source-card">
      <div className="flex items-start justify-between gap-2">
        <h2 className="min-w-0 break-words font-semibold">{source.title || source.url || source.source_id}</h2>
        <span className="badge shrink-0">{source.status}</span>
      </div>
      {source.url && <p className="truncate text-xs text-slate-500" title={source.url}>{source.url}</p>}
      <div className="flex flex-wrap gap-1 text-xs">
        <span className="badge bg-indigo-100 dark:bg-indigo-900">{source.knowledge_type}</span>
        {source.source_type && <span className="badge">{source.source_type}</span>}
        {source.tags?.map((t) => <span key={t} className="badge">#{t}</span>)}
      </div>
      <dl className="grid grid-cols-3 gap-2 text-sm">
        <div><dt className="text-xs text-slate-500">Pages</dt><dd data-testid="page-count">{formatNumber(source.page_count)}</dd></div>
        <div><dt className="text-xs text-slate-500">Chunks</dt><dd>{formatNumber(source.chunk_count)}</dd></div>
        <div><dt className="text-xs text-slate-500">Code</dt><dd>{formatNumber(source.code_example_count)}</dd></div>
      </dl>
      <p className="text-xs text-slate-500">Last indexed: {formatDate(source.last_indexed_at)}</p>
      <ActionButtons source={source} {...actions} />
    </li>
  );
}

function SourceTable({ sources, ...actions }: SourceActions & { sources: Source[] }) {
  return (
    <div className="overflow-x-auto">
      <table className="w-full text-left text-sm">
        <caption className="sr-only">Knowledge sources</caption>
        <thead className="border-b border-slate-300 dark:border-slate-700">
          <tr>
            {["Title", "Type", "Tags", "Pages", "Chunks", "Code", "Last indexed", "Status", "Actions"].map((h) => <th key={h} scope="col" className="px-2 py-2 font-medium">{h}</th>)}
          </tr>
        </thead>
        <tbody>
          {sources.map((s) => (
            <tr key={s.source_id} className="border-b border-slate-200 dark:border-slate-800">
              <td className="max-w-xs truncate px-2 py-2" title={s.url ?? ""}>{s.title || s.url}</td>
              <td className="px-2">{s.knowledge_type}</td>
              <td className="px-2">{s.tags?.join(", ")}</td>
              <td className="px-2">{formatNumber(s.page_count)}</td>
              <td className="px-2">{formatNumber(s.chunk_count)}</td>
              <td className="px-2">{formatNumber(s.code_example_count)}</td>
              <td className="px-2">{formatDate(s.last_indexed_at)}</td>
              <td className="px-2">{s.status}</td>
              <td className="px-2"><ActionButtons source={s} {...actions} /></td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
