"""Many small XML files in one ingest call: ESPI and CIM files share Delta commits, yet every
file keeps its own journal entry, exact counts and all-or-nothing visibility; identical files
are recognised by their content hash before any parse."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from meterops.db.engine import session_scope
from meterops.ingest import journal, pipeline, service
from meterops.ingest.formats.cim import write_cim_meter_readings
from meterops.ingest.formats.espi import write_espi
from meterops.ingest.service import IngestOptions
from meterops.models import ImportJournal
from meterops.models.ingest import ImportStatus
from meterops.reads.store import Table
from tests.reads.world import CHICAGO, DAY, World, csv_bytes, interval_frame, world

END = DAY + dt.timedelta(days=3)


def _frame(serials: list[str], hour: int, intervals: int, bump: float | None) -> pl.DataFrame:
    frame = interval_frame(serials, start=DAY + dt.timedelta(hours=hour), intervals=intervals)
    if bump is not None:  # a different value for the first read: a conflict if it was stored
        frame = frame.with_columns(
            pl.when(pl.int_range(pl.len()) == 0)
            .then(pl.col("value") + bump)
            .otherwise(pl.col("value"))
            .alias("value")
        )
    return frame


def _file(kind: str, serials: list[str], hour: int, intervals: int, bump: float | None) -> bytes:
    frame = _frame(serials, hour, intervals, bump)
    if kind == "espi":  # one customer's feed: one meter
        return write_espi(frame.filter(pl.col("serial_number") == serials[0]))
    if kind == "cim":
        return write_cim_meter_readings(frame)
    return csv_bytes(frame)


def _state(w: World) -> tuple[list[tuple[Any, ...]], pl.DataFrame]:
    with session_scope(w.sessions) as session:
        entries = session.scalars(select(ImportJournal).order_by(ImportJournal.id))
        journal_rows: list[tuple[Any, ...]] = [
            (e.file_name.rsplit("/", 1)[-1], e.status, e.format, e.rows_in_file, e.accepted,
             e.duplicate, e.conflicting, e.late, e.quarantined, e.rejected, e.duplicate_of_id)
            for e in entries
        ]  # fmt: skip
    current = w.store.current_interval_reads(start_utc=DAY, end_utc=END).drop(
        "source_file_id", "received_at_utc"
    )
    return journal_rows, current


_FILES = st.lists(
    st.tuples(
        st.sampled_from(["espi", "cim", "csv"]),
        st.lists(st.sampled_from(["A", "B", "C", "Z"]), min_size=1, max_size=3, unique=True),
        st.integers(0, 30),  # hours after DAY: files of the same meter on the same or next day
        st.integers(1, 12),
        st.none() | st.sampled_from([0.5]),
        st.booleans(),  # send the previous file's bytes again
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(files=_FILES, group_bytes=st.sampled_from([1, 3000, 64 * 1024 * 1024]))
def test_many_files_in_one_call_store_and_journal_what_one_by_one_ingest_does(
    tmp_path_factory: pytest.TempPathFactory,
    files: list[tuple[str, list[str], int, int, float | None, bool]],
    group_bytes: int,
) -> None:
    """Same journal (status, format, every count, duplicate links) and same current reads,
    whatever the group size: groups cut anywhere, members compared only when they meet."""
    options = IngestOptions(zone=CHICAGO, group_bytes=group_bytes)
    states = []
    for grouped in (True, False):
        with world(tmp_path_factory.mktemp("grouped" if grouped else "single")) as w:
            w.add_meters(["A", "B", "C"])
            paths: list[Path] = []
            for n, (kind, serials, hour, intervals, bump, again) in enumerate(files):
                suffix = "csv" if kind == "csv" else "xml"
                data = _file(kind, serials, hour, intervals, bump)
                paths.append(w.write(f"{n}.{suffix}", data))
                if again:
                    paths.append(w.write(f"{n}-again.{suffix}", data))
            if grouped:
                reports = w.ingest(*paths, options=options)
            else:
                reports = [r for p in paths for r in w.ingest(p, options=options)]
            assert [Path(r.file_name).name for r in reports] == [p.name for p in paths]
            for report in reports:
                report.counts.check(report.file_name)
            states.append(_state(w))
    assert states[0][0] == states[1][0]
    assert states[0][1].equals(states[1][1])


@pytest.fixture
def w(tmp_path: Path) -> Iterator[World]:
    with world(tmp_path) as created:
        created.add_meters(["A", "B", "C"])
        yield created


def _versions(w: World) -> dict[Table, int]:
    return {t: w.store._lake.ensure(t).version() for t in (Table.INTERVAL_READS, Table.COMMITS)}


def test_cim_files_go_in_one_commit_for_their_rows_and_one_for_their_markers(w: World) -> None:
    paths = [
        w.write(f"{n}.xml", _file("cim", serials, 0, 8, None))
        for n, serials in enumerate([["A", "B"], ["C"], ["A"]])
    ]
    # The third file repeats A's reads of the first: compared with the group, all duplicates.
    reports = w.ingest(*paths)
    assert [(r.status, r.counts.accepted, r.counts.duplicate) for r in reports] == [
        (ImportStatus.COMMITTED, 16, 0),
        (ImportStatus.COMMITTED, 8, 0),
        (ImportStatus.COMMITTED, 0, 8),
    ]
    assert _versions(w) == {Table.INTERVAL_READS: 1, Table.COMMITS: 1}  # version 0: creation
    assert w.store.current_interval_reads(start_utc=DAY, end_utc=END).height == 24


def test_a_group_is_written_when_its_files_reach_the_group_size(w: World) -> None:
    paths = [w.write(f"{s}.xml", _file("espi", [s], 0, 8, None)) for s in ("A", "B", "C")]
    size = paths[0].stat().st_size
    options = IngestOptions(zone=CHICAGO, group_bytes=2 * size)
    reports = w.ingest(*paths, options=options)
    assert [r.counts.accepted for r in reports] == [8, 8, 8]
    # A and B fill the first group; C is written at the end as a group of its own.
    assert _versions(w) == {Table.INTERVAL_READS: 2, Table.COMMITS: 2}


def test_a_file_of_another_format_writes_the_group_first(w: World) -> None:
    espi = w.write("a.xml", _file("espi", ["A"], 0, 8, None))
    same_reads = w.write("a.csv", _file("csv", ["A"], 0, 8, None))
    reports = w.ingest(espi, same_reads)
    assert [(r.format, r.counts.accepted, r.counts.duplicate) for r in reports] == [
        ("espi", 8, 0),
        ("headend_csv", 0, 8),
    ]
    assert _versions(w) == {Table.INTERVAL_READS: 1, Table.COMMITS: 2}


def test_an_identical_file_is_a_duplicate_without_being_parsed(
    w: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = [w.write(f"{s}.xml", _file("espi", [s], 0, 8, None)) for s in ("A", "B")]
    first = w.ingest(*paths)
    copies = [w.write(f"copy-{p.name}", p.read_bytes()) for p in paths]

    def no_parse(*_: object, **__: object) -> object:
        raise AssertionError("an identical file was parsed")

    monkeypatch.setattr(service, "_parse", no_parse)
    again = w.ingest(*copies, *paths)
    assert [r.status for r in again] == [ImportStatus.DUPLICATE_FILE] * 4
    assert [r.counts.duplicate for r in again] == [8, 8, 8, 8]
    with session_scope(w.sessions) as session:
        links = list(
            session.scalars(select(ImportJournal.duplicate_of_id).order_by(ImportJournal.id))
        )
    ids = [r.source_file_id for r in first]
    assert links == [None, None, *ids, *ids]
    assert w.store.current_interval_reads(start_utc=DAY, end_utc=END).height == 16


def test_files_parsed_ahead_are_never_the_bytes_of_a_file_before_them(
    w: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two files are parsed ahead: a repeat of the current file or of the one between is not."""
    a, b, c = (_file("espi", [s], 0, 8, None) for s in ("A", "B", "C"))
    order = [("a", a), ("b", b), ("a2", a), ("c", c), ("c2", c), ("b2", b), ("d", a)]
    paths = [w.write(f"{name}.xml", data) for name, data in order]
    parsed: list[str] = []
    parse = service._parse

    def counted(data: bytes, facts: journal.FileFacts, *args: Any, **kwargs: Any) -> Any:
        parsed.append(Path(facts.file_name).name)
        return parse(data, facts, *args, **kwargs)

    monkeypatch.setattr(service, "_parse", counted)
    reports = w.ingest(*paths)
    assert sorted(parsed) == ["a.xml", "b.xml", "c.xml"]
    assert [r.status for r in reports] == [
        ImportStatus.COMMITTED,
        ImportStatus.COMMITTED,
        ImportStatus.DUPLICATE_FILE,
        ImportStatus.COMMITTED,
        ImportStatus.DUPLICATE_FILE,
        ImportStatus.DUPLICATE_FILE,
        ImportStatus.DUPLICATE_FILE,
    ]
    assert w.store.current_interval_reads(start_utc=DAY, end_utc=END).height == 24


