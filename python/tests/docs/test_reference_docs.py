"""The reference docs cover what the code has: every REST/WebSocket route, every CLI command and option.

Settings are checked by tests/test_config.py (docs/configuration.md) and MCP tools by the MCP tests
(docs/mcp.md). docs/api.md and docs/cli.md are generated: `make docs` rewrites them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from scripts import gen_docs

from tests.deploy.compose_files import ROOT

DOCS = ROOT / "docs"
REGENERATE = "run `make docs` (python/scripts/gen_docs.py) to regenerate docs/api.md and docs/cli.md"


@pytest.fixture(scope="module")
def app() -> object:
    return gen_docs.build_app()


def test_every_rest_route_is_in_api_md(app: object) -> None:
    text = (DOCS / "api.md").read_text()
    missing = [f"{method} {route.path}" for route in gen_docs.iter_routes(app) if route.kind == "http"
               for method in route.methods if f"### {method} {route.path}\n" not in text]
    assert missing == [], f"REST routes missing from docs/api.md: {missing}; {REGENERATE}"


def test_every_websocket_route_is_in_api_md(app: object) -> None:
    text = (DOCS / "api.md").read_text()
    routes = [r.path for r in gen_docs.iter_routes(app) if r.kind == "websocket"]
    assert routes, "the app serves WebSockets (crawl progress at least): the route walk is broken"
    missing = [path for path in routes if f"### WS {path}\n" not in text]
    assert missing == [], f"WebSocket routes missing from docs/api.md: {missing}; {REGENERATE}"


def test_api_md_lists_no_route_the_app_does_not_serve(app: object) -> None:
    served = {f"{m} {r.path}" for r in gen_docs.iter_routes(app) for m in r.methods}
    documented = set(re.findall(r"^### ((?:GET|POST|PUT|PATCH|DELETE|WS) \S+)$", (DOCS / "api.md").read_text(), re.M))
    assert sorted(documented - served) == [], f"docs/api.md documents removed routes; {REGENERATE}"


def test_route_walk_sees_every_openapi_operation(app: object) -> None:
    spec = app.openapi()  # type: ignore[attr-defined]
    walked = {f"{m} {r.path}" for r in gen_docs.iter_routes(app) for m in r.methods}
    in_spec = {f"{m.upper()} {p}" for p, item in spec["paths"].items() for m in item if m in gen_docs.HTTP_METHODS}
    assert in_spec <= walked


def test_every_cli_command_and_option_is_in_cli_md() -> None:
    text = (DOCS / "cli.md").read_text()
    missing = []
    for path, command in gen_docs.iter_commands():
        heading = f"## `{' '.join(path)}`"
        if heading not in text:
            missing.append(" ".join(path))
            continue
        section = text.split(heading, 1)[1].split("\n## ", 1)[0]
        for param in command.params:
            names = [*getattr(param, "opts", [])] if getattr(param, "param_type_name", "") == "option" else []
            missing += [f"{' '.join(path)} {name}" for name in names if f"`{name}`" not in section]
    assert missing == [], f"CLI commands/options missing from docs/cli.md: {missing}; {REGENERATE}"


def test_cli_walk_finds_the_core_commands() -> None:
    names = {" ".join(path) for path, _ in gen_docs.iter_commands()}
    assert {"archon serve", "archon worker", "archon mcp", "archon migrate", "archon version"} <= names


def test_generated_docs_are_up_to_date() -> None:
    assert gen_docs.main(["--check"]) == 0, REGENERATE


def test_readme_links_every_doc() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = [p.name for p in sorted(DOCS.glob("*.md")) if f"docs/{p.name}" not in readme]
    assert missing == [], f"docs not linked from README.md: {missing}"


def _links(path: Path) -> list[str]:
    return re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", path.read_text())


def test_relative_links_resolve() -> None:
    broken = []
    for page in [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]:
        for link in _links(page):
            if re.match(r"^[a-z]+:", link):
                continue
            if not (page.parent / link).resolve().exists():
                broken.append(f"{page.relative_to(ROOT)} -> {link}")
    assert broken == []
