"""VEE over a partition in bounded batches stores exactly what one unbatched run stores.

Two identical read stores get the same files; one is validated the unbatched way (the whole
window's current view read at once, ``latest_versions`` over the window, one write of flags
and one of versions), the other by :func:`meterops.vee.stream.run_partition` with a random
batch size. Two runs each, with a second file in between that brings late actual reads for
estimated intervals, new meters and more gaps, so the second run numbers versions above stored
ones, re-validates superseding reads and clears or sets flags. The stored versions, flags and
current view must be identical, row for row.
"""

from __future__ import annotations

import datetime as dt
import itertools
import tempfile
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meterops.reads.store import FileCommit, ReadStore, Table
from meterops.vee.batch import VeeJob, report_from_rows, store_rows
from meterops.vee.context import VEE_INPUT, VeeContext
from meterops.vee.stream import run_partition
from meterops.vee.suites import default_suite
from tests.vee.frames import DAY, days_frame, slots, window

_RUN = window(DAY)
_START, _END = _RUN.bounds_utc
_RECEIVED = _END + dt.timedelta(hours=6)
_KEY = ["meter_id", "channel", "interval_start_utc", "version"]
_CHANNELS = ("kwh_delivered", "voltage_v")


def _raw(
    rng: np.random.Generator, meters: list[int], source_file_id: int, received: dt.datetime
) -> pl.DataFrame:
    """Raw rows of the day for ``meters``: nulls, absent runs (short and long), spikes."""
    times = slots(DAY)
    frames = []
    for meter in meters:
        for channel in _CHANNELS[: int(rng.integers(1, 3))]:
            n = len(times)
            base = 240.0 if channel == "voltage_v" else 0.5
            values = np.round(base + rng.gamma(2.0, 0.2, n), 3)
            values[rng.random(n) < 0.03] *= 30.0
            keep = np.ones(n, np.bool_)
            for _ in range(int(rng.integers(0, 3))):
                at = int(rng.integers(0, n))
                keep[at : at + int(rng.integers(1, 14))] = False
            nulls = rng.random(n) < 0.05
            frames.append(
                pl.DataFrame(
                    {
                        "meter_id": meter,
                        "channel": channel,
                        "interval_start_utc": times,
                        "interval_s": 900,
                        "value": [
                            None if z else float(v) for v, z in zip(values, nulls, strict=True)
                        ],
                    }
                ).filter(pl.Series(keep))
            )
    return _stored(pl.concat(frames), source_file_id, received)


def _stored(frame: pl.DataFrame, source_file_id: int, received: dt.datetime) -> pl.DataFrame:
    return frame.select(
        pl.col("meter_id").cast(pl.Int64),
        "channel",
        pl.col("interval_start_utc").cast(pl.Datetime("us", "UTC")),
        pl.col("interval_s").cast(pl.Int32),
        pl.col("value").cast(pl.Float64),
        pl.lit(0, pl.UInt32).alias("quality_flags"),
        pl.lit(None, pl.String).alias("source_quality"),
        pl.lit(None, pl.Int64).alias("source_version"),
        pl.lit(source_file_id, pl.Int64).alias("source_file_id"),
        pl.lit(received).dt.cast_time_unit("us").alias("received_at_utc"),
    )


def _ingest(store: ReadStore, raw: pl.DataFrame, source_file_id: int, at: dt.datetime) -> None:
    store.append_rows(Table.INTERVAL_READS, raw, source_file_id=source_file_id)
    store.commit_file(
        FileCommit(source_file_id, f"h{source_file_id}", "f.csv", "headend_csv", at, {})
    )


def _unbatched(store: ReadStore, job: VeeJob, now: dt.datetime) -> pl.DataFrame:
    """The whole window at once: the reference the batched path must equal."""
    current = store.current_interval_reads(start_utc=_START, end_utc=_END)
    rows = job(current.select(VEE_INPUT.names))
    latest = store.latest_versions(start_utc=_START, end_utc=_END)
    flags, versions = store_rows(rows, latest_versions=latest)
    if not flags.is_empty():
        store.write_flags(flags, now=now)
    if not versions.is_empty():
        store.write_versions(versions, now=now)
    return rows


def _table(store: ReadStore, table: Table) -> pl.DataFrame:
    return store._lake.scan(table).collect().sort(_KEY)