def test_a_failed_classification_abandons_only_that_file_and_keeps_the_group(
    w: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = [w.write(f"{s}.xml", _file("espi", [s], 0, 8, None)) for s in ("A", "B")]
    real = pipeline.classify
    calls = []

    def classify(*args: Any, **kwargs: Any) -> pipeline.Plan:
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("out of memory")
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "classify", classify)
    with pytest.raises(RuntimeError, match="out of memory"):
        w.ingest(*paths)
    with session_scope(w.sessions) as session:
        statuses = list(session.scalars(select(ImportJournal.status).order_by(ImportJournal.id)))
    # The first file was compared before the failure: it goes in, as one by one it would.
    assert statuses == [ImportStatus.COMMITTED, ImportStatus.ABANDONED]
    assert w.store.current_interval_reads(start_utc=DAY, end_utc=END).height == 8


@pytest.mark.parametrize(
    "size",
    [0, 1, 4096, journal.HASH_BLOCK_BYTES - 1, journal.HASH_BLOCK_BYTES,
     journal.HASH_BLOCK_BYTES + 1, 2 * journal.HASH_BLOCK_BYTES + 17],
)  # fmt: skip
def test_the_content_hash_is_the_documented_one_for_every_size(tmp_path: Path, size: int) -> None:
    data = (bytes(range(256)) * (size // 256 + 1))[:size]
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    block = journal.HASH_BLOCK_BYTES
    digests = b"".join(
        hashlib.sha256(data[start : start + block]).digest() for start in range(0, size, block)
    )
    expected = hashlib.sha256(digests).hexdigest() if size else hashlib.sha256(b"").hexdigest()
    assert journal.content_hash(path) == (expected, size)
    assert journal.content_hash(path, workers=1) == (expected, size)


def test_the_default_group_size_is_shipped() -> None:
    assert IngestOptions().group_bytes == 64 * 1024 * 1024


def test_a_file_that_cannot_be_read_stops_the_run_after_the_files_before_it(w: World) -> None:
    """Files are hashed ahead in a thread; a missing file still fails at its turn."""
    paths = [w.write(f"{s}.xml", _file("espi", [s], 0, 8, None)) for s in ("A", "B")]
    with pytest.raises(FileNotFoundError):
        w.ingest(paths[0], w.folder / "missing.xml", paths[1])
    with session_scope(w.sessions) as session:
        statuses = list(session.scalars(select(ImportJournal.status)))
    assert statuses == [ImportStatus.COMMITTED]
    assert w.store.current_interval_reads(start_utc=DAY, end_utc=END).height == 8
