"""The import journal: one row per file ingest attempt, its status moves and recovery.

Status moves: a file that will write to the read store starts ``pending`` (committed to the
database *before* the first Delta append, so a crash always leaves a trace) and ends
``committed`` (after the store's commit marker) or ``abandoned`` (the ingest failed or died
before the marker). Files that write nothing are recorded directly as ``duplicate_file`` (same
bytes committed before) or ``refused`` (parse issues, unknown format).

The read store's commit marker, not this table, decides what is visible; :func:`recover`
brings the journal in line after a crash: a pending file with a marker is finished with the
marker's counts, one without is abandoned (its rows stay invisible for ever, and the file can
simply be ingested again).

Functions only flush; the caller's unit of work commits. Must not import ``meterops.web``,
``cli`` or ``config``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from meterops.errors import IllegalTransitionError, Issue, NotFoundError
from meterops.ingest._kinds import Counts
from meterops.ingest.repository import JournalRepository
from meterops.models import ImportJournal
from meterops.models.ingest import ImportStatus
from meterops.reads.store import ReadStore

__all__ = [
    "FileFacts",
    "Recovered",
    "abandon",
    "find_committed",
    "finish",
    "get",
    "record_duplicate",
    "record_refused",
    "recover",
    "start",
]

_MAX_ISSUES_KEPT = 200
_MAX_MESSAGE = 2000


@dataclass(frozen=True, slots=True)
class FileFacts:
    """What the journal records about a file before reading it.

    Attributes:
        file_name: Name (or path) as given.
        sha256: Hex SHA-256 of the bytes.
        size_bytes: Size. [bytes]
        format: Format id, when known.
        strict: Whether any parse issue refuses the whole file.
        actor: Who ingests.
    """

    file_name: str
    sha256: str
    size_bytes: int
    format: str | None
    strict: bool
    actor: str


@dataclass(frozen=True, slots=True)
class Recovered:
    """What :func:`recover` did with one pending entry.

    Attributes:
        source_file_id: The entry.
        file_name: Its file.
        status: ``committed`` (the marker was there) or ``abandoned``.
    """

    source_file_id: int
    file_name: str
    status: ImportStatus


def _entry(facts: FileFacts, status: ImportStatus, now: dt.datetime) -> ImportJournal:
    return ImportJournal(
        file_name=facts.file_name[-255:],
        sha256=facts.sha256,
        size_bytes=facts.size_bytes,
        format=facts.format,
        status=status,
        strict=facts.strict,
        actor=facts.actor,
        started_at_utc=now,
        issues=[],
    )


def _set_counts(entry: ImportJournal, counts: Counts) -> None:
    for name, value in counts.as_dict().items():
        setattr(entry, name, value)


def get(session: Session, source_file_id: int) -> ImportJournal:
    """The journal entry ``source_file_id``.

    Raises:
        NotFoundError: No such entry.
    """
    entry = JournalRepository(session).get(source_file_id)
    if entry is None:
        raise NotFoundError(f"No import journal entry {source_file_id}.")
    return entry


def find_committed(session: Session, sha256: str) -> ImportJournal | None:
    """The committed entry of a file with these bytes, if any (ING-01)."""
    return JournalRepository(session).committed_by_sha256(sha256)


def start(session: Session, facts: FileFacts, *, now: dt.datetime) -> ImportJournal:
    """Record a file about to write to the read store (``pending``)."""
    return JournalRepository(session).add(_entry(facts, ImportStatus.PENDING, now))


def record_duplicate(
    session: Session, facts: FileFacts, *, original: ImportJournal, now: dt.datetime
) -> ImportJournal:
    """Record a file whose bytes were committed before: every row counts as a duplicate."""
    entry = _entry(facts, ImportStatus.DUPLICATE_FILE, now)
    entry.format = original.format
    _set_counts(entry, Counts(rows_in_file=original.rows_in_file, duplicate=original.rows_in_file))
    entry.duplicate_of_id = original.id
    entry.finished_at_utc = now
    entry.message = f"same bytes as import {original.id} ({original.file_name})"[:_MAX_MESSAGE]
    return JournalRepository(session).add(entry)


def record_refused(
    session: Session,
    facts: FileFacts,
    *,
    counts: Counts,
    message: str,
    issues: list[Issue],
    now: dt.datetime,
) -> ImportJournal:
    """Record a file refused whole; nothing of it was stored."""
    entry = _entry(facts, ImportStatus.REFUSED, now)
    _set_counts(entry, counts)
    entry.finished_at_utc = now
    entry.message = message[:_MAX_MESSAGE]
    entry.issues = [issue.to_dict() for issue in issues[:_MAX_ISSUES_KEPT]]
    return JournalRepository(session).add(entry)


def _move(entry: ImportJournal, target: ImportStatus) -> None:
    if entry.status is not ImportStatus.PENDING:
        raise IllegalTransitionError(
            entity=f"import {entry.id} ({entry.file_name})",
            current=entry.status.value,
            target=target.value,
            allowed=[],
        )
    entry.status = target


def finish(
    session: Session,
    source_file_id: int,
    *,
    counts: Counts,
    now: dt.datetime,
    issues: list[Issue] | None = None,
) -> ImportJournal:
    """Mark a pending file ``committed`` with its counts (after the store's commit marker).

    Raises:
        IllegalTransitionError: The entry is not pending.
        DataContractError: The counts do not add up.
    """
    entry = get(session, source_file_id)
    counts.check(entry.file_name)
    _move(entry, ImportStatus.COMMITTED)
    _set_counts(entry, counts)
    entry.finished_at_utc = now
    if issues:
        entry.issues = [issue.to_dict() for issue in issues[:_MAX_ISSUES_KEPT]]
    session.flush()
    return entry


def abandon(
    session: Session, source_file_id: int, *, message: str, now: dt.datetime
) -> ImportJournal:
    """Mark a pending file ``abandoned``: its rows, if any were appended, stay invisible."""
    entry = get(session, source_file_id)
    _move(entry, ImportStatus.ABANDONED)
    entry.finished_at_utc = now
    entry.message = message[:_MAX_MESSAGE]
    session.flush()
    return entry


def recover(session: Session, store: ReadStore, *, now: dt.datetime) -> list[Recovered]:
    """Finish or abandon every pending entry, according to the store's commit markers.

    Call it while holding the store's writer lock, so that no live ingest is pending.

    Args:
        session: Database session.
        store: The read store the entries wrote to.
        now: Time recorded as the entries' finish. [UTC]

    Returns:
        What happened to each pending entry.
    """
    done: list[Recovered] = []
    for entry in JournalRepository(session).with_status(ImportStatus.PENDING):
        marker = store.commit_of(entry.id)
        if marker is not None:
            counts: dict[str, Any] = dict(marker.counts)
            finish(session, entry.id, counts=Counts(**counts), now=now)
        else:
            abandon(
                session,
                entry.id,
                message="the ingest stopped before its commit point; nothing of it is visible",
                now=now,
            )
        done.append(Recovered(entry.id, entry.file_name, entry.status))
    return done
