from __future__ import annotations

from archon.knowledge.ingest.formats import detect_format, sanitize_filename


def test_sanitize_filename() -> None:
    assert sanitize_filename("../../etc/passwd") == "passwd"
    assert sanitize_filename("..\\..\\win.ini") == "win.ini"
    assert sanitize_filename("a\x00b.pdf") == "ab.pdf"
    assert sanitize_filename("evil\u202efdp.exe") == "evilfdp.exe"
    assert sanitize_filename("") == sanitize_filename(".") == sanitize_filename(None) == "upload"
    # Markup stays in the name (it is escaped wherever it is displayed), but never reaches a path.
    assert sanitize_filename("<img src=x onerror=alert(1)>.md") == "<img src=x onerror=alert(1)>.md"
    long = sanitize_filename("\u00e9" * 300 + ".md")
    assert len(long.encode()) <= 255 and long.endswith(".md")
    assert sanitize_filename("Cafe\u0301.md") == "Caf\u00e9.md"  # NFC


def test_detect_format_by_magic_bytes_and_extension() -> None:
    assert detect_format("a.pdf", b"%PDF-1.7 ...") == "pdf"
    assert detect_format("noext", b"%PDF-1.4") == "pdf"
    assert detect_format("a.docx", b"PK\x03\x04....") == "docx"
    assert detect_format("a.zip", b"PK\x03\x04") is None
    assert detect_format("a.pdf", b"<html>") is None  # the bytes contradict the name
    assert detect_format("a.md", b"# Title") == "markdown"
    assert detect_format("a.rst", b"Title\n=====") == "rst"
    assert detect_format("a.htm", b"<p>x</p>") == "html"
    assert detect_format("a.txt", "\u00e9t\u00e9".encode("utf-16")) == "text"
    assert detect_format("README", b"plain words") == "text"
    assert detect_format("page", b"<!DOCTYPE html><html>") == "html"
    assert detect_format("a.md", b"\x00\x01\x02binary") is None
    assert detect_format("a.exe", b"MZ\x90\x00") is None
    assert detect_format("a.png", b"\x89PNG\r\n") is None
