"""A per-process cache of database lookups that may be a little stale (the active model, common lexemes)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Expiring(Generic[K, V]):
    """Values loaded from the database, reused for `ttl` seconds."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._items: dict[K, tuple[float, V]] = {}

    async def fetch(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        """The cached value of `key`, or `await load()` when it is missing or older than `ttl`."""
        now = time.monotonic()
        hit = self._items.get(key)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        value = await load()
        self._items[key] = (now, value)
        return value

    def clear(self) -> None:
        self._items.clear()
