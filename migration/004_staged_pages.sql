-- Run versioning for re-crawls (scorecard R6): a refresh of a source that already has pages stages
-- every changed page here instead of replacing it in place. Search reads only archon_pages/chunks
-- and their embeddings, so staged pages are invisible without any predicate in the search SQL (the
-- per-model partial HNSW indexes and the GIN indexes stay as they are). When the refresh completes,
-- one transaction writes the staged pages into the live tables, deletes the pages that vanished and
-- empties the stage; a failed or cancelled refresh just deletes its staged rows.
-- Staged rows outlive a crash of the worker, so a resumed refresh keeps the pages it already made.
CREATE TABLE IF NOT EXISTS archon_staged_pages (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id        text        NOT NULL REFERENCES archon_jobs (id) ON DELETE CASCADE,
    source_id     text        NOT NULL REFERENCES archon_sources (id) ON DELETE CASCADE,
    url           text        NOT NULL,
    -- The page with its chunks and code examples (PageInput as JSON); NULL marks a tombstone: the live
    -- page with this URL is deleted at the swap (an llms-full section that is gone).
    page          jsonb,
    model_id      integer     REFERENCES archon_embedding_models (id) ON DELETE CASCADE,
    -- float32 vectors, one after the other (chunks, then code examples), computed before staging.
    chunk_vectors bytea,
    code_vectors  bytea,
    staged_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (job_id, url),
    CHECK ((page IS NULL) = (model_id IS NULL))
);
CREATE INDEX IF NOT EXISTS archon_staged_pages_source ON archon_staged_pages (source_id);
