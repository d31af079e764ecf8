"""Encrypted credentials: write-only secrets, masked reads, rotation. Framework-free."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from archon.errors import Conflict, Invalid, NotFound, Unavailable
from archon.observability.logging import redactor
from archon.settings.crypto import Cipher, DecryptionFailed, generate_key, write_key_file
from archon.settings.repository import CredentialRepository, CredentialRow
from archon.settings.schemas import (
    CREDENTIAL_KEY_PATTERN,
    CredentialCreate,
    CredentialTestRequest,
    CredentialTestResult,
    CredentialUpdate,
    CredentialView,
)

if TYPE_CHECKING:
    from archon.runtime import Runtime

log = logging.getLogger(__name__)

_KEY_RE = re.compile(CREDENTIAL_KEY_PATTERN)
_STATE = "settings.cipher"
_EMBEDDERS_STATE = "settings.embedders"  # embedders.py's cache: built with a key that may just have changed


def _last4(secret: str) -> str | None:
    # Very short secrets would be fully revealed by their last 4 characters.
    return secret[-4:] if len(secret) >= 12 else None


def check_key_name(key: str) -> str:
    """Refuse names that are not UPPER_SNAKE_CASE (2-64 characters)."""
    if not _KEY_RE.fullmatch(key):  # fullmatch: `$` alone would accept a trailing newline
        raise Invalid("key: must match ^[A-Z][A-Z0-9_]{1,63}$ (e.g. OPENAI_API_KEY)",
                      detail=[{"field": "key", "message": "must match ^[A-Z][A-Z0-9_]{1,63}$"}])
    return key


def cipher_for(runtime: Runtime) -> Cipher:
    """The process's cipher (key ring loaded once; the key file is created on first use)."""
    cipher = runtime.state.get(_STATE)
    if cipher is None:
        cipher = Cipher(runtime.settings)
        runtime.state[_STATE] = cipher
    assert isinstance(cipher, Cipher)
    return cipher


@dataclass(frozen=True)
class RotationReport:
    rotated: int
    keys_in_ring: int
    origin: str


