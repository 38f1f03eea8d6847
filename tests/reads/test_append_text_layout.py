"""Appends write text columns as Arrow string views; a table may also hold older files
written with large strings (before that change). Both must read back alike, through the
table scan and through ``existing``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
from deltalake import write_deltalake

from meterops.reads._lake import _physical
from meterops.reads.store import FileCommit, ReadStore, Table
from tests.reads.world import DAY, NOW, raw_rows


def test_files_of_both_text_layouts_read_back_alike(tmp_path: Path) -> None:
    store = ReadStore(str(tmp_path / "reads"))
    older = raw_rows(1, [1.0, 2.0, 3.0], source_file_id=1, channel="kwh_received").with_columns(
        pl.lit("E").alias("source_quality")
    )
    newer = raw_rows(2, [4.0, 5.0], source_file_id=1)  # source_quality null
    handle = store._lake.ensure(Table.INTERVAL_READS)
    write_deltalake(handle, _physical(older).to_arrow(), mode="append")  # large strings
    store.append_rows(Table.INTERVAL_READS, newer, source_file_id=1)  # string views
    store.commit_file(
        FileCommit(
            source_file_id=1,
            content_hash="h",
            file_name="f.csv",
            format="headend_csv",
            committed_at_utc=NOW,
            counts={},
        )
    )
    expected = pl.concat([older, newer]).sort("meter_id", "interval_start_utc")
    scanned = store._lake.scan(Table.INTERVAL_READS).collect()
    assert scanned.select(expected.columns).sort("meter_id", "interval_start_utc").equals(expected)
    found = store.existing(
        Table.INTERVAL_READS,
        start_utc=DAY,
        end_utc=DAY + dt.timedelta(days=1),
        ids=pl.Series([1, 2], dtype=pl.Int64),
    )
    assert found.sort("meter_id", "interval_start_utc").select(expected.columns).equals(expected)
