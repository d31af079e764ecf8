"""One place that turns every failure into `{"error": ..., "detail": ...}` with the right status."""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg_pool import PoolTimeout
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from archon.db.pool import DatabaseUnavailable, failing_fast
from archon.errors import ArchonError
from archon.observability.health import suspect_database

log = logging.getLogger(__name__)


class ErrorBody(BaseModel):
    """Every error response: a one-line message and optional detail (e.g. `[{field, message}]`)."""

    error: str
    detail: Any = None


# Declared on every operation so clients (and schemathesis) know each status and its body.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text} for status, text in (
        (400, "Bad request"), (401, "Missing or wrong bearer token (when ARCHON_API_KEY is set)"),
        (404, "Not found"), (409, "Conflict"), (413, "Too large"), (415, "Unsupported media type"),
        (422, "Invalid input; `detail` names the fields"), (429, "Rate limit exceeded; see Retry-After"),
        (503, "Database or dependency unavailable; retry shortly"))
}


def error_body(error: str, detail: Any = None) -> dict[str, Any]:
    return {"error": error, "detail": detail}


def _field(loc: tuple[Any, ...]) -> str:
    # Only the first element names where the value came from; a field may itself be called "query".
    parts = [str(p) for p in (loc[1:] if loc and loc[0] in ("body", "query", "path", "header", "form") else loc)]
    return ".".join(parts) or "request"


def validation_detail(exc: RequestValidationError) -> list[dict[str, str]]:
    """A list of {field, message}; the raw input is left out because it may hold a secret."""
    return [{"field": _field(tuple(e.get("loc", ()))), "message": str(e.get("msg", "invalid"))} for e in exc.errors()]


async def _archon_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ArchonError)
    if exc.status >= 500:
        log.error("%s %s failed: %s", request.method, request.url.path, exc.message)
    return JSONResponse(error_body(exc.message, exc.detail), status_code=exc.status)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    detail = validation_detail(exc)
    message = "; ".join(f"{d['field']}: {d['message']}" for d in detail)
    return JSONResponse(error_body(f"invalid request: {message}", detail), status_code=422)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return JSONResponse(error_body(str(exc.detail)), status_code=exc.status_code, headers=exc.headers)


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, DatabaseUnavailable):  # the outage is already known and logged once
        log.debug("database unavailable during %s %s", request.method, request.url.path)
    else:
        log.warning("database unavailable during %s %s: %s", request.method, request.url.path, type(exc).__name__)
        holder = getattr(request.app.state, "holder", None)
        suspect_database(holder.runtime if holder is not None else None)
    return JSONResponse(error_body("database unavailable", "retry shortly"), status_code=503,
                        headers={"Retry-After": "5"})


async def _data_error(request: Request, exc: Exception) -> JSONResponse:
    # A value PostgreSQL refuses (a NUL character, an out-of-range number) came from the request.
    log.info("invalid value in %s %s: %s", request.method, request.url.path, type(exc).__name__)
    return JSONResponse(error_body("invalid value: a parameter holds characters or numbers the database cannot "
                                   "store (e.g. a NUL character)"), status_code=422)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error in %s %s", request.method, request.url.path)
    return JSONResponse(error_body("internal error", "an unexpected error occurred; see the server log"),
                        status_code=500)


class FailFastOnDatabaseOutage:
    """HTTP requests answer `503 database unavailable` at once while the database is known to be down."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # WebSocket streams keep waiting for the database, as jobs do
            await self.app(scope, receive, send)
            return
        with failing_fast():
            await self.app(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ArchonError, _archon_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(PoolTimeout, _database_error)
    app.add_exception_handler(psycopg.OperationalError, _database_error)
    app.add_exception_handler(psycopg.InterfaceError, _database_error)
    app.add_exception_handler(psycopg.DataError, _data_error)
    app.add_exception_handler(Exception, _unexpected)
