"""Mutated-corpus run (S7): N files mutated from the seeds, parsed in a sandboxed child with a per-file timeout.

    python -m fuzz.corpus_run --files 10000 [--seed 1] [--cpu-limit 10] [--memory-mb 1024] [--json out.json]

Findings: a non-allowed exception (`crash`), a parse using more than `--cpu-limit` CPU seconds (`slow`;
CPU time, not wall time, so the verdict does not depend on how loaded the machine is), a parse still running
after `--hang-seconds` of wall time (`timeout`: the child is killed and restarted), a peak RSS over
`--rss-limit-mb`, or the child dying. Each finding's input is saved under
`--findings-dir`. `--sandbox-sample K` also sends K of the files through `convert_document`, the exact
sandboxed entry point of the upload job, and checks it only ever raises `ConversionError`.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import resource
import select
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fuzz.mutate import mutate
from fuzz.seeds import seeds
from fuzz.targets import FORMATS

ROOT = Path(__file__).resolve().parents[1]


def generate(count: int, seed: int, formats: tuple[str, ...] = FORMATS) -> list[tuple[str, bytes]]:
    """`count` mutated files, round-robin over `formats`, reproducible from `seed`."""
    rng = random.Random(seed)
    pools = {fmt: seeds(fmt) for fmt in formats}
    return [(fmt, mutate(fmt, rng.choice(pools[fmt]), rng, pools[fmt]))
            for fmt in (formats[i % len(formats)] for i in range(count))]


@dataclass
class Report:
    files: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    by_format: dict[str, Counter[str]] = field(default_factory=dict)
    slowest_seconds: float = 0.0
    slowest_cpu_seconds: float = 0.0
    peak_rss_mb: float = 0.0
    findings: list[dict[str, Any]] = field(default_factory=list)
    restarts: int = 0
    wall_seconds: float = 0.0
    sandbox: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"files": self.files, "outcomes": dict(self.outcomes),
                "by_format": {k: dict(v) for k, v in self.by_format.items()},
                "slowest_seconds": self.slowest_seconds,
                "slowest_cpu_seconds": self.slowest_cpu_seconds, "peak_rss_mb": self.peak_rss_mb,
                "findings": self.findings, "worker_restarts": self.restarts, "wall_seconds": self.wall_seconds,
                "sandbox_sample": self.sandbox}


class Worker:
    """The sandboxed child (fuzz.worker) with the ingest sandbox's memory limit."""

    def __init__(self, memory_mb: int) -> None:
        self.memory_mb = memory_mb
        self.proc = self._spawn()

    def _spawn(self) -> subprocess.Popen[bytes]:
        memory = self.memory_mb * 1024 * 1024

        def limits() -> None:  # as convert._limit_child, minus the CPU budget (this child lives for many files)
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

        proc = subprocess.Popen([sys.executable, "-m", "fuzz.worker"], cwd=ROOT, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, preexec_fn=limits)
        assert proc.stdout is not None
        ready = json.loads(proc.stdout.readline() or b"{}")
        if not ready.get("ready"):
            raise RuntimeError("fuzz worker did not start")
        return proc

    def restart(self) -> None:
        self.proc.kill()
        self.proc.wait()
        self.proc = self._spawn()

    def parse(self, fmt: str, data: bytes, timeout: float) -> dict[str, Any]:
        """The child's result for one file; `timeout` / `died` when it produced none."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        started = time.perf_counter()
        try:
            self.proc.stdin.write(f"{fmt} {len(data)}\n".encode() + data)
            self.proc.stdin.flush()
        except BrokenPipeError:
            return {"outcome": "died", "seconds": 0.0}
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            return {"outcome": "timeout", "seconds": round(time.perf_counter() - started, 2)}
        line = self.proc.stdout.readline()
        if not line:
            return {"outcome": "died", "seconds": round(time.perf_counter() - started, 2),
                    "error": f"exit status {self.proc.wait()}"}
        result: dict[str, Any] = json.loads(line)
        return result

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(timeout=10)


def run(files: list[tuple[str, bytes]], *, cpu_limit: float = 10.0, hang_seconds: float = 60.0,
        memory_mb: int = 1024, rss_limit_mb: float = 2048, findings_dir: Path | None = None) -> Report:
    """Parse every file in the sandboxed child and collect outcomes and findings."""
    report = Report()
    started = time.perf_counter()
    worker = Worker(memory_mb)
    try:
        for index, (fmt, data) in enumerate(files):
            result = worker.parse(fmt, data, hang_seconds)
            if float(result.get("cpu_seconds", 0)) > cpu_limit:
                result["outcome"] = "slow"
            outcome = str(result["outcome"])
            report.files += 1
            report.outcomes[outcome] += 1
            report.by_format.setdefault(fmt, Counter())[outcome] += 1
            report.slowest_seconds = max(report.slowest_seconds, float(result.get("seconds", 0)))
            report.slowest_cpu_seconds = max(report.slowest_cpu_seconds, float(result.get("cpu_seconds", 0)))
            report.peak_rss_mb = max(report.peak_rss_mb, float(result.get("hwm_mb", 0)))
            bad = outcome in ("crash", "slow", "timeout", "died") or float(result.get("hwm_mb", 0)) > rss_limit_mb
            if bad:
                digest = hashlib.sha256(data).hexdigest()[:16]
                report.findings.append({"index": index, "format": fmt, "sha256": digest, **result})
                if findings_dir is not None:
                    findings_dir.mkdir(parents=True, exist_ok=True)
                    (findings_dir / f"{fmt}-{digest}.bin").write_bytes(data)
            if outcome in ("timeout", "died", "memory"):  # a fresh child: no state or peak carried over
                worker.restart()
                report.restarts += 1
    finally:
        worker.proc.kill()
        worker.proc.wait()
    report.wall_seconds = round(time.perf_counter() - started, 1)
    return report


async def sandbox_sample(files: list[tuple[str, bytes]], memory_mb: int = 1024) -> dict[str, Any]:
    """Send files through `convert_document` (the upload job's entry point); only ConversionError may escape."""
    from archon.knowledge.ingest.convert import ConversionError, ConversionLimits, convert_document

    limits = ConversionLimits(memory_mb=memory_mb, cpu_seconds=10, wall_seconds=10.0)
    outcomes: Counter[str] = Counter()
    unexpected: list[str] = []
    slowest = 0.0
    for fmt, data in files:
        started = time.perf_counter()
        try:
            await convert_document(data, fmt, filename=f"fuzz.{fmt}", limits=limits)
            outcomes["ok"] += 1
        except ConversionError:
            outcomes["conversion_error"] += 1
        except Exception as exc:  # a finding: the job would fail with an undocumented error
            unexpected.append(f"{fmt}: {type(exc).__name__}: {str(exc)[:120]}")
        slowest = max(slowest, time.perf_counter() - started)
    return {"files": len(files), "outcomes": dict(outcomes), "unexpected": unexpected,
            "slowest_seconds": round(slowest, 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=int(os.environ.get("FUZZ_SEED", "1")))
    parser.add_argument("--formats", default=",".join(FORMATS))
    parser.add_argument("--cpu-limit", type=float, default=10.0, help="CPU seconds one parse may use")
    parser.add_argument("--hang-seconds", type=float, default=60.0, help="wall seconds before the child is killed")
    parser.add_argument("--memory-mb", type=int, default=1024, help="RLIMIT_AS of the child (ARCHON_CONVERT_MEMORY_MB)")
    parser.add_argument("--rss-limit-mb", type=float, default=2048)
    parser.add_argument("--sandbox-sample", type=int, default=0)
    parser.add_argument("--findings-dir", type=Path, default=ROOT / "fuzz" / "findings")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    formats = tuple(f for f in args.formats.split(",") if f)
    files = generate(args.files, args.seed, formats)
    report = run(files, cpu_limit=args.cpu_limit, hang_seconds=args.hang_seconds, memory_mb=args.memory_mb,
                 rss_limit_mb=args.rss_limit_mb,
                 findings_dir=args.findings_dir)
    if args.sandbox_sample:
        step = max(1, len(files) // args.sandbox_sample)
        report.sandbox = asyncio.run(sandbox_sample(files[::step][: args.sandbox_sample], args.memory_mb))
    summary = report.as_dict()
    text = json.dumps(summary, indent=2)
    if args.json:
        args.json.write_text(text)
    print(text)
    return 1 if report.findings or summary["sandbox_sample"].get("unexpected") else 0


if __name__ == "__main__":
    sys.exit(main())
