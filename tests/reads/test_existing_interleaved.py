"""``ReadStore.existing`` while another store appends and commits (as ingest's writer does).

A big file's batches are appended by a writer thread with its own store while the main
thread asks ``existing`` for the committed rows of the next batch's window. The main store
reads the data table's log again only when the commit markers changed since it last read
it (rows of a file are appended before its marker). Property: for random interleavings of
appends (only for files not yet committed, as the protocol has it), commits and checks,
``existing`` of the long-lived store equals a full scan by a freshly opened store of the
rows whose file is committed.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from meterops.reads import _lake
from meterops.reads.store import FileCommit, ReadStore, Table
from tests.reads.world import DAY, NOW, raw_rows

_KEY = ["meter_id", "channel", "interval_start_utc"]
_APPEND = st.tuples(
    st.just("append"),
    st.integers(1, 4),  # source file id
    st.integers(1, 5),  # meter id
    st.integers(-1, 1),  # day offset
    st.integers(1, 6),  # reads
)
_COMMIT = st.tuples(st.just("commit"), st.integers(1, 4))
_CHECK = st.tuples(st.just("check"), st.integers(-2, 1), st.integers(1, 3))
_Op = tuple[str, int] | tuple[str, int, int] | tuple[str, int, int, int, int]


def _reference(folder: str, start: dt.datetime, end: dt.datetime) -> pl.DataFrame:
    fresh = ReadStore(folder)  # no cached handle, actions or markers
    committed = fresh.commits()["source_file_id"]
    if fresh._lake.add_actions(Table.INTERVAL_READS) is None:
        return pl.DataFrame()
    return (
        fresh._lake.scan(Table.INTERVAL_READS)
        .filter(
            (pl.col("interval_start_utc") >= start)
            & (pl.col("interval_start_utc") < end)
            & pl.col("source_file_id").is_in(committed.implode())
        )
        .collect()
    )


def _commit(store: ReadStore, file_id: int) -> None:
    store.commit_file(FileCommit(file_id, f"h{file_id}", f"f{file_id}", "x", NOW, {}))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(st.one_of(_APPEND, _COMMIT, _CHECK), min_size=1, max_size=10))
@example(  # a file committed after the long-lived store last read the table's log
    ops=[
        ("append", 1, 1, -1, 2),
        ("commit", 1),
        ("check", 0, 1),
        ("append", 2, 2, 0, 3),
        ("check", 0, 1),
        ("commit", 2),
        ("check", 0, 1),
    ]
)
def test_existing_of_a_long_lived_store_equals_a_fresh_scan(ops: list[_Op]) -> None:
    with tempfile.TemporaryDirectory() as root:
        folder = str(Path(root) / "reads")
        main, writer = ReadStore(folder), ReadStore(folder)
        committed: set[int] = set()
        next_start: dict[int, dt.datetime] = {}  # one row per key across the store
        for op in [*ops, ("check", -2, 4)]:
            if op[0] == "append" and len(op) == 5:
                _, file_id, meter, day, count = op
                if file_id in committed:
                    continue  # a committed file gets no more rows
                start = DAY + dt.timedelta(days=day)
                start = max(start, next_start.get(meter, start))
                next_start[meter] = start + dt.timedelta(minutes=15 * count)
                rows = raw_rows(meter, [float(i) for i in range(count)], source_file_id=file_id,
                                start=start)  # fmt: skip
                writer.append_rows(Table.INTERVAL_READS, rows, source_file_id=file_id)
            elif op[0] == "commit" and len(op) == 2:
                if op[1] not in committed:
                    _commit(writer, op[1])
                    committed.add(op[1])
            elif len(op) == 3:
                start = DAY + dt.timedelta(days=op[1])
                end = start + dt.timedelta(days=op[2])
                got = main.existing(
                    Table.INTERVAL_READS, start_utc=start, end_utc=end, ids=range(1, 6)
                )
                want = _reference(folder, start, end)
                assert got.height == want.height
                if got.height:
                    assert_frame_equal(
                        got.sort(_KEY), want.select(got.columns).sort(_KEY), check_dtypes=True
                    )


def test_the_data_log_is_read_again_only_when_the_markers_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = str(tmp_path / "reads")
    main, writer = ReadStore(folder), ReadStore(folder)
    reads: list[Table] = []
    add_actions = _lake.Lake.add_actions

    def counted(self: _lake.Lake, table: Table) -> pl.DataFrame | None:
        if self is main._lake and table is Table.INTERVAL_READS:
            reads.append(table)
        return add_actions(self, table)

    monkeypatch.setattr(_lake.Lake, "add_actions", counted)

    def existing() -> list[int]:
        frame = main.existing(
            Table.INTERVAL_READS, start_utc=DAY, end_utc=DAY + dt.timedelta(days=1), ids=[1, 2]
        )
        return sorted(frame["source_file_id"].unique().to_list())

    assert existing() == []  # nothing committed: the table's log is not read
    assert reads == []
    writer.append_rows(Table.INTERVAL_READS, raw_rows(1, [1.0, 2.0], source_file_id=1),
                       source_file_id=1)  # fmt: skip
    _commit(writer, 1)
    assert existing() == [1]
    read_after_first_commit = len(reads)
    assert read_after_first_commit >= 1
    for batch in range(3):  # a file's batches appended while the main store checks
        start = DAY + dt.timedelta(hours=1 + batch)
        writer.append_rows(Table.INTERVAL_READS, raw_rows(2, [3.0], source_file_id=2,
                           start=start), source_file_id=2)  # fmt: skip
        assert existing() == [1]
    assert len(reads) == read_after_first_commit  # markers unchanged: no read of the log
    _commit(writer, 2)
    assert existing() == [1, 2]  # the marker changed: the log is read again, rows seen
    assert len(reads) > read_after_first_commit
