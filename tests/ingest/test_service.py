"""Ingest end to end on the active database backend: idempotency, conflicts, late data, DST,
strict and lenient files, the journal's counts (reliability-tests.md A, C)."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from meterops.db.engine import session_scope
from meterops.ingest.service import IngestOptions, ingest_files
from meterops.models import ImportJournal
from meterops.models.ingest import ImportStatus
from meterops.reads.schema import PARSED_COMM_STATS, PARSED_EVENTS, PARSED_TOPOLOGY
from meterops.reads.store import Table
from meterops.timeutil import intervals_in_local_day, local_day_bounds_utc
from meterops.vee.flags import FLAGS
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

END = DAY + dt.timedelta(days=2)
LATE = FLAGS["LATE"].mask


@pytest.fixture
def w(tmp_path: Path) -> Iterator[World]:
    with world(tmp_path) as created:
        created.add_meters(["A", "B", "C", "D"])
        yield created


def _current(w: World) -> pl.DataFrame:
    return w.store.current_interval_reads(start_utc=DAY - dt.timedelta(days=90), end_utc=END)


def _journal(w: World) -> list[ImportJournal]:
    with session_scope(w.sessions) as session:
        return list(session.scalars(select(ImportJournal).order_by(ImportJournal.id)))


def _sums_add_up(entry: ImportJournal) -> bool:
    buckets = (
        entry.accepted,
        entry.rejected,
        entry.duplicate,
        entry.conflicting,
        entry.late,
        entry.quarantined,
    )
    return sum(buckets) == entry.rows_in_file


def test_the_same_file_twice_adds_nothing_and_is_journalled_as_a_duplicate_file(w: World) -> None:
    path = w.write("day.csv", csv_bytes(interval_frame(["A", "B"])))
    [first] = w.ingest(path)
    [second] = w.ingest(path, now=NOW + dt.timedelta(hours=1))
    assert (first.status, first.counts.accepted) == (ImportStatus.COMMITTED, 192)
    assert (second.status, second.counts.duplicate, second.counts.rows_in_file) == (
        ImportStatus.DUPLICATE_FILE,
        192,
        192,
    )
    assert _current(w).height == 192
    assert w.store.row_count(Table.INTERVAL_READS, visible_only=False) == 192
    entries = _journal(w)
    assert entries[1].duplicate_of_id == entries[0].id
    assert all(_sums_add_up(e) for e in entries)


def test_the_same_reads_in_another_format_and_order_are_duplicate_rows(w: World) -> None:
    frame = interval_frame(["A", "B"])
    w.ingest(w.write("day.csv", csv_bytes(frame)))
    shuffled = frame.sample(fraction=1.0, shuffle=True, seed=3)
    [again] = w.ingest(
        w.write("day.cmep", cmep_bytes(frame)), w.write("shuffled.csv", csv_bytes(shuffled))
    )[-1:]
    reports = _journal(w)
    assert [e.duplicate for e in reports] == [0, 192, 192]
    assert again.counts.accepted == 0
    assert _current(w).height == 192
    assert w.store.row_count(Table.INTERVAL_READS, visible_only=False) == 192


def test_overlapping_files_store_exactly_their_union(w: World) -> None:
    # Five files of 8 quarter-hours each, every one overlapping half of the previous one.
    paths = [
        w.write(
            f"part{n}.csv",
            csv_bytes(interval_frame(["A", "B"], start=DAY + dt.timedelta(hours=n), intervals=8)),
        )
        for n in range(5)
    ]
    w.ingest(*paths)
    current = _current(w)
    assert current.height == 2 * (4 * 4 + 8)
    assert not current.select("meter_id", "channel", "interval_start_utc").is_duplicated().any()
    assert sum(e.duplicate for e in _journal(w)) == 4 * 2 * 4


def test_a_different_value_for_a_stored_read_is_a_conflict_and_the_original_stays(w: World) -> None:
    frame = interval_frame(["A"], intervals=4)
    w.ingest(w.write("a.csv", csv_bytes(frame)))
    changed = frame.with_columns(
        pl.when(pl.int_range(pl.len()) == 1).then(9.9).otherwise(pl.col("value")).alias("value")
    )
    [report] = w.ingest(w.write("b.csv", csv_bytes(changed)), now=NOW + dt.timedelta(hours=1))
    assert (report.counts.conflicting, report.counts.duplicate) == (1, 3)
    assert _current(w)["value"].to_list() == frame["value"].to_list()
    [conflict] = w.store.records(Table.CONFLICTS).iter_rows(named=True)
    assert (conflict["stored_value"], conflict["new_value"]) == (frame["value"][1], 9.9)
    assert conflict["stored_source_file_id"] == _journal(w)[0].id
    assert conflict["source_file_id"] == report.source_file_id


def test_order_of_files_does_not_change_the_final_state(w: World, tmp_path: Path) -> None:
    frames = [
        interval_frame(["A", "B"], start=DAY + dt.timedelta(hours=3 * n), intervals=16)
        for n in range(5)
    ]
    data = [csv_bytes(f) for f in frames]
    states = set()
    for trial in range(3):
        order = list(range(5))
        random.Random(trial).shuffle(order)
        with world(tmp_path / f"trial{trial}") as fresh:
            fresh.add_meters(["A", "B"])
            fresh.ingest(*(fresh.write(f"f{i}.csv", data[i]) for i in order))
            current = fresh.store.current_interval_reads(start_utc=DAY, end_utc=END)
            states.add(
                current.select("meter_id", "channel", "interval_start_utc", "value")
                .hash_rows()
                .sum()
            )
    assert len(states) == 1


def test_late_data_inside_the_horizon_is_stored_and_flagged(w: World) -> None:
    w.ingest(
        w.write(
            "day.csv",
            csv_bytes(interval_frame(["A"], intervals=96).filter(pl.int_range(pl.len()) != 40)),
        )
    )
    gap = interval_frame(["A"], intervals=96).filter(pl.int_range(pl.len()) == 40)
    [report] = w.ingest(w.write("gap.csv", csv_bytes(gap)), now=NOW + dt.timedelta(days=20))
    assert (report.counts.late, report.counts.accepted) == (1, 0)
    flagged = _current(w).filter((pl.col("quality_flags") & LATE) != 0)
    assert flagged["interval_start_utc"].to_list() == gap["interval_start_utc"].to_list()


def test_late_data_beyond_the_horizon_is_quarantined_never_dropped(w: World) -> None:
    old = interval_frame(["A"], start=NOW - dt.timedelta(days=61), intervals=4)
    [report] = w.ingest(w.write("old.csv", csv_bytes(old)))
    assert (report.counts.quarantined, report.counts.rows_in_file) == (4, 4)
    held = w.store.quarantine(source_file_id=report.source_file_id)
    assert held["reason_code"].to_list() == ["beyond_horizon"] * 4
    assert _current(w).is_empty()


def test_future_timestamps_are_quarantined_and_never_current(w: World) -> None:
    future = interval_frame(["A"], start=NOW, intervals=4)  # the first ends 15 min after now
    [report] = w.ingest(w.write("future.csv", csv_bytes(future)))
    assert report.counts.quarantined == 4
    assert w.store.quarantine(reason_code="future_timestamp").height == 4
    assert w.store.current_interval_reads(
        start_utc=NOW - dt.timedelta(days=1), end_utc=NOW + dt.timedelta(days=1)
    ).is_empty()


def test_reads_of_a_serial_the_fleet_does_not_know_are_quarantined(w: World) -> None:
    [report] = w.ingest(w.write("x.csv", csv_bytes(interval_frame(["A", "NOPE"], intervals=2))))
    assert (report.counts.accepted, report.counts.quarantined) == (2, 2)
    held = w.store.quarantine(reason_code="unknown_meter")
    assert held["payload"].str.contains('"serial_number":"NOPE"').all()


@pytest.mark.parametrize(
    ("day", "expected"),
    [(dt.date(2024, 3, 10), 92), (dt.date(2024, 11, 3), 100), (dt.date(2024, 3, 11), 96)],
)
def test_dst_days_store_92_and_100_quarter_hours(w: World, day: dt.date, expected: int) -> None:
    start, end = local_day_bounds_utc(day, CHICAGO)
    count = intervals_in_local_day(day, CHICAGO, 900)
    frame = interval_frame(["A"], start=start, intervals=count)
    now = end + dt.timedelta(days=1)
    [report] = w.ingest(w.write("dst.cmep", cmep_bytes(frame)), now=now)
    assert (report.counts.accepted, report.counts.conflicting, report.counts.duplicate) == (
        expected,
        0,
        0,
    )
    stored = w.store.current_interval_reads(start_utc=start, end_utc=end)
    assert stored.height == expected
    gaps = stored["interval_start_utc"].diff().drop_nulls().unique().to_list()
    assert gaps == [dt.timedelta(minutes=15)]


def _bad_third_value() -> bytes:
    """A head-end CSV of three reads whose third value (line 4) is not a number."""
    lines = csv_bytes(interval_frame(["A"], intervals=3)).split(b"\n")
    fields = lines[3].split(b",")
    fields[4] = b"abc"
    lines[3] = b",".join(fields)
    return b"\n".join(lines)


def test_a_file_with_a_bad_line_is_refused_whole_by_default(w: World) -> None:
    [report] = w.ingest(w.write("bad.csv", _bad_third_value()))
    assert report.status is ImportStatus.REFUSED
    assert (report.counts.rows_in_file, report.counts.rejected) == (3, 3)
    assert [issue.line for issue in report.issues] == [4]
    assert w.store.row_count(Table.INTERVAL_READS, visible_only=False) == 0
    [entry] = _journal(w)
    assert entry.issues[0]["field"] == "value"


def test_lenient_mode_stores_the_good_rows_and_keeps_the_bad_line(w: World) -> None:
    options = IngestOptions(strict=False, zone=CHICAGO)
    [report] = w.ingest(w.write("bad.csv", _bad_third_value()), options=options)
    assert report.status is ImportStatus.COMMITTED
    assert (report.counts.accepted, report.counts.rejected) == (2, 1)
    [held] = w.store.quarantine(reason_code="parse_error").iter_rows(named=True)
    assert held["source_line"] == 4
    assert "abc" in held["payload"]


def test_a_file_of_unknown_format_is_refused(w: World) -> None:
    [report] = w.ingest(w.write("notes.txt", b"hello\n"))
    assert report.status is ImportStatus.REFUSED
    assert "not recognised" in (report.message or "")


def test_events_comm_stats_and_topology_are_stored_and_deduplicated(w: World) -> None:
    events = pl.DataFrame(
        {
            "serial_number": ["A"],
            "event_time_utc": [DAY],
            "cim_event_type": ["3.26.38.85"],
            "vendor_code": ["PF"],
            "severity": ["alarm"],
            "details": [None],
            "source_line": [2],
        },
        schema=PARSED_EVENTS.schema,
    )
    comm = pl.DataFrame(
        {
            "serial_number": ["A"],
            "period_start_utc": [DAY],
            "period_s": [86400],
            "reads_expected": [96],
            "reads_received": [90],
            "rssi_dbm": [-80.5],
            "hop_count": [2],
            "parent_node": ["R1"],
            "collector_code": ["C1"],
            "source_line": [2],
        },
        schema=PARSED_COMM_STATS.schema,
    )
    topology = pl.DataFrame(
        {
            "node_id": ["A"],
            "node_kind": ["meter"],
            "parent_node": ["R1"],
            "hop_count": [2],
            "rssi_dbm": [-80.5],
            "observed_at_utc": [DAY],
            "status": ["up"],
            "source_line": [2],
        },
        schema=PARSED_TOPOLOGY.schema,
    )
    paths = [
        w.write(f"{kind}.csv", csv_bytes(frame, kind))
        for kind, frame in (("events", events), ("comm_stats", comm), ("topology", topology))
    ]
    reports = w.ingest(*paths)
    assert [r.counts.accepted for r in reports] == [1, 1, 1]
    again = [w.write(f"again_{p.name}", p.read_bytes() + b"\n") for p in paths]
    assert [r.counts.duplicate for r in w.ingest(*again)] == [1, 1, 1]
    assert w.store.records(Table.EVENTS)["vendor_code"].to_list() == ["PF"]
    assert w.store.records(Table.COMM_STATS)["reads_received"].to_list() == [90]
    assert w.store.records(Table.TOPOLOGY, ids=["A"])["parent_node"].to_list() == ["R1"]


def test_the_database_refuses_journal_counts_that_do_not_add_up(w: World) -> None:
    w.ingest(w.write("a.csv", csv_bytes(interval_frame(["A"], intervals=2))))
    with pytest.raises(IntegrityError), session_scope(w.sessions) as session:
        session.execute(update(ImportJournal).values(accepted=ImportJournal.accepted + 1))


def test_an_error_mid_ingest_leaves_nothing_visible_and_the_file_can_be_retried(w: World) -> None:
    path = w.write("day.csv", csv_bytes(interval_frame(["A", "B"])))

    def explode(step: str) -> None:
        if step == "after_append:interval_reads":
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        ingest_files(
            w.sessions,
            w.store,
            [path],
            options=IngestOptions(zone=CHICAGO),
            clock=lambda: NOW,
            fault=explode,
        )
    assert _current(w).is_empty()
    assert [e.status for e in _journal(w)] == [ImportStatus.ABANDONED]
    [report] = w.ingest(path)
    assert report.counts.accepted == 192
    assert _current(w).height == 192


def test_a_lost_acknowledgement_after_the_commit_point_is_settled_by_recovery(w: World) -> None:
    path = w.write("day.csv", csv_bytes(interval_frame(["A"], intervals=8)))

    class Crash(BaseException):
        pass

    def crash(step: str) -> None:
        if step == "after_commit_marker":
            raise Crash

    with pytest.raises(Crash):
        ingest_files(
            w.sessions,
            w.store,
            [path],
            options=IngestOptions(zone=CHICAGO),
            clock=lambda: NOW,
            fault=crash,
        )
    [entry] = _journal(w)
    assert entry.status is ImportStatus.PENDING
    assert _current(w).height == 8  # visible: the marker is the commit point
    [retry] = w.ingest(path, now=NOW + dt.timedelta(minutes=5))
    first, second = _journal(w)
    assert (first.status, first.accepted) == (ImportStatus.COMMITTED, 8)
    assert (retry.status, second.duplicate_of_id) == (ImportStatus.DUPLICATE_FILE, first.id)
    assert _current(w).height == 8


def test_ingest_is_the_same_for_a_utility_in_any_zone(tmp_path: Path) -> None:
    frame = interval_frame(["A"], intervals=8)
    results = []
    for zone in ("UTC", "Pacific/Kiritimati"):
        with world(tmp_path / zone.replace("/", "_")) as fresh:
            fresh.add_meters(["A"])
            fresh.ingest(
                fresh.write("a.csv", csv_bytes(frame)), options=IngestOptions(zone=ZoneInfo(zone))
            )
            results.append(
                fresh.store.current_interval_reads(start_utc=DAY, end_utc=END).drop(
                    "received_at_utc", "source_file_id"
                )
            )
    assert results[0].equals(results[1])


def test_a_bad_row_anywhere_in_a_10000_row_file_leaves_nothing_visible(w: World) -> None:
    serials = [f"S{n}" for n in range(100)]
    w.add_meters(serials)
    lines = csv_bytes(interval_frame(serials, intervals=100)).split(b"\n")
    rng = random.Random(10)
    for run in range(50):
        k = rng.randrange(1, 10_001)  # data lines are 2..10001 (line 1 is the header)
        broken = list(lines)
        fields = broken[k].split(b",")
        fields[2] = b"2024-13-45T99:00:00Z"
        broken[k] = b",".join(fields)
        [report] = w.ingest(w.write(f"run{run}.csv", b"\n".join(broken)))
        assert report.status is ImportStatus.REFUSED
        assert [issue.line for issue in report.issues] == [k + 1]
        assert w.store.row_count(Table.INTERVAL_READS, visible_only=False) == 0
    [report] = w.ingest(w.write("good.csv", b"\n".join(lines)))
    assert report.counts.accepted == 10_000
    assert _current(w).height == 10_000
