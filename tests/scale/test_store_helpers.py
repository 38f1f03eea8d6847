"""The read store's helpers for engines that read its Parquet files themselves (Spark).

Reading the files of ``table_files`` with Polars, keeping raw rows of committed files and
applying ``current_from_rows`` must give exactly ``current_interval_reads``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
from polars.testing import assert_frame_equal

from meterops.reads.schema import INTERVAL_READS
from meterops.reads.store import ReadStore, Table, current_from_rows, stored_schema
from tests.scale.territory import INVISIBLE_FILE_ID, Territory


def _files(store: ReadStore, table: Table) -> pl.DataFrame:
    files = store.table_files(table)
    assert files, f"{table} has no files"
    return pl.concat([pl.read_parquet(f) for f in files])


def _in_window(frame: pl.DataFrame, territory: Territory) -> pl.DataFrame:
    t = pl.col("interval_start_utc")
    return frame.filter((t >= territory.window.start_utc) & (t < territory.window.end_utc))


def test_table_files_hold_the_stored_schema(territory: Territory) -> None:
    for table in (Table.INTERVAL_READS, Table.INTERVAL_VERSIONS, Table.INTERVAL_FLAGS):
        for uri in territory.store.table_files(table):
            schema = pl.read_parquet_schema(uri)
            assert schema == dict(stored_schema(table)), (table, uri)
            assert pq.ParquetFile(uri).metadata.num_rows > 0


def test_parquet_files_and_current_from_rows_give_the_current_view(territory: Territory) -> None:
    store = territory.store
    raw = _files(store, Table.INTERVAL_READS)
    assert (raw["source_file_id"] == INVISIBLE_FILE_ID).any(), "the ghost rows are in the files"
    committed = _files(store, Table.COMMITS)["source_file_id"]
    visible = raw.filter(pl.col("source_file_id").is_in(committed.implode()))
    versions = _in_window(_files(store, Table.INTERVAL_VERSIONS), territory)
    flags = _in_window(_files(store, Table.INTERVAL_FLAGS), territory)
    assert versions.height
    assert flags.height

    current = current_from_rows(_in_window(visible, territory), versions, flags)
    expected = store.current_interval_reads(
        start_utc=territory.window.start_utc, end_utc=territory.window.end_utc
    )
    assert_frame_equal(current, expected)
    assert (current["version"] > 0).any(), "estimates are current where they filled gaps"


def test_current_from_rows_keeps_the_latest_raw_row_of_a_key_and_takes_empty_input() -> None:
    t = dt.datetime(2026, 7, 1, 5, tzinfo=dt.UTC)
    schema = stored_schema(Table.INTERVAL_READS)
    raw = pl.DataFrame(
        {
            "meter_id": [1, 1, 2],
            "channel": ["kwh_delivered"] * 3,
            "interval_start_utc": [t, t, t],
            "interval_s": [900] * 3,
            "value": [1.0, 2.0, 3.0],
            "quality_flags": [0, 0, 0],
            "source_quality": [None] * 3,
            "source_version": [1, 2, None],
            "source_file_id": [10, 11, 10],
            "received_at_utc": [t, t + dt.timedelta(hours=1), t],
        },
        schema=schema,
    )
    current = current_from_rows(raw, pl.DataFrame(), pl.DataFrame())
    assert current.select("meter_id", "value").rows() == [(1, 2.0), (2, 3.0)]
    assert current.schema == INTERVAL_READS.schema

    empty = current_from_rows(pl.DataFrame(), pl.DataFrame(), pl.DataFrame())
    assert empty.is_empty()
    assert empty.schema == INTERVAL_READS.schema


def test_table_files_of_a_table_never_written_is_empty(tmp_path: Path) -> None:
    assert ReadStore(str(tmp_path / "reads")).table_files(Table.INTERVAL_FLAGS) == []


def test_table_files_leave_out_files_outside_a_window(territory: Territory) -> None:
    store = territory.store
    start = territory.window.end_utc - dt.timedelta(days=1)  # the last simulated day
    end = territory.window.end_utc
    everything = store.table_files(Table.INTERVAL_READS)
    recent = store.table_files(Table.INTERVAL_READS, start_utc=start, end_utc=end)
    assert 0 < len(recent) < len(everything)
    assert set(recent) <= set(everything)
    assert store.table_files(Table.COMMITS, start_utc=start) == store.table_files(Table.COMMITS)

    def read(table: Table) -> pl.DataFrame:
        files = store.table_files(table, start_utc=start, end_utc=end)
        t = pl.col("interval_start_utc")
        return pl.concat([pl.read_parquet(f) for f in files]).filter((t >= start) & (t < end))

    committed = _files(store, Table.COMMITS)["source_file_id"].implode()
    raw = read(Table.INTERVAL_READS).filter(pl.col("source_file_id").is_in(committed))
    current = current_from_rows(raw, read(Table.INTERVAL_VERSIONS), read(Table.INTERVAL_FLAGS))
    assert_frame_equal(current, store.current_interval_reads(start_utc=start, end_utc=end))
