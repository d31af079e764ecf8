"""Credentials API on a real Postgres: encryption at rest, masking on every read path, validation."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import httpx
import psycopg
from cryptography.fernet import Fernet

from archon.settings.crypto import KEY_FILE_NAME
from tests.settings.conftest import CANARY, assert_no_canary, canary_forms

VIEW_KEYS = {"key", "category", "description", "has_value", "last4", "decryptable", "created_at", "updated_at"}


async def _store(api: httpx.AsyncClient, key: str = "OPENAI_API_KEY", value: str = CANARY) -> dict[str, object]:
    response = await api.post("/api/credentials", json={"key": key, "value": value, "category": "api_keys",
                                                         "description": "embeddings"})
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_credentials_create_returns_masked_view(api: httpx.AsyncClient) -> None:
    body = await _store(api)
    assert set(body) == VIEW_KEYS
    assert body["has_value"] is True and body["decryptable"] is True
    assert body["last4"] == CANARY[-4:]
    assert body["key"] == "OPENAI_API_KEY" and body["category"] == "api_keys"


async def test_credentials_every_read_path_is_masked(api: httpx.AsyncClient) -> None:
    await _store(api)
    await _store(api, "OPENROUTER_API_KEY", "or-" + CANARY)
    listed = await api.get("/api/credentials")
    assert listed.status_code == 200
    assert {c["key"] for c in listed.json()} == {"OPENAI_API_KEY", "OPENROUTER_API_KEY"}
    assert all(set(c) == VIEW_KEYS and c["has_value"] for c in listed.json())
    filtered = await api.get("/api/credentials", params={"category": "other"})
    assert filtered.json() == []
    one = await api.get("/api/credentials/OPENAI_API_KEY")
    assert one.status_code == 200 and one.json()["last4"] == CANARY[-4:]
    updated = await api.put("/api/credentials/OPENAI_API_KEY", json={"value": CANARY + "x9Z1"})
    assert updated.status_code == 200 and updated.json()["last4"] == "x9Z1"
    described = await api.put("/api/credentials/OPENAI_API_KEY", json={"description": "new text"})
    assert described.json()["description"] == "new text" and described.json()["last4"] == "x9Z1"
    # The settings overview and the OpenAPI document are read paths too.
    for path in ("/api/settings", "/openapi.json", "/api/embedding-models", "/health"):
        response = await api.get(path)
        assert response.status_code == 200, path
    # Responses are checked for the canary by the `api` fixture at teardown; check here as well.
    assert_no_canary(listed.text + one.text + updated.text, "a credential read")


async def test_credentials_short_secret_reveals_no_suffix(api: httpx.AsyncClient) -> None:
    response = await api.post("/api/credentials", json={"key": "SHORT_KEY", "value": "abc12345"})
    assert response.status_code == 201
    assert response.json()["last4"] is None and response.json()["has_value"] is True


async def test_credentials_pasted_whitespace_is_stripped(api: httpx.AsyncClient, app: object) -> None:
    from archon.settings.credentials import CredentialService

    response = await api.post("/api/credentials", json={"key": "OPENAI_API_KEY", "value": f"  {CANARY}\n"})
    assert response.status_code == 201 and response.json()["last4"] == CANARY[-4:]
    assert await CredentialService(app.state.runtime).secret("OPENAI_API_KEY") == CANARY  # type: ignore[attr-defined]


async def test_credentials_put_creates_missing_key_with_value(api: httpx.AsyncClient) -> None:
    response = await api.put("/api/credentials/GOOGLE_API_KEY", json={"value": CANARY, "category": "api_keys"})
    assert response.status_code == 200
    assert (await api.get("/api/credentials/GOOGLE_API_KEY")).json()["last4"] == CANARY[-4:]
    missing = await api.put("/api/credentials/NOPE_KEY", json={"description": "x"})
    assert missing.status_code == 404


async def test_credentials_delete(api: httpx.AsyncClient) -> None:
    await _store(api)
    assert (await api.delete("/api/credentials/OPENAI_API_KEY")).status_code == 204
    assert (await api.get("/api/credentials/OPENAI_API_KEY")).status_code == 404
    assert (await api.delete("/api/credentials/OPENAI_API_KEY")).status_code == 404


async def test_credentials_invalid_input_names_the_field_without_echo(api: httpx.AsyncClient) -> None:
    cases = [
        ({"key": "openai_key", "value": CANARY}, "key"),
        ({"key": "X", "value": CANARY}, "key"),
        ({"key": "A" * 65, "value": CANARY}, "key"),
        ({"key": "OPENAI_API_KEY", "value": CANARY * 200}, "value"),
        ({"key": "OPENAI_API_KEY", "value": ""}, "value"),
        ({"key": "OPENAI_API_KEY", "value": " \n\t "}, "value"),
        ({"key": "OPENAI_API_KEY", "value": CANARY, "category": "API KEYS"}, "category"),
        ({"key": "OPENAI_API_KEY", "value": CANARY, "extra": CANARY}, "extra"),
        ({"value": CANARY}, "key"),
    ]
    for payload, field in cases:
        response = await api.post("/api/credentials", json=payload)
        assert response.status_code == 422, payload
        assert field in {d["field"] for d in response.json()["detail"]}, response.text
        assert_no_canary(response.text, "a validation error")
    for bad in ("lower_case", "OPENAI_API_KEY%0A", "A", "X" * 70, "BAD-NAME"):
        bad_path = await api.get(f"/api/credentials/{bad}")
        assert bad_path.status_code == 422 and "key" in bad_path.json()["error"], bad
    empty_put = await api.put("/api/credentials/OPENAI_API_KEY", json={})
    assert empty_put.status_code == 422


async def test_credentials_duplicate_is_conflict(api: httpx.AsyncClient) -> None:
    await _store(api)
    response = await api.post("/api/credentials", json={"key": "OPENAI_API_KEY", "value": CANARY})
    assert response.status_code == 409
    assert "PUT" in response.json()["error"]


async def test_credentials_encrypted_at_rest(api: httpx.AsyncClient, database_url: str, pg_server: object) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        first_segment = conn.execute("SELECT pg_walfile_name(pg_current_wal_lsn())").fetchone()
    await _store(api)
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute("SELECT encrypted_value FROM archon_credentials WHERE key = 'OPENAI_API_KEY'").fetchone()
        assert row is not None
        token = row[0]
        dump = conn.execute("SELECT string_agg(t::text, '|') FROM archon_credentials t").fetchone()
        datadir = conn.execute("SHOW data_directory").fetchone()
        assert first_segment is not None and datadir is not None
        # The write-ahead log holds every row version ever written. Read it before the checkpoint below,
        # which may delete the segments it no longer needs (the test suite writes a lot of WAL).
        wal = b"".join(p.read_bytes() for p in sorted((Path(datadir[0]) / "pg_wal").glob("0*"))
                       if p.is_file() and p.name >= first_segment[0])
        conn.execute("CHECKPOINT")
        relpath = conn.execute("SELECT pg_relation_filepath('archon_credentials')").fetchone()
    assert token.startswith("gAAAA")  # a Fernet token
    assert dump is not None and relpath is not None
    assert_no_canary(dump[0], "the credentials table (SQL)")
    # The table's bytes on disk after a checkpoint: the secret is not there in clear or base64.
    raw = (Path(datadir[0]) / relpath[0]).read_bytes()
    assert token.encode() in raw  # we are reading the right file
    for form in canary_forms():
        assert form.encode() not in raw
    assert token.encode() in wal  # the segments holding the insert
    for form in canary_forms():
        assert form.encode() not in wal


async def test_key_file_created_once_with_owner_only_mode(api: httpx.AsyncClient, settings: object) -> None:
    await _store(api)
    path = settings.data_dir / KEY_FILE_NAME  # type: ignore[attr-defined]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = path.read_text().strip()
    Fernet(key)  # a valid key
    before = path.stat().st_mtime_ns
    await _store(api, "OTHER_API_KEY")
    assert path.read_text().strip() == key and path.stat().st_mtime_ns == before
    # The stored token decrypts with that file's key, i.e. the key never went to the database.
    listed = (await api.get("/api/credentials")).json()
    assert all(c["decryptable"] for c in listed)


async def test_key_file_with_loose_mode_is_tightened(settings: object, tmp_path: Path) -> None:
    from archon.settings.crypto import load_key_ring

    data_dir = settings.data_dir  # type: ignore[attr-defined]
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / KEY_FILE_NAME
    path.write_text(Fernet.generate_key().decode() + "\n")
    os.chmod(path, 0o644)
    ring = load_key_ring(settings)  # type: ignore[arg-type]
    assert ring.size == 1
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
