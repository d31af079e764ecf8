"""Document -> markdown, run as a child process with memory and CPU limits (see convert.py).

Usage: python -m archon.knowledge.ingest.convert_worker FORMAT MAX_CHARS < file > json
Prints {"markdown": ..., "title": ...} on success; on a refused file exits 3 with one line on stderr.
Imports stay light: this module never imports the rest of Archon.
"""

from __future__ import annotations

import io
import json
import re
import struct
import sys
import zipfile
import zlib
from typing import Any
from xml.parsers.expat import ExpatError

MAX_PDF_PAGES = 5000
MAX_DOCX_UNCOMPRESSED = 200 * 1024 * 1024  # bytes of XML inside a .docx we are willing to parse
MAX_ZIP_RATIO = 200  # real documents compress ~5-20x; bombs compress 1000x
MAX_HTML_DEPTH = 100  # markdownify recurses per element: deeper nesting is flattened (found by fuzzing, S7)
# What third-party parsers raise on malformed input (found by fuzzing): a corrupt file, not a bug of ours.
MALFORMED = (ValueError, TypeError, KeyError, IndexError, AttributeError, ZeroDivisionError, RecursionError,
             AssertionError, LookupError, OverflowError, EOFError, struct.error, zlib.error, ExpatError,
             zipfile.BadZipFile, NotImplementedError)


class Refused(Exception):
    """The file is not acceptable (corrupt, encrypted, a bomb); the message goes to the user."""


