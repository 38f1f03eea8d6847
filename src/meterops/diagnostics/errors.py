"""Errors of the diagnostics capability."""

from __future__ import annotations

from meterops.errors import NotFoundError

__all__ = ["NoSuchMeterError"]


class NoSuchMeterError(NotFoundError):
    """The meter or exception asked for does not exist."""

    default_code = "diagnostics.not_found"
