-- Archon initial schema: knowledge, embeddings, jobs, projects, settings.
-- Applied once, in a transaction, by `archon migrate` (or at start-up). It can also be pasted
-- unchanged into the Supabase SQL editor; afterwards run 002 the same way.

CREATE EXTENSION IF NOT EXISTS vector;
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE OR REPLACE FUNCTION archon_touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;

-- ---------------------------------------------------------------------------
-- Embedding models: every vector records the model that made it, so search only ever
-- compares vectors of one model and any dimension works.
-- ---------------------------------------------------------------------------
CREATE TABLE archon_embedding_models (
    id          integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider    text        NOT NULL,
    model       text        NOT NULL,
    dimensions  integer     NOT NULL CHECK (dimensions BETWEEN 1 AND 16000),
    is_active   boolean     NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (provider, model, dimensions)
);
-- At most one active model: search reads its vectors, ingestion writes them.
CREATE UNIQUE INDEX archon_embedding_models_one_active ON archon_embedding_models (is_active) WHERE is_active;

-- ---------------------------------------------------------------------------
-- Knowledge: sources -> pages (full markdown) -> chunks; code examples per page.
-- ---------------------------------------------------------------------------
CREATE TABLE archon_sources (
    id                    text        PRIMARY KEY,
    source_type           text        NOT NULL CHECK (source_type IN ('url', 'file', 'folder', 'git', 'pack')),
    url                   text,
    title                 text        NOT NULL DEFAULT '',
    summary               text        NOT NULL DEFAULT '',
    knowledge_type        text        NOT NULL DEFAULT 'technical'
                                      CHECK (knowledge_type IN ('technical', 'business', 'general')),
    tags                  text[]      NOT NULL DEFAULT '{}',
    config                jsonb       NOT NULL DEFAULT '{}'::jsonb,
    update_frequency_days integer     CHECK (update_frequency_days IS NULL OR update_frequency_days > 0),
    status                text        NOT NULL DEFAULT 'pending'
                                      CHECK (status IN ('pending', 'processing', 'ready', 'error', 'cancelled')),
    error                 text,
    last_indexed_at       timestamptz,
    next_refresh_at       timestamptz,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX archon_sources_knowledge_type ON archon_sources (knowledge_type);
CREATE INDEX archon_sources_tags ON archon_sources USING gin (tags);
CREATE INDEX archon_sources_next_refresh ON archon_sources (next_refresh_at) WHERE next_refresh_at IS NOT NULL;
CREATE TRIGGER archon_sources_touch BEFORE UPDATE ON archon_sources
    FOR EACH ROW EXECUTE FUNCTION archon_touch_updated_at();

CREATE TABLE archon_pages (
    id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source_id      text        NOT NULL REFERENCES archon_sources (id) ON DELETE CASCADE,
    url            text        NOT NULL,
    title          text        NOT NULL DEFAULT '',
    markdown       text        NOT NULL,
    content_hash   text        NOT NULL,
    etag           text,
    last_modified  text,
    word_count     integer     NOT NULL DEFAULT 0,
    section_order  integer,
    metadata       jsonb       NOT NULL DEFAULT '{}'::jsonb,
    indexed_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (source_id, url)
);
CREATE INDEX archon_pages_url ON archon_pages (url);

-- Text and full-text columns live here; vectors live in archon_chunk_embeddings (below), one
-- narrow row per chunk and model: a model switch writes new rows without rewriting chunks, and
-- the vector stays inline (STORAGE PLAIN) instead of being pushed out of line by the tsvectors.
CREATE TABLE archon_chunks (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source_id    text        NOT NULL REFERENCES archon_sources (id) ON DELETE CASCADE,
    page_id      bigint      NOT NULL REFERENCES archon_pages (id) ON DELETE CASCADE,
    chunk_index  integer     NOT NULL,
    content      text        NOT NULL,
    headings     text[]      NOT NULL DEFAULT '{}',
    heading_path text        NOT NULL DEFAULT '',
    token_count  integer     NOT NULL DEFAULT 0,
    metadata     jsonb       NOT NULL DEFAULT '{}'::jsonb,
    -- English stemming for prose, headings weighted above body text.
    content_tsv  tsvector    GENERATED ALWAYS AS (
        setweight(to_tsvector('english', heading_path), 'A') || setweight(to_tsvector('english', content), 'B')
    ) STORED,
    -- The 'simple' configuration keeps code identifiers (pg_stat_activity, useEffect) intact.
    simple_tsv   tsvector    GENERATED ALWAYS AS (
        setweight(to_tsvector('simple', heading_path), 'A') || setweight(to_tsvector('simple', content), 'B')
    ) STORED,
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (page_id, chunk_index)
);
CREATE INDEX archon_chunks_source ON archon_chunks (source_id);
CREATE INDEX archon_chunks_tsv ON archon_chunks USING gin (content_tsv);
CREATE INDEX archon_chunks_simple_tsv ON archon_chunks USING gin (simple_tsv);

CREATE TABLE archon_code_examples (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source_id   text        NOT NULL REFERENCES archon_sources (id) ON DELETE CASCADE,
    page_id     bigint      NOT NULL REFERENCES archon_pages (id) ON DELETE CASCADE,
    position    integer     NOT NULL,
    language    text        NOT NULL DEFAULT '',
    title       text        NOT NULL DEFAULT '',
    summary     text        NOT NULL DEFAULT '',
    code        text        NOT NULL,
    context     text        NOT NULL DEFAULT '',
    content_tsv tsvector    GENERATED ALWAYS AS (
        setweight(to_tsvector('simple', title), 'A') || setweight(to_tsvector('english', summary), 'B')
        || setweight(to_tsvector('simple', code), 'C')
    ) STORED,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (page_id, position)
);
CREATE INDEX archon_code_examples_source ON archon_code_examples (source_id);
CREATE INDEX archon_code_examples_tsv ON archon_code_examples USING gin (content_tsv);

-- Vectors. `embedding` holds models up to 2000 dimensions (pgvector's HNSW limit for vector);
-- larger models are stored as `embedding_half` (halfvec, HNSW up to 4000). HNSW indexes are
-- partial expression indexes per model, created by Archon when a model is first registered.
CREATE TABLE archon_chunk_embeddings (
    model_id       integer NOT NULL REFERENCES archon_embedding_models (id) ON DELETE CASCADE,
    chunk_id       bigint  NOT NULL REFERENCES archon_chunks (id) ON DELETE CASCADE,
    source_id      text    NOT NULL REFERENCES archon_sources (id) ON DELETE CASCADE,
    embedding      vector,
    embedding_half halfvec,
    PRIMARY KEY (model_id, chunk_id),
    CHECK ((embedding IS NULL) <> (embedding_half IS NULL))
);
ALTER TABLE archon_chunk_embeddings ALTER COLUMN embedding SET STORAGE PLAIN;
ALTER TABLE archon_chunk_embeddings ALTER COLUMN embedding_half SET STORAGE PLAIN;
CREATE INDEX archon_chunk_embeddings_source ON archon_chunk_embeddings (model_id, source_id);
CREATE INDEX archon_chunk_embeddings_chunk ON archon_chunk_embeddings (chunk_id);

CREATE TABLE archon_code_embeddings (
    model_id        integer NOT NULL REFERENCES archon_embedding_models (id) ON DELETE CASCADE,
    code_example_id bigint  NOT NULL REFERENCES archon_code_examples (id) ON DELETE CASCADE,
    source_id       text    NOT NULL REFERENCES archon_sources (id) ON DELETE CASCADE,
    embedding       vector,
    embedding_half  halfvec,
    PRIMARY KEY (model_id, code_example_id),
    CHECK ((embedding IS NULL) <> (embedding_half IS NULL))
);
ALTER TABLE archon_code_embeddings ALTER COLUMN embedding SET STORAGE PLAIN;
ALTER TABLE archon_code_embeddings ALTER COLUMN embedding_half SET STORAGE PLAIN;
CREATE INDEX archon_code_embeddings_source ON archon_code_embeddings (model_id, source_id);
CREATE INDEX archon_code_embeddings_example ON archon_code_embeddings (code_example_id);

-- ---------------------------------------------------------------------------
-- Jobs: the queue itself is procrastinate's (002); these tables hold what users see and what
-- a resumed or scaled-out job needs: progress, the crawl frontier, uploaded bytes.
-- ---------------------------------------------------------------------------
CREATE TABLE archon_jobs (
    id              text        PRIMARY KEY,  -- the progressId clients see
    kind            text        NOT NULL,     -- crawl, upload, refresh, reembed, import ...
    status          text        NOT NULL DEFAULT 'queued'
                                CHECK (status IN ('queued', 'running', 'completed', 'error', 'cancelled')),
    source_id       text        REFERENCES archon_sources (id) ON DELETE SET NULL,
    params          jsonb       NOT NULL DEFAULT '{}'::jsonb,
    progress        jsonb       NOT NULL DEFAULT '{}'::jsonb,
    percentage      real        NOT NULL DEFAULT 0 CHECK (percentage BETWEEN 0 AND 100),
    log             text[]      NOT NULL DEFAULT '{}',
    error           text,
    cancel_requested boolean    NOT NULL DEFAULT false,
    queue_job_id    bigint,
    attempts        integer     NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    finished_at     timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX archon_jobs_status ON archon_jobs (status, created_at);
CREATE INDEX archon_jobs_source ON archon_jobs (source_id);
CREATE TRIGGER archon_jobs_touch BEFORE UPDATE ON archon_jobs
    FOR EACH ROW EXECUTE FUNCTION archon_touch_updated_at();

-- The crawl frontier: one row per URL of a job. Workers claim pending rows with
-- FOR UPDATE SKIP LOCKED, so no page is fetched twice and a dead worker's claims expire.
CREATE TABLE archon_crawl_urls (
    job_id      text        NOT NULL REFERENCES archon_jobs (id) ON DELETE CASCADE,
    url         text        NOT NULL,
    depth       integer     NOT NULL DEFAULT 0,
    status      text        NOT NULL DEFAULT 'pending'
                            CHECK (status IN ('pending', 'claimed', 'done', 'failed', 'skipped')),
    claimed_by  text,
    claimed_at  timestamptz,
    page_id     bigint      REFERENCES archon_pages (id) ON DELETE SET NULL,
    error       text,
    discovered_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, url)
);
CREATE INDEX archon_crawl_urls_pending ON archon_crawl_urls (job_id, status, depth);

-- Uploaded files wait here (not on one machine's disk) so any worker can process them and a
-- restart loses nothing.
CREATE TABLE archon_upload_files (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id       text        NOT NULL REFERENCES archon_jobs (id) ON DELETE CASCADE,
    filename     text        NOT NULL,
    content_type text        NOT NULL DEFAULT 'application/octet-stream',
    size_bytes   bigint      NOT NULL,
    sha256       text        NOT NULL,
    data         bytea       NOT NULL,
    status       text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'failed')),
    error        text,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX archon_upload_files_job ON archon_upload_files (job_id);

-- ---------------------------------------------------------------------------
-- Projects, tasks, documents and their versions.
-- ---------------------------------------------------------------------------
CREATE TABLE archon_projects (
    id          uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    title       text        NOT NULL,
    description text        NOT NULL DEFAULT '',
    github_repo text,
    pinned      boolean     NOT NULL DEFAULT false,
    prd         jsonb       NOT NULL DEFAULT '{}'::jsonb,
    features    jsonb       NOT NULL DEFAULT '[]'::jsonb,
    data        jsonb       NOT NULL DEFAULT '[]'::jsonb,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER archon_projects_touch BEFORE UPDATE ON archon_projects
    FOR EACH ROW EXECUTE FUNCTION archon_touch_updated_at();

CREATE TABLE archon_project_sources (
    project_id uuid        NOT NULL REFERENCES archon_projects (id) ON DELETE CASCADE,
    source_id  text        NOT NULL REFERENCES archon_sources (id) ON DELETE CASCADE,
    relation   text        NOT NULL DEFAULT 'technical' CHECK (relation IN ('technical', 'business')),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, source_id)
);
CREATE INDEX archon_project_sources_source ON archon_project_sources (source_id);

CREATE TABLE archon_tasks (
    id             uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id     uuid        NOT NULL REFERENCES archon_projects (id) ON DELETE CASCADE,
    parent_task_id uuid        REFERENCES archon_tasks (id) ON DELETE CASCADE,
    title          text        NOT NULL,
    description    text        NOT NULL DEFAULT '',
    status         text        NOT NULL DEFAULT 'todo' CHECK (status IN ('todo', 'doing', 'review', 'done')),
    assignee       text        NOT NULL DEFAULT 'User',
    priority       text        NOT NULL DEFAULT 'medium' CHECK (priority IN ('low', 'medium', 'high', 'critical')),
    feature        text,
    task_order     integer     NOT NULL DEFAULT 0,
    sources        jsonb       NOT NULL DEFAULT '[]'::jsonb,
    code_examples  jsonb       NOT NULL DEFAULT '[]'::jsonb,
    archived       boolean     NOT NULL DEFAULT false,
    archived_at    timestamptz,
    archived_by    text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CHECK (parent_task_id IS NULL OR parent_task_id <> id)
);
CREATE INDEX archon_tasks_board ON archon_tasks (project_id, status, task_order) WHERE NOT archived;
CREATE INDEX archon_tasks_parent ON archon_tasks (parent_task_id);
CREATE INDEX archon_tasks_assignee ON archon_tasks (assignee);
CREATE TRIGGER archon_tasks_touch BEFORE UPDATE ON archon_tasks
    FOR EACH ROW EXECUTE FUNCTION archon_touch_updated_at();

CREATE TABLE archon_project_documents (
    id            uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id    uuid        NOT NULL REFERENCES archon_projects (id) ON DELETE CASCADE,
    document_type text        NOT NULL DEFAULT 'note'
                              CHECK (document_type IN ('spec', 'design', 'note', 'prd', 'api', 'guide')),
    title         text        NOT NULL,
    content       text        NOT NULL DEFAULT '',
    tags          text[]      NOT NULL DEFAULT '{}',
    author        text        NOT NULL DEFAULT 'User',
    version       integer     NOT NULL DEFAULT 1,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX archon_project_documents_project ON archon_project_documents (project_id);
CREATE TRIGGER archon_project_documents_touch BEFORE UPDATE ON archon_project_documents
    FOR EACH ROW EXECUTE FUNCTION archon_touch_updated_at();

-- Every change of a document is a version; restoring creates a new version (history is never rewritten).
CREATE TABLE archon_document_versions (
    id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    document_id    uuid        NOT NULL REFERENCES archon_project_documents (id) ON DELETE CASCADE,
    version        integer     NOT NULL,
    document_type  text        NOT NULL,
    title          text        NOT NULL,
    content        text        NOT NULL,
    tags           text[]      NOT NULL DEFAULT '{}',
    author         text        NOT NULL,
    change_type    text        NOT NULL CHECK (change_type IN ('create', 'update', 'restore')),
    change_summary text        NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (document_id, version)
);

-- ---------------------------------------------------------------------------
-- Runtime settings and encrypted credentials.
-- ---------------------------------------------------------------------------
CREATE TABLE archon_settings (
    key        text        PRIMARY KEY,
    value      jsonb       NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER archon_settings_touch BEFORE UPDATE ON archon_settings
    FOR EACH ROW EXECUTE FUNCTION archon_touch_updated_at();

-- Values are Fernet tokens; the key never lives in the database.
CREATE TABLE archon_credentials (
    key             text        PRIMARY KEY,
    encrypted_value text        NOT NULL,
    category        text        NOT NULL DEFAULT 'api_keys',
    description     text        NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER archon_credentials_touch BEFORE UPDATE ON archon_credentials
    FOR EACH ROW EXECUTE FUNCTION archon_touch_updated_at();
