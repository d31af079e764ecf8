"""Generate docs/api.md (from the app's OpenAPI + WebSocket routes) and docs/cli.md (from the Typer app).

    make docs                                  # rewrite both files
    python scripts/gen_docs.py --check         # exit 1 if either is out of date

python/tests/docs/test_reference_docs.py fails when a route or command is missing from these files.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
API_MD = ROOT / "docs" / "api.md"
CLI_MD = ROOT / "docs" / "cli.md"
HTTP_METHODS = ("get", "post", "put", "patch", "delete")


@dataclass(frozen=True)
class RouteInfo:
    kind: str  # "http" or "websocket"
    methods: tuple[str, ...]
    path: str
    doc: str
    in_schema: bool


def build_app() -> Any:
    """The FastAPI app with default settings (no .env, no environment overrides that change routes)."""
    os.environ.setdefault("CRAWL4AI_NO_CLOUD_NOTICE", "1")
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    from archon.app import create_app
    from archon.config import Settings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return create_app(Settings(_env_file=None))  # type: ignore[call-arg]


def _leaf_routes(routes: list[Any]) -> list[tuple[Any, str, bool]]:
    """(route, full path, include_in_schema) for every route, through FastAPI's included-router wrappers."""
    found: list[tuple[Any, str, bool]] = []
    for route in routes:
        if hasattr(route, "effective_route_contexts"):  # FastAPI >= 0.16x wraps included routers
            for ctx in route.effective_route_contexts():
                original = ctx.original_route
                path = getattr(ctx.starlette_route, "path", None) or ctx.path or getattr(original, "path", "")
                found.append((original, path, bool(getattr(ctx, "include_in_schema", True))))
        elif hasattr(route, "path"):
            found.append((route, route.path, bool(getattr(route, "include_in_schema", True))))
    return found


def iter_routes(app: Any) -> list[RouteInfo]:
    """Every HTTP and WebSocket route the app serves (Swagger/ReDoc pages excluded)."""
    from fastapi.routing import APIWebSocketRoute
    from starlette.routing import Mount, WebSocketRoute

    result: list[RouteInfo] = []
    for route, path, in_schema in _leaf_routes(list(app.routes)):
        if isinstance(route, Mount):
            continue
        doc = ((getattr(route, "endpoint", None) and route.endpoint.__doc__) or "").strip()
        if isinstance(route, (APIWebSocketRoute, WebSocketRoute)):
            result.append(RouteInfo("websocket", ("WS",), path, doc, True))
            continue
        if path in ("/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"):
            continue
        methods = tuple(sorted(m for m in (getattr(route, "methods", None) or ()) if m not in ("HEAD", "OPTIONS")))
        if methods:
            result.append(RouteInfo("http", methods, path, doc, in_schema))
    return result


# ---- OpenAPI rendering ---------------------------------------------------------------------------------

