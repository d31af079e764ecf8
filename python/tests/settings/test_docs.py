"""docs/settings.md is a contract: every runtime setting, route and CLI command of this package is in it."""

from __future__ import annotations

from pathlib import Path

from archon.settings.cli import credentials_app
from archon.settings.router import router
from archon.settings.schemas import RagSettings

DOC = (Path(__file__).resolve().parents[3] / "docs" / "settings.md").read_text()


def test_every_runtime_setting_is_documented() -> None:
    missing = [name for name in RagSettings.model_fields if f"`{name}`" not in DOC]
    assert missing == [], f"runtime settings missing from docs/settings.md: {missing}"


def test_every_route_is_documented() -> None:
    paths = {route.path for route in router.routes}  # type: ignore[attr-defined]
    missing = [p for p in paths if f"/api{p}" not in DOC]
    assert missing == [], f"routes missing from docs/settings.md: {missing}"


def test_every_cli_command_is_documented() -> None:
    names = [c.name or (c.callback.__name__ if c.callback else "") for c in credentials_app.registered_commands]
    missing = [n for n in names if f"archon credentials {n.replace('_', '-')}" not in DOC]
    assert missing == [], f"CLI commands missing from docs/settings.md: {missing}"


def test_every_runtime_setting_says_when_it_takes_effect() -> None:
    section = DOC.split("### When a change takes effect", 1)[1].split("\n### ", 1)[0]
    missing = [name for name in RagSettings.model_fields if f"`{name}`" not in section]
    assert missing == [], f"settings missing from the 'When a change takes effect' table: {missing}"
