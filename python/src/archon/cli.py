"""The `archon` command."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from typing import Annotated

import typer
from pydantic import ValidationError

from archon import __version__
from archon.config import Settings, env_name
from archon.errors import ArchonError

app = typer.Typer(
    help="Archon: a knowledge engine and command centre for AI coding assistants.",
    no_args_is_help=True,
    add_completion=False,
)
log = logging.getLogger("archon")


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"archon: {message}", err=True)
    return typer.Exit(code)


def load_settings(**overrides: object) -> Settings:
    """Settings from env/.env; an invalid value exits with one line naming the variable."""
    try:
        settings = Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = first.get("loc", ())
        field = str(loc[0]) if loc else ""
        name = env_name(field) if field in Settings.model_fields else (field or "configuration")
        raise _fail(f"invalid configuration: {name}: {first.get('msg')}") from None
    return settings.model_copy(update={k: v for k, v in overrides.items() if v is not None})


def _setup(settings: Settings, *, stream: object = None) -> None:
    from archon.observability.logging import configure_logging

    os.environ.setdefault("CRAWL4_AI_BASE_DIRECTORY", str(settings.data_dir.resolve()))
    os.environ.setdefault("CRAWL4AI_NO_CLOUD_NOTICE", "1")
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    secrets = [s.get_secret_value() for s in (settings.api_key, settings.openai_api_key, settings.database_url,
                                              settings.supabase_service_key, settings.encryption_key) if s]
    secrets += [key.get_secret_value() for key in settings.readonly_api_keys]
    configure_logging(settings.log_level, settings.log_dir, stream=stream, secrets=secrets)  # type: ignore[arg-type]


def _start_debugger(settings: Settings) -> None:
    import debugpy

    debugpy.listen((settings.host, 5678))
    log.warning("DEBUG=true: debugpy listening on %s:5678", settings.host)


@app.command()
def serve(
    no_worker: Annotated[
        bool, typer.Option("--no-worker", help="Run the API only; jobs run in `archon worker`.")
    ] = False,
    host: Annotated[str | None, typer.Option(help="Address to bind (default ARCHON_HOST, 127.0.0.1).")] = None,
) -> None:
    """Start the REST API (8080), MCP server (8051), dashboard (3737) and the job worker."""
    from archon.app import check_bind
    from archon.runtime import resolve_database
    from archon.serve import check_ports, run

    settings = load_settings(host=host, run_worker=False if no_worker else None)
    _setup(settings)
    try:
        check_bind(settings)
        check_ports(settings)
        resolve_database(settings)
    except ArchonError as exc:
        raise _fail(exc.message) from None
    if settings.debug:
        _start_debugger(settings)
    raise typer.Exit(run(settings))


@app.command()
def worker() -> None:
    """Run background jobs only (no API), against the same database as `archon serve`."""
    import signal

    from archon.runtime import Runtime

    settings = load_settings()
    _setup(settings)

    async def main() -> None:
        runtime = await Runtime.start(settings, run_worker=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        log.info("worker running; Ctrl-C to stop")
        await stop.wait()
        await runtime.stop()

    try:
        asyncio.run(main())
    except ArchonError as exc:
        raise _fail(exc.message, 1) from None


@app.command()
def mcp() -> None:
    """Serve MCP over stdio (what Claude Desktop and Cursor launch). Logs go to stderr."""
    from archon.mcp_server.stdio import run_stdio

    settings = load_settings(run_worker=False)
    _setup(settings, stream=sys.stderr)
    try:
        asyncio.run(run_stdio(settings))
    except ArchonError as exc:
        raise _fail(exc.message, 1) from None


@app.command()
def migrate(
    status: Annotated[bool, typer.Option("--status", help="List migrations and whether each is applied.")] = False,
) -> None:
    """Apply pending database migrations (start-up does this too), or list them with --status."""
    from archon.db import migrations
    from archon.runtime import resolve_database

    settings = load_settings()
    _setup(settings, stream=sys.stderr)
    try:
        url, embedded = resolve_database(settings)
        if embedded is not None:
            url = embedded.start()
        assert url is not None
        try:
            if status:
                for item in migrations.status(url):
                    state = item.applied_at.isoformat() if item.applied_at else "pending"
                    flag = "" if item.checksum_ok else "  CHANGED AFTER APPLY"
                    typer.echo(f"{item.migration.path.name:40} {state}{flag}")
            else:
                applied = migrations.apply(url)
                typer.echo(f"applied {len(applied)} migration(s)" + "".join(f"\n  {m.path.name}" for m in applied))
        finally:
            if embedded is not None:
                embedded.stop()
    except ArchonError as exc:
        raise _fail(exc.message, 1) from None


@app.command()
def version() -> None:
    """Print Archon's version."""
    typer.echo(f"archon {__version__}")


