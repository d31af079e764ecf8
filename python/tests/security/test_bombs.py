"""S6/R11: parse bombs (PDF flate bomb, DOCX zip bomb, billion laughs) end their job with a clear error
within the conversion time limit while /health, polled every 50 ms, keeps p99 < 250 ms."""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path
from typing import Any

import pytest

from archon.app import create_app
from tests.conftest import make_settings
from tests.knowledge.docgen import make_docx_bomb, make_pdf_bomb
from tests.security.conftest import Recorder, asgi_client

LIMIT_SECONDS = 8


def _laughs_docx() -> bytes:
    import io
    import zipfile

    entities = "".join(f'<!ENTITY l{i} "' + f"&l{i - 1};" * 10 + '">' for i in range(1, 10))
    xml = (f'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY l0 "lol">{entities}]>'
           '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r>'
           "<w:t>&l9;</w:t></w:r></w:p></w:body></w:document>")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/'
                   'package/2006/content-types"><Override PartName="/word/document.xml" ContentType="application/'
                   'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>')
        z.writestr("word/document.xml", xml)
    return out.getvalue()


@pytest.fixture
async def bomb_app(database_url: str, tmp_path: Path) -> Any:
    application = create_app(make_settings(database_url, tmp_path / "data", run_worker=True,
                                           convert_timeout_seconds=LIMIT_SECONDS, convert_memory_mb=768))
    async with application.router.lifespan_context(application):
        yield application


@pytest.mark.parametrize(("filename", "make"), [("bomb.pdf", make_pdf_bomb), ("bomb.docx", make_docx_bomb),
                                                ("laughs.docx", _laughs_docx)])
async def test_bomb_fails_its_job_while_health_stays_fast(bomb_app: Any, recorder: Recorder, filename: str,
                                                          make: Any) -> None:
    data = make()
    async with asgi_client(bomb_app, recorder) as client:
        started = time.monotonic()
        response = await client.post("/api/documents/upload", files={"file": (filename, data)})
        assert response.status_code == 200, response.text
        job_id = response.json()["progressId"]
        health: list[float] = []
        async with asyncio.timeout(LIMIT_SECONDS * 4 + 30):
            while True:
                t0 = time.monotonic()
                assert (await client.get("/health")).status_code == 200
                health.append(time.monotonic() - t0)
                job = (await client.get(f"/api/progress/{job_id}")).json()
                if job["status"] in ("completed", "error", "cancelled"):
                    break
                await asyncio.sleep(0.05)
        elapsed = time.monotonic() - started
    p99 = statistics.quantiles(health, n=100)[98] * 1000 if len(health) > 2 else max(health) * 1000
    print(f"\n{filename} ({len(data)} bytes): {job['status']} in {elapsed:.1f}s, /health p99 {p99:.0f} ms "
          f"over {len(health)} polls: {job.get('error')}")
    assert job["status"] == "error", job
    assert filename in (job.get("error") or "")
    assert elapsed < LIMIT_SECONDS * 4 + 10
    assert p99 < 250, p99
