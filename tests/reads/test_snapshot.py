"""A read-store snapshot: pinned Delta versions, the same answers as the store, as of exactly.

The store below has what a real one holds in a few meters: two files a day (the second late,
with a higher source version superseding one read), an appended file without a commit marker,
estimate versions and sparse flag rows written at two moments, and a second channel on one
meter. A snapshot must answer every query (window, meters as list or range, channels, columns,
``as_of_utc``) exactly as the store does; a commit made after it (raw file, versions, flags)
must not be seen. The raw-only fast path of the current view must equal the reference rule.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from meterops.reads import _current
from meterops.reads.schema import INTERVAL_READS
from meterops.reads.store import FileCommit, ReadStore, Table
from tests.reads.world import DAY, flag_rows, quarter, raw_rows, version_rows

_SPIKE = 2048
_FIRST_ARRIVAL = DAY + dt.timedelta(days=1)
_VERSIONS_AT = DAY + dt.timedelta(days=2)
_FLAGS_AT = DAY + dt.timedelta(days=3)
_LATE_AT = DAY + dt.timedelta(days=4)


def _commit(store: ReadStore, source_file_id: int, at: dt.datetime) -> None:
    store.commit_file(
        FileCommit(source_file_id, f"sha{source_file_id}", f"f{source_file_id}", "x", at, {})
    )


def _ingest(store: ReadStore, frame: pl.DataFrame, source_file_id: int) -> None:
    store.append_rows(Table.INTERVAL_READS, frame, source_file_id=source_file_id)
    at = frame["received_at_utc"].max()
    assert isinstance(at, dt.datetime)
    _commit(store, source_file_id, at)


def _day_file(
    meters: range, source_file_id: int, *, received: dt.datetime, day: int
) -> pl.DataFrame:
    start = DAY + dt.timedelta(days=day)
    frames = [
        raw_rows(
            m,
            [float(m * 100 + i + day) for i in range(8)],
            source_file_id=source_file_id,
            received=received,
            start=start,
        )
        for m in meters
    ]
    frames.append(
        raw_rows(3, [0.5] * 8, source_file_id=source_file_id, received=received, start=start,
                 channel="kwh_received")
    )  # fmt: skip
    return pl.concat(frames)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> ReadStore:
    store = ReadStore(str(tmp_path_factory.mktemp("snapshot") / "reads"))
    file_id = 0
    for day in range(2):
        file_id += 1
        arrival = _FIRST_ARRIVAL + dt.timedelta(days=day)
        _ingest(store, _day_file(range(1, 7), file_id, received=arrival, day=day), file_id)
    # a late file for meters 7-8, and a higher source version of meter 2's second read
    file_id += 1
    late = pl.concat(
        [
            _day_file(range(7, 9), file_id, received=_LATE_AT, day=0),
            raw_rows(2, [99.0], source_file_id=file_id, received=_LATE_AT,
                     start=quarter(1), source_version=2),
        ]
    )  # fmt: skip
    _ingest(store, late, file_id)
    # appended, never committed: never visible
    orphan = raw_rows(5, [7.0] * 8, source_file_id=99, received=_LATE_AT, start=quarter(96))
    store.append_rows(Table.INTERVAL_READS, orphan, source_file_id=99)
    store.write_versions(version_rows(4, [quarter(2), quarter(3)], [4.5, 4.6]), now=_VERSIONS_AT)
    store.write_versions(
        version_rows(6, [quarter(100)], [6.5], parent_version=None), now=_VERSIONS_AT
    )
    store.write_flags(flag_rows(1, [quarter(0), quarter(5)], flags=_SPIKE, mask=_SPIKE),
                      now=_FLAGS_AT)  # fmt: skip
    store.write_flags(
        flag_rows(4, [quarter(2)], flags=_SPIKE, mask=_SPIKE, version=1), now=_FLAGS_AT
    )
    return store


_MOMENTS = st.sampled_from(
    [None, DAY, _FIRST_ARRIVAL, _VERSIONS_AT, _FLAGS_AT, _LATE_AT, _LATE_AT + dt.timedelta(1)]
)
_METERS = st.one_of(
    st.none(),
    st.builds(lambda a, n: range(a, a + n), st.integers(0, 9), st.integers(0, 6)),
    st.lists(st.integers(0, 9), max_size=5),
)


@given(
    start_q=st.integers(-4, 200),
    length_q=st.integers(1, 200),
    meters=_METERS,
    channels=st.sampled_from([None, ("kwh_delivered",), ("kwh_delivered", "kwh_received")]),
    columns=st.sampled_from([None, ("meter_id", "interval_start_utc", "value"), ("value",)]),
    as_of=_MOMENTS,
)
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_a_snapshot_answers_as_the_store(
    store: ReadStore,
    start_q: int,
    length_q: int,
    meters: range | list[int] | None,
    channels: tuple[str, ...] | None,
    columns: tuple[str, ...] | None,
    as_of: dt.datetime | None,
) -> None:
    snapshot = store.snapshot()
    query = {
        "start_utc": quarter(start_q),
        "end_utc": quarter(start_q + length_q),
        "meter_ids": meters,
        "channels": channels,
        "as_of_utc": as_of,
        "columns": columns,
    }
    expected = store.current_interval_reads(**query)  # type: ignore[arg-type]
    assert_frame_equal(snapshot.current_interval_reads(**query), expected)  # type: ignore[arg-type]


def test_the_fixture_holds_what_the_equality_needs(store: ReadStore) -> None:
    snapshot = store.snapshot()
    whole = snapshot.current_interval_reads(start_utc=DAY, end_utc=quarter(300))
    assert (whole["version"] == 1).sum() == 3  # estimates in
    assert (whole["quality_flags"] & _SPIKE != 0).sum() == 3  # flags merged (one on a version)
    assert whole.filter(pl.col("source_file_id") == 99).is_empty()  # never committed
    second = whole.filter((pl.col("meter_id") == 2) & (pl.col("interval_start_utc") == quarter(1)))
    assert second["value"].to_list() == [99.0]  # the higher source version
    before = snapshot.current_interval_reads(start_utc=DAY, end_utc=quarter(300), as_of_utc=DAY)
    assert before.is_empty()
    assert snapshot.table_versions[Table.INTERVAL_READS] >= 0


def test_a_commit_after_the_snapshot_is_not_seen(tmp_path: Path) -> None:
    store = ReadStore(str(tmp_path / "reads"))
    _ingest(store, _day_file(range(1, 4), 1, received=_FIRST_ARRIVAL, day=0), 1)
    window = {"start_utc": DAY, "end_utc": quarter(96)}
    snapshot = store.snapshot()
    before = snapshot.current_interval_reads(**window)
    pinned = dict(snapshot.table_versions)

    _ingest(store, _day_file(range(4, 6), 2, received=_LATE_AT, day=0), 2)
    store.write_versions(version_rows(1, [quarter(0)], [11.0], parent_version=0), now=_LATE_AT)
    store.write_flags(flag_rows(2, [quarter(0)], flags=_SPIKE, mask=_SPIKE), now=_LATE_AT)

    after = store.current_interval_reads(**window)
    assert after.height > before.height  # the store sees the new file …
    assert_frame_equal(snapshot.current_interval_reads(**window), before)  # … the snapshot not
    assert snapshot.commits()["source_file_id"].to_list() == [1]
    assert snapshot.table_versions == pinned
    assert not snapshot.holds_versions(**window)
    assert_frame_equal(store.snapshot().current_interval_reads(**window), after)


def test_a_snapshot_of_an_empty_store_is_empty(tmp_path: Path) -> None:
    snapshot = ReadStore(str(tmp_path / "reads")).snapshot()
    found = snapshot.current_interval_reads(start_utc=DAY, end_utc=quarter(96))
    assert found.is_empty()
    assert found.schema == INTERVAL_READS.schema
    assert snapshot.meter_ranges(start_utc=DAY, end_utc=quarter(96), rows_per_range=10) == []
    assert set(snapshot.table_versions.values()) == {-1}


def test_holds_versions_is_proved_from_statistics(store: ReadStore) -> None:
    snapshot = store.snapshot()
    day = {"start_utc": DAY, "end_utc": quarter(96)}
    assert snapshot.holds_versions(**day)  # estimates and flags on day 1
    assert snapshot.holds_versions(**day, meter_ids=range(4, 5))
    assert not snapshot.holds_versions(**day, meter_ids=range(7, 9))  # no version or flag file
    # received after the as-of instant: the files are left out by their received_at statistics
    assert not snapshot.holds_versions(**day, as_of_utc=_FIRST_ARRIVAL)
    second = {"start_utc": quarter(97), "end_utc": quarter(192)}
    assert snapshot.holds_versions(**second, meter_ids=[6])
    assert not snapshot.holds_versions(**second, meter_ids=[1, 2])


@pytest.mark.parametrize("rows_per_range", [1, 7, 50, 10_000])
def test_snapshot_meter_ranges_equal_the_store(store: ReadStore, rows_per_range: int) -> None:
    window = {"start_utc": DAY, "end_utc": quarter(200), "rows_per_range": rows_per_range}
    assert store.snapshot().meter_ranges(**window) == store.meter_ranges(**window)


def test_raw_only_windows_equal_the_reference_rule(store: ReadStore) -> None:
    """The fast path (raw rows strictly in key order) and the fallback against the reference."""
    snapshot = store.snapshot()
    # one file, no versions or flags (fast path); flags; two files; a superseded read
    for meters in (range(3, 4), range(5, 6), range(1, 3), range(7, 9), [2, 8]):
        current = snapshot.current_interval_reads(
            start_utc=DAY, end_utc=quarter(96), meter_ids=meters, as_of_utc=_LATE_AT
        )
        raw = (
            pl.scan_delta(f"{store.uri}/{Table.INTERVAL_READS.value}")
            .filter(
                pl.col("meter_id").is_in(list(meters)),
                pl.col("source_file_id") != 99,
                pl.col("interval_start_utc") < quarter(96),
            )
            .with_columns(pl.col("quality_flags").cast(pl.UInt32))
        )
        rows = _current.raw_as_rows(raw)
        reference = _current.as_interval_reads(_current.latest_per_key(rows)).collect()
        flagged = current.filter(pl.col("meter_id") == 1)
        assert_frame_equal(
            current.filter(pl.col("meter_id") != 1), reference.filter(pl.col("meter_id") != 1)
        )
        assert flagged.is_empty() or (flagged["quality_flags"] & _SPIKE != 0).any()


def test_a_key_twice_in_one_file_is_resolved_by_the_rule(tmp_path: Path) -> None:
    """A file holding a read and its higher source version: the narrow read falls back."""
    store = ReadStore(str(tmp_path / "reads"))
    both = pl.concat(
        [
            raw_rows(1, [1.0, 2.0, 3.0], source_file_id=1, source_version=1),
            raw_rows(1, [20.0], source_file_id=1, start=quarter(1), source_version=2),
        ]
    )
    _ingest(store, both, 1)
    query = {"start_utc": DAY, "end_utc": quarter(96), "columns": ("interval_start_utc", "value")}
    found = store.snapshot().current_interval_reads(**query)  # type: ignore[arg-type]
    assert found["value"].to_list() == [1.0, 20.0, 3.0]
    assert_frame_equal(found, store.current_interval_reads(**query))  # type: ignore[arg-type]
