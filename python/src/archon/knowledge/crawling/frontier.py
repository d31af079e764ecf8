"""SQL for the crawl frontier (archon_crawl_urls): claim with SKIP LOCKED, finish, count, clean up."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import psycopg

from archon.db.pool import Database

CLAIM_LEASE_SECONDS = 300  # a claim older than this belongs to a dead worker and may be taken again
LIVENESS_NAMESPACE = 0x4C495645  # "LIVE": first key of a crawling worker's liveness advisory lock


EXPIRED_CHECK_EVERY = 5.0  # seconds between looks for expired claims while nothing is pending
CHUNKS_MAX_AGE = 2.0  # seconds a chunks_stored() count is reused for progress reports

# The claim: one row in claim order (depth first, then discovery order), skipping rows other workers lock.
_CLAIM = """
UPDATE archon_crawl_urls SET status = 'claimed', claimed_by = %(worker)s, claimed_at = now()
WHERE (job_id, url) = (
    SELECT job_id, url FROM archon_crawl_urls
    WHERE job_id = %(job)s AND {condition}
    ORDER BY depth, discovered_at, url
    LIMIT 1
    FOR UPDATE SKIP LOCKED)
RETURNING url, depth
"""
_CLAIM_PENDING = _CLAIM.format(condition="status = 'pending'")
_CLAIM_EXPIRED = _CLAIM.format(condition="status = 'claimed' AND claimed_at < now() - make_interval(secs => %(lease)s)")


# The source's pages a crawl did not see again (gone, or 404/410), minus the page ids in %(keep)s
# (a refresh's swap keeps the pages it has just written, redirected ones included).
DELETE_VANISHED_PAGES = """
DELETE FROM archon_pages p
WHERE p.source_id = %(source)s AND NOT (p.id = ANY(%(keep)s::bigint[])) AND NOT EXISTS (
    SELECT 1 FROM archon_crawl_urls u
    WHERE u.job_id = %(job)s AND (u.page_id = p.id OR u.url = split_part(p.url, '#', 1))
      AND (u.status IN ('done', 'claimed', 'pending')
           OR (u.status = 'failed' AND u.error NOT LIKE 'HTTP 404%%' AND u.error NOT LIKE 'HTTP 410%%')))
