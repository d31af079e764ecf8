"""One local file as markdown: documents through the upload converters, documented source code as a code page."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import PurePosixPath

from archon.knowledge.ingest.convert import ConversionLimits, convert_document
from archon.knowledge.ingest.formats import detect_format
from archon.knowledge.ingest.uploads import document_title

SOURCE_LANGUAGES = {".py": "python", ".js": "javascript", ".ts": "typescript", ".go": "go", ".rs": "rust",
                    ".java": "java"}
# A source file is worth indexing when it documents itself: docstrings, JSDoc/Javadoc, rustdoc, Go doc comments.
_DOCUMENTED = {
    "python": re.compile(r'^\s*[rRbBuU]?("""|\'\'\')', re.MULTILINE),
    "javascript": re.compile(r"/\*\*"), "typescript": re.compile(r"/\*\*"), "java": re.compile(r"/\*\*"),
    "rust": re.compile(r"^\s*//[/!]", re.MULTILINE), "go": re.compile(r"^// [A-Z]\w* ", re.MULTILINE),
}


@dataclass(frozen=True)
class LocalDocument:
    markdown: str
    title: str
    fmt: str


def _decode(data: bytes) -> str:
    return data.decode("utf-8-sig", errors="replace")


async def read_document(data: bytes, relative: str, *, limits: ConversionLimits,
                        cancelled: Callable[[], Awaitable[bool]] | None = None,
                        source_code: bool = False) -> LocalDocument | None:
    """The file as markdown, or None when it is not a supported document (or undocumented source code)."""
    name = PurePosixPath(relative).name
    suffix = PurePosixPath(relative).suffix.lower()
    language = SOURCE_LANGUAGES.get(suffix) if source_code else None
    if language is not None:
        text = _decode(data)
        if "\x00" in text or not _DOCUMENTED[language].search(text):
            return None
        fence = "````" if "```" in text else "```"
        return LocalDocument(f"# {relative}\n\n{fence}{language}\n{text}\n{fence}\n", relative, "source")
    fmt = detect_format(name, data[:8192])
    if fmt is None:
        return None
    if fmt in ("markdown", "text"):
        # Plain text needs no parser, so no sandboxed child process: folders of notes index quickly.
        markdown = _decode(data)
        return LocalDocument(markdown, document_title(markdown) or relative, fmt)
    converted = await convert_document(data, fmt, filename=name, limits=limits, cancelled=cancelled)
    return LocalDocument(converted.markdown, document_title(converted.markdown, converted.title) or relative, fmt)
