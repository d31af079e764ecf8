"""The corpus runner's sandboxed child: parses framed files from stdin, one JSON result line per file.

Frame: a line `<format> <length>\\n` followed by `length` bytes. The parent applies the same resource limits
as the ingest sandbox (RLIMIT_AS, no core dumps) and a wall-clock timeout per file, and restarts the child
after a timeout, a memory refusal or a crash of the process itself.
"""

from __future__ import annotations

import json
import sys
import time
import traceback


def _hwm_mb() -> float:
    # Peak resident set size of this process so far (VmHWM), in MB.
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    last = frames[-1] if frames else None
    return f"{last.filename.rsplit('site-packages/', 1)[-1]}:{last.lineno}" if last else "?"


def main() -> int:
    from fuzz.targets import ALLOWED, FORMATS, parse

    for fmt in FORMATS:  # import every parser before the first timed file
        try:
            parse(fmt, b"warm-up")
        except ALLOWED:
            pass
    out = sys.stdout
    print(json.dumps({"ready": True, "hwm_mb": _hwm_mb()}), file=out, flush=True)
    stdin = sys.stdin.buffer
    while header := stdin.readline():
        fmt, length = header.decode().split()
        data = stdin.read(int(length))
        started, cpu_started = time.perf_counter(), time.process_time()
        result: dict[str, object] = {}
        try:
            result = {"outcome": "ok", "items": parse(fmt, data)}
        except MemoryError:
            result = {"outcome": "memory"}
        except ALLOWED as exc:
            result = {"outcome": "refused", "error": str(exc)[:200]}
        except RecursionError as exc:
            result = {"outcome": "crash", "error": f"RecursionError: {str(exc)[:150]}", "where": _where(exc)}
        except Exception as exc:  # the point of the run: report, keep going
            result = {"outcome": "crash", "error": f"{type(exc).__name__}: {str(exc)[:150]}", "where": _where(exc)}
        result.update(seconds=round(time.perf_counter() - started, 4),
                      cpu_seconds=round(time.process_time() - cpu_started, 4), hwm_mb=round(_hwm_mb(), 1))
        print(json.dumps(result), file=out, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
