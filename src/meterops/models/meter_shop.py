"""ORM: Accuracy test records, test sets and in-service testing lots."""

from __future__ import annotations

__all__: list[str] = []
