"""JSON API of the field app (mounted under ``/api/v1``)."""

from __future__ import annotations

from fastapi import APIRouter

from meterops.web.errors import ERROR_RESPONSES

__all__ = ["router"]

router = APIRouter(tags=["field"], responses=ERROR_RESPONSES)
