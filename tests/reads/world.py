"""A small world for store and ingest tests: a migrated database, meters, a read store, files.

Builders, not fixtures: each test states the meters, times and values it needs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
from sqlalchemy import insert
from sqlalchemy.orm import Session, sessionmaker

from meterops.db.engine import make_engine, make_session_factory, session_scope
from meterops.ingest.formats.cmep import write_cmep
from meterops.ingest.formats.headend_csv import write_headend_csv
from meterops.ingest.service import FileReport, IngestOptions, ingest_files
from meterops.models import Meter
from meterops.reads.schema import (
    INTERVAL_FLAGS,
    INTERVAL_VERSIONS,
    PARSED_INTERVAL_READS,
    UTC_DATETIME,
)
from meterops.reads.store import ReadStore
from tests.conftest import fresh_database

UTC = dt.UTC
CHICAGO = ZoneInfo("America/Chicago")
DAY = dt.datetime(2024, 3, 5, tzinfo=UTC)
"""A UTC day the tests' reads fall on."""
NOW = dt.datetime(2024, 3, 7, 12, 0, tzinfo=UTC)
"""The default arrival time: two days after DAY."""


@dataclass
class World:
    """A migrated database, a session factory and an empty read store in a scratch folder."""

    sessions: sessionmaker[Session]
    store: ReadStore
    folder: Path
    database_url: str

    def add_meters(self, serials: Iterable[str]) -> dict[str, int]:
        """Insert meters (one statement) and return serial → meter id."""
        rows = [
            {
                "serial_number": s,
                "vendor": "Itron",
                "model": "Centron",
                "form": "2S",
                "meter_class": "CL200",
                "accuracy_class": "0.5",
            }
            for s in serials
        ]
        with session_scope(self.sessions) as session:
            session.execute(insert(Meter), rows)
            found = session.query(Meter.serial_number, Meter.id).all()
        return {str(serial): int(id_) for serial, id_ in found}

    def write(self, name: str, data: bytes) -> Path:
        path = self.folder / name
        path.write_bytes(data)
        return path

    def ingest(
        self,
        *paths: Path,
        now: dt.datetime = NOW,
        options: IngestOptions | None = None,
    ) -> list[FileReport]:
        return ingest_files(
            self.sessions,
            self.store,
            list(paths),
            options=options or IngestOptions(zone=CHICAGO),
            clock=lambda: now,
        )


@contextmanager
def world(folder: Path) -> Iterator[World]:
    """A fresh world on the active database backend."""
    folder.mkdir(parents=True, exist_ok=True)
    with fresh_database(folder) as url:
        engine = make_engine(url)
        try:
            yield World(make_session_factory(engine), ReadStore(str(folder / "reads")), folder, url)
        finally:
            engine.dispose()


