"""A simulated territory in a real read store, for the executor tests.

Three days of a small town from :mod:`meterops.simulator`, written as head-end CSV files and
ingested through :func:`meterops.ingest.service.ingest_files` (the real path), then one VEE
run in this process whose flags and half of whose estimates are written back (so the store
holds raw rows, versions and flags), plus one appended but never committed file (invisible
rows).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl

from meterops.ingest.formats.headend_csv import write_headend_csv
from meterops.ingest.service import IngestOptions
from meterops.reads.store import ReadStore, Table
from meterops.scale import InProcessExecutor, ReadWindow, plan_groups
from meterops.simulator import simulate_days, small_town
from meterops.vee.batch import VeeJob, store_rows
from meterops.vee.context import RunWindow, VeeContext
from meterops.vee.suites import default_suite
from tests.reads.world import world

ZONE = "America/Chicago"
FIRST_DAY = dt.date(2026, 7, 1)
DAYS = 3
METERS = 24
INVISIBLE_FILE_ID = 987_654


@dataclass(frozen=True)
class Territory:
    """The store, the read window and a VEE job over the last two days."""

    store: ReadStore
    window: ReadWindow
    job: VeeJob
    meter_rows: pl.DataFrame


def _utc(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=ZoneInfo(ZONE)).astimezone(dt.UTC)


def _gaps(reads: pl.DataFrame, serials: list[str]) -> pl.DataFrame:
    """Reads the head-end never got: a 1-hour and a 3-hour hole a day for some meters."""
    hour = pl.col("interval_start_utc").dt.hour()
    hole = pl.col("serial_number").is_in(serials) & (
        (pl.col("channel") == "kwh_delivered") & ((hour == 10) | hour.is_between(14, 16))
    )
    return reads.filter(~hole)


def build(folder: Path) -> Territory:
    """Simulate, ingest, validate once and write the VEE results back (see module docstring)."""
    result = simulate_days(small_town(seed=11, service_points=METERS), days=DAYS)
    with world(folder) as w:
        serials = (
            pl.concat([d.interval_reads["serial_number"] for d in result.days]).unique().to_list()
        )
        w.add_meters(serials)
        gappy = sorted(serials)[::4]
        paths = [
            w.write(
                f"reads_{d.day}.csv",
                write_headend_csv(_gaps(d.interval_reads, gappy), kind="interval_reads"),
            )
            for d in result.days
        ]
        now = _utc(FIRST_DAY + dt.timedelta(days=DAYS + 1))
        reports = w.ingest(*paths, now=now, options=IngestOptions(zone=ZoneInfo(ZONE)))
        assert all(r.counts.accepted > 0 for r in reports)
        store = w.store
    start, end = _utc(FIRST_DAY), _utc(FIRST_DAY + dt.timedelta(days=DAYS))
    window = ReadWindow(store.uri, start, end)
    job = VeeJob(
        default_suite(),
        RunWindow(FIRST_DAY + dt.timedelta(days=1), FIRST_DAY + dt.timedelta(days=DAYS - 1), ZONE),
        VeeContext(),
    )
    everyone = store.current_interval_reads(start_utc=start, end_utc=end)
    meter_rows = everyone.group_by("meter_id").agg(pl.len().cast(pl.Int64).alias("rows"))
    # One VEE pass written back: the store now holds versions and flags too.
    rows = pl.concat(
        InProcessExecutor().map_groups(job, window, plan_groups(meter_rows, target_rows=10**9))
    )
    latest = store.latest_versions(start_utc=start, end_utc=end)
    flags, versions = store_rows(rows, latest_versions=latest)
    assert flags.height, "the simulated faults must give flags"
    assert versions.height, "the gaps must give estimates"
    # Estimates of the first half of the meters only: the others are estimated again by every
    # later run, so outputs compared across executors hold estimate rows too.
    half = versions["meter_id"].unique().sort()
    versions = versions.filter(pl.col("meter_id") <= half[(half.len() - 1) // 2])
    store.write_versions(versions, now=now + dt.timedelta(hours=1))
    store.write_flags(flags, now=now + dt.timedelta(hours=1))
    # Rows of a file whose ingest died before its commit marker: never visible.
    ghost = (
        everyone.filter(pl.col("meter_id") == everyone["meter_id"].min())
        .head(8)
        .select(
            "meter_id",
            "channel",
            "interval_start_utc",
            "interval_s",
            (pl.col("value") + 1000.0).alias("value"),
            "quality_flags",
            "source_quality",
            (pl.col("source_version").fill_null(0) + 5).alias("source_version"),
            pl.lit(INVISIBLE_FILE_ID, pl.Int64).alias("source_file_id"),
            pl.lit(now + dt.timedelta(hours=2)).dt.cast_time_unit("us").alias("received_at_utc"),
        )
    )
    store.append_rows(Table.INTERVAL_READS, ghost, source_file_id=INVISIBLE_FILE_ID)
    return Territory(store, window, job, meter_rows)
