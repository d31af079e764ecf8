"""Settings: one pydantic-settings class read from the environment and `.env`."""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BeforeValidator, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg]i?b?|b)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def parse_size(value: Any) -> int:
    """Parse `50MB`, `512k`, `1048576` into bytes (binary units, as the seed's 50MB = 50*1024*1024)."""
    if isinstance(value, int):
        return value
    match = _SIZE_RE.match(str(value))
    if not match:
        raise ValueError(f"expected a size such as 50MB or 1048576, got {value!r}")
    number, unit = match.groups()
    return int(float(number) * _SIZE_UNITS[(unit or "")[:1].lower()])


def _split_csv(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


CsvList = Annotated[list[str], NoDecode, BeforeValidator(_split_csv)]
SecretCsvList = Annotated[list[SecretStr], NoDecode, BeforeValidator(_split_csv)]
ByteSize = Annotated[int, BeforeValidator(parse_size)]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
McpToolSet = Literal["all", "read-only", "knowledge", "tasks"]


class Settings(BaseSettings):
    """Every setting Archon reads. Env names are given by `validation_alias`; see docs/configuration.md."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
        case_sensitive=False,
    )

    # --- network -----------------------------------------------------------------
    host: str = Field("127.0.0.1", validation_alias=_env("ARCHON_HOST"))
    backend_port: int = Field(8080, ge=0, le=65535, validation_alias=_env("BACKEND_PORT"))
    mcp_port: int = Field(8051, ge=0, le=65535, validation_alias=_env("MCP_PORT"))
    frontend_port: int = Field(3737, ge=0, le=65535, validation_alias=_env("FRONTEND_PORT"))
    allow_insecure_bind: bool = Field(False, validation_alias=_env("ARCHON_ALLOW_INSECURE_BIND"))

    # --- security ----------------------------------------------------------------
    api_key: SecretStr | None = Field(None, validation_alias=_env("ARCHON_API_KEY"))
    enable_cors: bool = Field(True, validation_alias=_env("ENABLE_CORS"))
    cors_origins: CsvList = Field(
        default_factory=lambda: ["http://localhost:3737", "http://127.0.0.1:3737"],
        validation_alias=_env("ARCHON_CORS_ORIGINS"),
    )
    encryption_key: SecretStr | None = Field(None, validation_alias=_env("ENCRYPTION_KEY"))
    mcp_allowed_hosts: CsvList = Field(default_factory=list, validation_alias=_env("ARCHON_MCP_ALLOWED_HOSTS"))
    mcp_tools: McpToolSet = Field("all", validation_alias=_env("ARCHON_MCP_TOOLS"))
    # Read-only bearer keys (REST reads, MCP read tools); ARCHON_API_KEY stays the full-access key.
    readonly_api_keys: SecretCsvList = Field(default_factory=list, validation_alias=_env("ARCHON_READONLY_API_KEYS"))
    # Optional OAuth resource-server mode for the MCP HTTP transports (JWT access tokens from an issuer).
    mcp_oauth_issuer: str | None = Field(None, validation_alias=_env("ARCHON_MCP_OAUTH_ISSUER"))
    mcp_oauth_jwks_url: str | None = Field(None, validation_alias=_env("ARCHON_MCP_OAUTH_JWKS_URL"))
    mcp_oauth_audience: str | None = Field(None, validation_alias=_env("ARCHON_MCP_OAUTH_AUDIENCE"))
    mcp_oauth_write_scope: str = Field("archon:write", min_length=1,
                                       validation_alias=_env("ARCHON_MCP_OAUTH_WRITE_SCOPE"))
    # Inbound rate limits per client address (limits syntax: `20/minute`, `5/second;100/hour`).
    rate_limit_enabled: bool = Field(True, validation_alias=_env("ARCHON_RATE_LIMIT_ENABLED"))
    rate_limit_crawl: str = Field("20/minute", validation_alias=_env("ARCHON_RATE_LIMIT_CRAWL"))
    rate_limit_upload: str = Field("60/minute", validation_alias=_env("ARCHON_RATE_LIMIT_UPLOAD"))
    rate_limit_search: str = Field("600/minute", validation_alias=_env("ARCHON_RATE_LIMIT_SEARCH"))
    rate_limit_mcp_tools: str = Field("600/minute", validation_alias=_env("ARCHON_RATE_LIMIT_MCP_TOOLS"))

    # --- storage -----------------------------------------------------------------
    data_dir: Path = Field(Path("./data"), validation_alias=_env("ARCHON_DATA_DIR"))
    database_url: SecretStr | None = Field(None, validation_alias=_env("DATABASE_URL"))
    db_pool_min: int = Field(1, ge=1, le=100, validation_alias=_env("ARCHON_DB_POOL_MIN"))
    db_pool_max: int = Field(10, ge=1, le=200, validation_alias=_env("ARCHON_DB_POOL_MAX"))
    supabase_url: str | None = Field(None, validation_alias=_env("SUPABASE_URL"))
    supabase_service_key: SecretStr | None = Field(None, validation_alias=_env("SUPABASE_SERVICE_KEY"))

    # --- ingestion ---------------------------------------------------------------
    max_upload_size: ByteSize = Field(50 * 1024 * 1024, gt=0, validation_alias=_env("MAX_UPLOAD_SIZE"))
    concurrent_crawl_limit: int = Field(3, ge=1, le=64, validation_alias=_env("CONCURRENT_CRAWL_LIMIT"))
    crawl_allowed_hosts: CsvList = Field(default_factory=list, validation_alias=_env("ARCHON_CRAWL_ALLOWED_HOSTS"))
    run_worker: bool = Field(True, validation_alias=_env("ARCHON_RUN_WORKER"))
    upload_max_files: int = Field(20, ge=1, le=1000, validation_alias=_env("ARCHON_UPLOAD_MAX_FILES"))
    convert_memory_mb: int = Field(1024, ge=128, le=65536, validation_alias=_env("ARCHON_CONVERT_MEMORY_MB"))
    convert_timeout_seconds: int = Field(120, ge=1, le=3600, validation_alias=_env("ARCHON_CONVERT_TIMEOUT"))
    pack_max_bytes: ByteSize = Field(512 * 1024 * 1024, gt=0, le=1000 * 1024 * 1024,
                                     validation_alias=_env("ARCHON_PACK_MAX_BYTES"))
    local_source_roots: CsvList = Field(default_factory=list, validation_alias=_env("ARCHON_LOCAL_SOURCE_ROOTS"))

    # --- embeddings --------------------------------------------------------------
    embedding_provider: Literal["local", "openai", "hash"] = Field(
        "local", validation_alias=_env("EMBEDDING_PROVIDER")
    )
    embedding_model: str = Field("all-MiniLM-L6-v2", validation_alias=_env("EMBEDDING_MODEL"))
    embedding_dimensions: int | None = Field(None, ge=8, le=4096, validation_alias=_env("EMBEDDING_DIMENSIONS"))
    embedding_base_url: str | None = Field(None, validation_alias=_env("EMBEDDING_BASE_URL"))
    # Local model only: embed queries with an ONNX export of the same model (same vectors, ~2.5x faster).
    embedding_onnx: bool = Field(True, validation_alias=_env("ARCHON_EMBEDDING_ONNX"))
    openai_api_key: SecretStr | None = Field(None, validation_alias=_env("OPENAI_API_KEY"))

    # --- search ------------------------------------------------------------------
    search_rrf_k: float = Field(5.0, gt=0, le=1000, validation_alias=_env("ARCHON_SEARCH_RRF_K"))
    search_vector_weight: float = Field(1.0, ge=0, le=10, validation_alias=_env("ARCHON_SEARCH_VECTOR_WEIGHT"))
    search_keyword_weight: float = Field(0.75, ge=0, le=10, validation_alias=_env("ARCHON_SEARCH_KEYWORD_WEIGHT"))
    search_heading_weight: float = Field(0.0, ge=0, le=10, validation_alias=_env("ARCHON_SEARCH_HEADING_WEIGHT"))
    search_common_term_fraction: float = Field(0.01, gt=0, le=1,
                                               validation_alias=_env("ARCHON_SEARCH_COMMON_TERM_FRACTION"))
    search_candidates: int = Field(40, ge=5, le=500, validation_alias=_env("ARCHON_SEARCH_CANDIDATES"))
    search_ef_search: int = Field(64, ge=10, le=1000, validation_alias=_env("ARCHON_SEARCH_EF_SEARCH"))
    search_exact_threshold: int = Field(5000, ge=0, le=1_000_000,
                                        validation_alias=_env("ARCHON_SEARCH_EXACT_THRESHOLD"))
    rerank_model: Path | None = Field(None, validation_alias=_env("ARCHON_RERANK_MODEL"))
    rerank_default: bool = Field(False, validation_alias=_env("ARCHON_RERANK"))
    rerank_url: str | None = Field(None, pattern=r"^https?://\S+$", validation_alias=_env("ARCHON_RERANK_URL"))
    rerank_api: Literal["cohere", "tei"] = Field("cohere", validation_alias=_env("ARCHON_RERANK_API"))
    rerank_remote_model: str | None = Field(None, max_length=200, validation_alias=_env("ARCHON_RERANK_API_MODEL"))
    rerank_api_key_name: str = Field("RERANK_API_KEY", pattern=r"^[A-Z][A-Z0-9_]{1,63}$",
                                     validation_alias=_env("ARCHON_RERANK_API_KEY_NAME"))
    rerank_timeout: float = Field(10.0, gt=0, le=120, validation_alias=_env("ARCHON_RERANK_TIMEOUT"))
    max_page_chars: int = Field(50_000, ge=1000, le=10_000_000, validation_alias=_env("ARCHON_MAX_PAGE_CHARS"))

    # --- operations --------------------------------------------------------------
    log_level: LogLevel = Field("INFO", validation_alias=_env("LOG_LEVEL"))
    debug: bool = Field(False, validation_alias=_env("DEBUG"))
    shutdown_grace_seconds: float = Field(10.0, ge=0, le=600, validation_alias=_env("ARCHON_SHUTDOWN_GRACE"))
    loop_stall_warn_seconds: float = Field(1.0, ge=0, le=600, validation_alias=_env("ARCHON_LOOP_STALL_WARN"))
    # Longer than the idle expiry of common clients and proxies (httpx 5 s, aiohttp 15 s, nginx and load
    # balancers 60 s): a server that closes first races their next request into a reset connection.
    http_keepalive_seconds: int = Field(75, ge=1, le=3600, validation_alias=_env("ARCHON_HTTP_KEEPALIVE"))

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("rate_limit_crawl", "rate_limit_upload", "rate_limit_search", "rate_limit_mcp_tools")
    @classmethod
    def _rate_limit_syntax(cls, value: str) -> str:
        from limits import parse_many

        try:
            parse_many(value)
        except ValueError as exc:
            raise ValueError(f"expected a rate such as 20/minute, got {value!r}") from exc
        return value

    @field_validator("cors_origins")
    @classmethod
    def _no_wildcard_origin(cls, value: list[str]) -> list[str]:
        if "*" in value:
            raise ValueError("'*' is not allowed; list the dashboard origins explicitly")
        return value

    @model_validator(mode="after")
    def _pool_bounds(self) -> Settings:
        if self.db_pool_min > self.db_pool_max:
            raise ValueError("ARCHON_DB_POOL_MIN must not exceed ARCHON_DB_POOL_MAX")
        if "cors_origins" not in self.model_fields_set:
            # The default follows FRONTEND_PORT so a dashboard moved to another port still reaches the API.
            self.cors_origins = [f"http://localhost:{self.frontend_port}", f"http://127.0.0.1:{self.frontend_port}"]
        return self

    @model_validator(mode="after")
    def _auth_consistency(self) -> Settings:
        if self.readonly_api_keys and self.api_key is None:
            raise ValueError("ARCHON_READONLY_API_KEYS needs ARCHON_API_KEY (the full-access key) to be set too")
        if self.api_key is not None and any(k.get_secret_value() == self.api_key.get_secret_value()
                                            for k in self.readonly_api_keys):
            raise ValueError("ARCHON_READONLY_API_KEYS must not contain ARCHON_API_KEY")
        if self.mcp_oauth_issuer and not self.mcp_oauth_jwks_url:
            raise ValueError("ARCHON_MCP_OAUTH_ISSUER needs ARCHON_MCP_OAUTH_JWKS_URL (where the issuer's keys are)")
        for name in ("mcp_oauth_issuer", "mcp_oauth_jwks_url", "mcp_oauth_audience"):
            value = getattr(self, name)
            if value is not None and not re.match(r"^https?://[^/\s]+", value):
                raise ValueError(f"{env_name(name)} must be an http(s) URL, got {value!r}")
        return self

    @property
    def mcp_oauth_resource(self) -> str:
        """This MCP server's resource URL: the `aud` its OAuth access tokens must carry."""
        if self.mcp_oauth_audience:
            return self.mcp_oauth_audience
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.mcp_port}/mcp"

    @property
    def is_loopback_bind(self) -> bool:
        """True when `host` only accepts connections from this machine."""
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"


def env_name(field_name: str) -> str:
    """The environment variable that sets `field_name`."""
    alias = Settings.model_fields[field_name].validation_alias
    assert isinstance(alias, AliasChoices)
    first = alias.choices[0]
    assert isinstance(first, str)
    return first


def all_env_names() -> list[str]:
    """Every environment variable Archon reads, in declaration order."""
    return [env_name(name) for name in Settings.model_fields]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings from the environment; cached for the CLI (the app gets its Settings injected)."""
    return Settings()