def _report(rows: pl.DataFrame) -> object:
    return report_from_rows(rows, default_suite())


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    seed=st.integers(0, 2**32 - 1),
    meters=st.lists(st.integers(1, 400), min_size=1, max_size=10, unique=True),
    more=st.lists(st.integers(1, 400), min_size=0, max_size=4, unique=True),
    rows_per_batch=st.integers(1, 800),
    prefetch=st.booleans(),
)
def test_batched_stores_what_unbatched_stores(
    seed: int, meters: list[int], more: list[int], rows_per_batch: int, prefetch: bool
) -> None:
    rng = np.random.default_rng(seed)
    first = _raw(rng, sorted(meters), 1, _END)
    inactive = [m for m in meters if m % 3 == 0]
    context = VeeContext(
        days=days_frame(
            [{"meter_id": m, "local_date": DAY, "active_account": False} for m in inactive]
        )
    )
    job = VeeJob(default_suite(), _RUN, context)
    with tempfile.TemporaryDirectory() as folder:
        whole, batched = ReadStore(str(Path(folder, "a"))), ReadStore(str(Path(folder, "b")))
        for store in (whole, batched):
            _ingest(store, first, 1, _END)
        rows_a = _unbatched(whole, job, _RECEIVED)
        run_b = run_partition(
            batched,
            job,
            start_utc=_START,
            now=_RECEIVED,
            rows_per_batch=rows_per_batch,
            prefetch=prefetch,
        )
        assert _report(rows_a) == _report(run_b.report_rows)
        # A second file: late actual reads for some estimated keys, new meters, more gaps.
        estimated = (
            whole._lake.scan(Table.INTERVAL_VERSIONS)
            .select("meter_id", "channel", "interval_start_utc", "interval_s")
            .collect()
        )
        late = estimated.filter(pl.Series(rng.random(estimated.height) < 0.5)).with_columns(
            pl.lit(1.5).alias("value")
        )
        new_meters = sorted(set(more) - set(meters))
        second = _raw(rng, new_meters, 2, _RECEIVED) if new_meters else None
        parts = [_stored(late, 2, _RECEIVED)] + ([second] if second is not None else [])
        later = _RECEIVED + dt.timedelta(hours=1)
        for store in (whole, batched):
            _ingest(store, pl.concat(parts), 2, later)
        now = later + dt.timedelta(hours=1)
        rows_a = _unbatched(whole, job, now)
        run_b = run_partition(
            batched,
            job,
            start_utc=_START,
            now=now,
            rows_per_batch=rows_per_batch,
            prefetch=prefetch,
        )
        assert _report(rows_a) == _report(run_b.report_rows)
        assert run_b.batches >= 1
        for table in (Table.INTERVAL_VERSIONS, Table.INTERVAL_FLAGS):
            a, b = _table(whole, table), _table(batched, table)
            assert a.height > 0 or table is Table.INTERVAL_FLAGS
            assert a.equals(b), (table, a, b)
        current = [
            s.current_interval_reads(start_utc=_START, end_utc=_END) for s in (whole, batched)
        ]
        assert current[0].equals(current[1])


def test_batches_cover_every_meter_and_bound_the_batch(tmp_path: Path) -> None:
    """Ranges from the log's statistics: disjoint, ascending, every stored meter in one."""
    store = ReadStore(str(tmp_path / "reads"))
    rng = np.random.default_rng(3)
    meters = [2, 5, 9, 40, 41, 77]
    _ingest(store, _raw(rng, meters[:3], 1, _END), 1, _END)
    _ingest(store, _raw(rng, meters[3:], 2, _END), 2, _END)
    ranges = store.meter_ranges(start_utc=_START, end_utc=_END, rows_per_range=150)
    assert len(ranges) > 1
    assert all(r.stop <= s.start for r, s in itertools.pairwise(ranges))
    for meter in meters:
        assert sum(meter in r for r in ranges) == 1
    assert (
        store.meter_ranges(start_utc=_END, end_utc=_END + dt.timedelta(days=1), rows_per_range=150)
        == []
    )


def test_batch_reads_only_the_vee_columns(tmp_path: Path) -> None:
    """A batch read is the current view restricted to a meter range and the VEE columns."""
    store = ReadStore(str(tmp_path / "reads"))
    _ingest(store, _raw(np.random.default_rng(5), [1, 2, 3, 4], 1, _END), 1, _END)
    part = store.current_interval_reads(
        start_utc=_START, end_utc=_END, meter_ids=range(2, 4), columns=VEE_INPUT.names
    )
    full = store.current_interval_reads(start_utc=_START, end_utc=_END)
    assert part.columns == list(VEE_INPUT.names)
    expected = full.filter(pl.col("meter_id").is_between(2, 3)).select(VEE_INPUT.names)
    assert part.equals(expected)
    with pytest.raises(ValueError, match="unknown interval read column"):
        store.current_interval_reads(start_utc=_START, end_utc=_END, columns=["nope"])
