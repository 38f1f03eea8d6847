"""The fleet import journal: one row per imported file."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from meterops.db.base import Base, BigIntPK

__all__ = ["FleetImport"]


class FleetImport(Base):
    """A fleet CSV file that was imported, with what it changed.

    A file with the same content (SHA-256) and kind is imported once.
    """

    __tablename__ = "fleet_imports"
    __table_args__ = (UniqueConstraint("sha256", "kind"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    file_name: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    imported_at_utc: Mapped[dt.datetime]
    actor: Mapped[str] = mapped_column(String(64))
    rows: Mapped[int]
    created: Mapped[int]
    updated: Mapped[int]
    unchanged: Mapped[int]
