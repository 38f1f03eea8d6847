"""The import journal: status moves and recovery against the store's commit markers."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from meterops.errors import IllegalTransitionError
from meterops.ingest import journal
from meterops.ingest.pipeline import Counts
from meterops.models.ingest import ImportStatus
from meterops.reads.store import FileCommit, ReadStore, Table
from tests.reads.world import NOW, raw_rows

FACTS = journal.FileFacts("a.csv", "0" * 64, 10, "headend_csv", strict=True, actor="test")


def test_recovery_finishes_a_pending_file_whose_marker_exists_and_abandons_the_others(
    session: Session, tmp_path: Path
) -> None:
    store = ReadStore(str(tmp_path / "reads"))
    done = journal.start(session, FACTS, now=NOW)
    lost = journal.start(session, FACTS, now=NOW)
    store.append_rows(
        Table.INTERVAL_READS, raw_rows(1, [1.0], source_file_id=lost.id), source_file_id=lost.id
    )
    counts = Counts(rows_in_file=3, accepted=2, duplicate=1)
    store.commit_file(
        FileCommit(done.id, FACTS.content_hash, "a.csv", "headend_csv", NOW, counts.as_dict())
    )
    recovered = journal.recover(session, store, now=NOW)
    assert [(r.source_file_id, r.status) for r in recovered] == [
        (done.id, ImportStatus.COMMITTED),
        (lost.id, ImportStatus.ABANDONED),
    ]
    assert (done.accepted, done.duplicate, done.rows_in_file) == (2, 1, 3)
    assert "nothing of it is visible" in (lost.message or "")
    assert journal.find_committed(session, FACTS.content_hash) is done
    assert journal.recover(session, store, now=NOW) == []


def test_only_a_pending_file_can_be_finished_or_abandoned(session: Session) -> None:
    entry = journal.start(session, FACTS, now=NOW)
    journal.finish(session, entry.id, counts=Counts(rows_in_file=1, accepted=1), now=NOW)
    with pytest.raises(IllegalTransitionError, match="'committed' and cannot move to 'abandoned'"):
        journal.abandon(session, entry.id, message="late", now=NOW)


def test_a_duplicate_file_counts_every_row_of_the_original_as_duplicate(session: Session) -> None:
    original = journal.start(session, FACTS, now=NOW)
    journal.finish(
        session, original.id, counts=Counts(rows_in_file=7, accepted=5, quarantined=2), now=NOW
    )
    again = journal.record_duplicate(session, FACTS, original=original, now=NOW)
    assert (again.status, again.rows_in_file, again.duplicate, again.duplicate_of_id) == (
        ImportStatus.DUPLICATE_FILE,
        7,
        7,
        original.id,
    )
