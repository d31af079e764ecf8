"""A process pool for HTML -> markdown, so conversion uses every core and never blocks the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from types import SimpleNamespace
from typing import Any

from archon.knowledge.crawling.convert import ConvertedPage, convert_html
from archon.knowledge.models import PageInput

log = logging.getLogger(__name__)

CONVERTER_NICE = 10
MAX_HTML_CHARS = 8 * 1024 * 1024  # a page larger than this is cut: html2text's cost grows with size


def _prepare_in_worker(max_tokens: int, fields: dict[str, Any], options: Any = None) -> PageInput | None:
    """PagePipeline.prepare (clean, chunk, extract code: pure CPU) run in a worker process.

    prepare() only reads `self.embedder.max_tokens` and `self.options` (the job's PipelineOptions); a
    stand-in with those attributes lets the worker run the pipeline's own code. Anything unexpected
    falls back to the caller's process.
    """
    from archon.knowledge.ingest.pipeline import PagePipeline

    stand_in = SimpleNamespace(embedder=SimpleNamespace(max_tokens=max_tokens), options=options)
    try:
        return PagePipeline.prepare(stand_in, **fields)  # type: ignore[arg-type]
    except Exception:  # the caller prepares the page itself
        return None


def _exit_with_parent(parent: int) -> None:
    # A parent killed with SIGKILL cannot stop its pool: workers leave on their own.
    while True:
        time.sleep(2)
        if os.getppid() != parent:
            os._exit(0)


def _init_worker(env: dict[str, str], parent: int) -> None:
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()
    os.environ.update(env)
    # Below the embedder and the API: a converter that takes a core from the model's two torch threads
    # stalls both at every parallel step (measured: model 1.41x slower during a crawl for 8 % more CPU);
    # niced, it runs in the model's idle moments. Uncontended, nice changes nothing.
    with contextlib.suppress(OSError):
        os.nice(CONVERTER_NICE)
    # Warm the converter once per process (crawl4ai's import takes ~2 s).
    convert_html("http://localhost/", "<html><body><main><p>warm up</p></main></body></html>")


class ConverterPool:
    """`await pool.convert(url, html)` runs convert_html in a worker process (spawned, one per core)."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or max(1, os.cpu_count() or 1)
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def _get(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                env = {k: v for k, v in os.environ.items()
                       if k.startswith(("CRAWL4", "LITELLM", "HF_", "HOME", "PATH"))}
                env.setdefault("CRAWL4AI_NO_CLOUD_NOTICE", "1")
                env.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
                # spawn, not fork: the parent has threads (DB pool, torch) that fork would copy mid-state.
                self._executor = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                                     initializer=_init_worker, initargs=(env, os.getpid()))
            return self._executor

    async def convert(self, url: str, html: str) -> ConvertedPage:
        """Convert one page; a crashed worker process is replaced and the page retried once."""
        html = html[:MAX_HTML_CHARS]
        loop = asyncio.get_running_loop()
        for attempt in range(2):
            executor = self._get()
            try:
                return await loop.run_in_executor(executor, convert_html, url, html)
            except BrokenProcessPool:
                log.warning("HTML conversion worker died; restarting the pool (attempt %d)", attempt + 1)
                self._reset(executor)
        raise RuntimeError(f"HTML conversion failed for {url}: worker process died twice")

    async def prepare(self, max_tokens: int, options: Any = None, **fields: Any) -> PageInput | None:
        """Chunk a page's markdown in a worker process with the job's PipelineOptions (None: caller does it)."""
        loop = asyncio.get_running_loop()
        executor = self._get()
        try:
            return await loop.run_in_executor(executor, _prepare_in_worker, max_tokens, fields, options)
        except BrokenProcessPool:
            self._reset(executor)
            return None

    def _reset(self, broken: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._executor is broken:
                self._executor = None
        broken.shutdown(wait=False, cancel_futures=True)

    def shutdown(self) -> None:
        """Stop the worker processes (at process exit or runtime stop)."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)


_shared: ConverterPool | None = None


def shared_pool() -> ConverterPool:
    """The process-wide converter pool (created on first use)."""
    global _shared
    if _shared is None:
        _shared = ConverterPool()
    return _shared
