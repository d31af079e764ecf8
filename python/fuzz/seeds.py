"""Seed documents per format: small, valid, and touching the features each converter handles."""

from __future__ import annotations

import io
import zipfile

from tests.knowledge.docgen import _W, make_docx, make_pdf

_HTML = [
    b"<!doctype html><html><head><title>Router guide</title><style>p{}</style><script>alert(1)</script></head>"
    b"<body><nav>skip</nav><main><h1>Routing</h1><p>Use <a href='/x'>routes</a> &amp; <b>handlers</b>.</p>"
    b"<pre class='language-python'><code>app.route('/')\ndef index():\n    return 'hi'\n</code></pre>"
    b"<table><tr><th>a</th><th>b</th></tr><tr><td>1</td><td>2</td></tr></table>"
    b"<ul><li>one<ul><li>nested <code>x</code></li></ul></li><li>two</li></ul></main><footer>f</footer></body></html>",
    b"<html><body><h2>Unclosed<p>para <i>italic <b>bold</i> tail<div><div><div>deep</div></div>"
    b"<img src=x onerror=alert(1)><a href='javascript:alert(1)'>js</a>&#0;&#x110000;&unknown;<!-- hidden -->"
    b"<pre><code class='lang-js'>let a = 1;</code></pre><blockquote>q<blockquote>qq</blockquote></blockquote>",
]
_MARKDOWN = [
    b"# Title\n\nIntro paragraph with `code` and a [link](http://example.com).\n\n## Install\n\n"
    b"```bash\npip install archon\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n> quote\n\n- item\n  - nested\n\n"
    b"<!-- hidden instructions -->\n\n### Usage\n\n```python\nimport archon\nprint(archon.__version__)\n```\n",
    "# Ünïcödé\u200b\u202e\n\nText with tag chars \U000e0041\U000e0042 and \ufeffBOM.\n\n    indented code block\n"
    "    second line\n\n~~~\nunclosed fence\n".encode(),
]
_RST = [
    b"Router guide\n============\n\nIntro with ``literal`` and `link <http://example.com>`_.\n\nInstall\n-------\n\n"
    b".. code-block:: python\n\n   import archon\n   print(1)\n\n"
    b"+---+---+\n| a | b |\n+===+===+\n| 1 | 2 |\n+---+---+\n\n"
    b"* item\n\n  * nested\n\n.. note:: A note.\n",
    b"Title\n=====\n\n.. include:: /etc/passwd\n\n.. raw:: html\n\n   <script>x</script>\n\n|sub| text\n\n"
    b".. |sub| replace:: substituted\n\n.. [#] footnote\n\n::\n\n   literal block\n",
]
_TEXT = [
    b"Plain notes\n\nFirst paragraph of plain text. Second sentence here.\n\n  indented line\n\tTabbed\n",
    "UTF-16 text with a BOM: r\u00e9sum\u00e9\n".encode("utf-16"),
    "latin-1 caf\u00e9 \xff\n".encode("latin-1"),
]


def _docx_table() -> bytes:
    xml = (f'<?xml version="1.0" encoding="UTF-8"?><w:document {_W}><w:body>'
           '<w:p><w:pPr><w:pStyle w:val="Heading1"/></w:pPr><w:r><w:t>Table doc</w:t></w:r></w:p>'
           '<w:tbl><w:tr><w:tc><w:p><w:r><w:t>a</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>b</w:t></w:r></w:p>'
           '</w:tc></w:tr></w:tbl><w:p><w:r><w:rPr><w:b/></w:rPr><w:t xml:space="preserve">bold </w:t></w:r>'
           '<w:hyperlink w:anchor="x"><w:r><w:t>link</w:t></w:r></w:hyperlink></w:p>'
           '<w:p><w:pPr><w:numPr><w:ilvl w:val="0"/><w:numId w:val="1"/></w:numPr></w:pPr><w:r><w:t>listed</w:t>'
           '</w:r></w:p></w:body></w:document>')
    return docx_with(xml.encode())


def docx_with(document_xml: bytes) -> bytes:
    """A .docx around the given word/document.xml (the structure-aware mutator re-packs with this)."""
    from tests.knowledge.docgen import _docx

    return _docx(document_xml)


def document_xml(data: bytes) -> bytes | None:
    """word/document.xml of a .docx, or None when `data` is not a readable zip with one."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return archive.read("word/document.xml")
    except Exception:  # any broken zip: the caller mutates raw bytes instead
        return None


def seeds(fmt: str) -> list[bytes]:
    """The seed files of one format."""
    if fmt == "pdf":
        return [make_pdf(["Router guide", "Configure routes (and handlers)", "\\escaped"], title="Guide"),
                make_pdf([], compress_stream=b"BT /F1 12 Tf 72 720 Td (compressed text) Tj ET"),
                make_pdf(["x" * 200] * 40, title="")]
    if fmt == "docx":
        return [make_docx([("Heading1", "Install"), ("", "Run the installer."), ("Heading2", "Use"),
                           ("", "Call archon &amp; friends.")]), _docx_table()]
    return {"html": _HTML, "markdown": _MARKDOWN, "rst": _RST, "text": _TEXT}[fmt]
