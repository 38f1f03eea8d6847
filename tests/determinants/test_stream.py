"""Determinants streamed from the store in meter-id batches equal one computation over all reads.

A small read store gets what a real one holds: several files per day (one of them late, so a
query's rows are not in key order), reads flagged ``SOURCE_SUSPECT`` (excluded from billing),
estimate versions for gaps, sparse flag rows that set a rule bit and ``SOURCE_SUSPECT`` after
the fact, a received channel on some meters, meters without any read and meters outside the
billing periods. :func:`meterops.determinants.runner.stream_from_store` with random batch
sizes, query windows and read-ahead on or off must give exactly what
:func:`~meterops.determinants.engine.compute_determinants` gives over the whole current view.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from meterops.determinants.engine import DeterminantParams, compute_determinants
from meterops.determinants.frames import BILLING_PERIODS
from meterops.determinants.runner import ENERGY_CHANNELS, stream_from_store
from meterops.reads.schema import INTERVAL_FLAGS, INTERVAL_VERSIONS
from meterops.reads.store import FileCommit, ReadStore, Table
from tests.determinants.frames import ZONE, local, seasonal_schedule

_FIRST = local(2024, 7, 1)
_DAYS = 4
_METERS = 40  # ids 1..40 have reads; 41..44 are billed without any read
_SUSPECT = 4
_ESTIMATED = 16_777_216
_SPIKE = 2048


def _day(rng: np.random.Generator, day: int, meters: np.ndarray, file_id: int) -> pl.DataFrame:
    start = _FIRST + dt.timedelta(days=day)
    times = [start + dt.timedelta(minutes=15 * i) for i in range(96)]
    frames = []
    for meter in meters.tolist():
        for channel in ENERGY_CHANNELS[: 2 if meter % 5 == 0 else 1]:
            keep = rng.random(96) > 0.05  # gaps
            values = np.round(rng.gamma(2.0, 0.3, 96), 3)
            flags = np.where(rng.random(96) < 0.03, _SUSPECT, 0)
            frames.append(
                pl.DataFrame(
                    {
                        "meter_id": meter,
                        "channel": channel,
                        "interval_start_utc": times,
                        "interval_s": 900,
                        "value": values,
                        "quality_flags": flags,
                    }
                ).filter(pl.Series(keep))
            )
    frame = pl.concat(frames)
    return frame.select(
        pl.col("meter_id").cast(pl.Int64),
        "channel",
        pl.col("interval_start_utc").cast(pl.Datetime("us", "UTC")),
        pl.col("interval_s").cast(pl.Int32),
        "value",
        pl.col("quality_flags").cast(pl.UInt32),
        pl.lit(None, pl.String).alias("source_quality"),
        pl.lit(0, pl.Int64).alias("source_version"),
        pl.lit(file_id, pl.Int64).alias("source_file_id"),
        pl.lit(start + dt.timedelta(days=1))
        .cast(pl.Datetime("us", "UTC"))
        .alias("received_at_utc"),
    )


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> ReadStore:
    folder: Path = tmp_path_factory.mktemp("stream")
    store = ReadStore(str(folder / "reads"))
    rng = np.random.default_rng(11)
    file_id = 0
    ids = np.arange(1, _METERS + 1)
    for day in range(_DAYS):
        # two files a day, the second with the odd meters' reads (another sort order in scans)
        for part in (ids[ids % 2 == 0], ids[ids % 2 == 1]):
            file_id += 1
            frame = _day(rng, day, part, file_id)
            store.append_rows(Table.INTERVAL_READS, frame, source_file_id=file_id)
            received = _FIRST + dt.timedelta(days=day + 1)
            counts = {"rows_in_file": frame.height, "accepted": frame.height}
            store.commit_file(
                FileCommit(file_id, f"h{file_id}", f"f{file_id}", "headend_csv", received, counts)
            )
    now = _FIRST + dt.timedelta(days=_DAYS + 1)
    current = store.current_interval_reads(
        start_utc=_FIRST, end_utc=_FIRST + dt.timedelta(days=_DAYS)
    )
    times = pl.datetime_range(
        _FIRST, _FIRST + dt.timedelta(days=_DAYS), "15m", closed="left", eager=True
    ).alias("interval_start_utc")
    grid = pl.DataFrame({"meter_id": ids[::3]}).join(times.to_frame(), how="cross")
    gaps = grid.with_columns(channel=pl.lit("kwh_delivered")).join(
        current, on=["meter_id", "channel", "interval_start_utc"], how="anti"
    )
    estimates = gaps.select(
        "meter_id",
        "channel",
        pl.col("interval_start_utc").cast(pl.Datetime("us", "UTC")),
        pl.lit(900, pl.Int32).alias("interval_s"),
        pl.lit(0.25).alias("value"),
        pl.lit(_ESTIMATED, pl.UInt32).alias("quality_flags"),
        pl.lit(1, pl.Int32).alias("version"),
        pl.lit("estimate").alias("version_kind"),
        pl.lit("linear_interpolation").alias("method"),
        pl.lit("missing").alias("reason_code"),
        pl.lit("test").alias("actor"),
        pl.lit(None, pl.Int32).alias("parent_version"),
    )
    store.write_versions(estimates.select(INTERVAL_VERSIONS.names), now=now)
    flagged = current.filter(pl.col("meter_id") % 7 == 0).gather_every(11)
    flags = flagged.select(
        "meter_id",
        "channel",
        "interval_start_utc",
        pl.col("version").cast(pl.Int32),
        pl.lit(_SPIKE | _SUSPECT, pl.UInt32).alias("quality_flags"),
        pl.lit(_SPIKE | _SUSPECT, pl.UInt32).alias("flag_mask"),
        pl.lit("test").alias("actor"),
    )
    store.write_flags(flags.select(INTERVAL_FLAGS.names), now=now)
    return store


def _periods() -> pl.DataFrame:
    """Meters 3..44 (1 and 2 not billed; 41..44 without reads), two periods for meter 8."""
    ids = list(range(3, 45))
    end = _FIRST + dt.timedelta(days=_DAYS)
    rows = [
        {
            "meter_id": m,
            "account_id": 1000 + m,
            "period_start_utc": _FIRST + dt.timedelta(hours=5 * (m % 3)),
            "period_end_utc": end - dt.timedelta(hours=3 * (m % 2)),
            "schedule_key": "TOU" if m % 2 else None,
            "multiplier": 1.0 + (m % 4),
            "net_metering": m % 10 == 0,
        }
        for m in ids
    ]
    split = _FIRST + dt.timedelta(days=2)
    rows[5]["period_end_utc"] = split  # meter 8: two periods
    rows.append({**rows[5], "period_start_utc": split, "period_end_utc": end})
    return pl.DataFrame(rows, schema=BILLING_PERIODS.schema)


@given(
    rows_per_batch=st.integers(400, 40_000),
    window_hours=st.sampled_from([7, 24, 200]),
    prefetch=st.booleans(),
)
@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_streamed_determinants_equal_one_computation(
    store: ReadStore, rows_per_batch: int, window_hours: int, *, prefetch: bool
) -> None:
    periods = _periods()
    schedules = {"TOU": seasonal_schedule()}
    params = DeterminantParams(zone=ZONE, demand_subinterval_min=None)
    everything = store.current_interval_reads(
        start_utc=_FIRST, end_utc=_FIRST + dt.timedelta(days=_DAYS), channels=ENERGY_CHANNELS
    )
    assert (everything["quality_flags"] & _SPIKE != 0).any()  # flag rows merged
    assert (everything["version"] == 1).any()  # estimates in
    expected = compute_determinants(everything, periods, schedules=schedules, params=params)
    done: list[tuple[int, int]] = []
    streamed = stream_from_store(
        store,
        periods,
        schedules=schedules,
        params=params,
        rows_per_batch=rows_per_batch,
        window_hours=window_hours,
        prefetch=prefetch,
        progress=lambda d, t: done.append((d, t)),
    )
    by = ["meter_id", "period_start_utc"]
    assert_frame_equal(streamed.by_period, expected.by_period.sort(by, maintain_order=True))
    assert_frame_equal(streamed.by_tou, expected.by_tou.sort(by, maintain_order=True))
    assert done[-1] == (42, 42)
    assert expected.by_period.filter(pl.col("meter_id") > _METERS)["intervals"].sum() == 0


def test_a_run_reads_one_snapshot_while_the_store_moves_on(tmp_path: Path) -> None:
    """A file committed between two batches of a run is not seen by the run's later batches."""
    store = ReadStore(str(tmp_path / "reads"))
    rng = np.random.default_rng(5)
    ids = np.arange(1, 21)
    first = _day(rng, 0, ids, 1)
    store.append_rows(Table.INTERVAL_READS, first, source_file_id=1)
    counts = {"rows_in_file": first.height, "accepted": first.height}
    store.commit_file(FileCommit(1, "h1", "f1", "headend_csv", _FIRST, counts))
    end = _FIRST + dt.timedelta(days=1)
    periods = pl.DataFrame(
        [
            {
                "meter_id": m,
                "account_id": 1000 + m,
                "period_start_utc": _FIRST,
                "period_end_utc": end,
                "schedule_key": None,
                "multiplier": 1.0,
                "net_metering": False,
            }
            for m in range(1, 21)
        ],
        schema=BILLING_PERIODS.schema,
    )
    params = DeterminantParams(zone=ZONE, demand_subinterval_min=None)
    before = store.current_interval_reads(start_utc=_FIRST, end_utc=end, channels=ENERGY_CHANNELS)
    expected = compute_determinants(before, periods, schedules={}, params=params)
    # a second file that fills every gap of the day and a new version of one read
    late = (
        pl.DataFrame({"meter_id": ids})
        .join(
            pl.datetime_range(_FIRST, end, "15m", closed="left", eager=True)
            .alias("interval_start_utc")
            .to_frame(),
            how="cross",
        )
        .join(first, on=["meter_id", "interval_start_utc"], how="anti")
        .select(
            pl.col("meter_id").cast(pl.Int64),
            pl.lit("kwh_delivered").alias("channel"),
            pl.col("interval_start_utc").cast(pl.Datetime("us", "UTC")),
            pl.lit(900, pl.Int32).alias("interval_s"),
            pl.lit(5.0).alias("value"),
            pl.lit(0, pl.UInt32).alias("quality_flags"),
            pl.lit(None, pl.String).alias("source_quality"),
            pl.lit(0, pl.Int64).alias("source_version"),
            pl.lit(2, pl.Int64).alias("source_file_id"),
            pl.lit(end).cast(pl.Datetime("us", "UTC")).alias("received_at_utc"),
        )
    )
    assert late.height > 0

    def commit_more(done: int, total: int) -> None:
        if done < total and store.commits().height == 1:  # after the first batch only
            store.append_rows(Table.INTERVAL_READS, late, source_file_id=2)
            store.commit_file(FileCommit(2, "h2", "f2", "headend_csv", end, counts))

    streamed = stream_from_store(
        store, periods, schedules={}, params=params, rows_per_batch=300, progress=commit_more
    )
    assert store.commits().height == 2  # the store moved on during the run …
    by = ["meter_id", "period_start_utc"]
    assert_frame_equal(streamed.by_period, expected.by_period.sort(by, maintain_order=True))
    after = stream_from_store(store, periods, schedules={}, params=params, rows_per_batch=300)
    assert after.by_period["intervals"].sum() > expected.by_period["intervals"].sum()  # … seen
