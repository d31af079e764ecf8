/** Search playground: query with mode and filters, ranked results with scores, match type and links. */
import { useState } from "react";
import { useSearchParams } from "react-router";
import { useQuery } from "@tanstack/react-query";
import { CodeBlock } from "../../components/CodeBlock";
import { Markdown, safeUrl } from "../../components/Markdown";
import { Empty, ErrorState, Loading } from "../../components/States";
import { formatDate, splitList } from "../../lib/format";
import { KNOWLEDGE_TYPES } from "../knowledge/types";
import { listRagSources, runCodeSearch, runSearch, searchKeys, type ReturnMode, type SearchMode, type SearchRequest, type SearchResult } from "./api";

const MODES: SearchMode[] = ["hybrid", "vector", "keyword"];

/** The request a URL describes (?q=&mode=&return=&k=&type=&tags=&source=&rerank=&code=). */
export function requestFromParams(params: URLSearchParams): SearchRequest | null {
  const query = params.get("q")?.trim();
  if (!query) return null;
  const mode = params.get("mode");
  const k = Number(params.get("k") ?? 5);
  return {
    query,
    match_count: Number.isFinite(k) ? Math.min(50, Math.max(1, k)) : 5,
    search_mode: MODES.includes(mode as SearchMode) ? (mode as SearchMode) : "hybrid",
    return_mode: params.get("return") === "pages" ? "pages" : "chunks",
    source_ids: params.getAll("source"),
    knowledge_type: params.get("type") ?? undefined,
    tags: splitList(params.get("tags") ?? ""),
    rerank: params.get("rerank") === "1" ? true : undefined,
  };
}

export function SearchPage() {
  const [params, setParams] = useSearchParams();
  const request = requestFromParams(params);
  const code = params.get("code") === "1";
  const [draft, setDraft] = useState(() => ({
    q: params.get("q") ?? "",
    mode: request?.search_mode ?? "hybrid",
    ret: request?.return_mode ?? ("chunks" as ReturnMode),
    k: String(request?.match_count ?? 5),
    type: params.get("type") ?? "",
    tags: params.get("tags") ?? "",
    source: params.get("source") ?? "",
    rerank: params.get("rerank") === "1",
    code,
  }));
  const sources = useQuery({ queryKey: searchKeys.sources(), queryFn: listRagSources });
  const results = useQuery({
    queryKey: request ? searchKeys.query(request) : searchKeys.all,
    queryFn: () => runSearch(request!),
    enabled: request !== null && !code,
    staleTime: 30_000,
  });
  const codeResults = useQuery({
    queryKey: request ? searchKeys.code(request) : searchKeys.all,
    queryFn: () => runCodeSearch(request!),
    enabled: request !== null && code,
    staleTime: 30_000,
  });
  const submit = () => {
    const next = new URLSearchParams();
    next.set("q", draft.q);
    next.set("mode", draft.mode);
    next.set("return", draft.ret);
    next.set("k", draft.k);
    if (draft.type) next.set("type", draft.type);
    if (draft.tags) next.set("tags", draft.tags);
    if (draft.source) next.set("source", draft.source);
    if (draft.rerank) next.set("rerank", "1");
    if (draft.code) next.set("code", "1");
    setParams(next);
  };
  const active = code ? codeResults : results;
  return (
    <section aria-labelledby="search-title" className="space-y-5">
      <h1 id="search-title" className="text-2xl font-bold">Search playground</h1>
      <form
        role="search"
        className="card grid gap-3 md:grid-cols-4"
        onSubmit={(e) => {
          e.preventDefault();
          if (draft.q.trim()) submit();
        }}
      >
        <div className="md:col-span-3">
          <label className="label" htmlFor="search-query">Query</label>
          <input id="search-query" className="input" type="search" required maxLength={2000} value={draft.q} onChange={(e) => setDraft({ ...draft, q: e.target.value })} placeholder="How do I configure the connection pool?" />
        </div>
        <div className="flex items-end">
          <button type="submit" className="btn-primary w-full justify-center">Search</button>
        </div>
        <div>
          <label className="label" htmlFor="search-mode">Mode</label>
          <select id="search-mode" className="input" value={draft.mode} onChange={(e) => setDraft({ ...draft, mode: e.target.value as SearchMode })}>
            {MODES.map((m) => <option key={m} value={m}>{m}</option>)}
          </select>
        </div>
        <div>
          <label className="label" htmlFor="search-return">Return</label>
          <select id="search-return" className="input" value={draft.ret} onChange={(e) => setDraft({ ...draft, ret: e.target.value as ReturnMode })}>
            <option value="chunks">chunks</option>
            <option value="pages">pages</option>
          </select>
        </div>
        <div>
          <label className="label" htmlFor="search-k">Results</label>
          <input id="search-k" className="input" type="number" min={1} max={50} value={draft.k} onChange={(e) => setDraft({ ...draft, k: e.target.value })} />
        </div>
        <div>
          <label className="label" htmlFor="search-source">Source</label>
          <select id="search-source" className="input" value={draft.source} onChange={(e) => setDraft({ ...draft, source: e.target.value })}>
            <option value="">All sources</option>
            {sources.data?.map((s) => <option key={s.source_id} value={s.source_id}>{s.title || s.url || s.source_id}</option>)}
          </select>
        </div>
        <div>
          <label className="label" htmlFor="search-type">Knowledge type</label>
          <select id="search-type" className="input" value={draft.type} onChange={(e) => setDraft({ ...draft, type: e.target.value })}>
            <option value="">Any</option>
            {KNOWLEDGE_TYPES.map((t) => <option key={t} value={t}>{t}</option>)}
          </select>
        </div>
        <div>
          <label className="label" htmlFor="search-tags">Tags</label>
          <input id="search-tags" className="input" value={draft.tags} onChange={(e) => setDraft({ ...draft, tags: e.target.value })} placeholder="comma separated" />
        </div>
        <label className="flex items-center gap-2 text-sm">
          <input type="checkbox" checked={draft.rerank} onChange={(e) => setDraft({ ...draft, rerank: e.target.checked })} /> Rerank
        </label>
        <label className="flex items-center gap-2 text-sm">
          <input type="checkbox" checked={draft.code} onChange={(e) => setDraft({ ...draft, code: e.target.checked })} /> Search code examples
        </label>
      </form>

      {!request ? (
        <Empty title="Type a question to search your knowledge base" />
      ) : active.isPending ? (
        <Loading label="Searching…" />
      ) : active.isError ? (
        <ErrorState error={active.error} onRetry={() => void active.refetch()} />
      ) : code ? (
        <CodeResults items={codeResults.data ?? []} />
      ) : (
        <ChunkResults data={results.data!} />
      )}
    </section>
  );
}

