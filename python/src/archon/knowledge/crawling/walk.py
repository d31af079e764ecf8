"""The frontier walk of a crawl: a few fetchers claim URLs until no work is left for anyone.

The walk knows nothing about what a URL becomes (that is CrawlJob._process); it owns the claim loop,
throttled progress reports counted from the frontier, invitations to idle workers (scale-out) and
the release of a dead worker's claims.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from archon.jobs.progress import ProgressReporter
from archon.jobs.service import JobService
from archon.knowledge.crawling.fetcher import Fetcher
from archon.knowledge.crawling.frontier import FrontierRepository
from archon.knowledge.crawling.robots import RobotsCache

if TYPE_CHECKING:
    from archon.runtime import Runtime

log = logging.getLogger(__name__)

FETCHERS = 6  # pages in flight per job: enough to keep two converter processes and the embedder busy
REPORT_EVERY = 0.25  # seconds between progress writes (each is an UPDATE + NOTIFY)
# Seconds between invitations to idle workers to join a crawl (scale-out). A timer sends them, not
# page completions: a crawl whose pages are all slow still invites. The crawl's own process may pick
# an invitation up (it then declines), so the next one follows soon.
INVITE_EVERY = 3.0
INVITE_MIN_PENDING = FETCHERS  # a crawl with less queued work than this is not worth sharing
IDLE_POLL = 0.5  # seconds between checks while other workers finish their claimed pages
# An idle fetcher waits for one of this process's pages to finish (it may have queued links) or, at
# most this long, for links queued by other workers. Polling the frontier instead (every 0.1 s, as
# before) cost a claim query per idle fetcher every 0.1 s for as long as the pages in flight waited
# for the embedder, CPU taken from the model on a 2-core machine.
IDLE_WAIT = 1.0
HELPER_TASK = "crawl_helper"

# Crawls this process is working on (as the job itself or as a helper): a process joins a crawl once.
ACTIVE: set[str] = set()


def crawling_here(job_id: str) -> bool:
    """True when this process already works on crawl `job_id`."""
    return job_id in ACTIVE


@dataclass
class Counters:
    chunks: int = 0
    code_examples: int = 0
    unchanged: int = 0
    current_url: str = ""
    notes: list[str] = field(default_factory=list)


class FrontierWalk:
    """Processes the frontier of `job_id` with FETCHERS concurrent tasks; subclasses define `_process`."""

    def __init__(self, runtime: Runtime, job_id: str, reporter: ProgressReporter, *, helper: bool) -> None:
        self.runtime = runtime
        self.job_id = job_id
        self.reporter = reporter
        self.frontier = FrontierRepository(runtime.db)
        # A helper joins a crawl another worker runs: it fetches pages but neither discovers nor finishes.
        self.helper = helper
        self.worker = f"{socket.gethostname()}:{os.getpid()}:{job_id[:8]}:{secrets.token_hex(4)}"
        self.counters = Counters()
        self.strategy = ""
        self._checked_at = 0.0
        self._busy = 0
        self._reported_at = 0.0
        self._page_done = asyncio.Event()  # replaced after each set(): wakes the fetchers idle right now
        self.fetchers = FETCHERS  # concurrent fetcher tasks (the crawl_concurrency setting, see CrawlJob)

    async def _process(self, fetcher: Fetcher, robots: RobotsCache, url: str, depth: int) -> None:
        raise NotImplementedError

    # --- logging and progress ------------------------------------------------------
    async def note(self, line: str) -> None:
        """One line in the job's log (what users see), and in the process log."""
        log.info("crawl %s: %s", self.job_id[:8], line)
        await self.reporter.update(log=line[:500])

    def _note_later(self, line: str) -> None:
        self.counters.notes.append(line)

    async def _flush_notes(self) -> None:
        notes, self.counters.notes = self.counters.notes, []
        for line in notes:
            await self.note(line)

    async def _report(self) -> None:
        now = time.monotonic()
        if now - self._reported_at < REPORT_EVERY:
            return
        self._reported_at = now
        counts = await self.frontier.counts(self.job_id)
        total = counts["total"] - counts.get("skipped", 0)
        processed = counts.get("done", 0) + counts.get("failed", 0)
        pct = 2 + 97 * processed / total if total else 2
        # Counted from the frontier, so the figures are the crawl's, whichever workers share it.
        await self.reporter.update(status="crawling", percentage=min(pct, 99.0), current_url=self.counters.current_url,
                                   total_pages=total, processed_pages=processed, chunks_stored=await self._chunks(),
                                   strategy=self.strategy)

    async def _chunks(self) -> int:
        """Chunks stored by the crawl so far: this process's tally, or the frontier's when others helped."""
        return max(self.counters.chunks, await self.frontier.chunks_stored(self.job_id))

    async def _inviter(self) -> None:
        """While the crawl has queued work worth sharing, queue one helper task every INVITE_EVERY
        seconds (at most one waits at a time): any idle worker picks it up and joins."""
        from procrastinate.exceptions import AlreadyEnqueued

        while True:
            try:
                if (await self.frontier.counts(self.job_id)).get("pending", 0) >= INVITE_MIN_PENDING:
                    with contextlib.suppress(AlreadyEnqueued):
                        await self.runtime.queue.defer(HELPER_TASK, queueing_lock=f"crawl-helper-{self.job_id}",
                                                       job_id=self.job_id)
            except Exception as exc:  # the crawl goes on without help; the next round tries again
                log.warning("crawl %s: could not invite helpers: %s", self.job_id[:8], exc)
            await asyncio.sleep(INVITE_EVERY)

    async def _still_running(self) -> bool:
        """A helper stops when the crawl finished, failed or was cancelled (checked at most once a second)."""
        now = time.monotonic()
        if not self.helper or now - self._checked_at < 1.0:
            return True
        self._checked_at = now
        job = await JobService(self.runtime.db).find(self.job_id)
        return job is not None and job.status == "running"

    # --- the walk --------------------------------------------------------------------
    async def _drain(self, fetcher: Fetcher, robots: RobotsCache) -> None:
        """Fetch until no URL is pending or claimed by anyone: pages other workers are still on may add
        links, and the claims of a worker that died are released and fetched here."""
        while True:
            await self._crawl(fetcher, robots)
            counts = await self.frontier.counts(self.job_id)
            if counts.get("pending", 0) == 0 and counts.get("claimed", 0) == 0:
                return
            await self.reporter.raise_if_cancelled()
            if not await self._still_running():
                return
            released = await self.frontier.release_claims(self.job_id)
            if released:
                await self.note(f"{released} page(s) claimed by a stopped worker will be fetched again")
            await asyncio.sleep(IDLE_POLL)

    async def _wait_for_links(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._page_done.wait(), IDLE_WAIT)

    async def _crawl(self, fetcher: Fetcher, robots: RobotsCache) -> None:
        workers = [asyncio.create_task(self._work(fetcher, robots), name=f"crawl-{i}") for i in range(self.fetchers)]
        tasks = workers if self.helper else [*workers, asyncio.create_task(self._inviter(), name="crawl-inviter")]
        try:
            done, _ = await asyncio.wait(workers, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _work(self, fetcher: Fetcher, robots: RobotsCache) -> None:
        while True:
            await self.reporter.raise_if_cancelled()
            if not await self._still_running():
                return
            # A claim in progress counts as busy: otherwise the fetchers that lose the race for the
            # first page see nobody busy and quit while the winner has not yet counted itself, and
            # the whole crawl runs on one fetcher (seen on a loaded machine).
            self._busy += 1
            try:
                claimed = await self.frontier.claim(self.job_id, self.worker)
            except BaseException:
                self._busy -= 1
                raise
            if claimed is None:
                self._busy -= 1
                if self._busy == 0:
                    return
                await self._wait_for_links()  # another fetcher may still add links
                continue
            try:
                await self._process(fetcher, robots, *claimed)
            finally:
                self._busy -= 1
                self._page_done.set()
                self._page_done = asyncio.Event()
            await self._flush_notes()
            await self._report()
