/** Search API calls and query keys (issue 4 contract). */
import { api } from "../../lib/api";

export type SearchMode = "hybrid" | "vector" | "keyword";
export type ReturnMode = "chunks" | "pages";

export interface SearchRequest {
  query: string;
  match_count: number;
  search_mode: SearchMode;
  return_mode: ReturnMode;
  source_ids?: string[];
  knowledge_type?: string;
  tags?: string[];
  rerank?: boolean;
}

export interface SearchResult {
  chunk_id?: string | number | null;
  page_id?: string | null;
  source_id: string;
  url: string | null;
  title: string | null;
  headings?: string[] | string | null;
  content: string;
  score: number;
  match_type: string;
  indexed_at?: string | null;
}

export interface SearchResponse {
  results: SearchResult[];
  search_mode: string;
  reranked: boolean;
  took_ms: number;
  notices?: string[];
}

export interface CodeResult {
  code: string;
  language?: string | null;
  title?: string | null;
  summary?: string | null;
  url?: string | null;
  score?: number;
  source_id?: string;
}

export interface RagSource {
  source_id: string;
  title: string | null;
  url?: string | null;
  chunk_count?: number;
}

export const searchKeys = {
  all: ["search"] as const,
  query: (req: SearchRequest) => [...searchKeys.all, "query", req] as const,
  code: (req: SearchRequest) => [...searchKeys.all, "code", req] as const,
  sources: () => [...searchKeys.all, "sources"] as const,
};

function body(req: SearchRequest): Record<string, unknown> {
  const out: Record<string, unknown> = { ...req };
  if (!req.source_ids?.length) delete out.source_ids;
  if (!req.knowledge_type) delete out.knowledge_type;
  if (!req.tags?.length) delete out.tags;
  return out;
}

export const runSearch = (req: SearchRequest) => api<SearchResponse>("/api/rag/query", { method: "POST", body: body(req) });

export const runCodeSearch = (req: SearchRequest) =>
  api<unknown>("/api/rag/code-examples", { method: "POST", body: body(req) }).then((res) => {
    if (Array.isArray(res)) return res as CodeResult[];
    const rec = (res ?? {}) as { results?: CodeResult[]; code_examples?: CodeResult[] };
    return rec.results ?? rec.code_examples ?? [];
  });

export const listRagSources = () =>
  api<unknown>("/api/rag/sources").then((res) => {
    if (Array.isArray(res)) return res as RagSource[];
    const rec = (res ?? {}) as { sources?: RagSource[]; items?: RagSource[] };
    return rec.sources ?? rec.items ?? [];
  });
