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
import hashlib
import io
import mmap
import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, NamedTuple

from sqlalchemy.orm import Session

from meterops.errors import IllegalTransitionError, Issue, NotFoundError
from meterops.ingest._kinds import Counts
from meterops.ingest.repository import JournalRepository
from meterops.models import ImportJournal
from meterops.models.ingest import ImportStatus
from meterops.reads.store import ReadStore

__all__ = [
    "HASH_BLOCK_BYTES",
    "SETTLED_NS",
    "FileFacts",
    "Fingerprint",
    "Finished",
    "Recovered",
    "abandon",
    "content_hash",
    "file_identity",
    "find_committed",
    "find_committed_many",
    "fingerprint",
    "finish",
    "finish_many",
    "get",
    "known_fingerprints",
    "record_duplicate",
    "record_refused",
    "recover",
    "refuse_pending",
    "start",
    "start_many",
]

_MAX_ISSUES_KEPT = 200
_MAX_MESSAGE = 2000

HASH_BLOCK_BYTES: Final = 8 * 1024 * 1024
"""Block size of :func:`content_hash`. [bytes]"""


def content_hash(path: Path, *, workers: int | None = None) -> tuple[str, int]:
    """The journal's content hash of a file, and its size.

    SHA-256 over the concatenated SHA-256 digests of the file's consecutive 8 MiB blocks (the
    last one shorter; an empty file hashes no block). Blocks are hashed in parallel straight
    from the page cache, so recognising a re-sent file (ING-01) costs a fraction of reading it
    once on one core. To check a value by hand::

        digests = b"".join(hashlib.sha256(block).digest() for block in blocks_of(8 MiB))
        hashlib.sha256(digests).hexdigest()

    Args:
        path: The file.
        workers: Threads to hash with (default: one per CPU).

    Returns:
        (hex digest, size [bytes])
    """
    with path.open("rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        return _digest(handle, size, workers), size


def _digest(handle: io.BufferedReader, size: int, workers: int | None) -> str:
    """:func:`content_hash` of an open file of ``size`` bytes."""
    if size == 0:
        return hashlib.sha256(b"").hexdigest()
    if size <= HASH_BLOCK_BYTES:  # one block: no map, no threads (most files of a feed)
        return hashlib.sha256(hashlib.file_digest(handle, "sha256").digest()).hexdigest()
    with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        view = memoryview(mapped)
        blocks = [
            view[start : start + HASH_BLOCK_BYTES] for start in range(0, size, HASH_BLOCK_BYTES)
        ]
        # hashlib releases the GIL on large buffers, so threads hash blocks in parallel.
        with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
            digests = list(pool.map(lambda block: hashlib.sha256(block).digest(), blocks))
        del blocks, view
    return hashlib.sha256(b"".join(digests)).hexdigest()


SETTLED_NS: Final = 2_000_000_000
"""How long before hashing a file must have last changed for its identity to vouch for its
bytes (:func:`fingerprint`): two seconds, the coarsest time stamp of common file systems
(FAT). [ns]"""


class Fingerprint(NamedTuple):
    """A file's content hash, its size and the identity that vouches for them.

    Attributes:
        content_hash: :func:`content_hash` of the bytes.
        size_bytes: Size. [bytes]
        identity: :func:`file_identity` when the hash was taken, or None when the file
            changed while it was hashed or too shortly before (see :func:`fingerprint`).
    """

    content_hash: str
    size_bytes: int
    identity: str | None


def file_identity(status: os.stat_result) -> str:
    """Device, inode, size, modification and change time of a file (ns), as one string.

    Any write to the file, a replacement of it (new inode) or a change of its times moves the
    change time, which no program can set back, so an unchanged identity means unchanged bytes
    once the change time is older than the time stamps' granularity (:data:`SETTLED_NS`): the
    rule version control systems use to skip re-reading unchanged files.
    """
    return (
        f"{status.st_dev}:{status.st_ino}:{status.st_size}:"
        f"{status.st_mtime_ns}:{status.st_ctime_ns}"
    )


def fingerprint(
    path: Path, *, settled_ns: int = SETTLED_NS, workers: int | None = None
) -> Fingerprint:
    """:func:`content_hash` of a file, with its identity when that can vouch for the bytes.

    The identity is kept only when the open file's status is the same before and after hashing
    and its change time is at least ``settled_ns`` older than the start of hashing: a write in
    the same time stamp tick as the last change, after the bytes were read, would otherwise
    leave the identity unchanged over different bytes.
    """
    started = time.time_ns()
    with path.open("rb") as handle:
        before = os.fstat(handle.fileno())
        digest = _digest(handle, before.st_size, workers)
        after = os.fstat(handle.fileno())
    identity = file_identity(before)
    vouches = identity == file_identity(after) and before.st_ctime_ns <= started - settled_ns
    return Fingerprint(digest, before.st_size, identity if vouches else None)


def known_fingerprints(session: Session, paths: Sequence[Path]) -> dict[Path, Fingerprint]:
    """The fingerprints of the ``paths`` whose identity a journalled file had, without reading.

    A path whose :func:`file_identity` now equals one the journal recorded with a content hash
    holds the bytes that were hashed then (see :func:`fingerprint`). Paths that cannot be
    read, or whose identity the journal does not know, are absent: they are hashed.
    """
    identities: dict[str, Path] = {}
    for path in paths:
        try:
            identities[file_identity(path.stat())] = path
        except OSError:
            continue  # reported when the file is hashed, at its turn
    known = JournalRepository(session).hashes_by_identity(list(identities))
    return {
        identities[identity]: Fingerprint(digest, size, identity)
        for identity, (digest, size) in known.items()
    }


@dataclass(frozen=True, slots=True)
class FileFacts:
    """What the journal records about a file before reading it.

    Attributes:
        file_name: Name (or path) as given.
        content_hash: :func:`content_hash` of the bytes.
        size_bytes: Size. [bytes]
        format: Format id, when known.
        strict: Whether any parse issue refuses the whole file.
        actor: Who ingests.
        identity: :attr:`Fingerprint.identity` (recorded to recognise the file unread).
    """

    file_name: str
    content_hash: str
    size_bytes: int
    format: str | None
    strict: bool
    actor: str
    identity: str | None = None


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
        content_hash=facts.content_hash,
        size_bytes=facts.size_bytes,
        file_identity=facts.identity,
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


def find_committed(session: Session, content_hash: str) -> ImportJournal | None:
    """The committed entry of a file with these bytes, if any (ING-01)."""
    return JournalRepository(session).committed_by_content_hash(content_hash)


def find_committed_many(
    session: Session, content_hashes: Sequence[str]
) -> dict[str, ImportJournal]:
    """:func:`find_committed` of several hashes in one query: hash → committed entry.

    Hashes without a committed file are absent from the result.
    """
    entries = JournalRepository(session).committed_by_content_hashes(content_hashes)
    return {entry.content_hash: entry for entry in entries}


def start(session: Session, facts: FileFacts, *, now: dt.datetime) -> ImportJournal:
    """Record a file about to write to the read store (``pending``)."""
    return JournalRepository(session).add(_entry(facts, ImportStatus.PENDING, now))


def start_many(session: Session, files: Sequence[tuple[FileFacts, dt.datetime]]) -> list[int]:
    """:func:`start` of several files (``(facts, now)`` each) in one flush; their ids in order.

    The entries are inserted in the order given (the unit of work keeps the order objects
    were added in), so the ids increase in that order.
    """
    entries = [_entry(facts, ImportStatus.PENDING, now) for facts, now in files]
    session.add_all(entries)
    session.flush()
    return [entry.id for entry in entries]


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


@dataclass(frozen=True, slots=True)
class Finished:
    """A pending file to mark ``committed`` with :func:`finish_many`.

    Attributes:
        source_file_id: The pending entry.
        counts: Its counts (they must add up).
        now: When it was committed. [UTC]
        issues: Parse issues of the rows it stored (lenient mode).
    """

    source_file_id: int
    counts: Counts
    now: dt.datetime
    issues: Sequence[Issue] = ()


def finish_many(session: Session, files: Sequence[Finished]) -> list[ImportJournal]:
    """:func:`finish` of several files: their entries read in one query, written in one flush.

    Every entry is checked before any is changed, so a refusal changes none of them.

    Raises:
        NotFoundError: An entry does not exist.
        IllegalTransitionError: An entry is not pending.
        DataContractError: The counts of a file do not add up.
    """
    entries = JournalRepository(session).by_ids([f.source_file_id for f in files])
    for done in files:
        entry = entries.get(done.source_file_id)
        if entry is None:
            raise NotFoundError(f"No import journal entry {done.source_file_id}.")
        done.counts.check(entry.file_name)
        if entry.status is not ImportStatus.PENDING:
            _move(entry, ImportStatus.COMMITTED)  # raises the illegal transition
    for done in files:
        entry = entries[done.source_file_id]
        _move(entry, ImportStatus.COMMITTED)
        _set_counts(entry, done.counts)
        entry.finished_at_utc = done.now
        if done.issues:
            entry.issues = [issue.to_dict() for issue in done.issues[:_MAX_ISSUES_KEPT]]
    session.flush()
    return [entries[f.source_file_id] for f in files]


def refuse_pending(
    session: Session,
    source_file_id: int,
    *,
    counts: Counts,
    message: str,
    issues: list[Issue],
    now: dt.datetime,
) -> ImportJournal:
    """Mark a pending file ``refused`` (a big file whose later batch broke the strict rule).

    Rows of its earlier batches were appended but never committed: they stay invisible.

    Raises:
        IllegalTransitionError: The entry is not pending.
    """
    entry = get(session, source_file_id)
    _move(entry, ImportStatus.REFUSED)
    _set_counts(entry, counts)
    entry.finished_at_utc = now
    entry.message = message[:_MAX_MESSAGE]
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
