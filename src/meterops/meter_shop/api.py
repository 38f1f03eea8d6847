"""JSON API of the meter_shop capability (mounted under ``/api/v1``)."""

from __future__ import annotations

from fastapi import APIRouter

from meterops.web.errors import ERROR_RESPONSES

__all__ = ["router"]

router = APIRouter(tags=["meter shop"], responses=ERROR_RESPONSES)
