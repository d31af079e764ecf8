"""SQL for archon_settings and archon_credentials."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from archon.db.pool import Database

SETTINGS_CHANNEL = "archon_settings_changed"


class SettingsRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def load(self) -> dict[str, Any]:
        """Every stored override, key -> decoded JSON value."""
        async with self.db.connection() as conn:
            rows = await (await conn.execute("SELECT key, value FROM archon_settings")).fetchall()
        return {str(r["key"]): r["value"] for r in rows}

    async def save(self, values: Mapping[str, Any], *, remove: set[str] | frozenset[str] = frozenset()) -> None:
        """Upsert `values`, delete `remove`, and notify other processes, all in one transaction."""
        async with self.db.transaction() as conn:
            if values:
                await conn.execute(
                    "INSERT INTO archon_settings (key, value) "
                    "SELECT key, value FROM jsonb_each(%s::jsonb) "
                    "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                    (json.dumps(dict(values)),),
                )
            if remove:
                await conn.execute("DELETE FROM archon_settings WHERE key = ANY(%s)", (sorted(remove),))
            # Delivered at commit: listeners in other processes drop their cached copy.
            await conn.execute("SELECT pg_notify(%s, '')", (SETTINGS_CHANNEL,))


@dataclass(frozen=True)
class CredentialRow:
    key: str
    encrypted_value: str
    category: str
    description: str
    created_at: datetime
    updated_at: datetime


_CRED_COLUMNS = "key, encrypted_value, category, description, created_at, updated_at"


def _row(row: Mapping[str, Any]) -> CredentialRow:
    return CredentialRow(**{k: row[k] for k in CredentialRow.__dataclass_fields__})


class CredentialRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def list(self) -> list[CredentialRow]:
        async with self.db.connection() as conn:
            rows = await (await conn.execute(f"SELECT {_CRED_COLUMNS} FROM archon_credentials ORDER BY key")).fetchall()
        return [_row(r) for r in rows]

    async def get(self, key: str) -> CredentialRow | None:
        async with self.db.connection() as conn:
            row = await (await conn.execute(
                f"SELECT {_CRED_COLUMNS} FROM archon_credentials WHERE key = %s", (key,))).fetchone()
        return _row(row) if row else None

    async def insert(self, key: str, token: str, category: str, description: str) -> CredentialRow | None:
        """Insert a new credential; None when the key already exists."""
        async with self.db.connection() as conn:
            row = await (await conn.execute(
                f"INSERT INTO archon_credentials (key, encrypted_value, category, description) "
                f"VALUES (%s, %s, %s, %s) ON CONFLICT (key) DO NOTHING RETURNING {_CRED_COLUMNS}",
                (key, token, category, description))).fetchone()
        return _row(row) if row else None

    async def update(self, key: str, *, token: str | None, category: str | None,
                     description: str | None) -> CredentialRow | None:
        async with self.db.connection() as conn:
            row = await (await conn.execute(
                f"UPDATE archon_credentials SET encrypted_value = COALESCE(%s, encrypted_value), "
                f"category = COALESCE(%s, category), description = COALESCE(%s, description) "
                f"WHERE key = %s RETURNING {_CRED_COLUMNS}",
                (token, category, description, key))).fetchone()
        return _row(row) if row else None

    async def delete(self, key: str) -> bool:
        async with self.db.connection() as conn:
            cur = await conn.execute("DELETE FROM archon_credentials WHERE key = %s", (key,))
        return cur.rowcount > 0

    async def rewrite_all(self, transform: Callable[[str, str], str]) -> int:
        """Replace every token by `transform(key, token)` in one transaction (all or nothing); return the count."""
        async with self.db.transaction() as conn:
            rows = await (await conn.execute(
                "SELECT key, encrypted_value FROM archon_credentials ORDER BY key FOR UPDATE")).fetchall()
            updates = [(transform(str(r["key"]), str(r["encrypted_value"])), r["key"]) for r in rows]
            if updates:
                async with conn.cursor() as cur:
                    await cur.executemany("UPDATE archon_credentials SET encrypted_value = %s WHERE key = %s",
                                          updates)
        return len(updates)
