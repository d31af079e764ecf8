"""Key rotation on a real Postgres: old key -> new key, everything still decrypts, the old key can go."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from cryptography.fernet import Fernet, InvalidToken
from pydantic import SecretStr

from archon.errors import ConfigurationError, Invalid
from archon.runtime import Runtime
from archon.settings.credentials import CredentialService
from archon.settings.crypto import KEY_FILE_NAME, load_key_ring
from archon.settings.schemas import CredentialCreate
from tests.conftest import make_settings
from tests.settings.conftest import CANARY

SECRETS = {f"KEY_{i}_API_KEY": f"{CANARY}-{i}" for i in range(5)}


def _tokens(database_url: str) -> dict[str, str]:
    with psycopg.connect(database_url) as conn:
        return {k: v for k, v in conn.execute("SELECT key, encrypted_value FROM archon_credentials").fetchall()}


async def _runtime(database_url: str, data_dir: Path, key: str | None) -> Runtime:
    return await Runtime.start(make_settings(database_url, data_dir, encryption_key=SecretStr(key) if key else None))


async def _store_all(runtime: Runtime) -> None:
    service = CredentialService(runtime)
    for key, value in SECRETS.items():
        await service.create(CredentialCreate(key=key, value=value))


async def _read_all(runtime: Runtime) -> dict[str, str | None]:
    service = CredentialService(runtime)
    return {key: await service.secret(key) for key in SECRETS}


async def test_rotation_with_encryption_key_env(database_url: str, tmp_path: Path) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    runtime = await _runtime(database_url, tmp_path, old)
    try:
        await _store_all(runtime)
    finally:
        await runtime.stop()
    before = _tokens(database_url)
    assert all(Fernet(old.encode()).decrypt(t.encode()) for t in before.values())

    # Step 1: new key first, old key still listed -> everything reads; rotate re-encrypts with the new one.
    runtime = await _runtime(database_url, tmp_path, f"{new},{old}")
    try:
        assert await _read_all(runtime) == SECRETS
        report = await CredentialService(runtime).rotate()
        assert report.rotated == len(SECRETS) and report.keys_in_ring == 2
        with pytest.raises(Invalid):  # ENCRYPTION_KEY is managed by the operator, not generated
            await CredentialService(runtime).rotate(new_key=True)
    finally:
        await runtime.stop()
    after = _tokens(database_url)
    for key, token in after.items():
        assert token != before[key]
        assert Fernet(new.encode()).decrypt(token.encode()).decode() == SECRETS[key]
        with pytest.raises(InvalidToken):
            Fernet(old.encode()).decrypt(token.encode())

    # Step 2: the old key is removed: everything still decrypts.
    runtime = await _runtime(database_url, tmp_path, new)
    try:
        assert await _read_all(runtime) == SECRETS
        assert all(v.decryptable for v in await CredentialService(runtime).list())
    finally:
        await runtime.stop()

    # Without the new key nothing decrypts, and reads say so instead of failing.
    runtime = await _runtime(database_url, tmp_path, old)
    try:
        views = await CredentialService(runtime).list()
        assert [v.decryptable for v in views] == [False] * len(SECRETS)
        assert all(v.has_value and v.last4 is None for v in views)
        with pytest.raises(Invalid):  # rotation refuses (all or nothing) instead of half-rotating
            await CredentialService(runtime).rotate()
    finally:
        await runtime.stop()
    assert _tokens(database_url) == after


async def test_rotation_with_key_file_new_key_and_drop_old(database_url: str, tmp_path: Path) -> None:
    runtime = await _runtime(database_url, tmp_path, None)
    try:
        await _store_all(runtime)
        path = tmp_path / KEY_FILE_NAME
        old_key = path.read_text().strip()
        report = await CredentialService(runtime).rotate(new_key=True, drop_old=True)
        assert report.rotated == len(SECRETS) and report.keys_in_ring == 1
        new_key = path.read_text().strip()
        assert new_key != old_key and "\n" not in new_key
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert await _read_all(runtime) == SECRETS
    finally:
        await runtime.stop()
    for token in _tokens(database_url).values():
        with pytest.raises(InvalidToken):
            Fernet(old_key.encode()).decrypt(token.encode())
    runtime = await _runtime(database_url, tmp_path, None)  # a fresh process reads the new file
    try:
        assert await _read_all(runtime) == SECRETS
    finally:
        await runtime.stop()


async def test_rotation_by_another_process_is_picked_up(database_url: str, tmp_path: Path) -> None:
    """A running server keeps working after `archon credentials rotate` changed the key file."""
    server = await _runtime(database_url, tmp_path, None)
    try:
        await _store_all(server)
        assert await _read_all(server) == SECRETS  # cipher loaded with the old ring
        env = {**os.environ, "DATABASE_URL": database_url, "ARCHON_DATA_DIR": str(tmp_path),
               "EMBEDDING_PROVIDER": "hash", "ARCHON_RUN_WORKER": "false", "LOG_LEVEL": "WARNING"}
        env.pop("ENCRYPTION_KEY", None)
        done = subprocess.run([sys.executable, "-m", "archon", "credentials", "rotate", "--new-key", "--drop-old"],
                              env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert f"re-encrypted {len(SECRETS)} credential(s)" in done.stdout
        assert CANARY not in done.stdout + done.stderr
        # The server decrypts the rotated tokens (reloads the ring) and encrypts new ones with the new key.
        assert await _read_all(server) == SECRETS
        await CredentialService(server).create(CredentialCreate(key="LATER_API_KEY", value=CANARY + "-later"))
        ring = load_key_ring(server.settings)
        assert ring.size == 1
        token = _tokens(database_url)["LATER_API_KEY"]
        assert Fernet(ring.keys[0].encode()).decrypt(token.encode()).decode() == CANARY + "-later"
        listed = subprocess.run([sys.executable, "-m", "archon", "credentials", "list"], env=env,
                                capture_output=True, text=True, timeout=120, cwd=tmp_path)
        assert listed.returncode == 0, listed.stderr
        assert "LATER_API_KEY" in listed.stdout and CANARY not in listed.stdout + listed.stderr
    finally:
        await server.stop()


async def test_invalid_encryption_key_is_refused_without_echo(tmp_path: Path) -> None:
    settings = make_settings(None, tmp_path, encryption_key=SecretStr(f"{Fernet.generate_key().decode()},{CANARY}"))
    with pytest.raises(ConfigurationError) as caught:
        load_key_ring(settings)
    assert "ENCRYPTION_KEY" in caught.value.message and "#2" in caught.value.message
    assert CANARY not in caught.value.message
