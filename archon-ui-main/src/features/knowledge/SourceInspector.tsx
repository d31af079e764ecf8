/** Source inspector: pages (with their full markdown), chunks with heading paths, highlighted code examples. */
import { useState } from "react";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { CodeBlock } from "../../components/CodeBlock";
import { Markdown } from "../../components/Markdown";
import { Modal } from "../../components/Modal";
import { Empty, ErrorState, Loading } from "../../components/States";
import { api } from "../../lib/api";
import { formatDate } from "../../lib/format";
import { knowledgeKeys, listChunks, listCodeExamples, listPages } from "./api";
import type { Paginated, Source, SourceChunk, SourcePage } from "./types";

type Tab = "pages" | "chunks" | "code";

export function headingPath(chunk: SourceChunk): string[] {
  const value = chunk.headings ?? chunk.heading_path;
  if (!value) return [];
  return Array.isArray(value) ? value : value.split(/\s*[>›]\s*/).filter(Boolean);
}

export function SourceInspector({ source, onClose }: { source: Source; onClose: () => void }) {
  const [tab, setTab] = useState<Tab>("pages");
  const [page, setPage] = useState(1);
  const id = source.source_id;
  const switchTab = (t: Tab) => {
    setTab(t);
    setPage(1);
  };
  const labels: Record<Tab, string> = { pages: `Pages (${source.page_count})`, chunks: `Chunks (${source.chunk_count})`, code: `Code examples (${source.code_example_count})` };
  return (
    <Modal title={`Inspect: ${source.title || source.url || id}`} onClose={onClose} wide>
      <div role="tablist" aria-label="Source contents" className="mb-3 flex gap-2 border-b border-slate-200 dark:border-slate-700">
        {(Object.keys(labels) as Tab[]).map((t) => (
          <button key={t} type="button" role="tab" aria-selected={tab === t} className="tab" onClick={() => switchTab(t)}>{labels[t]}</button>
        ))}
      </div>
      <div role="tabpanel" aria-label={labels[tab]} className="max-h-[65vh] overflow-y-auto">
        {tab === "pages" && <PagesTab id={id} page={page} setPage={setPage} />}
        {tab === "chunks" && <ChunksTab id={id} page={page} setPage={setPage} />}
        {tab === "code" && <CodeTab id={id} page={page} setPage={setPage} />}
      </div>
    </Modal>
  );
}

interface TabProps {
  id: string;
  page: number;
  setPage: (p: number) => void;
}

function Pager({ data, page, setPage }: { data: Paginated<unknown>; page: number; setPage: (p: number) => void }) {
  const pages = Math.max(1, Math.ceil(data.total / data.per_page));
  if (pages <= 1) return null;
  return (
    <nav aria-label="Pagination" className="mt-3 flex items-center justify-center gap-3 text-sm">
      <button type="button" className="btn-secondary" disabled={page <= 1} onClick={() => setPage(page - 1)}>Previous</button>
      <span>Page {page} of {pages}</span>
      <button type="button" className="btn-secondary" disabled={page >= pages} onClick={() => setPage(page + 1)}>Next</button>
    </nav>
  );
}

function PagesTab({ id, page, setPage }: TabProps) {
  const q = useQuery({ queryKey: knowledgeKeys.pages(id, page), queryFn: () => listPages(id, page), placeholderData: keepPreviousData });
  const [open, setOpen] = useState<SourcePage | null>(null);
  if (q.isPending) return <Loading />;
  if (q.isError) return <ErrorState error={q.error} onRetry={() => void q.refetch()} />;
  if (!q.data.items.length) return <Empty title="No pages stored for this source" />;
  return (
    <>
      <ul className="divide-y divide-slate-200 dark:divide-slate-800" aria-label="Pages">
        {q.data.items.map((p) => {
          const pid = p.page_id ?? p.id ?? p.url;
          return (
            <li key={pid} className="py-2">
              <button type="button" className="w-full text-left" aria-expanded={open === p} onClick={() => setOpen(open === p ? null : p)}>
                <span className="font-medium">{p.title || p.url}</span>
                <span className="block truncate text-xs text-slate-500">{p.url}{p.chunk_count != null ? ` · ${p.chunk_count} chunks` : ""}{p.indexed_at ? ` · ${formatDate(p.indexed_at)}` : ""}</span>
              </button>
              {open === p && <PageContent page={p} />}
            </li>
          );
        })}
      </ul>
      <Pager data={q.data} page={page} setPage={setPage} />
    </>
  );
}

