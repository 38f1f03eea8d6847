"""ORM: the technician's field visits (filled in by the field capability)."""

from __future__ import annotations

__all__: list[str] = []
