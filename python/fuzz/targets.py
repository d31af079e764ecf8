"""The fuzzed entry point: what an upload job does with a file's bytes, minus storage and embeddings.

`parse(fmt, data)` runs the converter the sandboxed child runs (`convert_worker.convert`, with its output
cap) and then the CPU part of the page pipeline (clean, chunk, extract code examples), exactly as
`Pipeline.prepare` does. Allowed outcomes: success, `Refused` (the child's typed refusal, which the job
reports as a `ConversionError`, an ArchonError) and `MemoryError` (the sandbox's memory limit, also a
`ConversionError`). Anything else escaping `parse` is a finding.
"""

from __future__ import annotations

from archon.knowledge.ingest.chunking import chunk_markdown
from archon.knowledge.ingest.cleaning import clean_markdown, strip_invisible
from archon.knowledge.ingest.code_examples import extract_code_examples
from archon.knowledge.ingest.convert import MAX_MARKDOWN_CHARS
from archon.knowledge.ingest.convert_worker import Refused, convert

FORMATS = ("pdf", "docx", "html", "markdown", "rst", "text")
ALLOWED: tuple[type[BaseException], ...] = (Refused, MemoryError)
TARGET_TOKENS = 256  # Pipeline.prepare's size for all-MiniLM-L6-v2 (256-token window)
OVERLAP_TOKENS = 32


def parse(fmt: str, data: bytes) -> int:
    """Convert and prepare one document; returns the number of chunks + code examples produced."""
    markdown, title = convert(fmt, data)
    if len(markdown) > MAX_MARKDOWN_CHARS:
        raise Refused(f"the document expands to more than {MAX_MARKDOWN_CHARS} characters of text")
    cleaned = clean_markdown(markdown)
    title = " ".join(strip_invisible(title).split())[:500]
    chunks = chunk_markdown(cleaned, title=title, target_tokens=TARGET_TOKENS, overlap_tokens=OVERLAP_TOKENS)
    examples = extract_code_examples(cleaned, title=title)
    return len(chunks) + len(examples)
