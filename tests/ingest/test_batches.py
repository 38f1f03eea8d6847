"""Big files in batches (``IngestOptions.batch_bytes``): the same result as one batch, one commit.

Each test ingests the same bytes into two fresh worlds, once in one go and once in batches of a
few kilobytes, and compares counts, issues (file line numbers), stored reads, conflicts and
quarantine; then strict refusal in a later batch, a failure and a SIGKILL between batches.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from meterops.db.engine import session_scope
from meterops.ingest import journal
from meterops.ingest.service import FileReport, IngestOptions
from meterops.models.ingest import ImportStatus
from meterops.reads.store import Table
from tests.reads.world import (
    CHICAGO,
    DAY,
    NOW,
    World,
    cmep_bytes,
    csv_bytes,
    interval_frame,
    world,
)

REPO = Path(__file__).resolve().parents[2]
METERS = [f"B{n:03d}" for n in range(24)]
SMALL = 2000  # bytes per batch: about a dozen batches per test file
HELD = 90  # rows held for one append: about three batches of SMALL, so a file has several


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[World, World]]:
    with world(tmp_path / "whole") as whole, world(tmp_path / "batched") as batched:
        whole.add_meters(METERS)
        batched.add_meters(METERS)
        yield whole, batched


def _csv_with_repeats_and_errors(*, by_time: bool = False) -> bytes:
    """Rows of 24 meters, then repeats of early rows (same and changed values) and bad lines."""
    frame = interval_frame(METERS, start=DAY, intervals=16)
    if by_time:  # every batch then holds every meter
        frame = frame.sort("interval_start_utc", "serial_number")
    text = csv_bytes(frame).decode()
    lines = text.splitlines()
    repeat_same = lines[1:6]  # duplicates of the first batch's rows
    repeat_changed = [",".join([*r.split(",")[:4], "99.5", *r.split(",")[5:]]) for r in lines[6:9]]
    lines[200] = lines[200].replace("kwh_delivered", "kwh_nonsense")  # a bad channel
    lines[300] = ",".join([*lines[300].split(",")[:4], "x", *lines[300].split(",")[5:]])
    unknown = ",".join(["ZZZ", *lines[10].split(",")[1:]])  # quarantined: not in the fleet
    return ("\n".join([*lines, *repeat_same, *repeat_changed, unknown]) + "\n").encode()


def _ingest(w: World, data: bytes, name: str, **options: object) -> FileReport:
    path = w.write(name, data)
    options = {"append_rows": HELD, **options}
    [report] = w.ingest(path, options=IngestOptions(zone=CHICAGO, **options))  # type: ignore[arg-type]
    return report


def _state(w: World) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    reads = w.store.current_interval_reads(
        start_utc=DAY - dt.timedelta(days=3), end_utc=DAY + dt.timedelta(days=3)
    ).drop("received_at_utc")
    conflicts = w.store.records(Table.CONFLICTS).sort("source_line")
    quarantine = w.store.quarantine().with_columns(  # messages name the world's own folder
        pl.col("message").str.replace(str(w.folder), "", literal=True)
    )
    return reads, conflicts, quarantine


@pytest.mark.parametrize("by_time", [False, True], ids=["by-meter", "by-time"])
def test_a_csv_file_in_batches_stores_what_it_stores_in_one_go(
    pair: tuple[World, World], *, by_time: bool
) -> None:
    whole, batched = pair
    strict = False
    data = _csv_with_repeats_and_errors(by_time=by_time)
    assert len(data) > 8 * SMALL
    one = _ingest(whole, data, "r.csv", strict=strict)
    many = _ingest(batched, data, "r.csv", strict=strict, batch_bytes=SMALL)
    assert one.status is many.status is ImportStatus.COMMITTED
    assert one.counts == many.counts
    assert one.counts.duplicate == 5
    assert one.counts.conflicting == 3
    assert one.counts.quarantined == 1
    assert one.counts.rejected == 2
    assert [(i.line, i.field, i.code) for i in one.issues] == [
        (i.line, i.field, i.code) for i in many.issues
    ]
    assert [i.line for i in many.issues] == [201, 301]
    for a, b in zip(_state(whole), _state(batched), strict=True):
        assert a.equals(b), (a.to_dicts(), b.to_dicts())
    assert batched.store.commits().height == 1


def test_a_cmep_file_in_batches_stores_what_it_stores_in_one_go(
    pair: tuple[World, World],
) -> None:
    whole, batched = pair
    start = DAY - dt.timedelta(days=2)  # four days up to the arrival time: a line per day
    frame = interval_frame(METERS, start=start, intervals=4 * 96)
    data = cmep_bytes(frame)
    lines = data.decode().splitlines()
    lines[30] = lines[30].replace(",KWH,", ",FURLONGS,")  # unknown units: a rejected line
    data = ("\n".join([*lines, lines[3]]) + "\n").encode()  # a repeated line: duplicates
    assert len(data) > 8 * SMALL
    one = _ingest(whole, data, "r.cmep", strict=False)
    many = _ingest(batched, data, "r.cmep", strict=False, batch_bytes=SMALL)
    assert one.counts == many.counts
    assert one.counts.duplicate == int(lines[3].split(",")[13])
    assert one.counts.quarantined == 0
    assert [(i.line, i.code) for i in many.issues] == [(31, "units.unknown")]
    assert [(i.line, i.code) for i in one.issues] == [(31, "units.unknown")]
    for a, b in zip(_state(whole), _state(batched), strict=True):
        assert a.equals(b), (a.to_dicts(), b.to_dicts())


def test_a_strict_refusal_in_a_later_batch_leaves_nothing_visible(
    pair: tuple[World, World],
) -> None:
    _, batched = pair
    data = _csv_with_repeats_and_errors()
    report = _ingest(batched, data, "r.csv", batch_bytes=SMALL)
    assert report.refused
    assert [i.line for i in report.issues] == [201, 301]
    rows = data.count(b"\n") - 1
    assert report.counts.rows_in_file == report.counts.rejected == rows
    assert batched.store.row_count(Table.INTERVAL_READS) == 0
    assert batched.store.row_count(Table.INTERVAL_READS, visible_only=False) > 0
    with session_scope(batched.sessions) as session:
        assert journal.get(session, report.source_file_id).status is ImportStatus.REFUSED
    again = _ingest(batched, data, "r.csv", strict=False, batch_bytes=SMALL)
    assert again.status is ImportStatus.COMMITTED
    assert batched.store.row_count(Table.INTERVAL_READS) == again.counts.stored


def test_a_failure_between_batches_abandons_the_file_and_a_rerun_stores_it_once(
    tmp_path: Path,
) -> None:
    from meterops.ingest.service import ingest_files

    with world(tmp_path) as w:
        w.add_meters(METERS)
        path = w.write("r.csv", csv_bytes(interval_frame(METERS, start=DAY, intervals=16)))
        appends: list[str] = []

        def fault(step: str) -> None:
            if step.startswith("after_append"):
                appends.append(step)
                if len(appends) == 3:
                    raise RuntimeError("disk full")

        options = IngestOptions(zone=CHICAGO, batch_bytes=SMALL, append_rows=HELD)
        with pytest.raises(RuntimeError):
            ingest_files(
                w.sessions, w.store, [path], options=options, clock=lambda: NOW, fault=fault
            )
        assert w.store.row_count(Table.INTERVAL_READS) == 0
        [report] = w.ingest(path, options=options)
        assert report.status is ImportStatus.COMMITTED
        assert report.counts.accepted == len(METERS) * 16
        assert w.store.row_count(Table.INTERVAL_READS) == len(METERS) * 16


CHILD = """
import datetime as dt, os, signal, sys
from pathlib import Path
from zoneinfo import ZoneInfo
from meterops.db.engine import make_engine, make_session_factory
from meterops.ingest.service import IngestOptions, ingest_files
from meterops.reads.store import ReadStore