def _type(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if "anyOf" in schema or "oneOf" in schema:
        options = [_type(s) for s in schema.get("anyOf", schema.get("oneOf", []))]
        return " | ".join(dict.fromkeys(options))
    if "enum" in schema:
        return "one of " + ", ".join(f"`{v}`" for v in schema["enum"])
    kind = schema.get("type", "any")
    if kind == "array":
        return f"array of {_type(schema.get('items', {}))}"
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return f"object of {_type(schema['additionalProperties'])}"
    if "format" in schema and kind == "string":
        return f"string ({schema['format']})"
    return str(kind)


def _cell(text: Any) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _schema_table(name: str, components: dict[str, Any]) -> list[str]:
    schema = components.get(name, {})
    props = schema.get("properties", {})
    if not props:
        return []
    required = set(schema.get("required", []))
    lines = [f"`{name}`:", "", "| field | type | required | default | description |", "|---|---|---|---|---|"]
    for field, spec in props.items():
        default = f"`{spec['default']!r}`".replace("'", '"') if "default" in spec else ""
        lines.append(f"| `{field}` | {_cell(_type(spec))} | {'yes' if field in required else ''} | "
                     f"{_cell(default)} | {_cell(spec.get('description', ''))} |")
    return [*lines, ""]


def _operation(method: str, path: str, op: dict[str, Any], components: dict[str, Any]) -> list[str]:
    lines = [f"### {method.upper()} {path}", ""]
    if op.get("description"):
        lines += [op["description"].strip(), ""]
    elif op.get("summary"):
        lines += [op["summary"], ""]
    params = op.get("parameters", [])
    if params:
        lines += ["| parameter | in | type | required | description |", "|---|---|---|---|---|"]
        for p in params:
            lines.append(f"| `{p['name']}` | {p['in']} | {_cell(_type(p.get('schema', {})))} | "
                         f"{'yes' if p.get('required') else ''} | {_cell(p.get('description', ''))} |")
        lines.append("")
    body = op.get("requestBody", {}).get("content", {})
    for media, spec in body.items():
        schema = spec.get("schema", {})
        lines += [f"Request body ({media}): {_type(schema)}", ""]
        if "$ref" in schema:
            lines += _schema_table(_type(schema), components)
    codes = [f"`{code}` {_cell(r.get('description', ''))}" for code, r in op.get("responses", {}).items()]
    if codes:
        lines += ["Responses: " + "; ".join(codes), ""]
    return lines


def _group(path: str, op: dict[str, Any]) -> str:
    tags = op.get("tags") or []
    return str(tags[0]) if tags else "general"


def render_api(app: Any) -> str:
    """docs/api.md: every operation of the OpenAPI document, grouped by tag, then the WebSocket routes."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate operation ids are the routers' business, not the docs'
        spec = app.openapi()
    components = spec.get("components", {}).get("schemas", {})
    groups: dict[str, list[str]] = {}
    for path, item in spec["paths"].items():
        for method in HTTP_METHODS:
            if method in item:
                groups.setdefault(_group(path, item[method]), []).extend(
                    _operation(method, path, item[method], components))
    out = [
        "# REST API reference",
        "",
        "<!-- Generated by `make docs` (python/scripts/gen_docs.py) from the app's OpenAPI document. Do not",
        "     edit by hand: change the route's docstring or schema, then run `make docs`. -->",
        "",
        "Base URL `http://127.0.0.1:8080` (`BACKEND_PORT`). The live, interactive version of this page is",
        "`/docs` (Swagger UI) and `/redoc` on a running server; the raw document is `/openapi.json`.",
        "",
        "- Authentication: when `ARCHON_API_KEY` is set, every `/api` route and WebSocket requires",
        "  `Authorization: Bearer <key>` (WebSockets may also pass it as the `bearer.<key>` subprotocol);",
        "  `/health` and `/metrics` stay open.",
        "- Errors: `{\"error\": \"<message>\", \"detail\": [{\"field\": ..., \"message\": ...}]}` with the HTTP",
        "  status (400, 401, 404, 409, 413, 415, 422, 503); `detail` names the offending field when there is one.",
        "  See [troubleshooting.md](troubleshooting.md).",
        "- Long operations (crawl, upload, refresh, re-embed) answer at once with `{\"progressId\": ...}`;",
        "  follow them over the WebSocket `/api/crawl-progress/{progress_id}` or `GET /api/progress/{progress_id}`.",
        "",
        "## Contents",
        "",
    ]
    out += [f"- [{name}](#{name.replace(' ', '-')})" for name in groups] + ["- [WebSockets](#websockets)", ""]
    for name, lines in groups.items():
        out += [f"## {name}", "", *lines]
    out += ["## WebSockets", ""]
    for route in sorted((r for r in iter_routes(app) if r.kind == "websocket"), key=lambda r: r.path):
        out += [f"### WS {route.path}", ""]
        if route.doc:
            out += [" ".join(route.doc.split()), ""]
    return "\n".join(out).rstrip() + "\n"


# ---- CLI rendering -------------------------------------------------------------------------------------

def iter_commands(command: Any = None, path: tuple[str, ...] = ("archon",)) -> list[tuple[tuple[str, ...], Any]]:
    """(command path, click command) for every leaf and group of the `archon` CLI, in declaration order."""
    if command is None:
        import typer

        from archon.cli import app

        command = typer.main.get_command(app)
    found: list[tuple[tuple[str, ...], Any]] = []
    if hasattr(command, "list_commands"):  # a group (typer vendors click: duck-type it)
        if len(path) > 1:
            found.append((path, command))
        for name in command.list_commands(None):  # type: ignore[arg-type]
            sub = command.get_command(None, name)
            if sub is not None and not getattr(sub, "hidden", False):
                found += iter_commands(sub, (*path, name))
    else:
        found.append((path, command))
    return found


def _param_row(param: Any) -> str:
    if getattr(param, "param_type_name", "") == "argument":
        name = f"`{str(param.name).upper()}`"
        kind = "argument" + (", repeatable" if getattr(param, "nargs", 1) == -1 else "")
        kind += "" if getattr(param, "required", False) else ", optional"
    else:
        name = ", ".join(f"`{o}`" for o in [*param.opts, *getattr(param, "secondary_opts", [])])
        kind = "flag" if getattr(param, "is_flag", False) else "option"
    default = param.default if param.default not in (None, False, ()) and not callable(param.default) else ""
    return f"| {name} | {kind} | {_cell(default)} | {_cell(getattr(param, 'help', '') or '')} |"


def render_cli() -> str:
    """docs/cli.md: every `archon` command with its help and parameters."""
    out = [
        "# Command line: `archon`",
        "",
        "<!-- Generated by `make docs` (python/scripts/gen_docs.py) from the Typer app. Do not edit by hand. -->",
        "",
        "`make install` puts the command at `python/.venv/bin/archon`; `pip install ./python` (see",
        "[deployment.md](deployment.md)) puts it on your PATH. Every command reads the same settings as the",
        "server ([configuration.md](configuration.md)): environment variables and `./.env`.",
        "",
    ]
    for path, command in iter_commands():
        out += [f"## `{' '.join(path)}`", ""]
        if command.help:
            out += [command.help.strip().split("\n\n")[0].replace("\n", " "), ""]
        params = [p for p in command.params if not getattr(p, "hidden", False) and p.name != "help"]
        if params:
            out += ["| parameter | kind | default | description |", "|---|---|---|---|"]
            out += [_param_row(p) for p in params] + [""]
    return "\n".join(out).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write docs/api.md and docs/cli.md, or with --check report whether they are current."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a generated file is out of date")
    args = parser.parse_args(argv)
    outputs = {API_MD: render_api(build_app()), CLI_MD: render_cli()}
    stale = [p for p, text in outputs.items() if not p.exists() or p.read_text() != text]
    if args.check:
        for path in stale:
            print(f"{path.relative_to(ROOT)} is out of date: run `make docs`", file=sys.stderr)
        return 1 if stale else 0
    for path, text in outputs.items():
        path.write_text(text)
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    raise SystemExit(main())
