/** Knowledge API calls and query keys. */
import { api } from "../../lib/api";
import type { CodeExample, CrawlProgress, CrawlRequest, Paginated, Source, SourceChunk, SourceEdit, SourceFilters, SourcePage } from "./types";

export const knowledgeKeys = {
  all: ["knowledge"] as const,
  lists: () => [...knowledgeKeys.all, "list"] as const,
  list: (filters: SourceFilters) => [...knowledgeKeys.lists(), filters] as const,
  detail: (id: string) => [...knowledgeKeys.all, "detail", id] as const,
  pages: (id: string, page: number) => [...knowledgeKeys.detail(id), "pages", page] as const,
  chunks: (id: string, page: number) => [...knowledgeKeys.detail(id), "chunks", page] as const,
  code: (id: string, page: number) => [...knowledgeKeys.detail(id), "code", page] as const,
  progress: (progressId: string) => [...knowledgeKeys.all, "progress", progressId] as const,
  activeJobs: () => [...knowledgeKeys.all, "active-jobs"] as const,
};

/** Accept either a bare array or a `{items: [...]}` page from list endpoints. */
export function toPage<T>(body: unknown, page = 1, perPage = 50): Paginated<T> {
  if (Array.isArray(body)) return { items: body as T[], total: body.length, page, per_page: perPage };
  const rec = (body ?? {}) as Record<string, unknown>;
  const items = (rec.items ?? rec.pages ?? rec.chunks ?? rec.code_examples ?? rec.results ?? []) as T[];
  return {
    items,
    total: typeof rec.total === "number" ? rec.total : items.length,
    page: typeof rec.page === "number" ? rec.page : page,
    per_page: typeof rec.per_page === "number" ? rec.per_page : perPage,
  };
}

export async function listSources(filters: SourceFilters): Promise<Paginated<Source>> {
  const body = await api<unknown>("/api/knowledge-items", {
    query: {
      page: filters.page,
      per_page: filters.per_page,
      knowledge_type: filters.knowledge_type,
      tag: filters.tag,
      search: filters.text,
    },
  });
  return toPage<Source>(body, filters.page, filters.per_page);
}

export const getSource = (id: string) => api<Source>(`/api/knowledge-items/${encodeURIComponent(id)}`);

export const updateSource = (id: string, edit: SourceEdit) =>
  api<Source>(`/api/knowledge-items/${encodeURIComponent(id)}`, { method: "PUT", body: { ...edit } });

export const deleteSource = (id: string) =>
  api<unknown>(`/api/knowledge-items/${encodeURIComponent(id)}`, { method: "DELETE" });

export const refreshSource = (id: string) =>
  api<{ progressId: string }>(`/api/knowledge-items/${encodeURIComponent(id)}/refresh`, { method: "POST" });

export const startCrawl = (request: CrawlRequest) =>
  api<{ progressId: string }>("/api/knowledge-items/crawl", { method: "POST", body: { ...request } });

export const stopJob = (progressId: string) =>
  api<unknown>(`/api/knowledge-items/stop/${encodeURIComponent(progressId)}`, { method: "POST" });

export const getProgress = (progressId: string) =>
  api<CrawlProgress>(`/api/progress/${encodeURIComponent(progressId)}`);

export function uploadDocuments(files: File[], knowledgeType: string, tags: string[]) {
  const form = new FormData();
  files.forEach((file) => form.append("file", file, file.name));
  form.append("knowledge_type", knowledgeType);
  form.append("tags", JSON.stringify(tags));
  return api<{ progressId: string }>("/api/documents/upload", { method: "POST", body: form });
}

const sub = <T,>(id: string, what: string, page: number, perPage: number) =>
  api<unknown>(`/api/knowledge-items/${encodeURIComponent(id)}/${what}`, { query: { page, per_page: perPage } }).then(
    (body) => toPage<T>(body, page, perPage),
  );

export const listPages = (id: string, page: number) => sub<SourcePage>(id, "pages", page, 50);
export const listChunks = (id: string, page: number) => sub<SourceChunk>(id, "chunks", page, 20);
export const listCodeExamples = (id: string, page: number) => sub<CodeExample>(id, "code-examples", page, 10);
