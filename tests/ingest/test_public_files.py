"""Real public Green Button and NEM12 files go through the whole ingest path (../shared/data)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from meterops.ingest.formats.base import ParseError
from meterops.ingest.formats.registry import get_format, sniff_format
from meterops.ingest.service import IngestOptions
from meterops.models.ingest import ImportStatus
from meterops.reads.store import Table
from tests.reads.world import CHICAGO, World, world


def _files(shared: Path) -> list[Path]:
    folders = [
        "greenbutton/data/electricity",
        "greenbutton/data/abridged",
        "nem12/nem12",
        "nem12/unzipped",
    ]
    return [p for folder in folders for p in sorted((shared / folder).iterdir()) if p.is_file()]


def _parsed_window(paths: list[Path]) -> tuple[set[str], dt.datetime, dt.datetime]:
    serials: set[str] = set()
    first, last = dt.datetime.max.replace(tzinfo=dt.UTC), dt.datetime.min.replace(tzinfo=dt.UTC)
    for path in paths:
        data = path.read_bytes()
        format_id = "nem12" if path.suffix.lower() == ".zip" else sniff_format(data[:65536])
        assert format_id is not None, path
        try:
            batch = get_format(format_id).parse(data, name=path.name)
        except ParseError:
            continue
        for frame in (batch.interval_reads, batch.register_reads):
            if frame.height:
                serials |= set(frame["serial_number"].unique().to_list())
                times = frame.select(pl.col(frame.columns[2]))  # interval start / read time
                first = min(first, times.min().item())
                last = max(last, times.max().item())
    return serials, first, last


@pytest.fixture
def w(tmp_path: Path) -> Iterator[World]:
    with world(tmp_path) as created:
        yield created


def test_public_files_ingest_with_counts_that_add_up_and_again_as_duplicates(
    w: World, shared_data: Path
) -> None:
    paths = _files(shared_data)
    serials, first, last = _parsed_window(paths)
    w.add_meters(sorted(serials))
    now = last + dt.timedelta(days=2)
    options = IngestOptions(
        zone=CHICAGO, late_data_horizon_days=(now - first).days + 2, future_tolerance_s=300
    )
    reports = w.ingest(*paths, now=now, options=options)
    for report in reports:
        assert report.status in (ImportStatus.COMMITTED, ImportStatus.REFUSED), report
        counts = report.counts
        assert (
            counts.accepted
            + counts.rejected
            + counts.duplicate
            + counts.conflicting
            + counts.late
            + counts.quarantined
            == counts.rows_in_file
        )
    committed = [r for r in reports if r.status is ImportStatus.COMMITTED]
    assert len(committed) >= len(paths) - 2
    stored = sum(r.counts.stored for r in committed)
    visible = w.store.row_count(Table.INTERVAL_READS) + w.store.row_count(Table.REGISTER_READS)
    assert visible == stored
    again = w.ingest(*paths, now=now + dt.timedelta(hours=1), options=options)
    assert all(
        r.status is ImportStatus.DUPLICATE_FILE
        for r, first_run in zip(again, reports, strict=True)
        if first_run.status is ImportStatus.COMMITTED
    )
    assert (
        w.store.row_count(Table.INTERVAL_READS) + w.store.row_count(Table.REGISTER_READS) == visible
    )
