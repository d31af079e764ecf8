from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from archon.runtime import Runtime
from tests.knowledge.search_corpus import BIZ, load_corpus


@pytest.fixture
async def api(app: object) -> AsyncIterator[tuple[httpx.AsyncClient, Runtime]]:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client, app.state.runtime  # type: ignore[attr-defined]


async def _wait(client: httpx.AsyncClient, progress_id: str) -> dict:
    async with asyncio.timeout(60):
        while True:
            data = (await client.get(f"/api/progress/{progress_id}")).json()
            if data["status"] in ("completed", "error", "cancelled"):
                return data
            await asyncio.sleep(0.05)


async def test_export_then_import_over_rest(api: tuple[httpx.AsyncClient, Runtime]) -> None:
    client, runtime = api
    await load_corpus(runtime)
    before = (await client.get(f"/api/knowledge-items/{BIZ}")).json()
    resp = await client.get(f"/api/knowledge-items/{BIZ}/export")
    assert resp.status_code == 200 and resp.headers["content-type"] == "application/zip"
    assert f'{BIZ}.archon' in resp.headers["content-disposition"]
    pack = resp.content
    conflict = await client.post("/api/knowledge-items/import", files={"file": ("b.archon", pack)},
                                 data={"on_conflict": "keep"})
    assert conflict.status_code == 409 and BIZ in conflict.json()["error"] + str(conflict.json()["detail"])
    assert (await client.delete(f"/api/knowledge-items/{BIZ}")).status_code in (200, 204)
    started = await client.post("/api/knowledge-items/import", files={"file": ("b.archon", pack)})
    assert started.status_code == 200, started.text
    assert started.json()["sourceIds"] == [BIZ]
    done = await _wait(client, started.json()["progressId"])
    assert done["status"] == "completed", done
    after = (await client.get(f"/api/knowledge-items/{BIZ}")).json()
    assert after["chunk_count"] == before["chunk_count"] > 0 and after["title"] == before["title"]


async def test_bad_imports_are_4xx_and_change_nothing(api: tuple[httpx.AsyncClient, Runtime]) -> None:
    client, runtime = api
    await load_corpus(runtime)
    listed = (await client.get("/api/knowledge-items")).json()
    bad = await client.post("/api/knowledge-items/import", files={"file": ("x.archon", b"PK\x03\x04garbage")})
    assert bad.status_code == 422 and "invalid knowledge pack" in bad.json()["error"]
    missing = await client.post("/api/knowledge-items/import", data={"on_conflict": "replace"},
                                files={"other": ("x", b"1")})
    assert missing.status_code == 422 and "file" in str(missing.json())
    pack = (await client.get(f"/api/knowledge-items/{BIZ}/export")).content
    mode = await client.post("/api/knowledge-items/import", files={"file": ("b.archon", pack)},
                             data={"on_conflict": "merge"})
    assert mode.status_code == 422 and "on_conflict" in str(mode.json())
    assert (await client.get("/api/knowledge-items/nope/export")).status_code == 404
    assert (await client.get("/api/knowledge-items")).json()["total"] == listed["total"]
