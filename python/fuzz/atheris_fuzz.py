"""Coverage-guided fuzzing of one upload parser with atheris (libFuzzer), S7.

    python -m fuzz.atheris_fuzz FORMAT [libFuzzer flags...] [CORPUS_DIR]
    e.g. python -m fuzz.atheris_fuzz pdf -max_total_time=60 -rss_limit_mb=2048 -timeout=10 /tmp/corpus/pdf

The harness is `fuzz.targets.parse` (the converter the sandboxed child runs, then clean/chunk/code
extraction). Allowed: `Refused` and `MemoryError`; any other exception is a crash that libFuzzer reports and
saves (`-artifact_prefix`). `.docx` inputs get a structure-aware mutator: the XML inside is mutated and the zip
re-packed, so the XML and mammoth layers are reached instead of stopping at the zip CRC.
"""

from __future__ import annotations

import sys

import atheris

# Instrument only what the chosen format runs: instrumenting every parser makes start-up slow.
_FORMAT = sys.argv[1] if len(sys.argv) > 1 else ""
_PARSERS = {"pdf": ["pypdf"], "docx": ["mammoth", "bs4", "markdownify"], "html": ["bs4", "markdownify"],
            "rst": ["docutils", "bs4", "markdownify"]}.get(_FORMAT, [])

with atheris.instrument_imports(include=["archon.knowledge.ingest", *_PARSERS]):
    for _module in _PARSERS:
        __import__("docutils.core" if _module == "docutils" else _module)
    from archon.knowledge.ingest import chunking, cleaning, code_examples, convert_worker  # noqa: F401
    from fuzz.seeds import document_xml, docx_with
    from fuzz.targets import ALLOWED, FORMATS, parse


def _docx_mutator(data: bytes, max_size: int, seed: int) -> bytes:
    xml = document_xml(data)
    if xml is None:
        return bytes(atheris.Mutate(data, max_size))
    return docx_with(bytes(atheris.Mutate(xml, max(len(xml) * 2, 256))))


def main() -> None:
    fmt = sys.argv[1] if len(sys.argv) > 1 else ""
    if fmt not in FORMATS:
        sys.exit(f"usage: python -m fuzz.atheris_fuzz {{{','.join(FORMATS)}}} [libFuzzer flags] [corpus]")

    def test_one(data: bytes) -> None:
        try:
            parse(fmt, data)
        except ALLOWED:
            pass

    argv = [sys.argv[0], *sys.argv[2:]]
    atheris.Setup(argv, test_one, custom_mutator=_docx_mutator if fmt == "docx" else None)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
