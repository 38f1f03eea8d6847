"""JSON API of the workorders capability (mounted under ``/api/v1``)."""

from __future__ import annotations

from fastapi import APIRouter

from meterops.web.errors import ERROR_RESPONSES

__all__ = ["router"]

router = APIRouter(tags=["work orders"], responses=ERROR_RESPONSES)
