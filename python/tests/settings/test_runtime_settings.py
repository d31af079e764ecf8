"""GET/PUT/DELETE /api/settings on a real Postgres: defaults from the env, validation, no restart needed."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from archon.runtime import Runtime
from archon.settings.schemas import RagSettings
from archon.settings.service import CACHE_TTL_SECONDS, RuntimeSettingsService
from tests.conftest import make_settings


async def test_settings_defaults_come_from_environment(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(database_url, tmp_path / "d", concurrent_crawl_limit=5, embedding_dimensions=256)
    runtime = await Runtime.start(settings)
    try:
        current = await RuntimeSettingsService(runtime).current()
    finally:
        await runtime.stop()
    assert current.concurrent_crawl_limit == 5
    assert current.embedding_provider == "hash" and current.embedding_model == "hash-v1"
    assert current.embedding_dimensions == 256
    assert current.chunk_size == RagSettings.model_fields["chunk_size"].default


async def test_settings_get_lists_every_setting(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/settings")
    assert response.status_code == 200
    body = response.json()
    assert set(body["settings"]) == set(RagSettings.model_fields)
    assert body["overrides"] == []
    assert body["defaults"] == body["settings"]
    assert body["embedding"]["target"]["provider"] == "hash"


async def test_settings_partial_put_changes_only_given_keys(api: httpx.AsyncClient) -> None:
    before = (await api.get("/api/settings")).json()["settings"]
    response = await api.put("/api/settings", json={"chunk_size": 400, "chunk_overlap": 40,
                                                    "use_hybrid_search": False, "fusion_k": 30})
    assert response.status_code == 200, response.text
    after = response.json()["settings"]
    assert (after["chunk_size"], after["chunk_overlap"], after["use_hybrid_search"], after["fusion_k"]) == \
        (400, 40, False, 30)
    changed = {k for k in after if after[k] != before[k]}
    assert changed == {"chunk_size", "chunk_overlap", "use_hybrid_search", "fusion_k"}
    assert response.json()["overrides"] == ["chunk_overlap", "chunk_size", "fusion_k", "use_hybrid_search"]
    assert response.json()["embedding"]["reembed_progress_id"] is None
    again = (await api.get("/api/settings")).json()["settings"]
    assert again == after


INVALID: list[tuple[dict[str, object], str]] = [
    ({"chunk_size": -1}, "chunk_size"),
    ({"chunk_size": "big"}, "chunk_size"),
    ({"chunk_overlap": 500}, "chunk_overlap"),  # >= chunk_size (220)
    ({"embedding_provider": "cohere"}, "embedding_provider"),
    ({"embedding_base_url": "ftp://example.com"}, "embedding_base_url"),
    ({"embedding_base_url": "https://user:secret@example.com/v1"}, "embedding_base_url"),
    ({"embedding_base_url": "http://169.254.169.254/v1"}, "embedding_base_url"),
    ({"chat_base_url": "http://metadata.google.internal/v1"}, "chat_base_url"),
    ({"embedding_dimensions": 3}, "embedding_dimensions"),
    ({"fusion_vector_weight": 0, "fusion_keyword_weight": 0}, "fusion_keyword_weight"),
    ({"default_render_mode": "chrome"}, "default_render_mode"),
    ({"crawl_per_host_rate": 0}, "crawl_per_host_rate"),
    ({"page_timeout_seconds": 100000}, "page_timeout_seconds"),
    ({"concurrent_crawl_limit": 0}, "concurrent_crawl_limit"),
    ({"no_such_setting": 1}, "no_such_setting"),
    ({"embedding_api_key_name": "lower"}, "embedding_api_key_name"),
    ({"respect_robots": "perhaps"}, "respect_robots"),
]


async def test_settings_invalid_values_refused_with_field_named(api: httpx.AsyncClient) -> None:
    before = (await api.get("/api/settings")).json()["settings"]
    for patch, field in INVALID:
        response = await api.put("/api/settings", json=patch)
        assert response.status_code == 422, (patch, response.text)
        body = response.json()
        assert field in {d["field"] for d in body["detail"]}, (patch, body)
        assert field in body["error"]
    assert (await api.get("/api/settings")).json()["settings"] == before  # nothing stored


async def test_settings_non_object_body_is_422(api: httpx.AsyncClient) -> None:
    response = await api.put("/api/settings", json=[1, 2])
    assert response.status_code == 422
    garbage = await api.put("/api/settings", content=b"{not json", headers={"content-type": "application/json"})
    assert garbage.status_code == 422


async def test_settings_reset_restores_defaults(api: httpx.AsyncClient) -> None:
    await api.put("/api/settings", json={"chunk_size": 300, "respect_robots": False})
    partial = await api.delete("/api/settings", params={"keys": "respect_robots"})
    assert partial.status_code == 200
    assert partial.json()["settings"]["respect_robots"] is True
    assert partial.json()["settings"]["chunk_size"] == 300
    full = await api.delete("/api/settings")
    assert full.json()["overrides"] == [] and full.json()["settings"] == full.json()["defaults"]
    unknown = await api.delete("/api/settings", params={"keys": "bogus"})
    assert unknown.status_code == 422 and "bogus" in unknown.json()["error"]


async def test_settings_effective_without_restart(app: object, api: httpx.AsyncClient, settings: object) -> None:
    runtime: Runtime = app.state.runtime  # type: ignore[attr-defined]
    service = RuntimeSettingsService(runtime)
    assert (await service.current()).fusion_k == runtime.settings.search_rrf_k
    # Same process: the change is visible to the next read at once (cache invalidated).
    await api.put("/api/settings", json={"fusion_k": 15, "use_reranking": True})
    current = await service.current()
    assert current.fusion_k == 15 and current.use_reranking is True
    # Another process (a second runtime with its own pool and cache) picks up a change within the TTL.
    other = await Runtime.start(settings)  # type: ignore[arg-type]
    try:
        other_service = RuntimeSettingsService(other)
        assert (await other_service.current()).fusion_k == 15
        await api.put("/api/settings", json={"fusion_k": 99})
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CACHE_TTL_SECONDS + 3
        while (await other_service.current()).fusion_k != 99:
            assert loop.time() < deadline, "the other process never saw the change"
            await asyncio.sleep(0.1)
    finally:
        await other.stop()


async def test_settings_invalid_stored_override_is_ignored(app: object, api: httpx.AsyncClient) -> None:
    runtime: Runtime = app.state.runtime  # type: ignore[attr-defined]
    service = RuntimeSettingsService(runtime)
    await service.repo.save({"chunk_size": -5, "fusion_k": 10})  # e.g. written by an older version
    service.invalidate()
    current = await service.current()
    assert current.chunk_size == RagSettings.model_fields["chunk_size"].default
    assert current.fusion_k == 10
    assert (await api.get("/api/settings")).status_code == 200
