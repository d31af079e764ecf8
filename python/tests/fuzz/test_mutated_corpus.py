"""S7 in `make test`: a few hundred mutated upload files (every format) through the sandboxed parser, plus a
sample through `convert_document` itself. 0 non-allowed exceptions, 0 parses over 10 CPU seconds, 0 RSS
over 2 GB. The long runs (atheris per parser, 10k files) are `make fuzz`; see docs/security.md (S7)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from fuzz.seeds import docx_with
from fuzz.targets import FORMATS, parse

from archon.knowledge.ingest.convert_worker import Refused
from fuzz import corpus_run
from tests.knowledge.docgen import make_pdf

FILES = int(os.environ.get("ARCHON_FUZZ_FILES", "240"))


def test_mutated_corpus_has_no_findings(tmp_path: Path) -> None:
    files = corpus_run.generate(FILES, seed=7)
    assert {fmt for fmt, _ in files} == set(FORMATS)
    report = corpus_run.run(files, cpu_limit=10.0, hang_seconds=60.0, rss_limit_mb=2048,
                            findings_dir=tmp_path / "findings")
    summary = report.as_dict()
    print(f"\nS7 corpus: {summary['files']} files {summary['outcomes']}, slowest {summary['slowest_cpu_seconds']} "
          f"CPU s / {summary['slowest_seconds']} wall s, peak RSS {summary['peak_rss_mb']} MB, "
          f"{summary['wall_seconds']} s")
    assert report.findings == [], report.findings
    assert report.files == FILES
    # The mutations must reach past the first parser check, or the run proves little.
    for fmt in FORMATS:
        assert report.by_format[fmt]["ok"] >= FILES // len(FORMATS) // 10, (fmt, report.by_format[fmt])
    assert report.peak_rss_mb < 2048


async def test_sandboxed_entry_point_raises_only_conversion_errors() -> None:
    files = corpus_run.generate(24, seed=11)
    sample = await corpus_run.sandbox_sample(files)
    assert sample["unexpected"] == [], sample
    assert sample["files"] == 24 and sum(sample["outcomes"].values()) == 24


def test_fuzz_findings_stay_fixed() -> None:
    """What the fuzzers found, rebuilt as small inputs: each is now parsed or cleanly refused."""
    deep_html = b"<html><body>" + b"<div><span>" * 3000 + b"deep text" + b"</span></div>" * 3000 + b"</body></html>"
    started = time.process_time()
    assert parse("html", deep_html) >= 1  # was RecursionError in markdownify, then minutes of bs4 unwraps
    assert time.process_time() - started < 10
    marked = parse("html", b"<html><body><p>para <i><![C><b>bold</b> tail</p></body></html>")
    assert marked >= 1  # was bs4 ParserRejectedMarkup (html.parser: unknown marked section)
    with pytest.raises(Refused, match="no page of the PDF could be read"):  # pypdf TypeError: `Tf` on an array
        parse("pdf", make_pdf([], compress_stream=b"BT [/F1] 12 Tf 72 720 Td (x) Tj ET"))
    base = make_pdf(["x"])
    page = (b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>")
    self_reference = base.replace(page, b"3 0 R".ljust(len(page)))  # pypdf AttributeError / LimitReachedError
    with pytest.raises(Refused, match="PDF"):
        parse("pdf", self_reference)
    for xml in (b"<w:document><w:body><w:p>", b"<?xml version='1.0' encoding='nope'?><a/>", b"\x00\xff"):
        with pytest.raises(Refused, match="corrupt"):  # was ExpatError out of mammoth
            parse("docx", docx_with(xml))