interface PageFull {
  content?: string;
  markdown?: string;
  truncated?: boolean;
  message?: string | null;
}
type PageBody = PageFull & { page?: PageFull };

function PageContent({ page }: { page: SourcePage }) {
  const pid = page.page_id ?? page.id;
  const q = useQuery({
    queryKey: ["pages", pid ?? page.url],
    queryFn: () =>
      (pid !== undefined
        ? api<PageBody>(`/api/pages/${encodeURIComponent(pid)}`)
        : api<PageBody>("/api/pages/by-url", { query: { url: page.url } })
      ).then((body) => body.page ?? body),
  });
  if (q.isPending) return <Loading label="Loading page…" />;
  if (q.isError) return <ErrorState error={q.error} />;
  return (
    <div className="mt-2 rounded border border-slate-200 p-3 dark:border-slate-700" data-testid="page-content">
      <Markdown>{q.data.content ?? q.data.markdown ?? ""}</Markdown>
      {q.data.truncated && <p className="mt-2 text-xs text-amber-600">{q.data.message || "This page is long; only the first part is shown."}</p>}
    </div>
  );
}

function ChunksTab({ id, page, setPage }: TabProps) {
  const q = useQuery({ queryKey: knowledgeKeys.chunks(id, page), queryFn: () => listChunks(id, page), placeholderData: keepPreviousData });
  if (q.isPending) return <Loading />;
  if (q.isError) return <ErrorState error={q.error} onRetry={() => void q.refetch()} />;
  if (!q.data.items.length) return <Empty title="No chunks stored for this source" />;
  return (
    <>
      <ol className="space-y-3" aria-label="Chunks">
        {q.data.items.map((c, i) => {
          const path = headingPath(c);
          return (
            <li key={String(c.chunk_id ?? c.id ?? i)} className="rounded border border-slate-200 p-3 dark:border-slate-700" data-testid="chunk">
              {path.length > 0 && <p className="mb-1 text-xs font-medium text-indigo-700 dark:text-indigo-300" aria-label="Heading path">{path.join(" › ")}</p>}
              {c.url && <p className="mb-1 truncate text-xs text-slate-500">{c.url}</p>}
              <Markdown className="text-sm">{c.content}</Markdown>
            </li>
          );
        })}
      </ol>
      <Pager data={q.data} page={page} setPage={setPage} />
    </>
  );
}

function CodeTab({ id, page, setPage }: TabProps) {
  const q = useQuery({ queryKey: knowledgeKeys.code(id, page), queryFn: () => listCodeExamples(id, page), placeholderData: keepPreviousData });
  if (q.isPending) return <Loading />;
  if (q.isError) return <ErrorState error={q.error} onRetry={() => void q.refetch()} />;
  if (!q.data.items.length) return <Empty title="No code examples found in this source" />;
  return (
    <>
      <ul className="space-y-4" aria-label="Code examples">
        {q.data.items.map((c, i) => (
          <li key={String(c.id ?? c.code_example_id ?? i)} data-testid="code-example">
            <p className="font-medium">{c.title || "Untitled example"} {c.language && <span className="badge">{c.language}</span>}</p>
            {c.summary && <p className="text-sm text-slate-500">{c.summary}</p>}
            {c.url && <p className="truncate text-xs text-slate-500">{c.url}</p>}
            <CodeBlock code={c.code ?? c.content ?? ""} language={c.language} />
          </li>
        ))}
      </ul>
      <Pager data={q.data} page={page} setPage={setPage} />
    </>
  );
}
