"""Deterministic mutators for the corpus run: byte-level havoc plus format-aware tokens and re-packing."""

from __future__ import annotations

import random
import zlib

from fuzz.seeds import document_xml, docx_with

MAX_BYTES = 512 * 1024
INTERESTING = [b"\x00", b"\xff", b"\x7f", b"\x80", b"\xfe\xff", b"-1", b"0", b"4294967296", b"99999999999", b"%"]
TOKENS: dict[str, list[bytes]] = {
    "pdf": [b"obj", b"endobj", b"stream", b"endstream", b"xref", b"trailer", b"startxref", b"<<", b">>", b"[", b"]",
            b"/FlateDecode", b"/Length 99999999", b"/Count -1", b"/Kids [3 0 R 3 0 R]", b"0 0 R", b"/Parent 3 0 R",
            b"/Encrypt", b"/ObjStm", b"/Type /Page", b"/Filter /LZWDecode", b"(\\", b"<feff>", b"%%EOF", b"Tj", b"TJ"],
    "docx": [b"<w:p>", b"</w:p>", b"<w:r>", b"<w:t>", b"</w:t>", b"<w:tbl>", b"<w:tr>", b"<w:tc>", b"<w:hyperlink>",
             b"<!ENTITY a 'x'>", b"&a;", b"<![CDATA[", b"]]>", b'w:val="', b"<w:numPr>", b"<w:drawing>", b"&#0;"],
    "html": [b"<table>", b"<tr>", b"<td>", b"<pre>", b"<code class='language-", b"<div>", b"</div>", b"<ul><li>",
             b"<a href='", b"<!--", b"-->", b"&#x0;", b"&#99999999;", b"<script>", b"<title>", b"<main>", b"<br/>",
             b"<h1>", b"<blockquote>", b"<svg><math>", b"<![CDATA["],
    "markdown": [b"```", b"~~~", b"| a |", b"|---|", b"# ", b"###### ", b"> ", b"- ", b"1. ", b"    ", b"\t", b"<!--",
                 b"-->", b"[x](", b"![i](", b"`", b"\n\n", b"\r\n", b"\u200b".decode("unicode_escape").encode()],
    "rst": [b".. ", b"::", b"\n====\n", b"\n----\n", b"|sub|", b".. include:: x", b".. raw:: html", b"`", b"``",
            b".. code-block:: ", b"+---+", b"| a |", b".. [#]", b"_`", b".. |x| replace:: ", b"   ", b".. toctree::"],
    "text": [b"\n", b"\r", b"\x00", b"\xef\xbb\xbf", b"\xff\xfe", b". ", b"  "],
}


def _havoc(data: bytes, rng: random.Random, fmt: str, corpus: list[bytes]) -> bytes:
    buf = bytearray(data or b"\x00")
    for _ in range(rng.randint(1, 8)):
        op = rng.randrange(9)
        pos = rng.randrange(len(buf) + 1)
        if op == 0 and buf:  # flip bits
            i = rng.randrange(len(buf))
            buf[i] ^= 1 << rng.randrange(8)
        elif op == 1:  # interesting value
            buf[pos:pos] = rng.choice(INTERESTING)
        elif op == 2:  # format token
            buf[pos:pos] = rng.choice(TOKENS[fmt])
        elif op == 3 and buf:  # delete a range
            end = min(len(buf), pos + rng.randint(1, 64))
            del buf[pos:end]
        elif op == 4 and buf:  # duplicate a range, sometimes many times (nesting, repetition)
            start = rng.randrange(len(buf))
            piece = bytes(buf[start:start + rng.randint(1, 128)])
            buf[pos:pos] = piece * (rng.choice([1, 2, 8, 64, 512]))
        elif op == 5:  # truncate
            del buf[rng.randrange(len(buf) + 1):]
        elif op == 6 and corpus:  # splice with another file of the corpus
            other = rng.choice(corpus)
            cut = rng.randrange(len(other) + 1)
            buf[pos:] = other[cut:]
        elif op == 7:  # random bytes
            buf[pos:pos] = rng.randbytes(rng.randint(1, 32))
        elif op == 8 and buf:  # overwrite a byte
            buf[rng.randrange(len(buf))] = rng.randrange(256)
    return bytes(buf[:MAX_BYTES])


def _pdf_stream(rng: random.Random) -> bytes:
    # Structure-aware: a valid PDF whose (compressed) content stream holds random operators and operands.
    from tests.knowledge.docgen import make_pdf

    ops = [b"BT", b"ET", b"Tj", b"TJ", b"Td", b"TD", b"Tm", b"T*", b"Tf", b"q", b"Q", b"cm", b"'", b'"', b"Tc", b"Tz"]
    operands = [b"(text)", b"[(a) -120 (b)]", b"/F1", b"12", b"-1e308", b"1e308", b"0", b"<00ff>", b"()", b"[]"]
    parts = [rng.choice(operands + ops) for _ in range(rng.randint(5, 200))]
    stream = b" ".join(parts)
    return make_pdf([], compress_stream=stream if rng.random() < 0.9 else zlib.compress(stream))


