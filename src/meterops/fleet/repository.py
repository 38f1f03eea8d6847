"""All SQL of the fleet import: key lookups, existing rows, bulk inserts and updates."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from enum import Enum
from typing import Any

import polars as pl
from sqlalchemy import func, insert, select, tuple_, update
from sqlalchemy.orm import Session, aliased

from meterops.assets.lifecycle import AssetStatus
from meterops.db.base import Base
from meterops.models import CommModuleLink, FleetImport, Installation, Meter, ServicePoint

__all__ = ["FleetRepository"]

_CHUNK = 5_000


def _chunks(values: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


class FleetRepository:
    """Set-based reads and writes for bulk import (never commits)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def journal_entry(self, sha256: str, kind: str) -> FleetImport | None:
        """The journal row of a file already imported with this content and kind."""
        return self.session.scalars(
            select(FleetImport).where(FleetImport.sha256 == sha256, FleetImport.kind == kind)
        ).one_or_none()

    def add_journal(self, entry: FleetImport) -> FleetImport:
        """Add a journal row."""
        self.session.add(entry)
        self.session.flush()
        return entry

    def id_map(self, model: type[Base], key: str, values: Iterable[str]) -> dict[str, int]:
        """Natural key → id for the given key values that exist."""
        wanted = sorted({v for v in values if v is not None})
        column = getattr(model, key)
        found: dict[str, int] = {}
        for chunk in _chunks(wanted):
            found.update(
                self.session.execute(
                    select(column, model.id).where(column.in_(chunk))  # type: ignore[attr-defined]
                ).all()
            )
        return found

    def existing(
        self, model: type[Base], key: Sequence[str], keys: pl.DataFrame, columns: Sequence[str]
    ) -> pl.DataFrame:
        """Existing rows (``id`` + ``columns``) whose natural key is in ``keys``.

        The result has the dtypes of the same columns in ``keys`` (the file's frame), so
        that it joins and compares with it even when nothing is found.
        """
        key_columns = [getattr(model, k) for k in key]
        selected = [model.id, *key_columns, *(getattr(model, c) for c in columns)]  # type: ignore[attr-defined]
        names = ["id", *key, *columns]
        rows: list[tuple[Any, ...]] = []
        key_rows = keys.select(key).unique().rows()
        for chunk in _chunks(key_rows):
            condition = (
                key_columns[0].in_([k[0] for k in chunk])
                if len(key) == 1
                else tuple_(*key_columns).in_(chunk)
            )
            rows.extend(self.session.execute(select(*selected).where(condition)))
        plain = [tuple(v.value if isinstance(v, Enum) else v for v in row) for row in rows]
        schema = pl.Schema({"id": pl.Int64(), **{n: keys.schema[n] for n in names[1:]}})
        return pl.DataFrame(plain, schema=schema, orient="row", strict=False)

    def bulk_insert(self, model: type[Base], rows: list[dict[str, Any]]) -> None:
        """Insert rows in chunks (Core inserts: no per-row ORM bookkeeping)."""
        table = model.__table__
        for chunk in _chunks(rows):
            self.session.execute(insert(table), list(chunk))  # type: ignore[arg-type]

    def max_id(self, model: type[Base]) -> int:
        """Largest id in use (0 for an empty table)."""
        return self.session.scalar(select(func.max(model.id))) or 0  # type: ignore[attr-defined]

    def keys_after(
        self, model: type[Base], key: Sequence[str], after_id: int, like: pl.DataFrame
    ) -> pl.DataFrame:
        """``id`` and natural key of rows inserted after ``after_id``."""
        columns = [model.id, *(getattr(model, k) for k in key)]  # type: ignore[attr-defined]
        rows = self.session.execute(select(*columns).where(columns[0] > after_id)).all()
        schema = pl.Schema({"id": pl.Int64(), **{k: like.schema[k] for k in key}})
        return pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row", strict=False)

    def bulk_update(self, model: type[Base], rows: list[dict[str, Any]]) -> None:
        """Update rows by primary key (each dict holds ``id``)."""
        for chunk in _chunks(rows):
            self.session.execute(update(model), list(chunk))

    def open_installations(
        self, *, meter_ids: Iterable[int] = (), service_point_ids: Iterable[int] = ()
    ) -> list[tuple[int, int, str]]:
        """Open installations of these meters or service points: (meter_id, sp_id, sp_number)."""
        found: list[tuple[int, int, str]] = []
        base = (
            select(
                Installation.meter_id,
                Installation.service_point_id,
                ServicePoint.service_point_number,
            )
            .join(ServicePoint, ServicePoint.id == Installation.service_point_id)
            .where(Installation.removed_at_utc.is_(None))
        )
        for column, values in (
            (Installation.meter_id, sorted(set(meter_ids))),
            (Installation.service_point_id, sorted(set(service_point_ids))),
        ):
            for chunk in _chunks(values):
                found.extend(self.session.execute(base.where(column.in_(chunk))))
        return found

    def exchange_recorded(
        self, service_point_id: int, removed_id: int, installed_id: int, at: dt.datetime
    ) -> bool:
        """Whether this exchange is already in the installation history.

        Args:
            service_point_id: Where.
            removed_id: Meter taken out (its installation there ended at ``at``).
            installed_id: Meter put in (its installation there began at ``at``).
            at: Exchange time. [UTC]
        """
        here = Installation.service_point_id == service_point_id
        removed = select(Installation.id).where(
            here, Installation.meter_id == removed_id, Installation.removed_at_utc == at
        )
        installed = select(Installation.id).where(
            here, Installation.meter_id == installed_id, Installation.installed_at_utc == at
        )
        return (
            self.session.scalar(removed.limit(1)) is not None
            and self.session.scalar(installed.limit(1)) is not None
        )

    def set_multiplier(self, meter_id: int, multiplier: float) -> None:
        """Record a meter's multiplier: its CT ratio becomes ``multiplier`` ÷ its PT ratio."""
        self.session.execute(
            update(Meter)
            .where(Meter.id == meter_id)
            .values(ct_ratio=multiplier / Meter.pt_ratio)
            .execution_options(synchronize_session="fetch")
        )

    def meter_exchanges(self, *, start_utc: dt.datetime, end_utc: dt.datetime) -> pl.DataFrame:
        """Meter exchanges in ``[start_utc, end_utc)`` from the installation history.

        An exchange is an installation that began when another installation at the same
        service point ended. Multipliers are each meter's ``ct_ratio × pt_ratio`` as recorded.

        Returns:
            The ``diagnostics.detect.multiplier.EXCHANGES`` columns, in time order.
        """
        new, old = aliased(Installation), aliased(Installation)
        new_meter, old_meter = aliased(Meter), aliased(Meter)
        rows = self.session.execute(
            select(
                ServicePoint.service_point_number,
                old.meter_id,
                old_meter.serial_number,
                new.meter_id,
                new_meter.serial_number,
                new.installed_at_utc,
                old_meter.ct_ratio * old_meter.pt_ratio,
                new_meter.ct_ratio * new_meter.pt_ratio,
            )
            .join(
                old,
                (old.service_point_id == new.service_point_id)
                & (old.removed_at_utc == new.installed_at_utc),
            )
            .join(ServicePoint, ServicePoint.id == new.service_point_id)
            .join(new_meter, new_meter.id == new.meter_id)
            .join(old_meter, old_meter.id == old.meter_id)
            .where(new.installed_at_utc >= start_utc, new.installed_at_utc < end_utc)
            .order_by(new.installed_at_utc, ServicePoint.service_point_number)
        ).all()
        utc = pl.Datetime("us", "UTC")
        schema: dict[str, pl.DataType | type[pl.DataType]] = {
            "service_point_number": pl.String,
            "removed_meter_id": pl.Int64,
            "removed_serial": pl.String,
            "installed_meter_id": pl.Int64,
            "installed_serial": pl.String,
            "exchanged_at_utc": utc,
            "removed_multiplier": pl.Float64,
            "installed_multiplier": pl.Float64,
        }
        moments = [r[5] if r[5].tzinfo else r[5].replace(tzinfo=dt.UTC) for r in rows]
        data = [(*r[:5], m, float(r[6]), float(r[7])) for r, m in zip(rows, moments, strict=True)]
        return pl.DataFrame(data, schema=schema, orient="row")

    def compatible_forms(self, service_point_ids: Iterable[int]) -> dict[int, list[str]]:
        """Forms each service point's socket takes."""
        result: dict[int, list[str]] = {}
        for chunk in _chunks(sorted(set(service_point_ids))):
            result.update(
                self.session.execute(
                    select(ServicePoint.id, ServicePoint.compatible_forms).where(
                        ServicePoint.id.in_(chunk)
                    )
                ).all()
            )
        return result

    def meter_statuses(self, meter_ids: Iterable[int]) -> dict[int, AssetStatus]:
        """Lifecycle status of each meter."""
        result: dict[int, AssetStatus] = {}
        for chunk in _chunks(sorted(set(meter_ids))):
            result.update(
                self.session.execute(
                    select(Meter.id, Meter.lifecycle_status).where(Meter.id.in_(chunk))
                ).all()
            )
        return result

    def open_module_links(self) -> dict[int, int]:
        """Module id → meter id of every open module link."""
        return dict(
            self.session.execute(
                select(CommModuleLink.comm_module_id, CommModuleLink.meter_id).where(
                    CommModuleLink.unlinked_at_utc.is_(None)
                )
            ).all()
        )