url, reads, path = sys.argv[1:]
appends = []

def fault(step):
    if step.startswith("after_append"):
        appends.append(step)
        if len(appends) == 4:
            os.kill(os.getpid(), signal.SIGKILL)

ingest_files(
    make_session_factory(make_engine(url)),
    ReadStore(reads),
    [Path(path)],
    options=IngestOptions(zone=ZoneInfo("America/Chicago"), batch_bytes=2000, append_rows=90),
    clock=lambda: dt.datetime(2024, 3, 7, 12, tzinfo=dt.UTC),
    fault=fault,
)
"""


def test_sigkill_between_batches_leaves_nothing_visible_and_recovery_abandons(
    tmp_path: Path,
) -> None:
    with world(tmp_path) as w:
        w.add_meters(METERS)
        path = w.write("r.csv", csv_bytes(interval_frame(METERS, start=DAY, intervals=16)))
        env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
        done = subprocess.run(
            [sys.executable, "-c", CHILD, w.database_url, w.store.uri, str(path)],
            env=env,
            capture_output=True,
            check=False,
            timeout=300,
        )
        assert done.returncode == -signal.SIGKILL, done.stderr.decode()
        assert w.store.row_count(Table.INTERVAL_READS) == 0
        assert w.store.row_count(Table.INTERVAL_READS, visible_only=False) > 0
        [report] = w.ingest(
            path, options=IngestOptions(zone=CHICAGO, batch_bytes=SMALL, append_rows=HELD)
        )
        assert report.status is ImportStatus.COMMITTED
        assert w.store.row_count(Table.INTERVAL_READS) == len(METERS) * 16
        with session_scope(w.sessions) as session:
            assert journal.get(session, 1).status is ImportStatus.ABANDONED


def _data_files(w: World, table: Table) -> int:
    handle = w.store._lake._open(table)
    return 0 if handle is None else len(handle.file_uris())


@pytest.mark.parametrize("by_time", [False, True], ids=["by-meter", "by-time"])
def test_batches_held_for_one_append_store_what_one_append_per_batch_stores(
    tmp_path: Path, *, by_time: bool
) -> None:
    """``append_rows``: later batches repeat keys of batches held but not yet appended.

    A batch of ``SMALL`` bytes holds about 30 rows: 1 appends each batch, 60 about two
    batches at a time, 150 about five.
    """
    data = _csv_with_repeats_and_errors(by_time=by_time)
    results = []
    for append_rows in (1, 60, 150):
        with world(tmp_path / str(append_rows)) as w:
            w.add_meters(METERS)
            report = _ingest(
                w, data, "r.csv", strict=False, batch_bytes=SMALL, append_rows=append_rows
            )
            assert report.status is ImportStatus.COMMITTED
            results.append((report.counts, _state(w), _data_files(w, Table.INTERVAL_READS)))
    (counts, state, files), *others = results
    for other_counts, other_state, other_files in others:
        assert other_counts == counts
        for a, b in zip(state, other_state, strict=True):
            assert a.equals(b), (a.to_dicts(), b.to_dicts())
        assert other_files < files  # fewer, larger appends
        files = other_files
