"""REST routes for runtime settings, encrypted credentials and embedding models (thin adapters)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Response

from archon.api.deps import RuntimeDep
from archon.errors import Invalid
from archon.settings.changes import SettingsManager
from archon.settings.credentials import CredentialService
from archon.settings.reembed import ReembedService
from archon.settings.schemas import (
    CredentialCreate,
    CredentialTestRequest,
    CredentialTestResult,
    CredentialUpdate,
    CredentialView,
)

router = APIRouter(tags=["settings"])


# --- runtime settings ---------------------------------------------------------------------------
@router.get("/settings")
async def get_settings(runtime: RuntimeDep) -> dict[str, Any]:
    """Effective runtime settings, their environment defaults, overridden keys and the embedding state."""
    return await SettingsManager(runtime).overview()


@router.put("/settings")
async def update_settings(runtime: RuntimeDep, patch: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    """Change any subset of the settings; a new embedding model starts a re-embed job (see `embedding`)."""
    return await SettingsManager(runtime).update(patch)


@router.delete("/settings")
async def reset_settings(runtime: RuntimeDep,
                         keys: Annotated[str | None, Query(description="Comma-separated; all when omitted")] = None,
                         ) -> dict[str, Any]:
    """Forget overrides so the environment defaults apply again."""
    names = [k.strip() for k in keys.split(",") if k.strip()] if keys else None
    return await SettingsManager(runtime).reset(names)


# --- embedding models ---------------------------------------------------------------------------
@router.get("/embedding-models")
async def list_embedding_models(runtime: RuntimeDep) -> dict[str, Any]:
    """Registered models with their vector counts and any running re-embed job."""
    return await ReembedService(runtime).models_overview()


@router.post("/embedding-models/reembed")
async def start_reembed(runtime: RuntimeDep) -> dict[str, Any]:
    """(Re)start bringing vectors to the configured model (after a cancel or an error)."""
    return {"progressId": await ReembedService(runtime).start()}


@router.delete("/embedding-models/{model_id}")
async def drop_embedding_model(runtime: RuntimeDep, model_id: int) -> dict[str, Any]:
    """Delete a non-active model and its vectors."""
    return {"model_id": model_id, "deleted_vectors": await ReembedService(runtime).drop_model(model_id)}


# --- credentials --------------------------------------------------------------------------------
@router.get("/credentials")
async def list_credentials(runtime: RuntimeDep,
                           category: Annotated[str | None, Query(max_length=32)] = None) -> list[CredentialView]:
    """Every credential, masked: `has_value` and the last 4 characters, never the secret."""
    items = await CredentialService(runtime).list()
    return [c for c in items if category is None or c.category == category]


@router.post("/credentials", status_code=201)
async def create_credential(runtime: RuntimeDep, body: CredentialCreate) -> CredentialView:
    """Store a new secret (encrypted at rest); 409 if the key exists."""
    return await CredentialService(runtime).create(body)


@router.get("/credentials/{key}")
async def get_credential(runtime: RuntimeDep, key: str) -> CredentialView:
    return await CredentialService(runtime).get(key)


@router.put("/credentials/{key}")
async def update_credential(runtime: RuntimeDep, key: str, body: CredentialUpdate) -> CredentialView:
    """Replace the value, category or description (creates the credential when a value is given)."""
    if body.value is None and body.category is None and body.description is None:
        raise Invalid("nothing to change: give value, category or description",
                      detail=[{"field": "value", "message": "required when nothing else is given"}])
    return await CredentialService(runtime).update(key, body)


@router.delete("/credentials/{key}", status_code=204)
async def delete_credential(runtime: RuntimeDep, key: str) -> Response:
    await CredentialService(runtime).delete(key)
    return Response(status_code=204)


@router.post("/credentials/{key}/test")
async def test_credential(runtime: RuntimeDep, key: str,
                          body: Annotated[CredentialTestRequest | None, Body()] = None) -> CredentialTestResult:
    """Check the key with one minimal real call to the provider; reports ok or the provider's message."""
    return await CredentialService(runtime).test(key, body or CredentialTestRequest())
