"""Typed shapes of runtime settings and credentials (pydantic, framework-free)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from archon.config import Settings

CREDENTIAL_KEY_PATTERN = r"^[A-Z][A-Z0-9_]{1,63}$"
MAX_SECRET_LENGTH = 4096
EmbeddingProvider = Literal["local", "openai", "hash"]
RenderMode = Literal["auto", "http", "browser"]


def _http_url(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    if not value.startswith(("http://", "https://")) or len(value) > 2048 or any(c.isspace() for c in value):
        raise ValueError("must be an http:// or https:// URL")
    if "@" in value.split("://", 1)[1].split("/", 1)[0]:
        # Settings are readable by every API client; secrets belong in credentials (encrypted, masked).
        raise ValueError("must not contain a user name or password; store the key as a credential")
    return value.rstrip("/")


class RagSettings(BaseModel):
    """Everything a user can change at run time; stored per key in archon_settings, defaults from the env."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    # --- embeddings (changing provider/model/base URL/dimensions starts a re-embed job) -------------
    embedding_provider: EmbeddingProvider = "local"
    embedding_model: str = Field("all-MiniLM-L6-v2", min_length=1, max_length=200)
    embedding_base_url: str | None = Field(None, description="OpenAI-compatible base URL, e.g. http://host:11434/v1")
    embedding_dimensions: int | None = Field(None, ge=8, le=4096)
    embedding_api_key_name: str = Field("OPENAI_API_KEY", pattern=CREDENTIAL_KEY_PATTERN,
                                        description="Which stored credential the openai provider sends")
    embedding_batch_size: int = Field(64, ge=1, le=2048)
    drop_old_vectors: bool = Field(False, description="Delete the previous model's vectors after a switch")
    # --- chat model (code summaries, contextual embeddings) -----------------------------------------
    chat_model: str | None = Field(None, max_length=200)
    chat_base_url: str | None = None
    chat_api_key_name: str = Field("OPENAI_API_KEY", pattern=CREDENTIAL_KEY_PATTERN,
                                   description="Which stored credential the chat model's requests send")
    # --- RAG strategy -------------------------------------------------------------------------------
    use_hybrid_search: bool = True
    fusion_k: float = Field(60.0, gt=0, le=1000, description="Reciprocal rank fusion constant")
    fusion_vector_weight: float = Field(1.0, ge=0.0, le=10.0)
    fusion_keyword_weight: float = Field(1.0, ge=0.0, le=10.0)
    fusion_heading_weight: float = Field(0.0, ge=0.0, le=10.0, description="Extra weight of heading/title hits")
    use_reranking: bool = False
    use_contextual_embeddings: bool = False
    extract_code_examples: bool = True
    # --- chunking (in the embedding model's word pieces) --------------------------------------------
    chunk_size: int | None = Field(None, ge=32, le=8192,
                                   description="Target chunk size; None = 80% of the model's window, at most 400")
    chunk_overlap: int = Field(30, ge=0, le=2048)
    # --- crawling -----------------------------------------------------------------------------------
    # Defaults are the crawler's measured ones: 6 pages in flight; the rate is a ceiling against hammering a
    # host (robots.txt Crawl-delay still applies), high enough not to slow a crawl of a local docs server.
    crawl_concurrency: int = Field(6, ge=1, le=64, description="Pages in flight per crawl")
    crawl_per_host_rate: float = Field(50.0, gt=0.0, le=1000.0, description="Requests per second per host")
    page_timeout_seconds: float = Field(30.0, ge=1.0, le=600.0)
    default_render_mode: RenderMode = "auto"
    respect_robots: bool = True
    concurrent_crawl_limit: int = Field(3, ge=1, le=64, description="Crawl/upload jobs running at once")

    @field_validator("embedding_base_url", "chat_base_url")
    @classmethod
    def _urls(cls, value: str | None) -> str | None:
        return _http_url(value)

    @field_validator("embedding_model", "chat_model")
    @classmethod
    def _no_control_chars(cls, value: str | None) -> str | None:
        if value is not None and any(ord(c) < 32 for c in value):
            raise ValueError("must not contain control characters")
        return value

    # Cross-field rules as field validators (fields are validated in declaration order) so a 422 names
    # the field at fault rather than the whole body.
    @field_validator("chunk_overlap")
    @classmethod
    def _overlap_below_size(cls, value: int, info: ValidationInfo) -> int:
        size = info.data.get("chunk_size")
        if value >= (size or 64):  # the automatic size is never below 64
            raise ValueError(f"must be smaller than chunk_size ({size})" if size else
                             "must be smaller than 64 while chunk_size is automatic")
        return value

    @field_validator("fusion_keyword_weight")
    @classmethod
    def _some_weight(cls, value: float, info: ValidationInfo) -> float:
        if value == 0 and info.data.get("fusion_vector_weight") == 0:
            raise ValueError("fusion_vector_weight and fusion_keyword_weight cannot both be 0")
        return value

    def embedding_target(self) -> tuple[str, str, int | None, str | None]:
        """(provider, model, dimensions, base URL): what decides which vectors exist."""
        return self.embedding_provider, self.embedding_model, self.embedding_dimensions, self.embedding_base_url


