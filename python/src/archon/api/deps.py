"""FastAPI dependency providers: handlers get the runtime's pieces injected, never a global."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.requests import HTTPConnection

from archon.config import Settings
from archon.runtime import Runtime


def get_runtime(conn: HTTPConnection) -> Runtime:
    runtime: Runtime = conn.app.state.runtime
    return runtime


def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
