/** The settings form, section by section; a field is shown only when the server reports it. */

export type FieldKind = "text" | "number" | "bool" | "select";

export interface FieldSpec {
  name: string;
  label: string;
  kind: FieldKind;
  options?: string[];
  hint?: string;
  step?: number;
  nullable?: boolean;
}

export interface Section {
  id: string;
  title: string;
  description?: string;
  fields: FieldSpec[];
}

export const SECTIONS: Section[] = [
  {
    id: "embeddings",
    title: "Embeddings",
    description: "Changing the provider, model, base URL or dimensions re-embeds every chunk; search keeps using the old vectors until it finishes.",
    fields: [
      { name: "embedding_provider", label: "Embedding provider", kind: "select", options: ["local", "openai", "hash"] },
      { name: "embedding_model", label: "Embedding model", kind: "text" },
      { name: "embedding_base_url", label: "Embedding base URL", kind: "text", nullable: true, hint: "OpenAI-compatible endpoint, e.g. http://localhost:11434/v1 (Ollama)" },
      { name: "embedding_dimensions", label: "Embedding dimensions", kind: "number", nullable: true, hint: "Empty: the model's native size" },
      { name: "embedding_api_key_name", label: "Embedding API key (credential name)", kind: "text" },
      { name: "embedding_batch_size", label: "Embedding batch size", kind: "number" },
      { name: "drop_old_vectors", label: "Drop the previous model's vectors after a switch", kind: "bool" },
    ],
  },
  {
    id: "chat",
    title: "Chat model",
    description: "Optional: used for code-example summaries and contextual embeddings.",
    fields: [
      { name: "chat_model", label: "Chat model", kind: "text", nullable: true },
      { name: "chat_base_url", label: "Chat base URL", kind: "text", nullable: true },
    ],
  },
  {
    id: "rag",
    title: "RAG strategy",
    fields: [
      { name: "use_hybrid_search", label: "Hybrid search (vector + keyword)", kind: "bool" },
      { name: "use_reranking", label: "Rerank results", kind: "bool" },
      { name: "use_contextual_embeddings", label: "Contextual embeddings", kind: "bool" },
      { name: "extract_code_examples", label: "Extract code examples", kind: "bool" },
      { name: "fusion_k", label: "Fusion k (reciprocal rank fusion)", kind: "number" },
      { name: "fusion_vector_weight", label: "Vector weight", kind: "number", step: 0.1 },
      { name: "fusion_keyword_weight", label: "Keyword weight", kind: "number", step: 0.1 },
      { name: "chunk_size", label: "Chunk size (tokens)", kind: "number", nullable: true, hint: "Empty: sized for the embedding model automatically" },
      { name: "chunk_overlap", label: "Chunk overlap (tokens)", kind: "number" },
    ],
  },
  {
    id: "crawl",
    title: "Crawling",
    fields: [
      { name: "crawl_concurrency", label: "Pages in flight per crawl", kind: "number" },
      { name: "crawl_per_host_rate", label: "Requests per second per host", kind: "number", step: 0.5 },
      { name: "page_timeout_seconds", label: "Page timeout (seconds)", kind: "number", step: 1 },
      { name: "default_render_mode", label: "Default render mode", kind: "select", options: ["auto", "http", "browser"] },
      { name: "respect_robots", label: "Respect robots.txt", kind: "bool" },
      { name: "concurrent_crawl_limit", label: "Concurrent crawl limit", kind: "number" },
    ],
  },
];

export const KNOWN_FIELDS = new Set(SECTIONS.flatMap((s) => s.fields.map((f) => f.name)));

/** Fields whose value differs from the saved settings (what a PUT sends). */
export function changedFields(saved: Record<string, unknown>, draft: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(draft)) if (saved[k] !== v) out[k] = v;
  return out;
}