EMBEDDING_FIELDS = frozenset({"embedding_provider", "embedding_model", "embedding_dimensions", "embedding_base_url"})


# Runtime settings whose environment default lives under another name in `Settings`.
ENV_NAMES = {
    "fusion_k": "search_rrf_k",
    "fusion_vector_weight": "search_vector_weight",
    "fusion_keyword_weight": "search_keyword_weight",
    "fusion_heading_weight": "search_heading_weight",
    "use_reranking": "rerank_default",
}


def defaults_from(settings: Settings) -> dict[str, Any]:
    """Defaults from the environment: every RagSettings field that `Settings` also has (same name)."""
    values = {name: getattr(settings, name) for name in RagSettings.model_fields if name in Settings.model_fields}
    for name, env_field in ENV_NAMES.items():
        if env_field in Settings.model_fields:
            values[name] = getattr(settings, env_field)
    if values.get("embedding_provider") == "hash" and values.get("embedding_model") == "all-MiniLM-L6-v2":
        values["embedding_model"] = "hash-v1"  # what the factory calls the hashing model
    return values


class CredentialCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=CREDENTIAL_KEY_PATTERN)
    value: str = Field(min_length=1, max_length=MAX_SECRET_LENGTH, repr=False)
    category: str = Field("api_keys", pattern=r"^[a-z][a-z0-9_]{0,31}$")
    description: str = Field("", max_length=500)

    @field_validator("value")
    @classmethod
    def _strip(cls, value: str) -> str:
        stripped = _strip_secret(value)
        assert stripped is not None
        return stripped


def _strip_secret(value: str | None) -> str | None:
    # A key pasted with a trailing newline or space would fail at the provider for no visible reason.
    if value is None:
        return None
    value = value.strip()
    if not value:
        raise ValueError("must not be empty or only whitespace")
    return value


class CredentialUpdate(BaseModel):
    """PUT body: any subset; `value` replaces the secret."""

    model_config = ConfigDict(extra="forbid")

    value: str | None = Field(None, min_length=1, max_length=MAX_SECRET_LENGTH, repr=False)
    category: str | None = Field(None, pattern=r"^[a-z][a-z0-9_]{0,31}$")
    description: str | None = Field(None, max_length=500)

    @field_validator("value")
    @classmethod
    def _strip(cls, value: str | None) -> str | None:
        return _strip_secret(value)


class CredentialView(BaseModel):
    """What any read returns: never the secret, only whether it is set and its last 4 characters."""

    key: str
    category: str
    description: str
    has_value: bool
    last4: str | None
    decryptable: bool
    created_at: datetime | None = None
    updated_at: datetime | None = None


class CredentialTestRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base_url: str | None = Field(None, description="OpenAI-compatible base URL; default per key name")
    mode: Literal["models", "embedding"] = "models"
    model: str | None = Field(None, max_length=200, description="Embedding model for mode=embedding")

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return _http_url(value)


class CredentialTestResult(BaseModel):
    key: str
    ok: bool
    status_code: int | None
    message: str
    base_url: str
    latency_ms: float
