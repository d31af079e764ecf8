"""Reading Compose files as Docker Compose does: YAML with `!reset`/`!override`, `${VAR}` interpolation, merges.

No Docker engine (nor the compose plugin) runs on our machines, so the tests validate what Compose
would see: each file against the Compose Specification schema and the merged, interpolated model.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[3]
COMPOSE = ROOT / "docker-compose.yml"
SUPABASE = ROOT / "docker-compose.supabase.yml"


class Reset:
    """`!reset value`: the merge replaces the base value with this one (an empty one removes it)."""

    def __init__(self, value: Any) -> None:
        self.value = value


class _Loader(yaml.SafeLoader):
    pass


def _reset(loader: yaml.SafeLoader, node: yaml.Node) -> Reset:
    if isinstance(node, yaml.MappingNode):
        return Reset(loader.construct_mapping(node, deep=True))
    if isinstance(node, yaml.SequenceNode):
        return Reset(loader.construct_sequence(node, deep=True))
    return Reset(loader.construct_scalar(node))  # type: ignore[arg-type]


_Loader.add_constructor("!reset", _reset)
_Loader.add_constructor("!override", _reset)


def load(path: Path) -> Any:
    """The YAML document, with `!reset`/`!override` values wrapped in `Reset`."""
    return yaml.load(path.read_text(), Loader=_Loader)  # noqa: S506 - a SafeLoader subclass


def plain(value: Any) -> Any:
    """The document with `Reset` wrappers removed (what the schema validates)."""
    if isinstance(value, Reset):
        return plain(value.value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def compose_schema() -> dict[str, Any]:
    """The Compose Specification JSON schema vendored by check-jsonschema (from SchemaStore)."""
    text = resources.files("check_jsonschema.builtin_schemas.vendor").joinpath("compose-spec.json").read_text()
    return dict(json.loads(text))


class InterpolationError(ValueError):
    """A `${VAR:?message}` whose variable is unset, as Compose reports it."""


_VAR = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:-|-|:\?|\?|:\+|\+)(?P<arg>[^{}]*))?\}")


def interpolate_text(text: str, env: dict[str, str]) -> str:
    """Compose's `${VAR}`, `${VAR:-default}`, `${VAR:?error}` (innermost first, so defaults may nest)."""
    def one(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"] or ""
        value = env.get(name)
        if op in (":-", "-"):
            return value if (value if op == ":-" else value is not None) else arg
        if op in (":?", "?"):
            if not value if op == ":?" else value is None:
                raise InterpolationError(f"{name}: {arg}")
            return value or ""
        if op in (":+", "+"):
            return arg if (value if op == ":+" else value is not None) else ""
        return value or ""

    previous = None
    while previous != text:
        previous, text = text, _VAR.sub(one, text)
    return text.replace("$$", "$")


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Interpolate every string of a loaded document."""
    if isinstance(value, Reset):
        return Reset(interpolate(value.value, env))
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    return interpolate_text(value, env) if isinstance(value, str) else value


def merge(base: Any, override: Any) -> Any:
    """Compose's merge of an override file: mappings merge key by key, `!reset` replaces."""
    if isinstance(override, Reset):
        return override.value
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = merge(base.get(key), value) if key in base else plain(value)
        return merged
    if isinstance(base, list) and isinstance(override, list):
        return base + [v for v in override if v not in base]
    return override


def model(*paths: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    """The effective configuration of `docker compose -f a -f b ...` with `env` as the .env/shell variables."""
    result: Any = None
    for path in paths:
        document = interpolate(load(path), env or {})
        result = plain(document) if result is None else merge(result, document)
    return dict(result)


def environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's `environment` as a mapping (Compose accepts a list of KEY=VALUE too)."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def active_services(config: dict[str, Any], profiles: tuple[str, ...] = ()) -> set[str]:
    """The services `docker compose up` starts with these profiles enabled."""
    return {name for name, svc in config["services"].items()
            if not svc.get("profiles") or set(svc["profiles"]) & set(profiles)}
