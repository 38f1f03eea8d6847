"""ORM: Exceptions and verdicts of diagnostics."""

from __future__ import annotations

__all__: list[str] = []