_DOCX_SNIPPETS = [
    b'<w:p><w:pPr><w:pStyle w:val="Heading%d"/></w:pPr><w:r><w:t>h</w:t></w:r></w:p>',
    b'<w:p><w:pPr><w:numPr><w:ilvl w:val="%d"/><w:numId w:val="7"/></w:numPr></w:pPr><w:r><w:t>li</w:t></w:r></w:p>',
    b'<w:tbl><w:tr><w:tc><w:tbl><w:tr><w:tc><w:p><w:r><w:t>%d</w:t></w:r></w:p></w:tc></w:tr></w:tbl></w:tc></w:tr>'
    b'</w:tbl>',
    b'<w:p><w:hyperlink r:id="rId%d" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    b'<w:r><w:t>link</w:t></w:r></w:hyperlink></w:p>',
    b'<w:p><w:r><w:footnoteReference w:id="%d"/><w:br/><w:tab/><w:sym w:font="Symbol" w:char="F0%d"/></w:r></w:p>',
    b'<w:p><w:fldSimple w:instr=" HYPERLINK &quot;http://x/%d&quot; "><w:r><w:t>f</w:t></w:r></w:fldSimple></w:p>',
    b'<w:p><w:ins w:id="%d"><w:r><w:t>ins</w:t></w:r></w:ins><w:del w:id="2"><w:r><w:delText>d</w:delText></w:r>'
    b'</w:del></w:p>',
    b'<w:sdt><w:sdtContent><w:p><w:r><w:t>sdt %d</w:t></w:r></w:p></w:sdtContent></w:sdt>',
    b'<w:p><w:r><w:rPr><w:b/><w:i/><w:u w:val="single"/><w:strike/><w:vertAlign w:val="superscript"/></w:rPr>'
    b'<w:t xml:space="preserve"> %d </w:t></w:r></w:p>',
    b'<w:p><w:r><w:drawing><wp:inline xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing">'
    b'<wp:docPr id="%d" descr="alt"/></wp:inline></w:drawing></w:r></w:p>',
]


def _xml_mutate(xml: bytes, rng: random.Random) -> bytes:
    # Mutations that keep the XML well-formed, so mammoth's document model (not just expat) is exercised.
    buf = xml
    for _ in range(rng.randint(1, 6)):
        gaps = [i + 1 for i in range(len(buf) - 1) if buf[i:i + 2] == b"><"]
        op = rng.randrange(4)
        if op == 0 and gaps:  # a well-formed element between two tags
            snippet = rng.choice(_DOCX_SNIPPETS)
            snippet = snippet.replace(b"%d", str(rng.choice([0, 1, 9, 10, 99, -1, 2**31])).encode())
            at = rng.choice(gaps)
            buf = buf[:at] + snippet * rng.choice([1, 1, 5, 50]) + buf[at:]
        elif op == 1:  # repeat a paragraph
            start = buf.find(b"<w:p>", rng.randrange(max(len(buf), 1)) // 2)
            end = buf.find(b"</w:p>", start)
            if start >= 0 and end > start:
                para = buf[start:end + 6]
                buf = buf[:start] + para * rng.choice([2, 20, 200]) + buf[end + 6:]
        elif op == 2:  # hostile text in a run
            start = buf.find(b"<w:t>")
            if start >= 0:
                text = rng.choice([b"&amp;" * 50, b"\xe2\x80\xae evil", b"x" * 5000, b"&#1;", b"]]>", b"   "])
                buf = buf[:start + 5] + text + buf[start + 5:]
        elif op == 3:  # an attribute value
            start = buf.find(b'w:val="')
            if start >= 0:
                end = buf.find(b'"', start + 7)
                value = rng.choice([b"", b"Heading0", b"Heading99", b"-5", b"999999999999", b"Title", b"Code"])
                buf = buf[:start + 7] + value + buf[end:]
    return buf


def mutate(fmt: str, seed: bytes, rng: random.Random, corpus: list[bytes]) -> bytes:
    """One mutated file of format `fmt` derived from `seed`."""
    if fmt == "pdf" and rng.random() < 0.25:
        return _pdf_stream(rng)
    if fmt == "docx" and rng.random() < 0.8:
        xml = document_xml(seed)
        if xml is not None:  # mutate the XML and re-pack, so the XML parser (not the zip CRC) is fuzzed
            if rng.random() < 0.6:
                return docx_with(_xml_mutate(xml, rng))
            return docx_with(_havoc(xml, rng, fmt, [x for x in map(document_xml, corpus) if x]))
    return _havoc(seed, rng, fmt, corpus)
