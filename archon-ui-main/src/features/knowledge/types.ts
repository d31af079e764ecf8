/** Shapes of the knowledge API (issue 3 contract). Optional fields tolerate small server differences. */

export const KNOWLEDGE_TYPES = ["technical", "business", "general"] as const;
export type KnowledgeType = (typeof KNOWLEDGE_TYPES)[number];
export const CRAWL_TYPES = ["auto", "single", "sitemap", "llms_txt", "recursive"] as const;
export const RENDER_MODES = ["auto", "http", "browser"] as const;

export interface Source {
  source_id: string;
  title: string | null;
  url: string | null;
  knowledge_type: string;
  tags: string[];
  page_count: number;
  chunk_count: number;
  code_example_count: number;
  status: string;
  last_indexed_at: string | null;
  source_type?: string;
  update_frequency_days?: number | null;
}

export interface Paginated<T> {
  items: T[];
  total: number;
  page: number;
  per_page: number;
}

export interface SourceFilters {
  text: string;
  knowledge_type: string;
  tag: string;
  page: number;
  per_page: number;
}

export interface CrawlRequest {
  url: string;
  knowledge_type: KnowledgeType;
  tags: string[];
  crawl_type: (typeof CRAWL_TYPES)[number];
  max_depth: number;
  max_pages: number;
  include_patterns: string[];
  exclude_patterns: string[];
  /** Omitted: the server's `respect_robots` setting decides. */
  respect_robots?: boolean;
  /** Omitted: the server's `default_render_mode` setting decides. */
  render?: (typeof RENDER_MODES)[number];
  update_frequency_days: number | null;
  extract_code_examples: boolean;
}

export interface CrawlProgress {
  progressId: string;
  status: string;
  stage?: string;
  percentage?: number;
  currentUrl?: string | null;
  totalPages?: number;
  processedPages?: number;
  chunksStored?: number;
  log?: string | string[] | null;
  logs?: string[] | null;
  sourceId?: string | null;
  error?: string | null;
  kind?: string;
  totalItems?: number;
  embeddedItems?: number;
  title?: string;
}

export interface ProgressMessage {
  type: string;
  data: CrawlProgress;
}

export const FINAL_TYPES = new Set(["crawl_completed", "crawl_error", "crawl_cancelled"]);
export const FINAL_STATUSES = new Set(["completed", "error", "cancelled", "failed"]);

export interface SourcePage {
  page_id?: string | number;
  id?: string | number;
  url: string;
  title?: string | null;
  word_count?: number;
  chunk_count?: number;
  indexed_at?: string | null;
}

export interface SourceChunk {
  chunk_id?: string | number;
  id?: string | number;
  content: string;
  url?: string;
  heading_path?: string[] | string | null;
  headings?: string[] | string | null;
  position?: number;
  chunk_index?: number;
}

export interface CodeExample {
  id?: string | number;
  code_example_id?: string | number;
  code?: string;
  content?: string;
  language?: string | null;
  title?: string | null;
  summary?: string | null;
  url?: string | null;
}

export interface SourceEdit {
  title: string;
  tags: string[];
  knowledge_type: string;
  update_frequency_days: number | null;
}
