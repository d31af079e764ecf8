"""Run the pinned schemathesis CLI against a live Archon API and summarise its JSON report."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ST = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "st"
CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,"
          "negative_data_rejection")
# Control-plane routes that bind the real MCP port; covered by the MCP engineers' tests.
EXCLUDE_PATH_REGEX = r"^/api/mcp/(start|stop)$"


@dataclass
class StResult:
    """What a schemathesis run found."""

    exit_code: int
    output: str
    operations: int = 0
    cases: int = 0
    failures: list[str] = field(default_factory=list)


async def run_schemathesis(base_url: str, report_dir: Path, *, max_examples: int, phases: str, max_time: int,
                           headers: dict[str, str] | None = None, workers: int = 2) -> StResult:
    """`st run <base>/openapi.json` with bounded examples; failures come from the ndjson event stream."""
    report_dir.mkdir(parents=True, exist_ok=True)
    ndjson = report_dir / "events.ndjson"
    args = [str(ST), "run", f"{base_url}/openapi.json", "--checks", CHECKS, "--phases", phases,
            "--max-examples", str(max_examples), "--max-time", str(max_time), "--seed", "1",
            "--generation-database", "none", "--workers", str(workers), "--exclude-path-regex", EXCLUDE_PATH_REGEX,
            "--report", "ndjson,junit", "--report-dir", str(report_dir), "--report-ndjson-path", str(ndjson),
            "--request-timeout", "30", "--no-color", "--suppress-health-check", "all", "--max-failures", "200"]
    for name, value in (headers or {}).items():
        args += ["-H", f"{name}: {value}"]
    proc = await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
                                                cwd=report_dir)  # its cache dir lands there, not in the tree
    out, _ = await proc.communicate()
    result = StResult(exit_code=proc.returncode or 0, output=out.decode(errors="replace"))
    if ndjson.exists():
        _summarise(ndjson, result)
    return result


def _summarise(ndjson: Path, result: StResult) -> None:
    operations: set[str] = set()
    for line in ndjson.read_text().splitlines():
        try:
            event: dict[str, Any] = json.loads(line)
        except ValueError:
            continue
        text = json.dumps(event)
        for label in ("label", "operation"):
            if isinstance(event.get(label), str):
                operations.add(event[label])
        result.cases += text.count('"case"')
        if '"failure' in text.lower() and '"title"' in text:
            result.failures.append(text[:400])
    result.operations = len(operations)