RETURNING p.url
"""


class FrontierRepository:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._expired_checked_at = -EXPIRED_CHECK_EVERY
        self._chunks: dict[str, tuple[float, int]] = {}  # job id -> (when counted, chunks_stored)
        self._full: set[str] = set()  # jobs whose frontier reached max_pages

    async def is_empty(self, job_id: str) -> bool:
        async with self.db.connection() as conn:
            row = await (await conn.execute("SELECT NOT EXISTS (SELECT 1 FROM archon_crawl_urls WHERE job_id = %s) "
                                            "AS empty", (job_id,))).fetchone()
        return bool(row and row["empty"])

    async def add(self, job_id: str, urls: Sequence[str], depth: int, *, max_pages: int) -> list[str]:
        """Queue new URLs (first seen wins) while the job has fewer than `max_pages` queued; return those added.

        An advisory lock per job serialises the capacity check, so concurrent fetchers (in any
        process) never push the frontier past the page limit.
        """
        if not urls or job_id in self._full:
            return []
        async with self.db.transaction() as conn:
            await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 7))", (job_id,))
            row = await (await conn.execute(
                "SELECT count(*) AS n FROM archon_crawl_urls WHERE job_id = %s AND status <> 'skipped'",
                (job_id,))).fetchone()
            remaining = max_pages - int(row["n"] if row else 0)
            if remaining <= 0:
                # Queued rows are never removed during a crawl: a full frontier stays full, so later pages'
                # links skip the lock (otherwise every page of a capped crawl queues behind it).
                self._full.add(job_id)
                return []
            rows = await (await conn.execute(
                """
                INSERT INTO archon_crawl_urls (job_id, url, depth)
                SELECT %(job)s, u.url, %(depth)s
                FROM unnest(%(urls)s::text[]) WITH ORDINALITY AS u(url, ord)
                WHERE NOT EXISTS (SELECT 1 FROM archon_crawl_urls c WHERE c.job_id = %(job)s AND c.url = u.url)
                ORDER BY u.ord
                LIMIT %(remaining)s
                ON CONFLICT DO NOTHING
                RETURNING url
                """, {"job": job_id, "depth": depth, "urls": list(urls), "remaining": remaining})).fetchall()
        return [str(r["url"]) for r in rows]

    async def add_skipped(self, job_id: str, url: str, depth: int, reason: str) -> bool:
        """Record a URL that will never be fetched (blocked, robots.txt); True if it was new."""
        async with self.db.connection() as conn:
            cur = await conn.execute(
                "INSERT INTO archon_crawl_urls (job_id, url, depth, status, error) VALUES (%s, %s, %s, 'skipped', %s) "
                "ON CONFLICT DO NOTHING", (job_id, url, depth, reason[:500]))
            return cur.rowcount > 0

    async def known(self, job_id: str, urls: Sequence[str]) -> set[str]:
        """Which of `urls` the job has already seen (in any state)."""
        if not urls:
            return set()
        async with self.db.connection() as conn:
            rows = await (await conn.execute(
                "SELECT url FROM archon_crawl_urls WHERE job_id = %s AND url = ANY(%s)", (job_id, list(urls)))
            ).fetchall()
        return {str(r["url"]) for r in rows}

    async def release_claims(self, job_id: str) -> int:
        """Return to pending every claimed URL of the job whose holder is gone (called when a job resumes).

        Each crawling process holds a session advisory lock named after its worker id for as long as
        it crawls (see `hold_liveness`); a holder whose lock can be taken is dead (its connection
        closed, e.g. SIGKILL), so its claims are released at once. Live holders (other workers sharing
        this crawl) keep theirs, so no page is fetched twice.
        """
        released = 0
        async with self.db.connection() as conn:
            holders = await (await conn.execute(
                "SELECT DISTINCT claimed_by FROM archon_crawl_urls WHERE job_id = %s AND status = 'claimed'",
                (job_id,))).fetchall()
            for row in holders:
                holder = row["claimed_by"]
                if holder is not None:
                    free = await (await conn.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s)) AS free",
                                                     (LIVENESS_NAMESPACE, holder))).fetchone()
                    if not (free and free["free"]):
                        continue
                    await conn.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", (LIVENESS_NAMESPACE, holder))
                cur = await conn.execute(
                    "UPDATE archon_crawl_urls SET status = 'pending', claimed_by = NULL, claimed_at = NULL "
                    "WHERE job_id = %s AND status = 'claimed' AND claimed_by IS NOT DISTINCT FROM %s",
                    (job_id, holder))
                released += cur.rowcount
        return released

    async def hold_liveness(self, worker: str) -> psycopg.AsyncConnection[Any] | None:
        """A dedicated connection holding `worker`'s liveness lock (close it to let go); None if taken."""
        conn = await psycopg.AsyncConnection.connect(self.db.conninfo, autocommit=True)
        try:
            row = await (await conn.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))",
                                            (LIVENESS_NAMESPACE, worker))).fetchone()
        except BaseException:
            await conn.close()
            raise
        if row is not None and row[0]:
            return conn
        await conn.close()
        return None

    async def claim(self, job_id: str, worker: str) -> tuple[str, int] | None:
        """Claim the shallowest pending URL (else an expired claim); None when nothing is claimable.

        Pending rows come in claim order from the partial index archon_crawl_urls_claim (migration 003),
        so a claim costs the same at page 10 and page 100,000. Expired claims (a host that vanished
        without closing its connection) are looked for only when nothing is pending, at most every
        EXPIRED_CHECK_EVERY seconds per repository: idle fetchers poll often near the end of a crawl.
        """
        async with self.db.connection() as conn:
            row = await (await conn.execute(_CLAIM_PENDING, {"job": job_id, "worker": worker})).fetchone()
            now = time.monotonic()
            if row is None and now - self._expired_checked_at >= EXPIRED_CHECK_EVERY:
                self._expired_checked_at = now
                row = await (await conn.execute(
                    _CLAIM_EXPIRED, {"job": job_id, "worker": worker, "lease": CLAIM_LEASE_SECONDS})).fetchone()
        return (str(row["url"]), int(row["depth"])) if row else None

    async def finish(self, job_id: str, url: str, status: str, *, page_id: int | None = None,
                     error: str | None = None) -> None:
        """Mark a claimed URL done / failed / skipped (done rows keep the page they produced)."""
        async with self.db.connection() as conn:
            await conn.execute(
                "UPDATE archon_crawl_urls SET status = %s, page_id = %s, error = %s WHERE job_id = %s AND url = %s",
                (status, page_id, error[:500] if error else None, job_id, url))

    async def counts(self, job_id: str) -> dict[str, int]:
        """Rows per status, plus `total`."""
        async with self.db.connection() as conn:
            rows = await (await conn.execute(
                "SELECT status, count(*) AS n FROM archon_crawl_urls WHERE job_id = %s GROUP BY status",
                (job_id,))).fetchall()
        counts = {str(r["status"]): int(r["n"]) for r in rows}
        counts["total"] = sum(counts.values())
        if not counts.get("pending") and not counts.get("claimed"):
            self._chunks.pop(job_id, None)  # nothing in flight: the next chunks_stored() is the final figure
        return counts

    async def chunks_stored(self, job_id: str) -> int:
        """Chunks of the pages the job has finished (progress figure, and the counter a resumed job starts from).

        The count joins every finished page of the job with its chunks, so it grows with the crawl; progress
        reports ask several times a second. A figure at most CHUNKS_MAX_AGE seconds old is reused (callers add
        their own pages on top) while pages are in flight, which keeps this off the per-page cost of large
        crawls; once counts() sees nothing pending or claimed, the next call counts again (the final figure).
        """
        cached = self._chunks.get(job_id)
        if cached is not None and time.monotonic() - cached[0] < CHUNKS_MAX_AGE:
            return cached[1]
        async with self.db.connection() as conn:
            row = await (await conn.execute(
                "SELECT count(*) AS n FROM archon_chunks c JOIN archon_crawl_urls u ON u.page_id = c.page_id "
                "WHERE u.job_id = %s AND u.status = 'done'", (job_id,))).fetchone()
        count = int(row["n"]) if row else 0
        self._chunks[job_id] = (time.monotonic(), count)
        return count

    async def delete_stale_sections(self, source_id: str, base_url: str, keep: Sequence[str]) -> int:
        """Delete llms-full sections (`base#slug` pages) that the file no longer has."""
        async with self.db.connection() as conn:
            cur = await conn.execute(
                "DELETE FROM archon_pages WHERE source_id = %s AND url LIKE %s AND NOT (url = ANY(%s))",
                (source_id, base_url.replace("%", r"\%").replace("_", r"\_") + "#%", list(keep)))
            return cur.rowcount

    async def delete_vanished_pages(self, source_id: str, job_id: str) -> list[str]:
        """Delete the source's pages this crawl did not see again (gone, or 404/410); return their URLs.

        Pages whose fetch failed for a transient reason (timeout, 5xx) are kept.
        """
        async with self.db.transaction() as conn:
            rows = await (await conn.execute(DELETE_VANISHED_PAGES, {"source": source_id, "job": job_id,
                                                                     "keep": []})).fetchall()
        return [str(r["url"]) for r in rows]

    async def job_rows(self, job_id: str) -> list[dict[str, Any]]:
        """Every frontier row of a job (tests and diagnostics)."""
        async with self.db.connection() as conn:
            return list(await (await conn.execute(
                "SELECT url, depth, status, page_id, error FROM archon_crawl_urls WHERE job_id = %s ORDER BY url",
                (job_id,))).fetchall())


async def sources_due_for_refresh(db: Database, limit: int = 20) -> list[str]:
    """Web sources whose next_refresh_at has passed and that no crawl is working on."""
    async with db.connection() as conn:
        rows = await (await conn.execute(
            """
            SELECT s.id FROM archon_sources s
            WHERE s.source_type = 'url' AND s.update_frequency_days IS NOT NULL
              AND s.next_refresh_at IS NOT NULL AND s.next_refresh_at <= now()
              AND NOT EXISTS (SELECT 1 FROM archon_jobs j WHERE j.source_id = s.id
                              AND j.status IN ('queued', 'running'))
            ORDER BY s.next_refresh_at LIMIT %s
            """, (limit,))).fetchall()
    return [str(r["id"]) for r in rows]
