"""Optional OAuth 2.1 resource-server mode for the MCP HTTP transports (ARCHON_MCP_OAUTH_ISSUER).

The SDK does the protocol part (RFC 9728 metadata route, `401` + `WWW-Authenticate: Bearer
resource_metadata=...`); this module supplies the token verifier: JWT access tokens signed by a key of the
issuer's JWKS, with `iss`, `aud` (our resource URL) and `exp` checked. The static `ARCHON_API_KEY` and the
read-only keys keep working on the same transports. The client's token is only ever verified here; no
upstream call (embedding providers, crawls) receives it: those use Archon's own credentials.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import anyio
import jwt
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken, TokenVerifier
from mcp.server.auth.routes import build_resource_metadata_url
from mcp.server.auth.settings import AuthSettings
from pydantic import AnyHttpUrl
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from archon.api.auth import ACCESS_KEY, FULL, READ, KeyRing
from archon.config import Settings

log = logging.getLogger(__name__)

# Asymmetric algorithms only: `none` and HMAC (which would let a public key act as a shared secret) never pass.
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]
LEEWAY_SECONDS = 10


def oauth_enabled(settings: Settings) -> bool:
    """True when the MCP HTTP transports run as an OAuth resource server."""
    return bool(settings.mcp_oauth_issuer)


def auth_settings(settings: Settings) -> AuthSettings:
    """The SDK's resource-server settings; audience checking is done by `JwtTokenVerifier` itself."""
    # Validated from strings so the model keeps a path-less issuer exactly as configured (no trailing "/"):
    # RFC 8414 issuer comparison is by exact string.
    return AuthSettings.model_validate({
        "issuer_url": settings.mcp_oauth_issuer,
        "resource_server_url": settings.mcp_oauth_resource,
        "validate_token_resource": False,
        "required_scopes": None,
    })


def _scopes(claims: dict[str, Any]) -> list[str]:
    # RFC 9068 `scope` is a space-separated string; some issuers send `scp` as a list.
    raw = claims.get("scope", claims.get("scp", ""))
    if isinstance(raw, str):
        return [s for s in raw.split() if s]
    if isinstance(raw, list):
        return [str(s) for s in raw]
    return []


def _fingerprint(token: str) -> str:
    # The SDK keeps AccessToken.token around on the request; store a digest, not the bearer secret.
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()[:32]


class JwtTokenVerifier(TokenVerifier):
    """Accepts the static Archon keys and JWTs signed by the issuer's JWKS for our resource URL."""

    def __init__(self, settings: Settings) -> None:
        self.issuer = str(settings.mcp_oauth_issuer)
        self.audience = settings.mcp_oauth_resource
        self.write_scope = settings.mcp_oauth_write_scope
        self.jwks = jwt.PyJWKClient(str(settings.mcp_oauth_jwks_url), cache_jwk_set=True, lifespan=300, timeout=5)
        self.keys = (KeyRing(settings.api_key.get_secret_value(),
                             [k.get_secret_value() for k in settings.readonly_api_keys])
                     if settings.api_key is not None else None)

    async def verify_token(self, token: str) -> AccessToken | None:
        """The token's identity and scopes, or None for anything not valid (never raises)."""
        if self.keys is not None and (level := self.keys.match(token)) is not None:
            scopes = [self.write_scope] if level == FULL else []
            return AccessToken(token=_fingerprint(token), client_id="archon-api-key", scopes=scopes,
                               resource=self.audience)
        try:
            claims = await anyio.to_thread.run_sync(self._decode, token)
        except jwt.PyJWKClientConnectionError as exc:
            log.warning("MCP OAuth: the issuer's JWKS could not be fetched (%s)", type(exc).__name__)
            return None
        except (jwt.PyJWTError, ValueError) as exc:
            log.info("MCP OAuth: token refused (%s)", type(exc).__name__)
            return None
        client = claims.get("client_id") or claims.get("azp") or claims.get("sub") or "oauth-client"
        return AccessToken(token=_fingerprint(token), client_id=str(client)[:200], scopes=_scopes(claims),
                           expires_at=int(claims["exp"]), resource=self.audience,
                           subject=str(claims["sub"]) if claims.get("sub") else None, claims={"iss": self.issuer})

    def _decode(self, token: str) -> dict[str, Any]:
        signing_key = self.jwks.get_signing_key_from_jwt(token)
        claims: dict[str, Any] = jwt.decode(
            token, signing_key.key, algorithms=ALGORITHMS, audience=self.audience, issuer=self.issuer,
            leeway=LEEWAY_SECONDS, options={"require": ["exp", "iss", "aud"]},
        )
        return claims


class OAuthAccessMiddleware:
    """Records the caller's Archon access level from the verified token's scopes (read without the write scope)."""

    def __init__(self, app: ASGIApp, *, write_scope: str) -> None:
        self.app = app
        self.write_scope = write_scope

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        user = scope.get("user") if scope["type"] in ("http", "websocket") else None
        if isinstance(user, AuthenticatedUser):
            level = FULL if self.write_scope in user.scopes else READ
            scope = {**scope, ACCESS_KEY: level}
        await self.app(scope, receive, send)


def root_metadata_route(routes: list[BaseRoute], settings: Settings) -> list[BaseRoute]:
    """The RFC 9728 document also at the root `/.well-known/oauth-protected-resource` (clients try both)."""
    path = str(build_resource_metadata_url(AnyHttpUrl(settings.mcp_oauth_resource))).split("://", 1)[1]
    path = "/" + path.split("/", 1)[1]
    for route in routes:
        if isinstance(route, Route) and route.path == path and path != "/.well-known/oauth-protected-resource":
            return [Route("/.well-known/oauth-protected-resource", endpoint=route.endpoint,
                          methods=list(route.methods or ["GET"]))]
    return []