@app.command()
def crawl(
    url: Annotated[str, typer.Argument(help="The documentation URL to crawl.")],
    crawl_type: Annotated[str, typer.Option("--type", help="auto, single, sitemap, llms_txt or recursive.")] = "auto",
    max_depth: Annotated[int, typer.Option("--depth", help="Link depth for recursive crawls.")] = 2,
    max_pages: Annotated[int, typer.Option("--max-pages", help="Stop after this many pages.")] = 500,
    include: Annotated[list[str] | None, typer.Option("--include", help="Only URLs matching this glob.")] = None,
    exclude: Annotated[list[str] | None, typer.Option("--exclude", help="Skip URLs matching this glob.")] = None,
    same_prefix: Annotated[bool, typer.Option("--same-prefix", help="Stay under the URL's directory.")] = False,
    no_robots: Annotated[bool, typer.Option("--no-robots", help="Ignore robots.txt.")] = False,
    render: Annotated[str | None, typer.Option("--render", help="auto, http or browser (default: settings).")
                      ] = None,
    knowledge_type: Annotated[str, typer.Option("--knowledge-type", "-k", help="technical, business or general.")
                              ] = "technical",
    tag: Annotated[list[str] | None, typer.Option("--tag", "-t", help="A tag (repeatable, at most 10).")] = None,
    every: Annotated[int | None, typer.Option("--refresh-days", help="Re-crawl every N days.")] = None,
    no_code: Annotated[bool, typer.Option("--no-code-examples", help="Skip code-example extraction.")] = False,
    detach: Annotated[bool, typer.Option("--detach", help="Only queue the job; print its progressId.")] = False,
) -> None:
    """Crawl a documentation site into the knowledge base (with a progress bar)."""
    from pydantic import ValidationError as RequestError

    from archon.knowledge.crawling.cli import run_crawl
    from archon.knowledge.crawling.schemas import CrawlRequest

    try:
        request = CrawlRequest(url=url, crawl_type=crawl_type, max_depth=max_depth, max_pages=max_pages,
                               include_patterns=include or [], exclude_patterns=exclude or [],
                               same_path_prefix=same_prefix, respect_robots=False if no_robots else None, render=render,
                               knowledge_type=knowledge_type, tags=tag or [], update_frequency_days=every,
                               extract_code_examples=not no_code)
    except RequestError as exc:
        first = exc.errors()[0]
        raise _fail(f"invalid option {'.'.join(str(p) for p in first['loc'])}: {first['msg']}") from None
    settings = load_settings()
    _setup(settings, stream=sys.stderr)
    try:
        code = asyncio.run(run_crawl(settings, request, detach=detach))
    except ArchonError as exc:
        raise _fail(exc.message, 1) from None
    raise typer.Exit(code)


