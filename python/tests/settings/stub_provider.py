"""A local OpenAI-compatible stub (what we may fake: a remote provider we do not own), served on 127.0.0.1."""

from __future__ import annotations

import hashlib
import math

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


def _masked(secret: str) -> str:
    # What OpenAI really answers for a wrong key: a prefix and the last 4 characters of it.
    return f"{secret[:8]}{'*' * 20}{secret[-4:]}"


def _vector(text: str, dimensions: int) -> list[float]:
    values = [(b - 127.5) for b in hashlib.sha256(text.encode()).digest()] * (dimensions // 32 + 1)
    values = [float(v) for v in values[:dimensions]]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [v / norm for v in values]


class StubProvider:
    """Accepts one key; records the requests it saw (path, authorization header present)."""

    def __init__(self, good_key: str, *, dimensions: int = 64) -> None:
        self.good_key = good_key
        self.dimensions = dimensions
        self.requests: list[tuple[str, str]] = []
        self.app = Starlette(routes=[Route("/v1/models", self.models), Route("/v1/embeddings", self.embeddings,
                                                                                 methods=["POST"])])

    def _auth(self, request: Request) -> JSONResponse | None:
        header = request.headers.get("authorization", "")
        self.requests.append((request.url.path, header))
        token = header.removeprefix("Bearer ")
        if token != self.good_key:
            return JSONResponse({"error": {"message": f"Incorrect API key provided: {_masked(token)}. You can find "
                                           "your API key at https://platform.openai.com/account/api-keys.",
                                           "type": "invalid_request_error", "code": "invalid_api_key"}},
                                status_code=401)
        return None

    async def models(self, request: Request) -> JSONResponse:
        models = {"object": "list", "data": [{"id": "stub-embed", "object": "model"}]}
        return self._auth(request) or JSONResponse(models)

    async def embeddings(self, request: Request) -> JSONResponse:
        denied = self._auth(request)
        if denied:
            return denied
        body = await request.json()
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        dims = int(body.get("dimensions") or self.dimensions)
        return JSONResponse({"object": "list", "model": body.get("model"),
                             "data": [{"object": "embedding", "index": i, "embedding": _vector(t, dims)}
                                      for i, t in enumerate(inputs)],
                             "usage": {"prompt_tokens": len(inputs), "total_tokens": len(inputs)}})