def decode_text(data: bytes) -> str:
    """Text from UTF-8 (with or without BOM), UTF-16 with BOM, else Latin-1."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def html_to_markdown(html: str) -> tuple[str, str]:
    from bs4 import BeautifulSoup
    from markdownify import MarkdownConverter

    soup = _soup(BeautifulSoup, html)
    title_tag = soup.find("title")
    title = title_tag.get_text(" ", strip=True) if title_tag else ""
    for tag in soup(["script", "style", "noscript", "template", "iframe", "nav", "footer", "head"]):
        tag.decompose()
    root = soup.find("main") or soup.find(role="main") or soup.body or soup
    _flatten_deep(root)
    markdown = MarkdownConverter(heading_style="ATX", bullets="-", code_language_callback=_code_language
                                 ).convert_soup(root)
    return markdown, title


def _soup(factory: Any, html: str) -> Any:
    """Parse HTML; html.parser rejects unknown marked sections (`<![C ...`, found by fuzzing): retry with
    them as text rather than failing the whole document."""
    from bs4.exceptions import ParserRejectedMarkup

    try:
        return factory(html, "html.parser")
    except ParserRejectedMarkup:
        try:
            return factory(html.replace("<![", "&lt;!["), "html.parser")
        except ParserRejectedMarkup as exc:
            raise Refused("the HTML could not be parsed (malformed markup)") from exc


def _flatten_deep(root: object) -> None:
    """Elements deeper than MAX_HTML_DEPTH become their plain text, found iteratively (no recursion).

    Each replaced subtree is dropped whole: linear in the document, where unwrapping tag by tag was
    quadratic (a fuzzed 55 KB page took minutes).
    """
    from bs4.element import NavigableString, Tag

    boundary: list[Tag] = []
    stack: list[tuple[object, int]] = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        for child in getattr(node, "contents", ()):
            if isinstance(child, Tag):
                if depth + 1 > MAX_HTML_DEPTH:
                    boundary.append(child)  # its descendants go with it: no need to visit them
                else:
                    stack.append((child, depth + 1))
    for tag in boundary:
        tag.replace_with(NavigableString(tag.get_text(" ")))


def _code_language(el: object) -> str | None:
    classes: list[str] = []
    node = el
    for _ in range(2):  # <pre class="language-x"> or <pre><code class="language-x">
        classes += list(getattr(node, "get", lambda *_: [])("class") or [])
        children = getattr(node, "find", lambda *_: None)("code")
        node = children if children is not None else node
    for cls in classes:
        match = re.match(r"(?:language|lang|highlight)-(\S+)", cls)
        if match:
            return match.group(1)
    return None


def convert_pdf(data: bytes) -> tuple[str, str]:
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise Refused("the PDF is encrypted; upload a decrypted copy")
        if len(reader.pages) > MAX_PDF_PAGES:
            raise Refused(f"the PDF has {len(reader.pages)} pages; at most {MAX_PDF_PAGES} are accepted")
        texts, failed = _page_texts(reader)
        meta = reader.metadata
        title = str(meta.title) if meta is not None and meta.title else ""
    except (PyPdfError, DependencyError) as exc:  # every pypdf error (LimitReachedError is no PdfReadError)
        raise Refused(f"the PDF could not be read: {str(exc)[:200]}") from exc
    except MALFORMED as exc:
        raise Refused(f"the PDF is malformed ({type(exc).__name__}) and could not be read") from exc
    if failed and failed == len(texts):
        raise Refused(f"no page of the PDF could be read ({failed} malformed page(s))")
    return "\n\n".join(t.strip() for t in texts if t.strip()), title


def _page_texts(reader: Any) -> tuple[list[str], int]:
    """Text of every page; a page pypdf cannot parse (malformed content stream) is skipped, not fatal."""
    from pypdf.errors import DependencyError, PyPdfError

    texts: list[str] = []
    failed = 0
    for page in reader.pages:
        try:
            texts.append(page.extract_text() or "")
        except (PyPdfError, DependencyError, *MALFORMED):
            texts.append("")
            failed += 1
    return texts, failed


def convert_docx(data: bytes) -> tuple[str, str]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
            if "word/document.xml" not in names:
                raise Refused("not a Word document (word/document.xml is missing)")
            total = sum(info.file_size for info in archive.infolist())
            if total > MAX_DOCX_UNCOMPRESSED or total > MAX_ZIP_RATIO * max(len(data), 1) + 10 * 1024 * 1024:
                raise Refused(f"decompression bomb: the document expands to {total // (1024 * 1024)} MB "
                              f"from {max(len(data) // 1024, 1)} KB")
    except zipfile.BadZipFile as exc:
        raise Refused(f"the .docx file is corrupt: {exc}") from exc
    import mammoth

    try:
        result = mammoth.convert_to_html(io.BytesIO(data))
    except MALFORMED as exc:
        raise Refused(f"the .docx file is corrupt ({type(exc).__name__}: {str(exc)[:120]})") from exc
    markdown, _ = html_to_markdown(f"<html><body>{result.value}</body></html>")
    return markdown, ""


def convert_rst(text: str) -> tuple[str, str]:
    from docutils.core import publish_parts

    overrides = {
        "report_level": 5, "halt_level": 5, "file_insertion_enabled": False,  # no `.. include:: /etc/passwd`
        "raw_enabled": False, "input_encoding": "unicode", "syntax_highlight": "none",
    }
    parts = publish_parts(source=text, writer_name="html5", settings_overrides=overrides)
    markdown, _ = html_to_markdown(f"<html><body>{parts['html_body']}</body></html>")
    return markdown, str(parts.get("title") or "")


def convert(fmt: str, data: bytes) -> tuple[str, str]:
    """(markdown, title) for one document."""
    if fmt == "pdf":
        return convert_pdf(data)
    if fmt == "docx":
        return convert_docx(data)
    text = decode_text(data)
    if fmt == "html":
        return html_to_markdown(text)
    if fmt == "rst":
        return convert_rst(text)
    return text, ""


def main(argv: list[str]) -> int:
    fmt, max_chars = argv[1], int(argv[2])
    data = sys.stdin.buffer.read()
    try:
        markdown, title = convert(fmt, data)
    except Refused as exc:
        sys.stderr.write(f"REFUSED: {exc}\n")
        return 3
    except MemoryError:
        sys.stderr.write("MEMORY\n")
        return 4
    if len(markdown) > max_chars:
        sys.stderr.write(f"REFUSED: the document expands to more than {max_chars} characters of text\n")
        return 3
    sys.stdout.write(json.dumps({"markdown": markdown, "title": title}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
