"""The meter-data import journal: one row per file ingest attempt, with counts that add up."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from meterops.db.base import Base, BigIntPK
from meterops.models._types import str_enum

__all__ = ["ImportJournal", "ImportStatus"]


class ImportStatus(StrEnum):
    """Where a file's ingest stands."""

    PENDING = "pending"
    """Rows may be in the read store but are invisible until the commit marker is written."""
    COMMITTED = "committed"
    """The file's rows are visible (its commit marker is in the read store)."""
    DUPLICATE_FILE = "duplicate_file"
    """The same bytes were committed before; nothing was read or stored."""
    REFUSED = "refused"
    """The file was refused whole (parse issues, unknown format); nothing was stored."""
    ABANDONED = "abandoned"
    """The ingest died before its commit point; its rows stay invisible for ever."""


class ImportJournal(Base):
    """One attempt to ingest a meter-data file.

    ``accepted + rejected + duplicate + conflicting + late + quarantined = rows_in_file`` holds
    for every row (a database check): ``late`` rows are stored *and* flagged ``LATE`` and are
    not also counted as ``accepted``. At most one committed row exists per content hash.
    """

    __tablename__ = "import_journal"
    __table_args__ = (
        CheckConstraint(
            "accepted + rejected + duplicate + conflicting + late + quarantined = rows_in_file",
            name="counts_add_up",
        ),
        CheckConstraint(
            "accepted >= 0 AND rejected >= 0 AND duplicate >= 0 AND conflicting >= 0 "
            "AND late >= 0 AND quarantined >= 0 AND superseded >= 0",
            name="counts_not_negative",
        ),
        Index(
            "uq_import_journal_committed_content_hash",
            "content_hash",
            unique=True,
            sqlite_where=text("status = 'committed'"),
            postgresql_where=text("status = 'committed'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    file_name: Mapped[str] = mapped_column(String(255))
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    file_identity: Mapped[str | None] = mapped_column(String(120), index=True)
    """Device, inode, size and modification and change times of the file when it was hashed
    (``journal.file_identity``), or None when the file was too fresh to vouch for its bytes."""
    format: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[ImportStatus] = mapped_column(
        str_enum(ImportStatus, "import_status"), index=True
    )
    strict: Mapped[bool]
    actor: Mapped[str] = mapped_column(String(64))
    started_at_utc: Mapped[dt.datetime]
    finished_at_utc: Mapped[dt.datetime | None]
    rows_in_file: Mapped[int] = mapped_column(default=0)
    accepted: Mapped[int] = mapped_column(default=0)
    rejected: Mapped[int] = mapped_column(default=0)
    duplicate: Mapped[int] = mapped_column(default=0)
    conflicting: Mapped[int] = mapped_column(default=0)
    late: Mapped[int] = mapped_column(default=0)
    quarantined: Mapped[int] = mapped_column(default=0)
    superseded: Mapped[int] = mapped_column(default=0)
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("import_journal.id"))
    message: Mapped[str | None] = mapped_column(String(2000))
    issues: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
