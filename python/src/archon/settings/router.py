"""REST routes for runtime settings and credentials."""

from fastapi import APIRouter

router = APIRouter(tags=["settings"])
