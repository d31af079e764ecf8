"""Embedders built from runtime settings + credentials (EmbedderRegistry) on a real Postgres."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from archon.runtime import Runtime
from archon.settings.credentials import CredentialService
from archon.settings.embedders import EmbedderRegistry, Endpoint
from archon.settings.schemas import CredentialCreate, CredentialUpdate
from archon.settings.service import RuntimeSettingsService
from tests.conftest import make_settings
from tests.settings.conftest import CANARY


async def test_api_key_from_credentials_else_environment(database_url: str, tmp_path: Path) -> None:
    env_key = CANARY + "-env"
    runtime = await Runtime.start(make_settings(database_url, tmp_path / "data", openai_api_key=SecretStr(env_key)))
    try:
        registry = EmbedderRegistry(runtime)
        assert await registry.api_key("OPENAI_API_KEY") == env_key
        assert await registry.api_key("OTHER_API_KEY") is None  # the env only stands in for OPENAI_API_KEY
        await CredentialService(runtime).create(CredentialCreate(key="OPENAI_API_KEY", value=CANARY + "-stored"))
        assert await registry.api_key("OPENAI_API_KEY") == CANARY + "-stored"
    finally:
        await runtime.stop()


async def test_active_embedder_follows_settings_and_key_changes(database_url: str, tmp_path: Path) -> None:
    runtime = await Runtime.start(make_settings(database_url, tmp_path / "data"))
    try:
        registry = EmbedderRegistry(runtime)
        model, embedder = await registry.active()  # nothing active yet: the settings' model is registered
        assert (model.provider, model.model, model.dimensions) == ("hash", "hash-v1", 384)
        assert embedder is runtime.embedder and embedder is await registry.for_model(model)  # cached per model id
        # An OpenAI-compatible target built from settings + the stored key named by embedding_api_key_name.
        credentials = CredentialService(runtime)
        await credentials.create(CredentialCreate(key="LOCAL_LLM_KEY", value=CANARY))
        await RuntimeSettingsService(runtime).update({
            "embedding_provider": "openai", "embedding_model": "nomic-embed-text",
            "embedding_base_url": "http://127.0.0.1:9/v1", "embedding_api_key_name": "LOCAL_LLM_KEY"})
        target = await registry.models.ensure("openai", "nomic-embed-text", 768)
        await registry.record_endpoint(target.id, await _endpoint(runtime))
        built = await registry.for_model(target)
        assert (built.provider, built.model, built.dimensions) == ("openai", "nomic-embed-text", 768)
        assert built.base_url == "http://127.0.0.1:9/v1"  # type: ignore[attr-defined]
        assert built._api_key == CANARY  # type: ignore[attr-defined]
        # A changed key rebuilds the embedder (the cache is dropped when a credential changes).
        await credentials.update("LOCAL_LLM_KEY", CredentialUpdate(value=CANARY + "-2"))
        rebuilt = await registry.for_model(target)
        assert rebuilt is not built and rebuilt._api_key == CANARY + "-2"  # type: ignore[attr-defined]
        # The active model's embedder is unaffected by the settings now asking for another model.
        assert (await registry.for_model(model)).model == "hash-v1"
    finally:
        await runtime.stop()


async def _endpoint(runtime: Runtime) -> Endpoint:
    return Endpoint.of(await RuntimeSettingsService(runtime).current())
