"""`archon credentials ...`: key generation and rotation (thin adapters over CredentialService)."""

from __future__ import annotations

import asyncio
import sys
from typing import Annotated

import typer

from archon.errors import ArchonError

credentials_app = typer.Typer(help="Encrypted credentials: generate an encryption key, rotate, list (masked).",
                              no_args_is_help=True)


def _run_with_service(action: str, **kwargs: bool) -> object:
    from archon.cli import _fail, _setup, load_settings
    from archon.runtime import Runtime
    from archon.settings.credentials import CredentialService

    settings = load_settings(run_worker=False)
    _setup(settings, stream=sys.stderr)

    async def main() -> object:
        runtime = await Runtime.start(settings, run_worker=False)
        try:
            service = CredentialService(runtime)
            return await (service.rotate(**kwargs) if action == "rotate" else service.list())
        finally:
            await runtime.stop()

    try:
        return asyncio.run(main())
    except ArchonError as exc:
        raise _fail(exc.message, 1) from None


@credentials_app.command("generate-key")
def generate_key() -> None:
    """Print a new Fernet key for ENCRYPTION_KEY (nothing is stored)."""
    from archon.settings.crypto import generate_key as make

    typer.echo(make())


@credentials_app.command()
def rotate(
    new_key: Annotated[bool, typer.Option("--new-key", help="Key file only: generate a new key and put it first.")]
    = False,
    drop_old: Annotated[bool, typer.Option("--drop-old", help="Key file only: remove older keys afterwards.")]
    = False,
) -> None:
    """Re-encrypt every stored credential with the newest key (the first of ENCRYPTION_KEY, or of the key file)."""
    from archon.settings.credentials import RotationReport

    report = _run_with_service("rotate", new_key=new_key, drop_old=drop_old)
    assert isinstance(report, RotationReport)
    typer.echo(f"re-encrypted {report.rotated} credential(s) with the newest key of {report.origin} "
               f"({report.keys_in_ring} key(s) in the ring)")
    if report.keys_in_ring > 1:
        typer.echo("every credential now uses the first key; the older keys can be removed")


@credentials_app.command("list")
def list_credentials() -> None:
    """List stored credentials, masked (key, category, last 4 characters)."""
    items = _run_with_service("list")
    assert isinstance(items, list)
    for item in items:
        state = f"...{item.last4}" if item.last4 else ("set" if item.decryptable else "NOT DECRYPTABLE")
        typer.echo(f"{item.key:32} {item.category:16} {state}")
