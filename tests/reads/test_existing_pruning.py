"""``ReadStore.existing`` skips the scan when no committed file's statistics meet the window.

Property: for random stores (files of random meters, days and source file ids, some never
committed) and random windows, ``existing`` equals a full scan of the table filtered by the
window and the commit markers (the reference), whether or not the statistics check skips it.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from meterops.reads.store import FileCommit, ReadStore, Table
from tests.reads.world import DAY, NOW, raw_rows

_FILE = st.tuples(
    st.integers(1, 6),  # source file id
    st.integers(1, 9),  # meter id
    st.integers(-2, 2),  # day offset
    st.integers(0, 95),  # first quarter-hour
    st.integers(1, 8),  # reads
)


def _reference(
    store: ReadStore, start: dt.datetime, end: dt.datetime, ids: list[int]
) -> pl.DataFrame:
    committed = store.commits()["source_file_id"]
    return (
        store._lake.scan(Table.INTERVAL_READS)
        .filter(
            (pl.col("interval_start_utc") >= start)
            & (pl.col("interval_start_utc") < end)
            & pl.col("meter_id").is_in(ids)
            & pl.col("source_file_id").is_in(committed.implode())
        )
        .collect()
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    files=st.lists(_FILE, min_size=0, max_size=6),
    committed=st.sets(st.integers(1, 6)),
    window=st.tuples(st.integers(-3, 3), st.integers(1, 3)),
    ids=st.lists(st.integers(1, 9), min_size=1, max_size=4, unique=True),
)
def test_existing_equals_a_full_scan_of_committed_rows(
    files: list[tuple[int, int, int, int, int]],
    committed: set[int],
    window: tuple[int, int],
    ids: list[int],
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        store = ReadStore(str(Path(folder) / "reads"))
        seen: set[tuple[int, dt.datetime]] = set()
        for file_id, meter, day, first, count in files:
            start = DAY + dt.timedelta(days=day, minutes=15 * first)
            rows = raw_rows(meter, [float(i) for i in range(count)], source_file_id=file_id,
                            start=start)  # fmt: skip
            # one row per key across the store (as ingest guarantees)
            keep = [(meter, t) not in seen for t in rows["interval_start_utc"].to_list()]
            rows = rows.filter(pl.Series(keep))
            seen |= {(meter, t) for t in rows["interval_start_utc"].to_list()}
            if rows.height:
                store.append_rows(Table.INTERVAL_READS, rows, source_file_id=file_id)
        for file_id in sorted(committed):
            store.commit_file(FileCommit(file_id, f"h{file_id}", f"f{file_id}", "x", NOW, {}))
        start = DAY + dt.timedelta(days=window[0])
        end = start + dt.timedelta(days=window[1])
        got = store.existing(Table.INTERVAL_READS, start_utc=start, end_utc=end, ids=pl.Series(ids))
        want = _reference(store, start, end, ids)
        key = ["meter_id", "channel", "interval_start_utc"]
        assert_frame_equal(got.sort(key), want.select(got.columns).sort(key), check_dtypes=True)
