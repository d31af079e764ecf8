"""Document conversion in the limited child process: formats, XML attacks, corrupt files, cancellation."""

from __future__ import annotations

import asyncio

import pytest

from archon.jobs.progress import JobCancelled
from archon.knowledge.ingest.convert import ConversionError, ConversionLimits, convert_document
from tests.knowledge.docgen import _W, _docx, make_pdf, make_pdf_bomb

LIMITS = ConversionLimits(memory_mb=512, cpu_seconds=5, wall_seconds=15)


async def test_billion_laughs_docx_is_refused() -> None:
    entities = "".join(f'<!ENTITY l{i} "' + f"&l{i - 1};" * 10 + '">' for i in range(1, 10))
    xml = (f'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY l0 "lol">{entities}]>'
           f"<w:document {_W}><w:body><w:p><w:r><w:t>&l9;</w:t></w:r></w:p></w:body></w:document>")
    with pytest.raises(ConversionError, match=r"lol\.docx"):
        await convert_document(_docx(xml.encode()), "docx", filename="lol.docx", limits=LIMITS)


async def test_xxe_in_docx_reads_no_local_file() -> None:
    xml = ('<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
           f"<w:document {_W}><w:body><w:p><w:r><w:t>A&x;B</w:t></w:r></w:p></w:body></w:document>")
    result = await convert_document(_docx(xml.encode()), "docx", filename="xxe.docx", limits=LIMITS)
    assert "root:" not in result.markdown and "AB" in result.markdown


async def test_rst_include_directive_reads_no_local_file() -> None:
    rst = b"Title\n=====\n\n.. include:: /etc/passwd\n\nBody text.\n"
    result = await convert_document(rst, "rst", filename="x.rst", limits=LIMITS)
    assert "root:" not in result.markdown and "Body text." in result.markdown


@pytest.mark.parametrize(("name", "data", "fmt", "message"), [
    ("truncated.pdf", make_pdf(["hello"])[:200], "pdf", "truncated"),
    ("corrupt.docx", b"PK\x03\x04not really a zip", "docx", "corrupt"),
    ("nodoc.docx", _docx(b"<x/>").replace(b"word/document.xml", b"word/other000.xml"), "docx", "not a Word"),
])
async def test_corrupt_files_fail_with_the_file_named(name: str, data: bytes, fmt: str, message: str) -> None:
    with pytest.raises(ConversionError, match=message):
        await convert_document(data, fmt, filename=name, limits=LIMITS)


async def test_cancel_kills_a_long_conversion_quickly() -> None:
    flag = asyncio.Event()

    async def cancelled() -> bool:
        return flag.is_set()

    loop = asyncio.get_running_loop()
    loop.call_later(0.5, flag.set)
    start = loop.time()
    with pytest.raises(JobCancelled):
        await convert_document(make_pdf_bomb(), "pdf", filename="slow.pdf",
                               limits=ConversionLimits(512, 60, 60), cancelled=cancelled)
    assert loop.time() - start < 3
