from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from archon.errors import Invalid
from archon.knowledge.local.files import resolve_under_roots, walk
from tests.knowledge.local.conftest import wait_done

RST = "Deploying\n=========\n\nRun the server behind a reverse proxy.\n"


def _tree(root: Path, outside: Path) -> None:
    (root / "guide").mkdir(parents=True)
    (root / "build").mkdir()
    (root / ".gitignore").write_text("build/\n*.log\nsecret.md\n")
    (root / "README.md").write_text("# Folder docs\n\nThe flux capacitor needs 1.21 gigawatts.\n")
    (root / "guide" / "deploy.rst").write_text(RST)
    (root / "guide" / "page.html").write_text("<html><body><h1>Html page</h1><p>Served from disk.</p></body></html>")
    (root / "guide" / "notes.txt").write_text("Plain notes about the warp core.\n")
    (root / "guide" / ".gitignore").write_text("draft.md\n")
    (root / "guide" / "draft.md").write_text("# Draft\n\nnot ready\n")
    (root / "secret.md").write_text("# Secret\n\nignored by .gitignore\n")
    (root / "build" / "out.md").write_text("# Built\n\nignored folder\n")
    (root / "debug.log").write_text("ignored\n")
    (root / "image.png").write_bytes(b"\x89PNG\r\n")
    outside.mkdir(exist_ok=True)
    (outside / "private.md").write_text("# Private\n\noutside the root\n")
    os.symlink(outside / "private.md", root / "escape.md")
    os.symlink(outside, root / "escape_dir")


def test_walk_respects_gitignore_and_stays_inside(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    _tree(root, tmp_path / "outside")
    assert [f.relative for f in walk(root)] == ["README.md", "guide/deploy.rst", "guide/notes.txt",
                                                 "guide/page.html"]


def test_paths_outside_the_roots_are_refused(tmp_path: Path) -> None:
    with pytest.raises(Invalid, match="ARCHON_LOCAL_SOURCE_ROOTS"):
        resolve_under_roots(str(tmp_path), [])
    (tmp_path / "a").mkdir()
    with pytest.raises(Invalid, match="not under"):
        resolve_under_roots(str(tmp_path), [str(tmp_path / "a")])
    with pytest.raises(Invalid, match="not under"):
        resolve_under_roots(str(tmp_path / "a" / ".." / ".."), [str(tmp_path / "a")])
    with pytest.raises(Invalid, match="absolute"):
        resolve_under_roots("a", [str(tmp_path)])
    assert resolve_under_roots(f"file://{tmp_path}/a", [str(tmp_path / "a")]) == (tmp_path / "a").resolve()


async def _pages(client: httpx.AsyncClient, source_id: str) -> dict[str, int]:
    body = (await client.get(f"/api/knowledge-items/{source_id}/pages", params={"per_page": 100})).json()
    return {p["url"]: p for p in body["items"]}  # type: ignore[misc]


async def test_folder_source_indexes_and_refreshes_changed_files(api: httpx.AsyncClient, roots: Path,
                                                                tmp_path: Path) -> None:
    root = roots / "docs"
    _tree(root, tmp_path / "outside")
    resp = await api.post("/api/knowledge-items/crawl", json={"url": str(root), "crawl_type": "folder"})
    assert resp.status_code == 200, resp.text
    source_id = resp.json()["sourceId"]
    done = await wait_done(api, resp.json()["progressId"])
    assert done["status"] == "completed", done
    assert done["pagesUpdated"] == 4 and done["pagesFailed"] == 0
    pages = await _pages(api, source_id)
    assert sorted(pages) == sorted((root / p).resolve().as_uri() for p in
                                   ("README.md", "guide/deploy.rst", "guide/notes.txt", "guide/page.html"))
    item = (await api.get(f"/api/knowledge-items/{source_id}")).json()
    assert item["source_type"] == "folder" and item["status"] == "ready"
    found = (await api.post("/api/rag/query", json={"query": "flux capacitor gigawatts"})).json()
    assert found["results"] and found["results"][0]["url"].endswith("README.md")

    (root / "guide" / "notes.txt").write_text("Plain notes about the impulse engine.\n")
    (root / "guide" / "page.html").unlink()
    again = await api.post(f"/api/knowledge-items/{source_id}/refresh")
    assert again.status_code == 200, again.text
    done = await wait_done(api, again.json()["progressId"])
    assert done["status"] == "completed", done
    assert (done["pagesUpdated"], done["pagesUnchanged"], done["pagesDeleted"]) == (1, 2, 1)
    assert len(await _pages(api, source_id)) == 3


async def test_folder_outside_roots_is_422(api: httpx.AsyncClient, tmp_path: Path) -> None:
    resp = await api.post("/api/knowledge-items/crawl", json={"url": str(tmp_path), "crawl_type": "folder"})
    assert resp.status_code == 422 and "ARCHON_LOCAL_SOURCE_ROOTS" in resp.json()["error"]
    assert "url" in str(resp.json()["detail"])
    relative = await api.post("/api/knowledge-items/crawl", json={"url": "docs", "crawl_type": "folder"})
    assert relative.status_code == 422


async def test_a_vanished_folder_is_never_emptied(api: httpx.AsyncClient, app: object, roots: Path,
                                                  tmp_path: Path) -> None:
    from archon.knowledge.crawling.schemas import CrawlRequest
    from archon.knowledge.local.service import LocalSourceService

    runtime = app.state.runtime  # type: ignore[attr-defined]
    service = LocalSourceService(runtime)
    allowed, trusted = roots / "gone", tmp_path / "cli-folder"
    for folder in (allowed, trusted):
        folder.mkdir()
        (folder / "a.md").write_text("# A\n\nkept\n")
    resp = await api.post("/api/knowledge-items/crawl", json={"url": str(allowed), "crawl_type": "folder",
                                                              "update_frequency_days": 1})
    assert (await wait_done(api, resp.json()["progressId"]))["status"] == "completed"
    cli = await service.start(CrawlRequest(url=str(trusted), crawl_type="folder", update_frequency_days=1),
                              trusted_path=True)
    assert (await wait_done(api, cli.progressId))["status"] == "completed"
    async with runtime.db.connection() as conn:
        await conn.execute("UPDATE archon_sources SET next_refresh_at = now() - interval '1 minute'")
    for folder in (allowed, trusted):
        (folder / "a.md").unlink()
        folder.rmdir()
    refused = await api.post(f"/api/knowledge-items/{resp.json()['sourceId']}/refresh")
    assert refused.status_code == 422 and "does not exist" in refused.json()["error"]
    started = await service.refresh_due_sources()  # the REST source is refused again; the CLI one runs
    assert len(started) == 1
    done = await wait_done(api, started[0])
    assert done["status"] == "error" and "no longer exists" in done["error"]
    for source_id in (resp.json()["sourceId"], cli.sourceId):
        assert len(await _pages(api, source_id)) == 1
