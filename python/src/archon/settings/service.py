"""Runtime settings: typed, validated, stored in archon_settings, effective without a restart.

Readers call `await RuntimeSettingsService(runtime).current()`: an in-process cached `RagSettings`,
dropped at once when this process changes a setting and re-read after `CACHE_TTL_SECONDS` so a change
made by another process (a second API, a worker) is picked up within that time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from archon.errors import Invalid
from archon.settings.repository import SettingsRepository
from archon.settings.schemas import RagSettings, defaults_from

if TYPE_CHECKING:
    from archon.runtime import Runtime

log = logging.getLogger(__name__)

CACHE_TTL_SECONDS = 2.0
INTERNAL_PREFIX = "_"  # archon_settings keys starting with it are Archon's bookkeeping, not user settings
_STATE = "settings.cache"


@dataclass
class _Cache:
    value: RagSettings | None = None
    loaded_at: float = 0.0
    lock: asyncio.Lock | None = None


def _errors(exc: ValidationError) -> list[dict[str, str]]:
    """{field, message} per error; the rejected input is left out (it may be a secret pasted by mistake)."""
    return [{"field": ".".join(str(p) for p in e.get("loc", ())) or "settings",
             "message": str(e.get("msg", "invalid")).removeprefix("Value error, ")} for e in exc.errors()]


def invalid_settings(detail: list[dict[str, str]]) -> Invalid:
    """A 422 whose message names every offending field."""
    return Invalid("invalid settings: " + "; ".join(f"{d['field']}: {d['message']}" for d in detail), detail=detail)


def merge(defaults: dict[str, Any], stored: dict[str, Any]) -> RagSettings:
    """Defaults overlaid with stored overrides; overrides that no longer validate are ignored (and logged)."""
    overrides = dict(stored)
    while True:
        try:
            return RagSettings.model_validate({**defaults, **overrides})
        except ValidationError as exc:
            bad = {str(e["loc"][0]) for e in exc.errors() if e.get("loc") and str(e["loc"][0]) in overrides}
            if not bad:
                raise
            log.warning("ignoring stored setting(s) %s: no longer valid", ", ".join(sorted(bad)))
            for key in bad:
                overrides.pop(key)


class RuntimeSettingsService:
    """Reads and changes the runtime settings of the process's `Runtime`."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.repo = SettingsRepository(runtime.db)
        cache = runtime.state.get(_STATE)
        if cache is None:
            cache = runtime.state[_STATE] = _Cache(lock=asyncio.Lock())
        self._cache: _Cache = cache

    def defaults(self) -> dict[str, Any]:
        """Values from the environment (`Settings`), before any stored override."""
        return defaults_from(self.runtime.settings)

    async def stored(self) -> dict[str, Any]:
        """The user's overrides (user-facing keys only)."""
        return {k: v for k, v in (await self.repo.load()).items() if not k.startswith(INTERNAL_PREFIX)}

    async def current(self) -> RagSettings:
        """The effective settings (cached in process; see CACHE_TTL_SECONDS)."""
        cache = self._cache
        if cache.value is not None and time.monotonic() - cache.loaded_at < CACHE_TTL_SECONDS:
            return cache.value
        assert cache.lock is not None
        async with cache.lock:
            if cache.value is not None and time.monotonic() - cache.loaded_at < CACHE_TTL_SECONDS:
                return cache.value
            value = merge(self.defaults(), await self.stored())
            cache.value, cache.loaded_at = value, time.monotonic()
        return value

    def invalidate(self) -> None:
        """Drop the cached copy (the next `current()` reads the database)."""
        self._cache.value = None

    def validate_patch(self, patch: dict[str, Any], base: RagSettings) -> RagSettings:
        """`base` with `patch` applied, or a 422 naming each bad field (unknown fields included)."""
        unknown = sorted(set(patch) - set(RagSettings.model_fields))
        if unknown:
            raise invalid_settings([{"field": k, "message": "unknown setting"} for k in unknown])
        try:
            return RagSettings.model_validate({**base.model_dump(), **patch})
        except ValidationError as exc:
            raise invalid_settings(_errors(exc)) from None

    async def update(self, patch: dict[str, Any]) -> tuple[RagSettings, RagSettings]:
        """Apply a partial change; returns (before, after). Only the given keys are stored as overrides."""
        before = await self.current()
        after = self.validate_patch(patch, before)
        # Store the validated (normalised) value of each given key, not the raw input.
        values = {key: getattr(after, key) for key in patch}
        await self.repo.save(values)
        self.invalidate()
        log.info("settings changed: %s", ", ".join(sorted(values)))
        return before, after

    async def reset(self, keys: list[str] | None = None) -> RagSettings:
        """Forget overrides (all, or the given keys) so the environment defaults apply again."""
        stored = await self.stored()
        if keys is not None:
            unknown = sorted(set(keys) - set(RagSettings.model_fields))
            if unknown:
                raise invalid_settings([{"field": k, "message": "unknown setting"} for k in unknown])
        remove = set(stored) if keys is None else set(keys) & set(stored)
        try:
            merge(self.defaults(), {k: v for k, v in stored.items() if k not in remove})
        except ValidationError as exc:
            raise invalid_settings(_errors(exc)) from None
        await self.repo.save({}, remove=remove)
        self.invalidate()
        return await self.current()

    async def internal(self, key: str) -> Any:
        """An internal bookkeeping value (key without the prefix), or None."""
        return (await self.repo.load()).get(INTERNAL_PREFIX + key)

    async def set_internal(self, key: str, value: Any) -> None:
        await self.repo.save({INTERNAL_PREFIX + key: value})