@contextmanager
def cli(w: World, monkeypatch: Any) -> Iterator[Callable[..., tuple[int, str]]]:
    """Run ``meterops ingest`` and ``meterops reads`` (as the lead mounts them) on ``w``.

    Yields ``run("ingest", path, …) -> (exit code, output)``.
    """
    import typer
    from typer.testing import CliRunner

    from meterops.cli import context
    from meterops.ingest import cli as ingest_cli
    from meterops.reads import cli as reads_cli

    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """Test root."""

    ingest_cli.register(app)
    app.add_typer(reads_cli.app, name="reads")
    monkeypatch.setenv("METEROPS_DATABASE_URL", w.database_url)
    monkeypatch.setenv("METEROPS_READS_URI", w.store.uri)
    monkeypatch.setenv("METEROPS_UTILITY_TIMEZONE", "America/Chicago")
    monkeypatch.setenv("COLUMNS", "200")
    context.settings.cache_clear()
    context.engine.cache_clear()

    def invoke(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(app, list(args))
        return result.exit_code, result.output

    try:
        yield invoke
    finally:
        context.engine().dispose()
        context.settings.cache_clear()
        context.engine.cache_clear()


def yesterday_file(w: World, name: str, serials: list[str]) -> tuple[Path, dt.date]:
    """A head-end CSV with four quarter-hours of yesterday (utility time) for ``serials``."""
    from meterops.timeutil import utc_now

    day = (utc_now().astimezone(CHICAGO) - dt.timedelta(days=1)).date()
    start = dt.datetime.combine(day, dt.time(), tzinfo=CHICAGO).astimezone(UTC)
    return w.write(name, csv_bytes(interval_frame(serials, start=start, intervals=4))), day


def interval_frame(
    serials: Sequence[str],
    *,
    start: dt.datetime = DAY,
    intervals: int = 96,
    interval_s: int = 900,
    value: float | None = None,
    channel: str = "kwh_delivered",
) -> pl.DataFrame:
    """``PARSED_INTERVAL_READS`` rows: ``intervals`` consecutive reads per meter.

    Values depend only on the serial and the instant (so overlapping frames agree), unless
    ``value`` fixes them.
    """
    rows = [
        {
            "serial_number": serial,
            "channel": channel,
            "interval_start_utc": start + dt.timedelta(seconds=i * interval_s),
            "interval_s": interval_s,
            "value": value if value is not None else _value(serial, start, i * interval_s),
            "quality_flags": 0,
            "source_quality": None,
            "source_line": m + 2,
        }
        for m, serial in enumerate(serials)
        for i in range(intervals)
    ]
    return pl.DataFrame(rows, schema=PARSED_INTERVAL_READS.schema)


def _value(serial: str, start: dt.datetime, offset_s: int) -> float:
    quarter_hours = int((start - DAY).total_seconds() + offset_s) // 900
    return round(sum(map(ord, serial)) % 7 + 1 + (quarter_hours % 997) / 1000, 3)


def csv_bytes(frame: pl.DataFrame, kind: str = "interval_reads") -> bytes:
    """A head-end CSV file of ``frame``."""
    return write_headend_csv(frame, kind=kind)


def cmep_bytes(frame: pl.DataFrame, *, zone: ZoneInfo = CHICAGO) -> bytes:
    """A CMEP file of ``frame`` (stamps in ``zone``)."""
    return write_cmep(frame, sender_id="TEST", zone=zone, created_at=NOW)


def raw_rows(
    meter_id: int,
    values: Sequence[float],
    *,
    source_file_id: int,
    received: dt.datetime = NOW,
    start: dt.datetime = DAY,
    channel: str = "kwh_delivered",
    source_version: int | None = None,
) -> pl.DataFrame:
    """Raw interval rows as ingest appends them (consecutive quarter-hours from ``start``)."""
    n = len(values)
    return pl.DataFrame(
        {
            "meter_id": [meter_id] * n,
            "channel": [channel] * n,
            "interval_start_utc": [start + dt.timedelta(minutes=15 * i) for i in range(n)],
            "interval_s": [900] * n,
            "value": list(values),
            "quality_flags": [0] * n,
            "source_quality": [None] * n,
            "source_version": [source_version] * n,
            "source_file_id": [source_file_id] * n,
            "received_at_utc": [received] * n,
        },
        schema={
            "meter_id": pl.Int64,
            "channel": pl.String,
            "interval_start_utc": UTC_DATETIME,
            "interval_s": pl.Int32,
            "value": pl.Float64,
            "quality_flags": pl.UInt32,
            "source_quality": pl.String,
            "source_version": pl.Int64,
            "source_file_id": pl.Int64,
            "received_at_utc": UTC_DATETIME,
        },
    )


def version_rows(
    meter_id: int,
    starts: Sequence[dt.datetime],
    values: Sequence[float],
    *,
    version: int = 1,
    parent_version: int | None = 0,
    kind: str = "estimate",
    reason_code: str | None = "missing_read",
    channel: str = "kwh_delivered",
    quality_flags: int = 0,
) -> pl.DataFrame:
    """``INTERVAL_VERSIONS`` rows for one meter."""
    n = len(starts)
    return pl.DataFrame(
        {
            "meter_id": [meter_id] * n,
            "channel": [channel] * n,
            "interval_start_utc": list(starts),
            "interval_s": [900] * n,
            "value": list(values),
            "quality_flags": [quality_flags] * n,
            "version": [version] * n,
            "version_kind": [kind] * n,
            "method": ["linear_interpolation"] * n,
            "reason_code": [reason_code] * n,
            "actor": ["vee.estimate@1"] * n,
            "parent_version": [parent_version] * n,
        },
        schema=INTERVAL_VERSIONS.schema,
    )


def flag_rows(
    meter_id: int,
    starts: Sequence[dt.datetime],
    *,
    flags: int,
    mask: int,
    version: int = 0,
    channel: str = "kwh_delivered",
) -> pl.DataFrame:
    """``INTERVAL_FLAGS`` rows for one meter."""
    n = len(starts)
    return pl.DataFrame(
        {
            "meter_id": [meter_id] * n,
            "channel": [channel] * n,
            "interval_start_utc": list(starts),
            "version": [version] * n,
            "quality_flags": [flags] * n,
            "flag_mask": [mask] * n,
            "actor": ["vee.rule@1"] * n,
        },
        schema=INTERVAL_FLAGS.schema,
    )


def quarter(n: int, start: dt.datetime = DAY) -> dt.datetime:
    """The start of the ``n``-th quarter-hour after ``start``."""
    return start + dt.timedelta(minutes=15 * n)


__all__ = [
    "CHICAGO",
    "DAY",
    "NOW",
    "UTC",
    "UTC_DATETIME",
    "World",
    "cli",
    "cmep_bytes",
    "csv_bytes",
    "flag_rows",
    "interval_frame",
    "quarter",
    "raw_rows",
    "version_rows",
    "world",
    "yesterday_file",
]
