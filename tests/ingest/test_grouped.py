"""Consecutive Green Button (ESPI) files go in as one group: one append per table and one
commit for all their markers, with exactly the journal and store of one-by-one ingest."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from meterops.db.engine import session_scope
from meterops.ingest.formats.espi import write_espi
from meterops.ingest.service import IngestOptions, _Meters, ingest_files
from meterops.models import ImportJournal
from meterops.models.ingest import ImportStatus
from meterops.reads.store import Table
from tests.reads.world import CHICAGO, DAY, NOW, World, csv_bytes, interval_frame, world

END = DAY + dt.timedelta(days=3)


def _feed(serial: str, hour: int, intervals: int, bump: float | None) -> bytes:
    frame = interval_frame([serial], start=DAY + dt.timedelta(hours=hour), intervals=intervals)
    if bump is not None:  # a different value for the first read: a conflict if it was stored
        frame = frame.with_columns(
            pl.when(pl.int_range(pl.len()) == 0)
            .then(pl.col("value") + bump)
            .otherwise(pl.col("value"))
            .alias("value")
        )
    return write_espi(frame, customer_id=serial)


def _state(w: World) -> tuple[list[tuple[object, ...]], pl.DataFrame, pl.DataFrame]:
    with session_scope(w.sessions) as session:
        entries = session.scalars(select(ImportJournal).order_by(ImportJournal.id))
        journal = [
            (e.file_name.rsplit("/", 1)[-1], e.status, e.rows_in_file, e.accepted, e.duplicate,
             e.conflicting, e.late, e.quarantined, e.rejected)
            for e in entries
        ]  # fmt: skip
    # Journal ids are given in path order either way: the rows and the conflict records
    # name the same files (a grouped file's rows carry a placeholder until its group is
    # written; a conflict with an earlier file of the group names that file's real id).
    current = w.store.current_interval_reads(start_utc=DAY, end_utc=END).drop("received_at_utc")
    conflicts = (
        w.store.records(Table.CONFLICTS)
        .select("source_file_id", "stored_source_file_id", "meter_id", "time_utc")
        .sort(pl.all())
    )
    return journal, current, conflicts


_FILES = st.lists(
    st.tuples(
        st.sampled_from(["A", "B", "Z"]),  # Z is not a known meter: quarantined
        st.integers(0, 6),
        st.integers(1, 12),
        st.none() | st.sampled_from([0.5]),
        st.booleans(),  # a head-end CSV between the feeds
    ),
    min_size=1,
    max_size=7,
)


@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
@given(files=_FILES)
def test_a_group_stores_and_journals_what_one_by_one_ingest_does(
    tmp_path_factory: pytest.TempPathFactory, files: list[tuple[str, int, int, float | None, bool]]
) -> None:
    states = []
    for grouped in (True, False):
        with world(tmp_path_factory.mktemp("grouped" if grouped else "single")) as w:
            w.add_meters(["A", "B"])
            paths = []
            for n, (serial, hour, intervals, bump, csv) in enumerate(files):
                if csv:
                    frame = interval_frame([serial], start=DAY + dt.timedelta(hours=hour))
                    paths.append(w.write(f"{n}-x.csv", csv_bytes(frame)))
                paths.append(w.write(f"{n}.xml", _feed(serial, hour, intervals, bump)))
            reports = w.ingest(*paths) if grouped else [r for p in paths for r in w.ingest(p)]
            assert [Path(r.file_name).name for r in reports] == [p.name for p in paths]
            states.append(_state(w))
    assert states[0][0] == states[1][0]
    assert states[0][1].equals(states[1][1])
    assert states[0][2].equals(states[1][2])
    assert (states[0][2]["stored_source_file_id"] > 0).all()


@pytest.fixture
def w(tmp_path: Path) -> Iterator[World]:
    with world(tmp_path) as created:
        created.add_meters(["A", "B"])
        yield created


def test_a_group_is_one_commit_for_its_rows_and_one_for_its_markers(w: World) -> None:
    paths = [w.write(f"{s}.xml", _feed(s, 0, 8, None)) for s in ("A", "B")]
    paths.append(w.write("again.xml", paths[0].read_bytes()))  # same bytes: a duplicate file
    reports = w.ingest(*paths)
    assert [r.status for r in reports] == [
        ImportStatus.COMMITTED,
        ImportStatus.COMMITTED,
        ImportStatus.DUPLICATE_FILE,
    ]
    assert [r.counts.accepted for r in reports] == [8, 8, 0]
    versions = {t: w.store._lake.ensure(t).version() for t in (Table.INTERVAL_READS, Table.COMMITS)}
    # Table creation is version 0: one append of both files' reads, one of both markers.
    assert versions == {Table.INTERVAL_READS: 1, Table.COMMITS: 1}


def test_a_failure_while_a_group_is_written_leaves_none_of_its_files_visible(w: World) -> None:
    paths = [w.write(f"{s}.xml", _feed(s, 0, 8, None)) for s in ("A", "B")]

    def fail(step: str) -> None:
        if step == "after_append:interval_reads":
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        ingest_files(
            w.sessions, w.store, paths, options=IngestOptions(zone=CHICAGO),
            clock=lambda: NOW, fault=fail,
        )  # fmt: skip
    assert w.store.current_interval_reads(start_utc=DAY, end_utc=END).is_empty()
    with session_scope(w.sessions) as session:
        statuses = list(session.scalars(select(ImportJournal.status)))
    assert statuses == [ImportStatus.ABANDONED, ImportStatus.ABANDONED]
    # A re-run stores both, once.
    reports = w.ingest(*paths, now=NOW + dt.timedelta(hours=1))
    assert [r.counts.accepted for r in reports] == [8, 8]
    assert w.store.current_interval_reads(start_utc=DAY, end_utc=END).height == 16


def test_a_conflict_with_an_earlier_file_of_the_group_names_its_journal_id(w: World) -> None:
    first = w.write("first.xml", _feed("A", 0, 8, None))
    second = w.write("second.xml", _feed("A", 0, 8, 0.5))  # its first read clashes
    reports = w.ingest(first, second)
    assert [r.counts.conflicting for r in reports] == [0, 1]
    conflicts = w.store.records(Table.CONFLICTS)
    assert conflicts.select("source_file_id", "stored_source_file_id").rows() == [
        (reports[1].source_file_id, reports[0].source_file_id)
    ]
    stored = w.store.current_interval_reads(start_utc=DAY, end_utc=END)
    assert set(stored["source_file_id"]) == {reports[0].source_file_id}


def test_meter_ids_are_the_same_from_the_fleet_read_once_and_from_a_query_per_file(
    tmp_path: Path,
) -> None:
    with world(tmp_path) as big:
        big.add_meters([f"M{n:03d}" for n in range(40)])
        wanted = ["M007", "nope", "M031"]
        answers = []
        for files in (1, 100):  # 3 serials x 1 file x 4 < 40 meters: a query; x 100: the fleet
            meters = _Meters(big.sessions, files)
            answers.append(
                [meters.ids(wanted).sort("serial_number"), meters.ids(["M000"]), meters._fleet]
            )
        (by_query, first_query, no_fleet), (by_fleet, first_fleet, fleet) = answers
        assert no_fleet is None
        assert fleet is not None
        assert len(fleet) == 40
        assert by_query.equals(by_fleet)
        assert by_query["serial_number"].to_list() == ["M007", "M031"]
        assert first_query.equals(first_fleet)
        assert by_fleet.schema == by_query.schema


def test_a_refusal_inside_a_run_of_feeds_keeps_the_journal_ids_in_path_order(w: World) -> None:
    paths = [
        w.write("a.xml", _feed("A", 0, 8, None)),
        w.write("bad.xml", _feed("B", 0, 8, None).replace(b"<value>", b"<value>x", 1)),
        w.write("unknown.xml", b"not a meter data file\n"),
        w.write("b.xml", _feed("B", 0, 8, None)),
    ]
    reports = w.ingest(*paths)
    assert [r.status for r in reports] == [
        ImportStatus.COMMITTED,
        ImportStatus.REFUSED,
        ImportStatus.REFUSED,
        ImportStatus.COMMITTED,
    ]
    ids = [r.source_file_id for r in reports]
    assert ids == sorted(ids)
    with session_scope(w.sessions) as session:
        names = list(session.scalars(select(ImportJournal.file_name).order_by(ImportJournal.id)))
    assert [Path(n).name for n in names] == [p.name for p in paths]
