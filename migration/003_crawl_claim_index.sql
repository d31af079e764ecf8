-- Claiming the next crawl URL in O(log n): workers take the shallowest, oldest pending URL
-- (ORDER BY depth, discovered_at, url LIMIT 1 FOR UPDATE SKIP LOCKED). With only
-- (job_id, status, depth) indexed, every claim read and sorted all pending rows of the job, so a
-- crawl cost O(n^2) in Postgres. This partial index returns them in claim order.
CREATE INDEX IF NOT EXISTS archon_crawl_urls_claim
    ON archon_crawl_urls (job_id, depth, discovered_at, url) WHERE status = 'pending';
