"""`make fuzz`: atheris on every parser for FUZZ_SECONDS each, then the mutated-corpus run (S7).

    python -m fuzz.run [--seconds 60] [--files 10000] [--formats pdf,docx,...] [--out DIR]

Writes `DIR/summary.json` (per parser: executions, coverage, crashes; corpus-run outcomes) and keeps crash
inputs under `DIR/artifacts/`. Exit status 1 when anything was found.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from fuzz import corpus_run
from fuzz.seeds import seeds
from fuzz.targets import FORMATS

ROOT = Path(__file__).resolve().parents[1]


def atheris_run(fmt: str, seconds: int, out: Path) -> dict[str, Any]:
    """One libFuzzer session on `fmt`, seeded from fuzz.seeds; returns its numbers parsed from the log."""
    corpus = out / "corpus" / fmt
    corpus.mkdir(parents=True, exist_ok=True)
    for index, data in enumerate(seeds(fmt)):
        (corpus / f"seed-{index}").write_bytes(data)
    artifacts = out / "artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "fuzz.atheris_fuzz", fmt, f"-max_total_time={seconds}", "-rss_limit_mb=2048",
               "-timeout=10", "-max_len=262144", f"-artifact_prefix={artifacts}/{fmt}-", str(corpus)]
    started = time.monotonic()
    try:  # generous: instrumenting the parsers takes minutes on a loaded machine
        proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=seconds * 5 + 900)
        log, status = proc.stdout + proc.stderr, proc.returncode
    except subprocess.TimeoutExpired as exc:
        log = "".join(part.decode(errors="replace") if isinstance(part, bytes) else part
                      for part in (exc.stdout or "", exc.stderr or ""))
        status = -1
    (out / f"atheris-{fmt}.log").write_text(log)
    done = re.findall(r"#(\d+)\s+(?:DONE|pulse|NEW|REDUCE|INITED)\s+cov: (\d+) ft: (\d+)", log)
    last = done[-1] if done else ("0", "0", "0")
    crashed = status not in (0, -1)
    return {"format": fmt, "seconds": round(time.monotonic() - started), "executions": int(last[0]),
            "coverage": int(last[1]), "features": int(last[2]), "corpus_files": len(list(corpus.iterdir())),
            "crashed": crashed, "exit_status": status, "finished": status != -1,
            "crash": _crash_summary(log) if crashed else None}


def _crash_summary(log: str) -> str:
    lines = [line for line in log.splitlines() if line.strip()]
    errors = [line for line in lines if re.match(r"^[A-Za-z_.]+(Error|Exception|Exit)\b", line)]
    return (errors[-1] if errors else (lines[-1] if lines else "no output"))[:300]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=60, help="atheris time per parser")
    parser.add_argument("--files", type=int, default=10_000, help="mutated-corpus files (all formats)")
    parser.add_argument("--formats", default=",".join(FORMATS))
    parser.add_argument("--out", type=Path, default=ROOT / "fuzz" / "out")
    args = parser.parse_args()
    formats = tuple(f for f in args.formats.split(",") if f)
    args.out.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {"atheris": [], "corpus": None}
    if args.seconds > 0:
        for fmt in formats:
            result = atheris_run(fmt, args.seconds, args.out)
            summary["atheris"].append(result)
            print(json.dumps(result), flush=True)
    if args.files > 0:
        files = corpus_run.generate(args.files, 1, formats)
        report = corpus_run.run(files, findings_dir=args.out / "findings")
        summary["corpus"] = report.as_dict()
        print(json.dumps({k: v for k, v in summary["corpus"].items() if k != "findings"}), flush=True)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2))
    found = any(r["crashed"] for r in summary["atheris"]) or bool(summary["corpus"] and summary["corpus"]["findings"])
    print(f"fuzz: {'FINDINGS, see ' + str(args.out) if found else 'nothing found'}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
