"""ORM: Remote commands, their approvals and outbox, and outages."""

from __future__ import annotations

__all__: list[str] = []
