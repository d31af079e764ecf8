"""Local files for folder and git sources: allowed roots, and a .gitignore-aware walk that stays inside.

Filesystem reads only; no database. Symbolic links are followed only when their target stays inside
the walked root, so a link to /etc or to a sibling checkout never leaks into an index.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pathspec

from archon.errors import Invalid
from archon.knowledge.ingest.formats import EXTENSIONS

MAX_FILE_BYTES = 20 * 1024 * 1024  # one document; bigger files are skipped with a note
MAX_FILES = 20_000


def _path_error(message: str) -> Invalid:
    return Invalid(f"url: {message}", detail=[{"field": "url", "message": message}])


def resolve_under_roots(raw: str, roots: Iterable[str]) -> Path:
    """The real path of `raw` if it is inside one of `roots` (ARCHON_LOCAL_SOURCE_ROOTS); 422 otherwise."""
    allowed = [Path(r).expanduser().resolve() for r in roots if r.strip()]
    if not allowed:
        raise _path_error("local folders are disabled on this server; set ARCHON_LOCAL_SOURCE_ROOTS to the "
                          "folders that may be indexed")
    text = raw.removeprefix("file://")
    if "\x00" in text or not text:
        raise _path_error("not a valid path")
    path = Path(text).expanduser()
    if not path.is_absolute():
        raise _path_error("a server-side folder must be an absolute path")
    real = path.resolve()
    if not any(real == root or real.is_relative_to(root) for root in allowed):
        raise _path_error(f"{real} is not under ARCHON_LOCAL_SOURCE_ROOTS")
    if not real.exists():
        raise _path_error(f"{real} does not exist")
    return real


@dataclass(frozen=True)
class LocalFile:
    path: Path  # the real path (inside the root)
    relative: str  # posix path relative to the root: what globs and .gitignore match against


class _Ignores:
    """The .gitignore files met on the way down, each applying to its own directory and below."""

    def __init__(self) -> None:
        self.specs: list[tuple[str, pathspec.GitIgnoreSpec]] = []

    def load(self, directory: Path, relative: str) -> None:
        gitignore = directory / ".gitignore"
        if gitignore.is_file() and not gitignore.is_symlink():
            lines = gitignore.read_text("utf-8", errors="replace").splitlines()
            self.specs.append((relative, pathspec.GitIgnoreSpec.from_lines(lines)))

    def ignored(self, relative: str, *, is_dir: bool) -> bool:
        for base, spec in self.specs:
            if base and not relative.startswith(base + "/"):
                continue
            inner = relative[len(base) + 1:] if base else relative
            if spec.match_file(inner + "/" if is_dir else inner):
                return True
        return False


def walk(root: Path, *, include: list[str] | None = None, exclude: list[str] | None = None,
         extensions: Iterable[str] = tuple(EXTENSIONS)) -> Iterator[LocalFile]:
    """Files under `root` in sorted order: hidden entries and .gitignored ones skipped, `include` globs
    (gitignore syntax; any extension) or else known document extensions, minus `exclude` globs."""
    root = root.resolve()
    wanted = pathspec.GitIgnoreSpec.from_lines(include) if include else None
    unwanted = pathspec.GitIgnoreSpec.from_lines(exclude) if exclude else None
    suffixes = {e.lower() for e in extensions}
    ignores = _Ignores()
    count = 0
    for current, dirs, files in os.walk(root, followlinks=False):
        here = Path(current)
        rel_dir = here.relative_to(root).as_posix()
        rel_dir = "" if rel_dir == "." else rel_dir
        ignores.load(here, rel_dir)
        kept = []
        for name in sorted(dirs):
            rel = f"{rel_dir}/{name}" if rel_dir else name
            if name.startswith(".") or (here / name).is_symlink() or ignores.ignored(rel, is_dir=True):
                continue  # directory links are never followed: they could loop or leave the root
            kept.append(name)
        dirs[:] = kept
        for name in sorted(files):
            rel = f"{rel_dir}/{name}" if rel_dir else name
            if name.startswith(".") or ignores.ignored(rel, is_dir=False):
                continue
            if wanted is not None:
                if not wanted.match_file(rel):
                    continue
            elif Path(name).suffix.lower() not in suffixes:
                continue
            if unwanted is not None and unwanted.match_file(rel):
                continue
            real = (here / name).resolve()
            if not real.is_relative_to(root) or not real.is_file():
                continue  # a link pointing outside the root
            count += 1
            if count > MAX_FILES:
                return
            yield LocalFile(real, rel)
