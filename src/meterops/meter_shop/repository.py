"""Every SQL statement of the meter_shop capability; no business rules, never commits."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

import polars as pl
from sqlalchemy import extract, select
from sqlalchemy.orm import Session, selectinload

from meterops.db.repository import RepositoryBase
from meterops.models import Installation, Meter
from meterops.models.meter_shop import (
    AccuracyTestRecord,
    LotSample,
    MeterTestFile,
    MeterTestSet,
    SampleLot,
)

__all__ = ["MeterShopRepository"]


class MeterShopRepository(RepositoryBase[AccuracyTestRecord]):
    """Queries over test records, test sets, test files, lots and samples."""

    model = AccuracyTestRecord

    def __init__(self, session: Session) -> None:
        super().__init__(session)

    def file_by_hash(self, sha256: str) -> MeterTestFile | None:
        """The journal row of a file content, or None."""
        return self.session.scalars(
            select(MeterTestFile).where(MeterTestFile.sha256 == sha256)
        ).one_or_none()

    def meters_by_serial(self, serials: Iterable[str]) -> dict[str, Meter]:
        """Meters whose serial numbers are given, by serial."""
        wanted = sorted(set(serials))
        if not wanted:
            return {}
        rows = self.session.scalars(select(Meter).where(Meter.serial_number.in_(wanted)))
        return {m.serial_number: m for m in rows}

    def meter_by_serial(self, serial: str) -> Meter | None:
        """One meter by serial number."""
        return self.session.scalars(
            select(Meter).where(Meter.serial_number == serial)
        ).one_or_none()

    def test_set(self, serial: str) -> MeterTestSet | None:
        """A test set by serial number."""
        return self.session.scalars(
            select(MeterTestSet).where(MeterTestSet.serial_number == serial)
        ).one_or_none()

    def existing_tests(
        self, keys: Iterable[tuple[int, dt.datetime]]
    ) -> set[tuple[int, dt.datetime]]:
        """Which (meter id, test time) pairs are already stored."""
        keys = list(keys)
        meter_ids = sorted({k[0] for k in keys})
        if not meter_ids:
            return set()
        rows = self.session.execute(
            select(AccuracyTestRecord.meter_id, AccuracyTestRecord.tested_at_utc).where(
                AccuracyTestRecord.meter_id.in_(meter_ids)
            )
        )
        return {(meter_id, tested) for meter_id, tested in rows}

    def tests_of_meter(self, meter_id: int) -> Sequence[AccuracyTestRecord]:
        """A meter's tests, newest first, with points and test set loaded."""
        return self.session.scalars(
            select(AccuracyTestRecord)
            .where(AccuracyTestRecord.meter_id == meter_id)
            .options(
                selectinload(AccuracyTestRecord.points),
                selectinload(AccuracyTestRecord.test_set),
            )
            .order_by(AccuracyTestRecord.tested_at_utc.desc())
        ).all()

    def meters_in_service(self, *, installed_before_utc: dt.datetime) -> pl.DataFrame:
        """Meters with an open installation that began before a time, with the install year."""
        rows = self.session.execute(
            select(
                Meter.id,
                Meter.serial_number,
                Meter.vendor,
                Meter.model,
                Meter.firmware_revision,
                extract("year", Installation.installed_at_utc),
            )
            .join(Installation, Installation.meter_id == Meter.id)
            .where(
                Installation.removed_at_utc.is_(None),
                Installation.installed_at_utc < installed_before_utc,
            )
            .order_by(Meter.id)
        ).all()
        return pl.DataFrame(
            [(*row[:5], int(row[5])) for row in rows],
            schema={
                "meter_id": pl.Int64,
                "serial_number": pl.String,
                "vendor": pl.String,
                "model": pl.String,
                "firmware_revision": pl.String,
                "install_year": pl.Int32,
            },
            orient="row",
        )

    def lots_of_year(self, year: int) -> Sequence[SampleLot]:
        """The lots of a programme year, by lot key."""
        return self.session.scalars(
            select(SampleLot).where(SampleLot.programme_year == year).order_by(SampleLot.lot_key)
        ).all()

    def latest_programme_year(self) -> int | None:
        """The newest programme year with lots."""
        return self.session.scalars(
            select(SampleLot.programme_year).order_by(SampleLot.programme_year.desc()).limit(1)
        ).first()

    def samples_of_lots(self, lot_ids: Sequence[int]) -> list[tuple[int, int, int]]:
        """(lot id, meter id, sample order) of the given lots."""
        if not lot_ids:
            return []
        rows = self.session.execute(
            select(LotSample.lot_id, LotSample.meter_id, LotSample.sample_order)
            .where(LotSample.lot_id.in_(list(lot_ids)))
            .order_by(LotSample.lot_id, LotSample.sample_order)
        )
        return [(lot, meter, order) for lot, meter, order in rows]

    def sample_rows(self, year: int) -> list[tuple[str, int, int, str]]:
        """(lot key, sample order, meter id, serial) of a programme year's samples."""
        rows = self.session.execute(
            select(SampleLot.lot_key, LotSample.sample_order, Meter.id, Meter.serial_number)
            .join(LotSample, LotSample.lot_id == SampleLot.id)
            .join(Meter, Meter.id == LotSample.meter_id)
            .where(SampleLot.programme_year == year)
            .order_by(SampleLot.lot_key, LotSample.sample_order)
        )
        return [(key, order, meter_id, serial) for key, order, meter_id, serial in rows]

    def first_as_found_since(
        self, meter_ids: Sequence[int], since_utc: dt.datetime
    ) -> dict[int, float]:
        """Each meter's as-found average of its first test at or after a time."""
        if not meter_ids:
            return {}
        rows = self.session.execute(
            select(
                AccuracyTestRecord.meter_id,
                AccuracyTestRecord.as_found_average_pct,
            )
            .where(
                AccuracyTestRecord.meter_id.in_(list(meter_ids)),
                AccuracyTestRecord.tested_at_utc >= since_utc,
                AccuracyTestRecord.as_found_average_pct.is_not(None),
            )
            .order_by(AccuracyTestRecord.meter_id, AccuracyTestRecord.tested_at_utc)
        )
        first: dict[int, float] = {}
        for meter_id, value in rows:
            if meter_id not in first and value is not None:
                first[meter_id] = value
        return first