class CredentialService:
    """Stores API keys encrypted; every read returns `has_value` and the last 4 characters only."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.repo = CredentialRepository(runtime.db)

    @property
    def cipher(self) -> Cipher:
        return cipher_for(self.runtime)

    def _changed(self) -> None:
        cache = self.runtime.state.get(_EMBEDDERS_STATE)
        if isinstance(cache, dict):
            cache.clear()

    def _view(self, row: CredentialRow) -> CredentialView:
        try:
            secret = self.cipher.decrypt(row.encrypted_value)
        except DecryptionFailed:
            return CredentialView(key=row.key, category=row.category, description=row.description, has_value=True,
                                  last4=None, decryptable=False, created_at=row.created_at,
                                  updated_at=row.updated_at)
        redactor.add(secret)
        return CredentialView(key=row.key, category=row.category, description=row.description,
                              has_value=bool(secret), last4=_last4(secret), decryptable=True,
                              created_at=row.created_at, updated_at=row.updated_at)

    async def list(self) -> list[CredentialView]:
        """Every credential, masked."""
        return [self._view(row) for row in await self.repo.list()]

    async def get(self, key: str) -> CredentialView:
        """One credential, masked."""
        row = await self.repo.get(check_key_name(key))
        if row is None:
            raise NotFound(f"credential {key} not found")
        return self._view(row)

    async def create(self, body: CredentialCreate) -> CredentialView:
        """Store a new credential; 409 if the key exists (use PUT to replace it)."""
        redactor.add(body.value)
        row = await self.repo.insert(body.key, self.cipher.encrypt(body.value), body.category, body.description)
        if row is None:
            raise Conflict(f"credential {body.key} already exists; PUT /api/credentials/{body.key} replaces it")
        self._changed()
        log.info("credential %s stored (category %s)", body.key, body.category)
        return self._view(row)

    async def update(self, key: str, body: CredentialUpdate, *, upsert: bool = True) -> CredentialView:
        """Change value/category/description; with `upsert` a missing key holding a value is created."""
        check_key_name(key)
        if body.value is not None:
            redactor.add(body.value)
        token = self.cipher.encrypt(body.value) if body.value is not None else None
        row = await self.repo.update(key, token=token, category=body.category, description=body.description)
        if row is None:
            if not upsert or token is None:
                raise NotFound(f"credential {key} not found")
            row = await self.repo.insert(key, token, body.category or "api_keys", body.description or "")
            if row is None:  # created concurrently: apply the update to it
                row = await self.repo.update(key, token=token, category=body.category, description=body.description)
            assert row is not None
        self._changed()
        log.info("credential %s updated", key)
        return self._view(row)

    async def delete(self, key: str) -> None:
        if not await self.repo.delete(check_key_name(key)):
            raise NotFound(f"credential {key} not found")
        self._changed()
        log.info("credential %s deleted", key)

    async def secret(self, key: str) -> str | None:
        """The decrypted value for internal use (embedders, provider checks); None when not stored."""
        row = await self.repo.get(check_key_name(key))
        if row is None:
            return None
        try:
            value = self.cipher.decrypt(row.encrypted_value)
        except DecryptionFailed as exc:
            raise Unavailable(f"credential {key} cannot be decrypted ({exc}); set it again or restore the "
                              "encryption key it was stored with") from None
        redactor.add(value)
        return value

    async def test(self, key: str, body: CredentialTestRequest) -> CredentialTestResult:
        """Check the stored key with one real call to its provider; reports the provider's answer, never the key."""
        from archon.settings.provider_check import check_key, default_base_url
        from archon.settings.service import RuntimeSettingsService

        secret = await self.secret(key)
        env = self.runtime.settings.openai_api_key
        if secret is None and key == "OPENAI_API_KEY" and env is not None:
            secret = env.get_secret_value()
        if secret is None:
            raise NotFound(f"credential {key} not found")
        base_url = body.base_url
        if base_url is None:
            rag = await RuntimeSettingsService(self.runtime).current()
            if key == rag.embedding_api_key_name and rag.embedding_base_url:
                base_url = rag.embedding_base_url
            else:
                base_url = default_base_url(key)
        model = body.model
        if model is None and body.mode == "embedding":
            rag = await RuntimeSettingsService(self.runtime).current()
            model = rag.embedding_model if rag.embedding_provider == "openai" else None
        result = await check_key(key, secret, base_url=base_url, mode=body.mode, model=model)
        log.info("credential %s tested against %s: %s", key, result.base_url, "ok" if result.ok else result.message)
        return result

    async def rotate(self, *, new_key: bool = False, drop_old: bool = False) -> RotationReport:
        """Re-encrypt every credential with the newest key, in one transaction (all or nothing).

        With the key file, `new_key` first puts a freshly generated key in front of the ring and
        `drop_old` removes the older keys once everything is re-encrypted. With ENCRYPTION_KEY the
        operator edits the variable instead (new key first), so both options are refused.
        """
        cipher = self.cipher
        cipher.reload()
        file = cipher.ring.file
        if (new_key or drop_old) and file is None:
            raise Invalid("ENCRYPTION_KEY is set: put the new key first in ENCRYPTION_KEY (comma-separated, "
                          "`archon credentials generate-key` makes one), restart, rotate, then remove the old keys")
        if new_key:
            assert file is not None
            write_key_file(file, [generate_key(), *cipher.ring.keys])
            cipher.reload()

        def transform(key: str, token: str) -> str:
            try:
                return cipher.rotate(token)
            except DecryptionFailed:
                raise Invalid(f"credential {key} does not decrypt with any configured key; nothing was rotated. "
                              "Add the key it was stored with to the ring, or delete the credential") from None

        count = await self.repo.rewrite_all(transform)
        log.info("re-encrypted %d credential(s) with the newest key of %s", count, cipher.ring.origin)
        if drop_old and file is not None and cipher.ring.size > 1:
            write_key_file(file, [cipher.ring.keys[0]])
            cipher.reload()
        return RotationReport(rotated=count, keys_in_ring=cipher.ring.size, origin=cipher.ring.origin)
