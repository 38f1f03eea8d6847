"""Every SQL statement of meter-data ingest: the import journal and serial → meter id lookups.

Repositories never commit and hold no business rules. Must not import ``meterops.web``,
``cli`` or ``config``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import polars as pl
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from meterops.db.repository import RepositoryBase
from meterops.models import ImportJournal, Meter
from meterops.models.ingest import ImportStatus

__all__ = ["JournalRepository", "meter_ids_by_serial"]

_CHUNK: Final = 5000  # serials per IN list (well under SQLite's and PostgreSQL's limits)
_SCAN_SHARE: Final = 4  # scan the whole meters table when a batch names 1/4 of the fleet


class JournalRepository(RepositoryBase[ImportJournal]):
    """Import journal rows."""

    model = ImportJournal

    def committed_by_content_hash(self, content_hash: str) -> ImportJournal | None:
        """The committed entry of a content hash, or None."""
        return self.session.scalars(
            select(ImportJournal).where(
                ImportJournal.content_hash == content_hash,
                ImportJournal.status == ImportStatus.COMMITTED,
            )
        ).one_or_none()

    def with_status(self, status: ImportStatus) -> Sequence[ImportJournal]:
        """Entries in ``status``, oldest first."""
        return self.session.scalars(
            select(ImportJournal).where(ImportJournal.status == status).order_by(ImportJournal.id)
        ).all()

    def recent(self, *, limit: int = 50) -> Sequence[ImportJournal]:
        """The latest entries, newest first."""
        return self.session.scalars(
            select(ImportJournal).order_by(ImportJournal.id.desc()).limit(limit)
        ).all()


def meter_ids_by_serial(session: Session, serials: Sequence[str]) -> pl.DataFrame:
    """``serial_number`` → ``meter_id`` for the serials the fleet knows (set-based).

    Few serials are looked up with ``IN`` lists; when the batch names a large share of the
    fleet, one scan of the meters table is cheaper than thousands of index probes.

    Args:
        session: Database session.
        serials: Serial numbers (unique).

    Returns:
        Columns ``serial_number`` (String) and ``meter_id`` (Int64); unknown serials are absent.
    """
    schema = {"serial_number": pl.String, "meter_id": pl.Int64}
    query = select(Meter.serial_number, Meter.id)
    if len(serials) > _CHUNK:
        fleet = session.execute(select(func.count()).select_from(Meter)).scalar_one()
        if len(serials) * _SCAN_SHARE >= fleet:
            everything = pl.DataFrame(session.execute(query).all(), schema=schema, orient="row")
            wanted = pl.DataFrame({"serial_number": serials}, schema={"serial_number": pl.String})
            return everything.join(wanted, on="serial_number", how="semi")
    found: list[tuple[str, int]] = []
    ordered = sorted(serials)  # index order: neighbouring lookups hit the same pages
    for start in range(0, len(ordered), _CHUNK):
        chunk = ordered[start : start + _CHUNK]
        rows = session.execute(query.where(Meter.serial_number.in_(chunk)))
        found.extend((serial, id_) for serial, id_ in rows)
    return pl.DataFrame(found, schema=schema, orient="row")
