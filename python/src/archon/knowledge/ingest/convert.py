"""Runs document conversion in a child process with memory, CPU-time and wall-clock limits.

Parsing untrusted PDFs and Office files is where decompression bombs and parser bugs live, so it
never happens in the API or worker process: a bomb only kills its own child and fails its own job.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import resource
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from archon.errors import ArchonError

MAX_MARKDOWN_CHARS = 20_000_000
_CANCEL_POLL_SECONDS = 0.5


class ConversionError(ArchonError):
    """A document could not be converted; the message says why in user terms."""

    status = 422
    error = "conversion_failed"


@dataclass(frozen=True)
class ConversionLimits:
    memory_mb: int = 1024
    cpu_seconds: int = 60
    wall_seconds: float = 90.0


@dataclass(frozen=True)
class Converted:
    markdown: str
    title: str


def _limit_child(limits: ConversionLimits) -> Callable[[], None]:
    def apply() -> None:  # runs in the child between fork and exec
        memory = limits.memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 1))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return apply


def _explain(returncode: int, stderr: str, limits: ConversionLimits, filename: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    last = lines[-1] if lines else ""
    if last.startswith("REFUSED: "):
        return f"{filename}: {last.removeprefix('REFUSED: ')}"
    if last == "MEMORY" or "MemoryError" in stderr:
        return (f"{filename}: conversion needed more than {limits.memory_mb} MB of memory "
                "(possibly a decompression bomb); the file was refused")
    if returncode in (-signal.SIGXCPU, -signal.SIGKILL):
        return (f"{filename}: conversion used more than {limits.cpu_seconds} s of CPU "
                "(possibly a decompression bomb); the file was refused")
    return f"{filename}: the file could not be converted ({last[-300:] or f'exit status {returncode}'})"


async def convert_document(data: bytes, fmt: str, *, filename: str, limits: ConversionLimits,
                           cancelled: Callable[[], Awaitable[bool]] | None = None) -> Converted:
    """Convert `data` (of format `fmt`) to markdown in a limited child process."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "archon.knowledge.ingest.convert_worker", fmt, str(MAX_MARKDOWN_CHARS),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        preexec_fn=_limit_child(limits),
    )
    communicate = asyncio.ensure_future(proc.communicate(data))
    try:
        deadline = asyncio.get_running_loop().time() + limits.wall_seconds
        while not communicate.done():
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise ConversionError(f"{filename}: conversion took longer than {limits.wall_seconds:.0f} s "
                                      "(possibly a decompression bomb); the file was refused")
            await asyncio.wait({communicate}, timeout=min(_CANCEL_POLL_SECONDS, remaining))
            if not communicate.done() and cancelled is not None and await cancelled():
                from archon.jobs.progress import JobCancelled

                raise JobCancelled("the job was cancelled during conversion")
        stdout, stderr = communicate.result()
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            with contextlib.suppress(Exception):
                await proc.wait()
        if not communicate.done():
            communicate.cancel()
            with contextlib.suppress(BaseException):
                await communicate
    if proc.returncode != 0:
        raise ConversionError(_explain(proc.returncode or 0, stderr.decode("utf-8", "replace"), limits, filename))
    try:
        payload = json.loads(stdout)
    except ValueError as exc:
        raise ConversionError(f"{filename}: the converter returned unreadable output") from exc
    return Converted(markdown=str(payload.get("markdown", "")), title=str(payload.get("title", "")))
