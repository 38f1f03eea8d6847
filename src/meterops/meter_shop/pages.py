"""HTML pages of the meter_shop capability: thin views over its services."""

from __future__ import annotations

from fastapi import APIRouter

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
