from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from archon.config import Settings
from tests.conftest import make_settings
from tests.knowledge.docgen import make_docx, make_docx_bomb, make_pdf, make_pdf_bomb


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path / "data", run_worker=True, max_upload_size=2 * 1024 * 1024,
                         upload_max_files=5, convert_memory_mb=768, convert_timeout_seconds=3)


async def wait_done(client: httpx.AsyncClient, progress_id: str, timeout: float = 60) -> dict:
    async with asyncio.timeout(timeout):
        while True:
            data = (await client.get(f"/api/progress/{progress_id}")).json()
            if data["status"] in ("completed", "error", "cancelled"):
                return data
            await asyncio.sleep(0.1)


RST = b"""Deploying
=========

Run the server behind a reverse proxy.

Configuration
-------------

Set ``ARCHON_HOST`` before starting.
"""

FORMATS = [
    ("guide.pdf", make_pdf(["Kubernetes deployment guide", "Use a readiness probe."]), "readiness probe"),
    ("notes.docx", make_docx([("Heading1", "Release notes"), ("", "The flux capacitor was recalibrated.")]),
     "flux capacitor"),
    ("readme.md", b"# Readme\n\nMarkdown uploads keep their headings.\n", "keep their headings"),
    ("plain.txt", "Plain text in UTF-8: na\u00efve caf\u00e9.".encode(), "caf\u00e9"),
    ("page.html", b"<html><head><title>Page</title></head><body><nav>MENU</nav><main><h1>Html doc</h1>"
                  b"<p>Served as HTML.</p></main></body></html>", "Served as HTML"),
    ("deploy.rst", RST, "reverse proxy"),
]


@pytest.mark.parametrize(("filename", "data", "needle"), FORMATS, ids=[f[0] for f in FORMATS])
async def test_upload_each_format_is_indexed(client: httpx.AsyncClient, filename: str, data: bytes,
                                             needle: str) -> None:
    resp = await client.post("/api/documents/upload", files={"file": (filename, data)},
                             data={"knowledge_type": "business", "tags": json.dumps(["docs", "v1"])})
    assert resp.status_code == 200, resp.text
    done = await wait_done(client, resp.json()["progressId"])
    assert done["status"] == "completed", done
    assert done["percentage"] == 100 and done["chunksStored"] >= 1
    source_id = done["sourceId"]
    item = (await client.get(f"/api/knowledge-items/{source_id}")).json()
    assert item["status"] == "ready" and item["knowledge_type"] == "business" and item["tags"] == ["docs", "v1"]
    assert item["source_type"] == "file" and item["chunk_count"] >= 1 and item["last_indexed_at"]
    chunks = (await client.get(f"/api/knowledge-items/{source_id}/chunks")).json()
    assert needle in " ".join(c["content"] for c in chunks["items"])
    assert "MENU" not in " ".join(c["content"] for c in chunks["items"])


def _uploaded_total(metrics: str) -> float:
    line = next(x for x in metrics.splitlines() if x.startswith("documents_uploaded_total "))
    return float(line.split()[1])


async def test_upload_repeated_tags_and_several_files(client: httpx.AsyncClient) -> None:
    before = _uploaded_total((await client.get("/metrics")).text)
    resp = await client.post("/api/documents/upload",
                             files=[("file", ("a.md", b"# A\n\nalpha text")), ("file", ("b.md", b"# B\n\nbeta text"))],
                             data={"tags": ["one", "two"]})
    assert resp.status_code == 200, resp.text
    done = await wait_done(client, resp.json()["progressId"])
    assert done["status"] == "completed" and done["processedPages"] == 2
    items = (await client.get("/api/knowledge-items", params={"tag": "two"})).json()
    assert items["total"] == 2 and {i["title"] for i in items["items"]} == {"A", "B"}
    assert _uploaded_total((await client.get("/metrics")).text) == before + 2


async def test_upload_sanitises_file_names(client: httpx.AsyncClient) -> None:
    resp = await client.post("/api/documents/upload",
                             files={"file": ("../../etc/evil\u202egnp.md", b"# Evil\n\nbody")})
    assert resp.status_code == 200
    assert resp.json()["filenames"] == ["evilgnp.md"]
    done = await wait_done(client, resp.json()["progressId"])
    item = (await client.get(f"/api/knowledge-items/{done['sourceId']}")).json()
    assert item["url"] == "file://evilgnp.md" and ".." not in item["config"]["filename"]


async def test_upload_rejects_unknown_types_with_415(client: httpx.AsyncClient) -> None:
    for name, data in [("tool.exe", b"MZ\x90\x00\x03\x00\x00\x00"), ("fake.pdf", b"<html>not a pdf</html>"),
                       ("binary.md", b"\x00\x01\x02\x03" * 10)]:
        resp = await client.post("/api/documents/upload", files={"file": (name, data)})
        assert resp.status_code == 415, (name, resp.text)
        assert name in resp.json()["error"]
    resp = await client.post("/api/documents/upload", json={"file": "x"})
    assert resp.status_code == 415


