from __future__ import annotations

import os
import subprocess
from pathlib import Path

import httpx

from tests.knowledge.local.conftest import wait_done

GIT_ENV = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.test", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.test", "GIT_CONFIG_NOSYSTEM": "1"}


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "init.defaultBranch=main", *args], cwd=cwd, env=GIT_ENV, check=True,
                   capture_output=True, timeout=60)


def _commit_all(work: Path, message: str) -> None:
    _git(work, "add", "-A")
    _git(work, "commit", "-q", "-m", message)
    _git(work, "push", "-q", "origin", "HEAD:main")


def _repository(roots: Path, tmp_path: Path) -> tuple[Path, Path]:
    bare = roots / "project.git"
    _git(roots, "init", "-q", "--bare", str(bare))
    work = tmp_path / "work"
    work.mkdir()
    _git(work, "init", "-q")
    _git(work, "remote", "add", "origin", str(bare))
    (work / "docs").mkdir()
    (work / "src").mkdir()
    (work / "README.md").write_text("# Project\n\nThe hyperdrive motivator is in src.\n")
    (work / "docs" / "guide.md").write_text("# Guide\n\nCalibrate the sensor array weekly.\n")
    (work / "src" / "engine.py").write_text('"""Engine module: starts the ion thrusters."""\n\n\ndef start():\n'
                                            '    """Start the ion thrusters."""\n    return 1\n')
    (work / "src" / "plain.py").write_text("x = 1\n")  # no docstring: not indexed
    (work / "notes.bin").write_bytes(b"\0\1\2")
    _commit_all(work, "initial")
    return bare, work


async def test_git_source_indexes_then_refresh_re_embeds_only_the_changed_file(
        api: httpx.AsyncClient, roots: Path, tmp_path: Path) -> None:
    bare, work = _repository(roots, tmp_path)
    resp = await api.post("/api/knowledge-items/crawl", json={"url": str(bare), "crawl_type": "git"})
    assert resp.status_code == 200, resp.text
    source_id = resp.json()["sourceId"]
    done = await wait_done(api, resp.json()["progressId"])
    assert done["status"] == "completed", done
    assert done["pagesUpdated"] == 3 and len(done["commit"]) == 40
    pages = (await api.get(f"/api/knowledge-items/{source_id}/pages", params={"per_page": 50})).json()["items"]
    assert sorted(p["url"] for p in pages) == [f"{bare}/{p}" for p in ("README.md", "docs/guide.md",
                                                                          "src/engine.py")]
    item = (await api.get(f"/api/knowledge-items/{source_id}")).json()
    assert item["source_type"] == "git" and item["status"] == "ready"
    before = {c["content"] for c in (await api.get(f"/api/knowledge-items/{source_id}/chunks",
                                                   params={"per_page": 100})).json()["items"]}

    (work / "docs" / "guide.md").write_text("# Guide\n\nCalibrate the sensor array every day.\n")
    _commit_all(work, "daily calibration")
    again = await api.post(f"/api/knowledge-items/{source_id}/refresh")
    assert again.status_code == 200, again.text
    done = await wait_done(api, again.json()["progressId"])
    assert done["status"] == "completed", done
    assert (done["pagesUpdated"], done["pagesUnchanged"], done["pagesDeleted"]) == (1, 2, 0)
    after = {c["content"] for c in (await api.get(f"/api/knowledge-items/{source_id}/chunks",
                                                  params={"per_page": 100})).json()["items"]}
    assert any("every day" in c for c in after - before) and not any("every day" in c for c in before)
    assert (tmp_path / "data" / "git" / source_id / ".git").is_dir()


async def test_git_urls_other_than_https_or_allowed_paths_are_refused(api: httpx.AsyncClient,
                                                                     tmp_path: Path) -> None:
    for url in ("http://example.com/repo.git", "ssh://git@example.com/repo.git", "git@example.com:repo.git",
                "ext::sh -c touch% /tmp/pwned", str(tmp_path), "https://127.0.0.1/repo.git"):
        resp = await api.post("/api/knowledge-items/crawl", json={"url": url, "crawl_type": "git"})
        assert resp.status_code == 422, (url, resp.text)
        assert "url" in str(resp.json()["detail"])


async def test_git_connects_to_the_pinned_address_not_a_fresh_dns_answer(tmp_path: Path) -> None:
    """The SSRF guard's validated address is what libcurl connects to (no DNS-rebinding window)."""
    import pytest

    from archon.knowledge.local import git
    from tests.conftest import free_port

    port = free_port()  # nothing listens there: the error tells us where git tried to go
    url = f"https://rebind.invalid:{port}/project.git"
    with pytest.raises(git.GitError) as unpinned:
        await git.checkout(url, tmp_path / "a", timeout=30)
    assert "resolve" in unpinned.value.message.lower()
    with pytest.raises(git.GitError) as pinned:
        await git.checkout(url, tmp_path / "b", timeout=30,
                           config=git.pin_config("rebind.invalid", port, ["127.0.0.1"]))
    message = pinned.value.message.lower()
    assert "resolve" not in message and "connect" in message, message
