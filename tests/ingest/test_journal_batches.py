"""The journal's batched steps: several files finished in one flush, content hashes looked up
several at a time (and never answered from before a commit of this ingest call)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from meterops.db.engine import session_scope
from meterops.errors import DataContractError, IllegalTransitionError, Issue
from meterops.ingest import journal
from meterops.ingest.formats.espi import write_espi
from meterops.ingest.pipeline import Counts
from meterops.ingest.service import IngestOptions
from meterops.models import ImportJournal
from meterops.models.ingest import ImportStatus
from tests.reads.world import CHICAGO, DAY, NOW, World, interval_frame, world


def _facts(n: int) -> journal.FileFacts:
    return journal.FileFacts(f"{n}.xml", f"{n:064d}", 10, "espi", strict=False, actor="test")


def test_finish_many_commits_each_entry_with_its_own_counts_and_issues(session: Session) -> None:
    entries = [journal.start(session, _facts(n), now=NOW) for n in range(3)]
    issue = Issue(file="1.xml", line=4, field="value", code="value.not_a_number", message="x")
    later = NOW + dt.timedelta(minutes=1)
    done = journal.finish_many(
        session,
        [
            journal.Finished(entries[0].id, Counts(rows_in_file=2, accepted=2), NOW),
            journal.Finished(
                entries[1].id, Counts(rows_in_file=3, accepted=2, rejected=1), later, [issue]
            ),
        ],
    )
    assert [e.id for e in done] == [entries[0].id, entries[1].id]
    assert [(e.status, e.rows_in_file, e.accepted, e.rejected) for e in entries] == [
        (ImportStatus.COMMITTED, 2, 2, 0),
        (ImportStatus.COMMITTED, 3, 2, 1),
        (ImportStatus.PENDING, 0, 0, 0),
    ]
    assert entries[1].finished_at_utc is not None
    assert entries[1].finished_at_utc.replace(tzinfo=dt.UTC) == later
    assert [i["line"] for i in entries[1].issues] == [4]
    assert entries[0].issues == []


@pytest.mark.parametrize("broken", ["not_pending", "counts"])
def test_finish_many_changes_no_entry_when_one_cannot_be_finished(
    session: Session, broken: str
) -> None:
    first, second = (journal.start(session, _facts(n), now=NOW) for n in range(2))
    error: type[Exception]
    if broken == "not_pending":
        journal.abandon(session, second.id, message="lost", now=NOW)
        bad, error = Counts(rows_in_file=1, accepted=1), IllegalTransitionError
    else:
        bad, error = Counts(rows_in_file=5, accepted=1), DataContractError  # 1 of 5 counted
    with pytest.raises(error):
        journal.finish_many(
            session,
            [
                journal.Finished(first.id, Counts(rows_in_file=1, accepted=1), NOW),
                journal.Finished(second.id, bad, NOW),
            ],
        )
    assert first.status is ImportStatus.PENDING
    assert first.rows_in_file == 0


def test_find_committed_many_answers_only_for_committed_bytes(session: Session) -> None:
    committed, pending = (journal.start(session, _facts(n), now=NOW) for n in range(2))
    journal.finish(session, committed.id, counts=Counts(rows_in_file=1, accepted=1), now=NOW)
    found = journal.find_committed_many(
        session, [_facts(0).content_hash, _facts(1).content_hash, _facts(9).content_hash]
    )
    assert found == {_facts(0).content_hash: committed}
    assert pending.status is ImportStatus.PENDING
    assert journal.find_committed_many(session, []) == {}


@pytest.fixture
def w(tmp_path: Path) -> Iterator[World]:
    with world(tmp_path) as created:
        created.add_meters([f"S{n}" for n in range(12)])
        yield created


def _feed(w: World, name: str, serial: str) -> Path:
    frame = interval_frame([serial], start=DAY, intervals=8)
    return w.write(name, write_espi(frame, customer_id=serial))


def _hash_lookups(w: World) -> tuple[list[int], Any]:
    """A counter of the journal's content-hash queries on ``w``'s engine (and the listener)."""
    seen = [0]

    def count(*args: Any) -> None:
        statement = str(args[2])
        if statement.lstrip().upper().startswith("SELECT") and "content_hash" in statement:
            seen[0] += 1

    engine = w.sessions.kw["bind"]
    event.listen(engine, "before_cursor_execute", count)
    return seen, count


def test_new_files_are_looked_up_in_the_journal_several_at_a_time(w: World) -> None:
    paths = [_feed(w, f"{n}.xml", f"S{n}") for n in range(12)]
    seen, listener = _hash_lookups(w)
    try:
        reports = w.ingest(*paths)
    finally:
        event.remove(w.sessions.kw["bind"], "before_cursor_execute", listener)
    assert [r.status for r in reports] == [ImportStatus.COMMITTED] * 12
    assert [r.counts.accepted for r in reports] == [8] * 12
    # One query per file before (two for a file parsed ahead); now one per few files.
    assert 1 <= seen[0] < len(paths)


@pytest.mark.parametrize("group_bytes", [1, 64 * 1024 * 1024])
def test_bytes_committed_earlier_in_the_same_call_are_a_duplicate_file(
    w: World, group_bytes: int
) -> None:
    """The answer "not committed" given before a commit of this call is not used after it."""
    paths = [_feed(w, f"{n}.xml", f"S{n}") for n in range(4)]
    paths.append(w.write("again.xml", paths[0].read_bytes()))
    paths.append(_feed(w, "4.xml", "S4"))
    paths.append(w.write("again2.xml", paths[2].read_bytes()))
    options = IngestOptions(zone=CHICAGO, group_bytes=group_bytes)
    reports = w.ingest(*paths, options=options)
    assert [r.status for r in reports] == [ImportStatus.COMMITTED] * 4 + [
        ImportStatus.DUPLICATE_FILE,
        ImportStatus.COMMITTED,
        ImportStatus.DUPLICATE_FILE,
    ]
    with session_scope(w.sessions) as session:
        entries = list(session.scalars(select(ImportJournal).order_by(ImportJournal.id)))
    by_name = {Path(e.file_name).name: e for e in entries}
    assert by_name["again.xml"].duplicate_of_id == by_name["0.xml"].id
    assert by_name["again2.xml"].duplicate_of_id == by_name["2.xml"].id
    assert by_name["again.xml"].duplicate == 8
