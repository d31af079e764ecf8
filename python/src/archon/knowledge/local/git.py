"""Shallow git checkouts through the `git` CLI: https or file only, no prompts, no submodules, a timeout."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from pathlib import Path

from archon.errors import ArchonError

GIT_TIMEOUT_SECONDS = 300.0
# Every protocol is refused except these two, also for redirects and submodule URLs.
_PROTOCOL_CONFIG = ("-c", "protocol.allow=never", "-c", "protocol.https.allow=always",
                    "-c", "protocol.file.allow=always", "-c", "core.hooksPath=/dev/null",
                    "-c", "submodule.recurse=false", "-c", "core.symlinks=false",
                    # The SSRF guard checked the URL's host; a redirect must not lead somewhere it did not check.
                    "-c", "http.followRedirects=false")


class GitError(ArchonError):
    """git failed (unreachable repository, timeout, not a repository)."""

    status = 502
    error = "git_failed"


def _env() -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")}
    return {**keep, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "/bin/true", "SSH_ASKPASS": "/bin/true",
            "GIT_ALLOW_PROTOCOL": "https:file", "GIT_CONFIG_NOSYSTEM": "1", "GIT_LFS_SKIP_SMUDGE": "1"}


def pin_config(host: str, port: int, addresses: list[str]) -> tuple[str, ...]:
    """git config that makes libcurl connect to `addresses` for host:port, never to a fresh DNS answer.

    The SSRF guard validated these addresses; pinning them closes the DNS-rebinding window between that
    check and git's own lookup (git has no connect-time hook of its own).
    """
    spelled = ",".join(f"[{a}]" if ":" in a else a for a in addresses)
    return ("-c", f"http.curloptResolve={host}:{port}:{spelled}")


async def run_git(*args: str, cwd: Path | None = None, timeout: float = GIT_TIMEOUT_SECONDS,
                  config: tuple[str, ...] = ()) -> str:
    """Run git with the protocol allow-list; GitError with git's last message on failure or timeout."""
    process = await asyncio.create_subprocess_exec(
        "git", *_PROTOCOL_CONFIG, *config, *args, cwd=str(cwd) if cwd else None, env=_env(),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout)
    except (TimeoutError, asyncio.CancelledError):
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        raise GitError(f"git {args[0]} timed out after {timeout:.0f} s") from None
    if process.returncode != 0:
        lines = [line for line in err.decode("utf-8", "replace").splitlines() if line.strip()]
        raise GitError(f"git {args[0]} failed: {(lines[-1] if lines else 'exit ' + str(process.returncode))[:300]}")
    return out.decode("utf-8", "replace")


def _prepare(dest: Path) -> bool:
    """True if `dest` is a checkout; otherwise clear a half-finished clone and create the parent."""
    if (dest / ".git").is_dir():
        return True
    if dest.exists():
        shutil.rmtree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    return False


async def checkout(url: str, dest: Path, *, branch: str | None = None,
                   timeout: float = GIT_TIMEOUT_SECONDS, config: tuple[str, ...] = ()) -> str:
    """Clone `url` shallowly into `dest`, or fetch and reset an existing checkout; return the HEAD commit.

    `config` is extra `-c` options for the network commands (the DNS pin from `pin_config`).
    """
    if await asyncio.to_thread(_prepare, dest):
        ref = branch or "HEAD"
        await run_git("fetch", "--depth", "1", "--no-recurse-submodules", "--no-tags", "origin", ref, cwd=dest,
                      timeout=timeout, config=config)
        await run_git("reset", "--hard", "--quiet", "FETCH_HEAD", cwd=dest, timeout=timeout)
    else:
        extra = ["--branch", branch] if branch else []
        await run_git("clone", "--depth", "1", "--single-branch", "--no-recurse-submodules", "--no-tags", *extra,
                      "--", url, str(dest), timeout=timeout, config=config)
    return (await run_git("rev-parse", "HEAD", cwd=dest, timeout=timeout)).strip()