@app.command()
def ingest(
    paths: Annotated[list[str], typer.Argument(help="Files or folders to ingest.")],
    knowledge_type: Annotated[str, typer.Option("--knowledge-type", "-k", help="technical, business or general.")
                              ] = "technical",
    tag: Annotated[list[str] | None, typer.Option("--tag", "-t", help="A tag (repeatable, at most 10).")] = None,
    no_code: Annotated[bool, typer.Option("--no-code-examples", help="Skip code-example extraction.")] = False,
    folder_source: Annotated[bool, typer.Option(
        "--folder-source", help="Index each folder as one refreshable source (.gitignore respected; running "
                                "again re-indexes only changed files).")] = False,
) -> None:
    """Ingest local files (PDF, DOCX, Markdown, HTML, text, reStructuredText) into the knowledge base."""
    from pathlib import Path

    from archon.knowledge.ingest.cli import run_ingest
    from archon.knowledge.local.cli import run_folder_ingest

    if folder_source and not all(Path(p).is_dir() for p in paths):
        raise _fail("--folder-source takes folders only")
    settings = load_settings()
    _setup(settings, stream=sys.stderr)
    try:
        if folder_source:
            code = asyncio.run(run_folder_ingest(settings, [Path(p) for p in paths], knowledge_type=knowledge_type,
                                                 tags=tag or [], extract_code_examples=not no_code))
        else:
            code = asyncio.run(run_ingest(settings, paths, knowledge_type=knowledge_type, tags=tag or [],
                                          extract_code_examples=not no_code))
    except ArchonError as exc:
        raise _fail(exc.message, 1) from None
    raise typer.Exit(code)


@app.command("export")
def export_pack(
    source_ids: Annotated[list[str], typer.Argument(help="Source ids to put in the pack.")],
    output: Annotated[str, typer.Option("--output", "-o", help="The pack file to write.")] = "pack.archon",
) -> None:
    """Export sources (pages, chunks, code examples, vectors) to a portable knowledge pack."""
    from pathlib import Path

    from archon.knowledge.packs.cli import export_bytes, write_pack

    settings = load_settings(run_worker=False)
    _setup(settings, stream=sys.stderr)
    try:
        data = asyncio.run(export_bytes(settings, source_ids))
    except ArchonError as exc:
        raise _fail(exc.message, 1) from None
    write_pack(Path(output), data)
    typer.echo(f"wrote {output} ({len(data)} bytes, {len(source_ids)} source(s))")


@app.command("import")
def import_pack(
    pack: Annotated[str, typer.Argument(help="The knowledge pack (.archon) to import.")],
    on_conflict: Annotated[str, typer.Option("--on-conflict", help="replace or keep an existing source.")
                           ] = "replace",
) -> None:
    """Import a knowledge pack; vectors are reused when the embedding model matches."""
    from pathlib import Path

    from archon.knowledge.packs.cli import run_import

    path = Path(pack)
    if not path.is_file():
        raise _fail(f"{pack}: no such file")
    settings = load_settings()
    _setup(settings, stream=sys.stderr)
    try:
        code = asyncio.run(run_import(settings, path.read_bytes(), path.name, on_conflict=on_conflict))
    except ArchonError as exc:
        raise _fail(exc.message, 1) from None
    raise typer.Exit(code)


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    source: Annotated[list[str] | None,
                      typer.Option("--source", "-s", help="Only this source id (repeatable).")] = None,
    mode: Annotated[str | None, typer.Option("--mode", "-m", help="hybrid, vector or keyword (default: settings).")
                    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many results (1-50).")] = 5,
    pages: Annotated[bool, typer.Option("--pages", help="One result per page.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the raw response as JSON.")] = False,
) -> None:
    """Search the knowledge base and print ranked results."""
    from archon.knowledge.search_cli import run_search

    settings = load_settings(run_worker=False)
    _setup(settings, stream=sys.stderr)
    try:
        output = asyncio.run(run_search(settings, query, sources=source or [], mode=mode,  # type: ignore[arg-type]
                                        limit=limit, return_mode="pages" if pages else "chunks", as_json=as_json))
    except ArchonError as exc:
        raise _fail(exc.message, 1) from None
    typer.echo(output)


from archon.settings.cli import credentials_app  # noqa: E402 - its commands import cli helpers lazily

app.add_typer(credentials_app, name="credentials")


def main() -> None:
    app()
