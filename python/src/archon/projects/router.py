"""REST routes for projects and tasks."""

from fastapi import APIRouter

router = APIRouter(tags=["projects"])
