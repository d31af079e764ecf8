"""Upload formats (pure): decide a file's type from its bytes and name, and sanitise its name."""

from __future__ import annotations

import re
import unicodedata
from pathlib import PurePosixPath

FORMATS = ("pdf", "docx", "markdown", "text", "html", "rst")
EXTENSIONS = {
    ".pdf": "pdf", ".docx": "docx", ".md": "markdown", ".markdown": "markdown", ".mdx": "markdown",
    ".txt": "text", ".text": "text", ".log": "text", ".html": "html", ".htm": "html", ".xhtml": "html",
    ".rst": "rst", ".rest": "rst",
}
TEXT_FORMATS = ("markdown", "text", "html", "rst")
_HTML_START = re.compile(rb"^\s*(<!doctype html|<html|<head|<body)", re.IGNORECASE)
_MAX_NAME_BYTES = 255


def sanitize_filename(name: str | None) -> str:
    """The base name only, NFC, without control/bidi/invisible characters, at most 255 bytes."""
    raw = (name or "").replace("\\", "/").split("/")[-1]
    raw = unicodedata.normalize("NFC", raw)
    cleaned = "".join(ch for ch in raw if unicodedata.category(ch)[0] != "C")  # Cc, Cf (bidi), Cs, Co, Cn
    cleaned = cleaned.strip().lstrip(".").strip()
    cleaned = re.sub(r"\s+", " ", cleaned)
    if not cleaned:
        return "upload"
    while len(cleaned.encode("utf-8")) > _MAX_NAME_BYTES:
        stem, dot, ext = cleaned.rpartition(".")
        cleaned = f"{stem[:-1]}{dot}{ext}" if dot and len(ext) <= 10 and stem else cleaned[:-1]
    return cleaned


def _looks_textual(head: bytes) -> bool:
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return True  # UTF-16 with a BOM
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the sample is fine; anything else is binary-ish.
        return exc.start >= len(head) - 3 or _mostly_printable(head)
    return True


def _mostly_printable(head: bytes) -> bool:
    text = head.decode("latin-1")
    printable = sum(1 for ch in text if ch.isprintable() or ch in "\n\r\t")
    return printable >= 0.95 * len(text)


def detect_format(filename: str, head: bytes) -> str | None:
    """'pdf', 'docx', 'markdown', 'text', 'html', 'rst' from magic bytes and extension; None if unsupported.

    A file whose bytes contradict its extension (an executable named .pdf, HTML named .docx) is refused.
    """
    ext = PurePosixPath(filename.lower()).suffix
    by_name = EXTENSIONS.get(ext)
    if head.startswith(b"%PDF-"):
        return "pdf" if by_name in (None, "pdf") else None
    if head.startswith(b"PK\x03\x04"):
        return "docx" if by_name == "docx" else None
    if by_name in ("pdf", "docx"):
        return None
    if not _looks_textual(head):
        return None
    if by_name is not None:
        return by_name
    if _HTML_START.match(head):
        return "html"
    return "text" if ext == "" else None