function ChunkResults({ data }: { data: NonNullable<Awaited<ReturnType<typeof runSearch>>> }) {
  if (!data.results.length) return <Empty title="No results">Try another phrasing, the keyword mode for identifiers, or fewer filters.</Empty>;
  return (
    <div className="space-y-3">
      {data.notices?.map((n) => <p key={n} role="note" className="text-sm text-amber-700 dark:text-amber-300">{n}</p>)}
      <p className="text-sm text-slate-500" data-testid="search-summary">
        {data.results.length} results · {data.search_mode}{data.reranked ? " · reranked" : ""} · {Math.round(data.took_ms)} ms
      </p>
      <ol className="space-y-3" aria-label="Search results">
        {data.results.map((r, i) => <ResultItem key={`${r.chunk_id ?? r.page_id ?? i}`} result={r} rank={i + 1} />)}
      </ol>
    </div>
  );
}

function ResultItem({ result, rank }: { result: SearchResult; rank: number }) {
  const [expanded, setExpanded] = useState(false);
  const headings = Array.isArray(result.headings) ? result.headings : result.headings ? [result.headings] : [];
  const link = result.url ? safeUrl(result.url) : "";
  const long = result.content.length > 600;
  return (
    <li className="card" data-testid="search-result">
      <div className="flex flex-wrap items-baseline justify-between gap-2">
        <h2 className="font-semibold">
          <span className="mr-2 text-slate-400">#{rank}</span>
          {link ? <a href={link} target="_blank" rel="noopener noreferrer nofollow" className="underline">{result.title || result.url}</a> : result.title}
        </h2>
        <div className="flex gap-2 text-xs">
          <span className="badge" title="Score">score {result.score.toFixed(4)}</span>
          <span className="badge bg-indigo-100 dark:bg-indigo-900" title="Match type">{result.match_type}</span>
        </div>
      </div>
      {headings.length > 0 && <p className="text-xs text-indigo-700 dark:text-indigo-300">{headings.join(" › ")}</p>}
      {result.url && <p className="truncate text-xs text-slate-500">{result.url}{result.indexed_at ? ` · indexed ${formatDate(result.indexed_at)}` : ""}</p>}
      <div className={`mt-2 text-sm ${!expanded && long ? "max-h-40 overflow-hidden" : ""}`}>
        <Markdown>{result.content}</Markdown>
      </div>
      {long && <button type="button" className="btn-ghost mt-1" aria-expanded={expanded} onClick={() => setExpanded(!expanded)}>{expanded ? "Show less" : "Show more"}</button>}
    </li>
  );
}

function CodeResults({ items }: { items: Awaited<ReturnType<typeof runCodeSearch>> }) {
  if (!items.length) return <Empty title="No code examples match" />;
  return (
    <ol className="space-y-3" aria-label="Code example results">
      {items.map((c, i) => (
        <li key={i} className="card" data-testid="code-result">
          <p className="font-medium">{c.title || "Code example"} {c.language && <span className="badge">{c.language}</span>} {c.score != null && <span className="badge">score {c.score.toFixed(4)}</span>}</p>
          {c.summary && <p className="text-sm text-slate-500">{c.summary}</p>}
          {c.url && <p className="truncate text-xs text-slate-500">{c.url}</p>}
          <CodeBlock code={c.code} language={c.language} />
        </li>
      ))}
    </ol>
  );
}