async def test_upload_validation_errors_name_the_field(client: httpx.AsyncClient) -> None:
    cases = [
        ({"knowledge_type": "secret"}, "knowledge_type"),
        ({"tags": "[1, 2]"}, "tags"),
        ({"tags": json.dumps([f"t{i}" for i in range(11)])}, "tags"),
    ]
    for data, field in cases:
        resp = await client.post("/api/documents/upload", files={"file": ("a.md", b"# A")}, data=data)
        assert resp.status_code == 422, resp.text
        assert resp.json()["detail"][0]["field"] == field
    resp = await client.post("/api/documents/upload", data={"knowledge_type": "technical"},
                             files={"other": ("a.md", b"x")})
    assert resp.status_code == 422 and resp.json()["detail"][0]["field"] == "file"
    resp = await client.post("/api/documents/upload", files={"file": ("empty.md", b"")})
    assert resp.status_code == 422
    many = [("file", (f"f{i}.md", b"# x")) for i in range(6)]
    resp = await client.post("/api/documents/upload", files=many)
    assert resp.status_code == 422 and "files" in resp.json()["error"]


async def test_upload_over_the_limit_is_refused_while_streaming(client: httpx.AsyncClient) -> None:
    sent = 0
    boundary = "b0undary"

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent
        head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.txt\"\r\n"
                "Content-Type: text/plain\r\n\r\n").encode()
        sent += len(head)
        yield head
        for _ in range(1000):  # 64 MB if fully read; the limit is 2 MB
            sent += 65536
            yield b"a" * 65536

    resp = await client.post("/api/documents/upload", content=body(),
                             headers={"content-type": f"multipart/form-data; boundary={boundary}"})
    assert resp.status_code == 413
    assert "MAX_UPLOAD_SIZE" in resp.json()["error"]
    assert sent < 4 * 1024 * 1024  # stopped reading right after the limit, not at the end of 64 MB
    declared = await client.post("/api/documents/upload", content=b"x",
                                 headers={"content-type": f"multipart/form-data; boundary={boundary}",
                                          "content-length": str(100 * 1024 * 1024)})
    assert declared.status_code == 413


@pytest.mark.parametrize(("filename", "make"), [("bomb.docx", make_docx_bomb), ("bomb.pdf", make_pdf_bomb)])
async def test_decompression_bomb_fails_its_job_and_the_api_stays_responsive(
        client: httpx.AsyncClient, filename: str, make: object) -> None:
    data = make()  # type: ignore[operator]
    assert len(data) < 1024 * 1024
    resp = await client.post("/api/documents/upload", files={"file": (filename, data)})
    assert resp.status_code == 200
    progress_id = resp.json()["progressId"]
    slowest = 0.0
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(60):
        while True:
            start = loop.time()
            data_now = (await client.get(f"/api/progress/{progress_id}")).json()
            slowest = max(slowest, loop.time() - start)
            if data_now["status"] in ("completed", "error", "cancelled"):
                break
            await asyncio.sleep(0.1)
    assert data_now["status"] == "error"
    assert filename in data_now["error"] and ("bomb" in data_now["error"] or "limit" in data_now["error"]
                                              or "CPU" in data_now["error"] or "memory" in data_now["error"])
    assert slowest < 1.0  # the API kept answering while the child process chewed on the bomb
    item = (await client.get(f"/api/knowledge-items/{data_now['sourceId']}")).json()
    assert item["status"] == "error" and item["chunk_count"] == 0


async def test_413_over_a_real_socket_before_the_body_is_sent(live_api: object) -> None:
    """A real HTTP client: a large Content-Length is refused without sending the body, and a chunked
    body without Content-Length is cut off soon after the limit (the server never reads it all)."""
    port = live_api.port  # type: ignore[attr-defined]
    head = ("POST /api/documents/upload HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: multipart/form-data; boundary=xyz\r\n")
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write((head + f"Content-Length: {1024 ** 3}\r\n\r\n").encode())
    await writer.drain()
    status = await asyncio.wait_for(reader.readline(), 10)
    assert status.startswith(b"HTTP/1.1 413")
    writer.close()

    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write((head + "Transfer-Encoding: chunked\r\n\r\n").encode())
    part = b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="big.txt"\r\n\r\n'
    writer.write(b"%x\r\n%s\r\n" % (len(part), part))
    sent = 0
    response = b""
    try:
        while sent < 64 * 1024 * 1024:  # would be 64 MB; the limit is 2 MB
            block = b"a" * 65536
            writer.write(b"%x\r\n%s\r\n" % (len(block), block))
            await writer.drain()
            sent += len(block)
            try:
                response = await asyncio.wait_for(reader.readline(), 0.001)
            except TimeoutError:
                continue
            if response:
                break
    except (ConnectionResetError, BrokenPipeError):
        pass
    if not response:
        response = await asyncio.wait_for(reader.readline(), 10)
    writer.close()
    assert response.startswith(b"HTTP/1.1 413"), response
    assert sent < 8 * 1024 * 1024
