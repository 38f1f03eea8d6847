"""JSON API of the outages capability (mounted under ``/api/v1``)."""

from __future__ import annotations

from fastapi import APIRouter

from meterops.web.errors import ERROR_RESPONSES

__all__ = ["router"]

router = APIRouter(tags=["outages"], responses=ERROR_RESPONSES)
