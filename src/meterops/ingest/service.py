"""Ingest meter-data files, each whole or not at all.

Bytes → parse → resolve meters → compare with the store → one Delta append per table → commit
marker → journal.

The protocol per file (``docs/storage.md``, "Atomic visibility"):

1. Hash the bytes; a committed file with the same content hash is recorded as ``duplicate_file``
   without parsing (ING-01). A file whose identity (device, inode, size, modification and
   change time) is unchanged since the journal recorded its hash is not read at all: its hash
   is taken from the journal (``journal.fingerprint``, ``IngestOptions.reuse_hashes``).
   Consecutive duplicates are journalled together (one database commit for up to 256 of
   them), before the next file that is not one is looked at.
2. Parse (format sniffed or given). By default (``strict``) any parse issue refuses the whole
   file (FUZZ-06); ``strict=False`` stores the good rows and counts the bad ones ``rejected``.
3. Resolve serials to meter ids with one set-based query (or, when the call's files are
   likely to name a large share of the fleet, in the fleet's ids read once for the call);
   screen unknown meters, future stamps and rows beyond the late-data horizon into the
   quarantine.
4. Record the file ``pending`` in the journal (its own database transaction), then append the
   rows of each table tagged with the journal id, then write the store's commit marker — the
   single moment the file becomes visible — then mark the journal ``committed``.

A file with a valid header (or root element) and no record is a valid empty delivery (the
parsers return empty frames for it): it goes through the same steps, stores nothing and is
journalled ``committed`` with every count 0 (an identical file later is a duplicate file).

A failure after step 4 began marks the entry ``abandoned`` and re-raises; a SIGKILL leaves it
``pending`` and :func:`recover` (run at the start of every :func:`ingest_files`) settles it.
Ingest holds the store's single-writer lock throughout.

Big files in batches (bounded memory). A CMEP or head-end CSV file larger than
``IngestOptions.batch_bytes`` is read in batches of whole lines of about that size (a CSV
batch gets the header row again) and each batch goes through steps 2-4 on its own, with
issue and row line numbers of the file: its rows are compared with the stored rows *and*
with the file's earlier batches (``ReadStore.existing(pending_source_file_id=…)``), then
appended under the same journal id (consecutive batches' rows held until they reach
``IngestOptions.append_rows``, then one Delta append per table: fewer commits). Only after
the last batch is the single commit marker written, so the file still becomes visible whole
or not at all (a SIGKILL between batches leaves only invisible rows, which recovery
abandons). The next batch is read and parsed in a thread while the current one is compared
and appended (at most two batches' bytes and parses in memory, plus the classified rows held
for one append). In strict mode a parse issue in any batch refuses the file: the remaining
batches are only parsed to count rows and issues, and the rows of earlier batches stay
invisible. One difference from a file ingested in one go (only for files above the batch
size): a key repeated in a later batch with a higher source version supersedes the earlier
row instead of conflicting with it.

Many small files in one commit. A file's two Delta commits (its rows, its marker) cost more than
parsing a small XML file (a Green Button feed of one customer, a CIM file of a few meters), so
consecutive ESPI and CIM files are ingested as a group: each is hashed, checked against the
journal (before any parse), parsed and compared on its own (with the group's earlier files
counted as stored, exactly as if they had been committed one by one; its rows carry a
negative placeholder for its journal id meanwhile), then the group's files are journalled
``pending`` in one database transaction (step 4 for all of them; the rows get their real
ids), the group's rows go in one append per table and the group's commit markers in one
Delta commit, and the journal entries are finished together. Every file is still whole or
absent, with its own journal entry and exact counts. A file whose comparison fails is
journalled ``abandoned`` after the group's earlier files are written. A group holds at most
``IngestOptions.group_bytes`` of files; it is written before a file of another format is
parsed, before a file with the same bytes as one in the group is looked at, and before a
refusal or a duplicate is reported, so reports and journal ids keep the order of the paths.
A file is compared only with the group's files whose ids (meter or node) and days can meet
its own (feeds of different customers: none), so a file costs no more as the group grows.
Files of the other formats go in as a group of one (the same steps, written at once), each
with its own two commits; CMEP and CSV deliveries are usually big files, ingested in batches.
Files are hashed three ahead in a thread, and the next two files are parsed in two other
threads while the current one is compared and stored (on two cores the parsers' GIL-free
parts, the compiled XML scanner and Polars, run beside the comparison and the Delta write),
only when each is sure to be parsed at its turn (its bytes not committed, not in the group,
not those of the current file or of a file between): identical files are never parsed. A
file parsed ahead is not looked up in the journal again at its turn (the writer lock is held
and no file committed since has its bytes).

Each database step runs in its own unit of work from ``sessions`` (the adapter's factory);
the service never calls ``commit()`` itself. Must not import ``meterops.web``, ``cli`` or
``config``: settings arrive as :class:`IngestOptions`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import itertools
import zipfile
from collections import deque
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Final, NamedTuple
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
from sqlalchemy.orm import Session, sessionmaker

from meterops.db.engine import session_scope
from meterops.errors import Issue
from meterops.ingest import journal, pipeline
from meterops.ingest._kinds import Counts, IngestRules
from meterops.ingest.formats._common import strip_bom
from meterops.ingest.formats.base import ParsedBatch, ParseError
from meterops.ingest.formats.registry import get_format, sniff_format
from meterops.ingest.repository import (
    SCAN_SHARE,
    fleet_meter_ids,
    fleet_size,
    meter_ids_by_serial,
)
from meterops.models import ImportJournal
from meterops.models.ingest import ImportStatus
from meterops.reads.store import FileCommit, ReadStore, Table

__all__ = [
    "FaultHook",
    "FileReport",
    "IngestOptions",
    "ingest_files",
    "recover",
]

FaultHook = Callable[[str], None]
"""Called with the name of each step boundary (crash tests kill the process there)."""

_SNIFF_BYTES: Final = 65536
_DUPLICATES_PER_UNIT: Final = 256  # duplicate files journalled per database commit
_HASH_AHEAD: Final = 3  # files hashed ahead of the one being ingested
_PARSE_AHEAD: Final = 2  # files parsed ahead (in as many threads) of the one being ingested
_METER_KINDS: Final = ("interval_reads", "register_reads", "events", "comm_stats")
_ZIPPED_FORMATS: Final = frozenset({"nem12"})
_BATCHED_FORMATS: Final = frozenset({"cmep", "headend_csv"})
_HEADER_FORMATS: Final = frozenset({"headend_csv"})
_GROUPED_FORMATS: Final = frozenset({"espi", "cim"})
_SMALL_FRAME: Final = 65_536  # rows: distinct serials taken without run heads first


@dataclass(frozen=True, slots=True)
class IngestOptions:
    """How to ingest, from settings and command-line options.

    Attributes:
        format_id: Force a format (None: sniff each file).
        strict: Refuse a file whole when it has any parse issue (default, FUZZ-06); False
            stores the good rows and counts the bad ones ``rejected``.
        zone: The sender's time zone for local-time formats (CMEP).
        late_data_horizon_days: Older rows are quarantined (``beyond_horizon``). [days]
        future_tolerance_s: Rows ending later than now plus this are quarantined. [s]
        actor: Who ingests (journal).
        batch_bytes: CMEP and head-end CSV files larger than this are ingested in batches of
            about this size (bounded memory; see the module docstring). [bytes]
        group_bytes: Consecutive files in one batch are committed together until their sizes
            add up to this (see the module docstring; memory: about the parsed rows of this
            many bytes of files). [bytes]
        reuse_hashes: Take the content hash of a file whose identity (device, inode, size,
            modification and change time) the journal recorded with a hash from the journal,
            without reading the file (ING-01; ``journal.fingerprint``). False reads and hashes
            every file.
        append_rows: A big file's classified rows are held, batch after batch, until they
            reach this many, then go in one Delta append (fewer commits, each of which costs
            more as the table's files add up; memory: about 200 bytes a held row, so the
            default keeps a day file's peak under 1 GiB; 1 appends every batch). [rows]
    """

    format_id: str | None = None
    strict: bool = True
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    late_data_horizon_days: int = 60
    future_tolerance_s: int = 300
    actor: str = "cli"
    batch_bytes: int = 16 * 1024 * 1024
    group_bytes: int = 64 * 1024 * 1024
    reuse_hashes: bool = True
    append_rows: int = 750_000


@dataclass(frozen=True, slots=True)
class FileReport:
    """What ingesting one file did.

    Attributes:
        file_name: The file.
        status: Final journal status.
        source_file_id: Its import journal id.
        format: Format id, when known.
        counts: Journal counts (they add up to ``counts.rows_in_file``).
        message: Why it was refused or abandoned, or what it duplicates.
        issues: Parse issues (refused or rejected rows), located by line and field.
    """

    file_name: str
    status: ImportStatus
    source_file_id: int
    format: str | None
    counts: Counts
    message: str | None = None
    issues: tuple[Issue, ...] = ()

    @property
    def refused(self) -> bool:
        """True when nothing of the file was stored because it was refused."""
        return self.status is ImportStatus.REFUSED


@contextmanager
def _unit(sessions: sessionmaker[Session]) -> Iterator[Session]:
    with session_scope(sessions) as session:
        yield session


def _no_fault(_: str) -> None:
    return None


def recover(
    sessions: sessionmaker[Session], store: ReadStore, *, now: dt.datetime
) -> list[journal.Recovered]:
    """Settle files left pending by a crashed ingest (call while holding the writer lock)."""
    with _unit(sessions) as session:
        return journal.recover(session, store, now=now)


def ingest_files(
    sessions: sessionmaker[Session],
    store: ReadStore,
    paths: Sequence[Path],
    *,
    options: IngestOptions,
    clock: Callable[[], dt.datetime],
    on_file: Callable[[FileReport], None] | None = None,
    fault: FaultHook | None = None,
) -> list[FileReport]:
    """Ingest files one after the other, each whole or not at all.

    Takes the store's writer lock, settles files a crashed run left pending, then ingests
    each file in order.

    Args:
        sessions: Session factory; each database step is its own committed unit of work.
        store: The read store.
        paths: Files (not folders).
        options: Format, strictness, time zone and arrival limits.
        clock: Returns "now" (called once per file; tests pass fixed times). [UTC]
        on_file: Called with each file's report as soon as it is done (progress).
        fault: Test hook called at step boundaries.

    Returns:
        One report per file, in order.

    Raises:
        ConflictError: Another process holds the writer lock.
    """
    reports: list[FileReport] = []
    hook = fault or _no_fault

    upcoming: deque[tuple[Path, Future[journal.Fingerprint]]] = deque()
    committed = _Committed(sessions, lambda: _known_digests(upcoming))

    def emit(done: Sequence[FileReport]) -> None:
        for report in done:
            if report.status is ImportStatus.COMMITTED:
                committed.forget()  # "not committed" answers may be stale now
            reports.append(report)
            if on_file is not None:
                on_file(report)

    with store.writer_lock():
        recover(sessions, store, now=clock())
        group = _Group(options.group_bytes)
        meters = _Meters(sessions, len(paths))
        duplicates: list[_Duplicate] = []

        def flush() -> None:
            emit(_flush(sessions, store, group, fault=hook))

        def settle() -> None:
            emit(_record_duplicates(sessions, duplicates))
            duplicates.clear()

        known: dict[Path, journal.Fingerprint] = {}
        if options.reuse_hashes:
            with _unit(sessions) as session:
                known = journal.known_fingerprints(session, paths)
        hashes = _hashed_ahead(paths, known)
        parser = ThreadPoolExecutor(max_workers=_PARSE_AHEAD, thread_name_prefix="ingest-parse")
        try:
            files = zip(paths, hashes, strict=True)
            upcoming.extend(itertools.islice(files, _PARSE_AHEAD + 1))
            aheads: deque[_Ahead | None] = deque()  # parses of upcoming[0], upcoming[1], …
            while upcoming:
                path, hashing = upcoming.popleft()
                upcoming.extend(itertools.islice(files, 1))
                hashed = hashing.result()  # a file that cannot be read fails at its turn
                mine = aheads.popleft() if aheads else None
                while len(aheads) < min(len(upcoming), _PARSE_AHEAD):
                    aheads.append(
                        _parse_ahead(
                            committed,
                            parser,
                            upcoming[len(aheads)],
                            earlier=[
                                hashing,
                                *(h for _, h in itertools.islice(upcoming, len(aheads))),
                            ],
                            group=group,
                            options=options,
                        )
                    )
                report = _ingest_one(
                    sessions, store, path, hashed, options=options, now=clock(), fault=hook,
                    group=group, flush=flush, duplicates=duplicates, settle=settle,
                    ahead=mine, committed=committed, meters=meters,
                )  # fmt: skip
                if report is None:  # joined the group or the duplicates
                    if group.full:
                        flush()
                    if len(duplicates) >= _DUPLICATES_PER_UNIT:
                        settle()
                    continue
                flush()
                emit([report])
        except Exception:
            # The files compared before the failure go in, as one by one they would. Pending
            # duplicates are older than any group member (a duplicate writes the group first).
            settle()
            flush()
            raise
        finally:
            parser.shutdown(wait=True, cancel_futures=True)
            hashes.close()  # cancels the hashing ahead when a file failed
        settle()
        flush()
    return reports


def _hashed_ahead(
    paths: Sequence[Path], known: dict[Path, journal.Fingerprint]
) -> Generator[Future[journal.Fingerprint], None, None]:
    """``journal.fingerprint`` of each path (as a future), in order, hashed ahead by a thread.

    The next files are hashed while the current one is parsed and compared (hashlib releases
    the GIL), so on two cores a re-run of identical files takes about half the hashing time.
    At most ``_HASH_AHEAD`` files are hashed ahead; stopping early cancels the rest. A path in
    ``known`` (its identity unchanged since the journal recorded its hash) is not read.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-hash") as pool:
        ahead: deque[Future[journal.Fingerprint]] = deque()
        try:
            for path in paths:
                if path in known:
                    ahead.append(Future())
                    ahead[-1].set_result(known[path])
                else:
                    ahead.append(pool.submit(journal.fingerprint, path))
                if len(ahead) > _HASH_AHEAD:
                    yield ahead.popleft()
            while ahead:
                yield ahead.popleft()
        finally:
            for future in ahead:
                future.cancel()


def _known_digests(upcoming: Sequence[tuple[Path, Future[journal.Fingerprint]]]) -> list[str]:
    """The content hashes of the upcoming files already hashed (without waiting)."""
    return [
        hashing.result()[0]
        for _, hashing in upcoming
        if hashing.done() and not hashing.cancelled() and hashing.exception() is None
    ]


class _Committed:
    """Which content hashes a committed file has, asked of the journal a few files at a time.

    :meth:`find` looks up the hash asked for together with the hashes of the files hashed
    ahead (``nearby``) not asked yet, in one query, and remembers every answer: a run of new
    files costs one journal query per few files instead of one (or two, with the parse
    ahead) per file. Under the writer lock no other process commits a file, so an answer
    stands until this call commits one; :meth:`forget` is then called (``emit``).
    """

    def __init__(
        self, sessions: sessionmaker[Session], nearby: Callable[[], Sequence[str]]
    ) -> None:
        self._sessions = sessions
        self._nearby = nearby
        self._known: dict[str, ImportJournal | None] = {}

    def find(self, content_hash: str) -> ImportJournal | None:
        """The committed entry of a file with these bytes, if any (ING-01)."""
        if content_hash not in self._known:
            wanted = list(dict.fromkeys([content_hash, *self._nearby()]))
            wanted = [h for h in wanted if h not in self._known]
            with _unit(self._sessions) as session:
                found = journal.find_committed_many(session, wanted)
            for digest in wanted:
                self._known[digest] = found.get(digest)
        return self._known[content_hash]

    def forget(self) -> None:
        """Drop every answer (files were committed since)."""
        self._known.clear()


class _Meters:
    """``serial_number`` → ``meter_id`` for the parts of one ingest (files or batches).

    When the parts are likely to name a large share of the fleet (the first part's serials
    times the number of parts, times ``SCAN_SHARE``), the fleet's ids are read once, sorted
    by serial, and each part's serials are found by binary search (:func:`_known`): a Green
    Button feed names one meter and a CSV batch a few thousand, and one query or join per
    part cost more than the lookup. Otherwise each part asks the database for its own
    serials (``meter_ids_by_serial``). The fleet is then the one of the first lookup: a
    meter added by another process meanwhile is unknown to the later parts.
    """

    def __init__(self, sessions: sessionmaker[Session], parts: int) -> None:
        self._sessions = sessions
        self._parts = max(1, parts)
        self._decided = False
        self._fleet: pl.DataFrame | None = None

    def ids(self, serials: list[str]) -> pl.DataFrame:
        """Columns ``serial_number`` and ``meter_id`` of the known ``serials`` (unique)."""
        if self._fleet is None:
            with _unit(self._sessions) as session:
                if not self._decided and serials:
                    self._decided = True
                    if len(serials) * self._parts * SCAN_SHARE >= fleet_size(session):
                        self._fleet = fleet_meter_ids(session).sort("serial_number")
                if self._fleet is None:
                    return meter_ids_by_serial(session, serials)
        return _known(serials, self._fleet)  # no database session once the fleet is known


_Parsed1 = tuple[bytes, str | None, ParsedBatch | None, str, list[Issue]]


@dataclass(frozen=True, slots=True)
class _Ahead:
    """A file parsed in a thread while the file before it is compared and stored."""

    path: Path
    result: Future[_Parsed1]


def _read_and_parse(path: Path, facts: journal.FileFacts, options: IngestOptions) -> _Parsed1:
    """The file's bytes, its format and its parse (``_parse``; no batch when unrecognised)."""
    data = path.read_bytes()
    format_id = options.format_id or _sniff(data)
    if format_id is None:
        return data, None, None, "", []
    return (data, format_id, *_parse(data, dataclasses.replace(facts, format=format_id), options))


def _parse_ahead(
    committed: _Committed,
    parser: ThreadPoolExecutor,
    following: tuple[Path, Future[journal.Fingerprint]],
    *,
    earlier: Sequence[Future[journal.Fingerprint]],
    group: _Group,
    options: IngestOptions,
) -> _Ahead | None:
    """Start parsing a later file in ``parser`` when it is sure to be parsed at its turn.

    Only a file of at most ``batch_bytes`` whose bytes are neither committed (journal), nor in
    the group, nor those of a file before it not yet ingested (``earlier``: the current file
    and the files between): an identical file is never parsed (ING-01). Its turn checks all of
    this again and drops the parse if it is no longer needed.
    """
    path, hashing = following
    if hashing.exception() is not None or any(h.exception() is not None for h in earlier):
        return None  # raised at the file's own turn
    digest, size, identity = hashing.result()
    if size > options.batch_bytes or group.holds(digest):
        return None
    if any(h.result()[0] == digest for h in earlier):
        return None
    if committed.find(digest) is not None:
        return None
    facts = journal.FileFacts(
        str(path), digest, size, None, options.strict, options.actor, identity
    )
    return _Ahead(path, parser.submit(_read_and_parse, path, facts, options))


@dataclass(frozen=True, slots=True)
class _Duplicate:
    """A file whose bytes were committed before, not yet journalled."""

    facts: journal.FileFacts
    original: ImportJournal
    now: dt.datetime


def _record_duplicates(
    sessions: sessionmaker[Session], duplicates: Sequence[_Duplicate]
) -> list[FileReport]:
    """Journal consecutive duplicate files in one unit of work (one commit, not one per file)."""
    if not duplicates:
        return []
    reports = []
    with _unit(sessions) as session:
        for duplicate in duplicates:
            entry = journal.record_duplicate(
                session, duplicate.facts, original=duplicate.original, now=duplicate.now
            )
            counts = Counts(rows_in_file=entry.rows_in_file, duplicate=entry.duplicate)
            reports.append(
                FileReport(
                    duplicate.facts.file_name,
                    entry.status,
                    entry.id,
                    entry.format,
                    counts,
                    entry.message,
                )
            )
    return reports


class _Bounds(NamedTuple):
    """Least and greatest id and time of a frame's rows of one kind (``None`` ids: unbounded)."""

    low: Any
    high: Any
    first: dt.datetime
    last: dt.datetime

    @classmethod
    def of(cls, frame: pl.DataFrame, kind: pipeline.KindSpec) -> _Bounds:
        ids, times = frame[kind.id_column], frame[kind.time_column]
        first, last = times.min(), times.max()
        assert isinstance(first, dt.datetime)
        assert isinstance(last, dt.datetime)
        if ids.null_count():
            return cls(None, None, first, last)
        return cls(ids.min(), ids.max(), first, last)

    def may_meet(self, window: _Bounds) -> bool:
        """Whether rows inside these bounds may lie in ``window`` (:meth:`of_window`)."""
        if self.last < window.first or self.first >= window.last:
            return False
        if self.low is None or window.low is None:
            return True
        return bool(self.low <= window.high and window.low <= self.high)

    @classmethod
    def of_window(cls, window: pipeline.Window) -> _Bounds:
        """A store window's ids' range and days (``last`` exclusive).

        Computed once per file rather than once per group member compared with it.
        """
        ids = window.ids
        if ids.null_count() or ids.is_empty():
            return cls(None, None, window.start_utc, window.end_utc)
        return cls(ids.min(), ids.max(), window.start_utc, window.end_utc)


@dataclass(slots=True)
class _Member:
    """A file of a group: compared, its rows not yet appended, not yet journalled.

    ``placeholder``: a negative stand-in for its journal id, which its rows carry (and the
    conflict records of later files of the group name as ``stored_source_file_id``) until
    :func:`_flush` journals the group ``pending`` and puts the real ids in.
    ``bounds``: per kind table with rows, their id and time bounds (which files of the group
    a later file must be compared with).
    """

    facts: journal.FileFacts
    placeholder: int
    now: dt.datetime
    tables: dict[Table, pl.DataFrame]
    counts: Counts
    issues: list[Issue]
    bounds: dict[Table, _Bounds] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for table, frame in self.tables.items():
            kind = _KIND_OF.get(table)
            if kind is not None and frame.height:
                self.bounds[table] = _Bounds.of(frame, kind)


@dataclass(slots=True)
class _Group:
    """Small files whose rows are appended and committed together (see the module docstring)."""

    limit_bytes: int
    members: list[_Member] = field(default_factory=list)
    size_bytes: int = 0
    placeholders: int = 0  # placeholder ids handed out in this call (-1, -2, …)

    @property
    def full(self) -> bool:
        return self.size_bytes >= self.limit_bytes

    def placeholder(self) -> int:
        """A new stand-in journal id for a file joining the group (negative: never a real id)."""
        self.placeholders += 1
        return -self.placeholders

    def holds(self, content_hash: str) -> bool:
        return any(m.facts.content_hash == content_hash for m in self.members)

    def with_members(
        self, table: Table, committed: pl.DataFrame, window: pipeline.Window
    ) -> pl.DataFrame:
        """The committed rows plus the group's rows of ``table``, latest per key.

        Only members whose rows may lie in ``window`` (the ids and days a file is compared
        with, as ``ReadStore.existing`` reads them) are added; the others cannot change the
        comparison.
        """
        if not self.members:
            return committed
        bounds = _Bounds.of_window(window)
        frames = [
            m.tables[table]
            for m in self.members
            if table in m.bounds and m.bounds[table].may_meet(bounds)
        ]
        if not frames:
            return committed
        kind = _KIND_OF[table]
        own = [f.select(committed.columns).cast(committed.schema) for f in frames]
        return pl.concat([committed, *own]).unique(
            subset=list(kind.key), keep="last", maintain_order=True
        )


def _flush(
    sessions: sessionmaker[Session], store: ReadStore, group: _Group, *, fault: FaultHook
) -> list[FileReport]:
    """Journal a group ``pending``, append its rows, commit its markers at once, finish it.

    One unit of work journals every member ``pending``; one write per table appends. The
    rows carry the members' placeholder ids until here; each table's rows get the real ids
    in one replace (``source_file_id``, and ``stored_source_file_id`` of conflicts with an
    earlier member). Pending before the append is all the protocol needs.
    """
    members = group.members
    if not members:
        return []
    group.members, group.size_bytes = [], 0
    with _unit(sessions) as session:
        ids = journal.start_many(session, [(m.facts, m.now) for m in members])
    fault("after_pending")
    real = dict(zip([m.placeholder for m in members], ids, strict=True))
    try:
        for table in Table:
            frames = [m.tables[table] for m in members if table in m.tables]
            if frames:
                rows = _with_real_ids(pl.concat(frames), real)
                store.append_rows(table, rows, source_file_id=ids)
                fault(f"after_append:{table.value}")
        store.commit_files(
            [
                FileCommit(
                    source_file_id=source_file_id,
                    content_hash=m.facts.content_hash,
                    file_name=m.facts.file_name,
                    format=m.facts.format or "",
                    committed_at_utc=m.now,
                    counts=m.counts.as_dict(),
                )
                for m, source_file_id in zip(members, ids, strict=True)
            ]
        )
    except BaseException as error:
        if store.commit_of(ids[0]) is None:  # the markers land together: none is visible
            with _unit(sessions) as session:
                for m, source_file_id in zip(members, ids, strict=True):
                    journal.abandon(
                        session, source_file_id, message=f"ingest failed: {error!r}", now=m.now
                    )
        raise
    fault("after_commit_marker")
    with _unit(sessions) as session:
        journal.finish_many(
            session,
            [
                journal.Finished(source_file_id, m.counts, m.now, m.issues)
                for m, source_file_id in zip(members, ids, strict=True)
            ],
        )
    fault("after_journal")
    return [
        FileReport(
            m.facts.file_name,
            ImportStatus.COMMITTED,
            source_file_id,
            m.facts.format,
            m.counts,
            None,
            tuple(m.issues),
        )
        for m, source_file_id in zip(members, ids, strict=True)
    ]


_FILE_ID_COLUMNS: Final = ("source_file_id", "stored_source_file_id")


def _with_real_ids(rows: pl.DataFrame, real: dict[int, int]) -> pl.DataFrame:
    """``rows`` with the group's placeholder ids replaced by their journal ids.

    Only negative ids are placeholders: a conflict's ``stored_source_file_id`` naming a
    committed file keeps it.
    """
    columns = [c for c in _FILE_ID_COLUMNS if c in rows.columns]
    old, new = list(real), list(real.values())
    return rows.with_columns(pl.col(c).replace(old, new) for c in columns)


def _refuse(
    sessions: sessionmaker[Session],
    facts: journal.FileFacts,
    *,
    counts: Counts,
    message: str,
    issues: list[Issue],
    now: dt.datetime,
) -> FileReport:
    with _unit(sessions) as session:
        entry = journal.record_refused(
            session, facts, counts=counts, message=message, issues=issues, now=now
        )
        return FileReport(
            facts.file_name,
            ImportStatus.REFUSED,
            entry.id,
            facts.format,
            counts,
            message,
            tuple(issues),
        )


def _parse(
    data: bytes, facts: journal.FileFacts, options: IngestOptions, *, part: bool = False
) -> tuple[ParsedBatch | None, str, list[Issue]]:
    """Parse leniently (to report every issue); return the batch or why there is none.

    ``part``: ``data`` is a batch of a bigger file, which may hold no usable row.
    """
    spec = get_format(facts.format or "")
    extra: dict[str, object] = {"zone": options.zone} if "zone" in spec.required_options else {}
    if part:
        extra["allow_empty"] = True
    try:
        batch = spec.parse(data, name=facts.file_name, strict=False, **extra)
    except ParseError as error:
        return None, error.message.splitlines()[0], list(error.issues)
    return batch, "", list(batch.issues)


def _sniff(data: bytes) -> str | None:
    """The file's format; a zip archive of one file is sniffed by its member.

    Only formats whose parser opens archives itself (NEM12/NEM13) are accepted zipped.
    """
    found = sniff_format(data[:_SNIFF_BYTES])
    if found is not None or not data.startswith(b"PK\x03\x04"):
        return found
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = [m for m in archive.infolist() if not m.is_dir()]
            if len(members) != 1:
                return None
            with archive.open(members[0]) as member:
                inner = sniff_format(member.read(_SNIFF_BYTES))
    except zipfile.BadZipFile:
        return None
    return inner if inner in _ZIPPED_FORMATS else None


def _serials(batch: ParsedBatch) -> list[str]:
    """The batch's distinct serial numbers (any order, no null).

    A kind's serials of at most ``_SMALL_FRAME`` rows (a Green Button feed, a CIM file) are
    taken as they are: one Polars query for the batch. A bigger frame (a CSV batch) keeps
    only the first row of each run of equal serials before the distinct step (files list a
    meter's rows together), which hashes far fewer strings.
    """
    heads: list[pl.Series] = []
    for attr in _METER_KINDS:
        serial: pl.Series = getattr(batch, attr)["serial_number"]
        if serial.len() > _SMALL_FRAME:
            heads.append(serial.filter(serial.ne_missing(serial.shift()).fill_null(value=True)))
        elif serial.len():
            heads.append(serial)
    if not heads:
        return []
    serials = heads[0] if len(heads) == 1 else pl.concat(heads)
    return serials.unique().drop_nulls().to_list()


def _ingest_one(
    sessions: sessionmaker[Session],
    store: ReadStore,
    path: Path,
    hashed: journal.Fingerprint,
    *,
    options: IngestOptions,
    now: dt.datetime,
    fault: FaultHook,
    group: _Group,
    flush: Callable[[], None],
    duplicates: list[_Duplicate],
    settle: Callable[[], None],
    ahead: _Ahead | None = None,
    committed: _Committed,
    meters: _Meters,
) -> FileReport | None:
    """Ingest one file; None when it joined ``group`` or ``duplicates`` (reported later).

    A file whose bytes were committed before joins ``duplicates`` after the group is written
    (path order); any other file first has ``settle`` journal the duplicates before it.
    """
    digest, size, identity = hashed
    if group.holds(digest):  # the same bytes as a grouped file: a duplicate once committed
        flush()
    facts = journal.FileFacts(
        file_name=str(path),
        content_hash=digest,
        size_bytes=size,
        format=options.format_id,
        strict=options.strict,
        actor=options.actor,
        identity=identity,
    )
    original = None
    if ahead is None or ahead.path != path:
        # (a file parsed ahead was looked up when its parse began: under the writer lock, no
        # file committed since had its bytes, so the answer stands)
        original = committed.find(facts.content_hash)
    if original is not None:  # never parsed: journalled with the next duplicates (ING-01)
        flush()
        duplicates.append(_Duplicate(facts, original, now))
        return None
    settle()
    if size > options.batch_bytes:
        with path.open("rb") as stream:
            head = stream.read(_SNIFF_BYTES)
        format_id = options.format_id or sniff_format(head)
        if format_id in _BATCHED_FORMATS:
            flush()
            facts = dataclasses.replace(facts, format=format_id)
            return _ingest_batches(
                sessions, store, path, facts, options=options, now=now, fault=fault
            )
    if ahead is not None and ahead.path == path:
        data, format_id, batch, message, issues = ahead.result.result()
    else:
        data, format_id, batch, message, issues = _read_and_parse(path, facts, options)
    facts = dataclasses.replace(facts, format=format_id)

    def refuse(counts: Counts, message: str, issues: list[Issue]) -> FileReport:
        flush()  # the group's files are journalled first: journal ids in path order
        return _refuse(sessions, facts, counts=counts, message=message, issues=issues, now=now)

    if facts.format is None:
        return refuse(Counts(), "the format is not recognised; name it with --format", [])
    grouped = facts.format in _GROUPED_FORMATS
    if not grouped:
        flush()  # a group of its own, compared with a store that holds every earlier file
    if batch is None:
        return refuse(Counts(), message, issues)
    rules = IngestRules(now, options.late_data_horizon_days, options.future_tolerance_s)
    if issues and options.strict:
        rows = max(batch.rows_in_file, batch.row_count)
        return refuse(
            Counts(rows_in_file=rows, rejected=rows),
            f"{len(issues)} parse issue(s); nothing stored (use --lenient to store the good rows)",
            issues,
        )
    screened = pipeline.screen(batch, meters.ids(_serials(batch)), rules=rules, data=data)
    existing = {
        table: group.with_members(
            table,
            store.existing(
                table, start_utc=window.start_utc, end_utc=window.end_utc, ids=window.ids
            ),
            window,
        )
        for table, window in screened.windows.items()
    }
    times = _interval_times(store, screened, existing)
    placeholder = group.placeholder()  # the journal id comes when the group is written
    try:
        plan = pipeline.classify(
            screened,
            existing,
            stored_interval_times=times,
            source_file_id=placeholder,
            rules=rules,
        )
    except BaseException as error:
        flush()  # the group's earlier files go in (and get their ids) before this one
        with _unit(sessions) as session:
            entry = journal.start(session, facts, now=now)
            journal.abandon(session, entry.id, message=f"ingest failed: {error!r}", now=now)
        raise
    group.members.append(_Member(facts, placeholder, now, dict(plan.tables), plan.counts, issues))
    group.size_bytes += size
    if not grouped:
        flush()
    return None


def _interval_times(
    store: ReadStore, screened: pipeline.Screened, existing: dict[Table, pl.DataFrame]
) -> pl.DataFrame:
    """Keys of stored raw reads and versions in the interval window (for late detection)."""
    window = screened.windows.get(Table.INTERVAL_READS)
    if window is None:
        return pl.DataFrame()
    keys = ["meter_id", "channel", "interval_start_utc"]
    versions = store.stored_version_keys(
        start_utc=window.start_utc, end_utc=window.end_utc, meter_ids=window.ids
    )
    stored = existing[Table.INTERVAL_READS].select(keys)
    if versions.is_empty():  # the usual case: no concatenation (one Polars query less a file)
        return stored
    return pl.concat([stored, versions.select(keys)])


# --------------------------------------------------------------------------------------------
# Big files in batches


@dataclass(frozen=True, slots=True)
class _Batch:
    """Whole lines of a file: ``data`` holds the file's lines from ``line_offset + 1`` on.

    A CSV batch after the first starts with a copy of the header row, so its first data line
    is parser line 2 and ``line_offset`` is one less than the lines before it in the file.
    """

    data: bytes
    line_offset: int


def _parts(stream: BinaryIO, batch_bytes: int) -> Iterator[tuple[bytes, bytes]]:
    """``(block, tail)``: a read of ``batch_bytes`` and the rest of its last line.

    A last line without a line end at the end of the file is a part of its own.
    """
    while True:
        block = stream.read(max(1, batch_bytes))
        if not block:
            return
        if block.endswith(b"\n"):
            yield block, b""
            continue
        tail = stream.readline()
        if tail.endswith(b"\n"):
            yield block, tail
            continue
        whole = block + tail  # the end of the file inside the last line
        cut = whole.rfind(b"\n") + 1
        if cut:
            yield whole[:cut], b""
        yield whole[cut:], b""
        return


def _batches(path: Path, *, batch_bytes: int, header: bool) -> Iterator[_Batch]:
    """The file as batches of whole lines of about ``batch_bytes`` (never a line cut).

    Read with plain reads, not a memory map: mapped pages of the file would count in the
    process's resident memory until unmapped (the bench's peak-memory figure). A batch is
    one read of ``batch_bytes`` and the rest of its last line, joined once with the header
    row (CSV): no carry and no cut copies of the batch. Lines are counted with numpy
    (``bytes.count`` of one byte is about three times slower).
    """
    with path.open("rb") as stream:
        header_row = b""
        lines_before = 0
        seen = False
        for block, tail in _parts(stream, batch_bytes):
            seen = True
            if lines_before == 0 and header:
                data = block + tail if tail else block
                header_row = strip_bom(data[: data.find(b"\n") + 1])
                batch = _Batch(data, 0)
            elif header:
                batch = _Batch(b"".join((header_row, block, tail)), lines_before - 1)
            else:
                batch = _Batch(block + tail if tail else block, lines_before)
            new_lines = int(np.count_nonzero(np.frombuffer(block, dtype=np.uint8) == 10))
            new_lines += tail.count(b"\n")
            lines_before += new_lines
            # Blank tails add no rows (but a file of blank lines is still one batch).
            if not (block.isspace() and (not tail or tail.isspace())) or lines_before == new_lines:
                yield batch
        if not seen:  # an empty file is one empty batch
            yield _Batch(b"", 0)


_Parsed = tuple[_Batch, ParsedBatch | None, str, list[Issue]]


def _parsed(path: Path, facts: journal.FileFacts, options: IngestOptions) -> Iterator[_Parsed]:
    """Each batch with its parse, the next batch read and parsed in a thread meanwhile.

    The parsers (numba loops, Polars) release the GIL, so on two cores the next batch is
    parsed while this one is compared and appended; at most two batches are in memory.
    Reading and cutting the file (about 0.3 CPU-seconds for a 623 MB CSV day file) happens
    in the parse thread too: the main thread's comparison is the critical path. Only that
    one thread advances the batch generator, one batch at a time.
    """
    parts = _batches(path, batch_bytes=options.batch_bytes, header=facts.format in _HEADER_FORMATS)

    def next_parsed() -> _Parsed | None:
        part = next(parts, None)
        if part is None:
            return None
        return (part, *_parse(part.data, facts, options, part=True))

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-parse") as pool:
        ahead = pool.submit(next_parsed)
        while (current := ahead.result()) is not None:
            ahead = pool.submit(next_parsed)
            yield current


def _shifted(batch: ParsedBatch, offset: int) -> ParsedBatch:
    """The batch with line numbers of the whole file (rows and issues)."""
    if offset == 0:
        return batch
    for kind in pipeline.KINDS:
        frame: pl.DataFrame = getattr(batch, kind.batch_attr)
        if frame.height:
            setattr(batch, kind.batch_attr, frame.with_columns(pl.col("source_line") + offset))
    batch.issues = [_moved(issue, offset) for issue in batch.issues]
    return batch


def _moved(issue: Issue, offset: int) -> Issue:
    if issue.line is None:
        return issue
    return dataclasses.replace(issue, line=issue.line + offset)


def _ingest_batches(
    sessions: sessionmaker[Session],
    store: ReadStore,
    path: Path,
    facts: journal.FileFacts,
    *,
    options: IngestOptions,
    now: dt.datetime,
    fault: FaultHook,
) -> FileReport:
    """Ingest a big CMEP or CSV file batch by batch under one journal id and commit marker."""
    rules = IngestRules(now, options.late_data_horizon_days, options.future_tolerance_s)
    issues: list[Issue] = []
    counts = Counts()
    parsed_rows = usable = 0
    source_file_id: int | None = None

    def refuse(message: str, refused: Counts) -> FileReport:
        if source_file_id is None:
            return _refuse(sessions, facts, counts=refused, message=message, issues=issues, now=now)
        with _unit(sessions) as session:
            journal.refuse_pending(
                session, source_file_id, counts=refused, message=message, issues=issues, now=now
            )
        return FileReport(
            facts.file_name,
            ImportStatus.REFUSED,
            source_file_id,
            facts.format,
            refused,
            message,
            tuple(issues),
        )

    expected_batches = -(-facts.size_bytes // max(1, options.batch_bytes))
    try:
        with _FileBatches(
            sessions, store, expected_batches, append_rows=options.append_rows
        ) as state:
            for part, parsed, message, found in _parsed(path, facts, options):
                issues += [_moved(issue, part.line_offset) for issue in found]
                if parsed is None:
                    return refuse(message, Counts())
                parsed_rows += max(parsed.rows_in_file, parsed.row_count)
                usable += parsed.row_count
                if issues and options.strict:
                    continue  # refused: only count the rest of the file
                batch = _shifted(parsed, part.line_offset)
                if source_file_id is None:
                    with _unit(sessions) as session:
                        source_file_id = journal.start(session, facts, now=now).id
                    fault("after_pending")
                counts += _store_batch(
                    store, batch, part, state=state, rules=rules,
                    source_file_id=source_file_id, fault=fault,
                )  # fmt: skip
            state.drain()  # every batch appended (or its failure raised) before deciding
            if usable == 0:  # as the parser refuses a whole file without a usable row
                return refuse("no usable row in the file", Counts())
            if issues and options.strict:
                return refuse(
                    f"{len(issues)} parse issue(s); nothing stored (use --lenient to store the "
                    "good rows)",
                    Counts(rows_in_file=parsed_rows, rejected=parsed_rows),
                )
            assert source_file_id is not None
            counts.check(facts.file_name)
            store.commit_file(
                FileCommit(
                    source_file_id=source_file_id,
                    content_hash=facts.content_hash,
                    file_name=facts.file_name,
                    format=facts.format or "",
                    committed_at_utc=now,
                    counts=counts.as_dict(),
                )
            )
    except BaseException as error:
        if source_file_id is not None and store.commit_of(source_file_id) is None:
            with _unit(sessions) as session:
                if journal.get(session, source_file_id).status is ImportStatus.PENDING:
                    journal.abandon(
                        session, source_file_id, message=f"ingest failed: {error!r}", now=now
                    )
        raise
    fault("after_commit_marker")
    with _unit(sessions) as session:
        journal.finish(session, source_file_id, counts=counts, now=now, issues=issues)
    fault("after_journal")
    return FileReport(
        facts.file_name,
        ImportStatus.COMMITTED,
        source_file_id,
        facts.format,
        counts,
        None,
        tuple(issues),
    )


class _FileBatches:
    """What the batches of one big file share: meter ids, appended key ranges, a writer thread.

    * Meter ids: :class:`_Meters` over the expected number of batches (the fleet's ids read
      once for the file when its batches are likely to name a large share of the fleet).
    * Appended key ranges: the id and time range of every batch already written, per table.
      A batch whose range meets none of them cannot repeat a key of an earlier batch, so its
      comparison with the file's own rows reads nothing back from the store.
    * Writer: the classified rows of consecutive batches are held until they reach
      ``append_rows`` and then appended together (one Delta commit per table for them: a
      commit's cost grows with the files in the table, and each append has a fixed cost) by
      one background thread (with its own store handles) while the main thread screens and
      compares the next batches; at most one append is in flight, and :meth:`drain` writes
      what is held and waits for it (before the commit marker, before reading the file's own
      rows back, and before any refusal). A failed append re-raises in the main thread. Rows
      stay invisible until the commit marker, so the protocol is the one of a file in one
      batch.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        store: ReadStore,
        expected_batches: int,
        *,
        append_rows: int = 1,
    ) -> None:
        self.sessions = sessions
        self.store = store
        self.meters = _Meters(sessions, expected_batches)
        self.append_rows = max(1, append_rows)
        self.ranges: dict[Table, list[_KeyRange]] = {}
        self._held: dict[Table, list[pl.DataFrame]] = {}
        self._held_rows = 0
        self._writer_store = ReadStore(store.uri, storage_options=store.storage_options)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-append")
        self._pending: Future[None] | None = None
        self._source_file_id = 0
        self._fault: FaultHook = _no_fault

    def __enter__(self) -> _FileBatches:
        return self

    def __exit__(self, *_: object) -> None:
        self._pool.shutdown(wait=True)

    def may_repeat(self, table: Table, window: _KeyRange) -> bool:
        """Whether an earlier batch wrote rows of ``table`` inside ``window``."""
        return any(window.meets(earlier) for earlier in self.ranges.get(table, []))

    def write(
        self,
        tables: dict[Table, pl.DataFrame],
        ranges: dict[Table, _KeyRange],
        *,
        source_file_id: int,
        fault: FaultHook,
    ) -> None:
        """Hold one batch's tables; append the held rows when they reach ``append_rows``.

        ``ranges`` holds the key range of each table's rows as screened (a superset of the
        rows written, so :meth:`may_repeat` stays on the safe side); a table without one has
        its range taken from the rows written.
        """
        for table, frame in tables.items():
            kind = _KIND_OF.get(table)
            if kind is not None and frame.height:
                window = ranges.get(table) or _key_range(frame, kind)
                self.ranges.setdefault(table, []).append(window)
            self._held.setdefault(table, []).append(frame)
            self._held_rows += frame.height
        self._source_file_id, self._fault = source_file_id, fault
        if self._held_rows >= self.append_rows:
            self._append_held()

    def drain(self) -> None:
        """Append what is held, wait for the append in flight; re-raise its failure."""
        self._append_held()
        self._wait()

    def _append_held(self) -> None:
        """Start the append of the held batches (after the previous append)."""
        if not self._held:
            return
        tables = {table: _joined(frames) for table, frames in self._held.items()}
        self._held, self._held_rows = {}, 0
        source_file_id, fault = self._source_file_id, self._fault
        self._wait()

        def append() -> None:
            for table, frame in tables.items():
                self._writer_store.append_rows(table, frame, source_file_id=source_file_id)
                fault(f"after_append:{table.value}")

        self._pending = self._pool.submit(append)

    def _wait(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()


def _known(serials: list[str], fleet: pl.DataFrame) -> pl.DataFrame:
    """The rows of ``fleet`` (sorted by ``serial_number``, unique) for ``serials`` it holds.

    A binary search per serial: a batch names a few thousand serials of a fleet of
    100,000, and a join would hash the fleet's serials again at every batch (a Python
    dict of them cost more to build and probe than this).
    """
    known = fleet["serial_number"]
    if known.is_empty() or not serials:
        return fleet.clear()
    wanted = pl.Series("serial_number", serials, dtype=pl.String)
    at = known.search_sorted(wanted, side="left").clip(upper_bound=known.len() - 1)
    found = fleet[at]
    return found.filter(found["serial_number"] == wanted)


def _joined(frames: list[pl.DataFrame]) -> pl.DataFrame:
    """One frame of a table's held frames, in one chunk per column.

    Chunked columns cost more than the copy: the writer's sortedness check, casts and Arrow
    conversion on three unjoined 16 MiB batches took about 10 % more CPU than on one chunk.
    """
    if len(frames) == 1:
        return frames[0]
    return pl.concat(frames, how="vertical", rechunk=True)


_KIND_OF: Final = {kind.table: kind for kind in pipeline.KINDS}


class _KeyRange(NamedTuple):
    """Bounds of a frame's (id, time) keys; ``low``/``high`` None: any id.

    Besides the box (id range × time range), the least and greatest key in the (id, time)
    and in the (time, id) order: batches of a file sorted by meter (or by time) share
    the boundary meter (instant) but not a key, and these orders tell them apart.
    """

    low: Any
    high: Any
    first: dt.datetime
    last: dt.datetime
    by_id: tuple[tuple[Any, Any], tuple[Any, Any]] | None = None
    by_time: tuple[tuple[Any, Any], tuple[Any, Any]] | None = None

    def meets(self, other: _KeyRange) -> bool:
        """Whether the two ranges may share a key."""
        if self.first > other.last or other.first > self.last:
            return False
        if None in (self.low, self.high, other.low, other.high):
            return True
        if not (self.low <= other.high and other.low <= self.high):
            return False
        for mine, theirs in ((self.by_id, other.by_id), (self.by_time, other.by_time)):
            if (
                mine is not None
                and theirs is not None
                and (mine[0] > theirs[1] or theirs[0] > mine[1])
            ):
                return False
        return True


def _key_range(frame: pl.DataFrame, kind: pipeline.KindSpec) -> _KeyRange:
    """The bounds of ``frame``'s (id, time) keys (:class:`_KeyRange`).

    Ids are meter ids or, for topology, node ids (text); null ids make the range unbounded.
    """
    ids, times = frame[kind.id_column], frame[kind.time_column]
    low, high = ids.min(), ids.max()
    first, last = times.min(), times.max()
    assert isinstance(first, dt.datetime)
    assert isinstance(last, dt.datetime)
    if ids.null_count() or times.null_count() or low is None or high is None:
        return _KeyRange(None, None, first, last)
    id_col, time_col = pl.col(kind.id_column), pl.col(kind.time_column)
    bounds = frame.select(
        time_col.filter(id_col == low).min().alias("a"),
        time_col.filter(id_col == high).max().alias("b"),
        id_col.filter(time_col == first).min().alias("c"),
        id_col.filter(time_col == last).max().alias("d"),
    ).row(0)
    return _KeyRange(
        low,
        high,
        first,
        last,
        by_id=((low, bounds[0]), (high, bounds[1])),
        by_time=((first, bounds[2]), (last, bounds[3])),
    )


def _store_batch(
    store: ReadStore,
    batch: ParsedBatch,
    part: _Batch,
    *,
    state: _FileBatches,
    rules: IngestRules,
    source_file_id: int,
    fault: FaultHook,
) -> Counts:
    """Screen, compare (with the store and the file's earlier batches) and append one batch.

    Each table's key range is taken once, from the screened rows: it decides whether the
    file's own rows are read back and is what the batch's append is remembered by.
    """
    meters = state.meters.ids(_serials(batch))
    screened = pipeline.screen(
        batch, meters, rules=rules, data=part.data, line_offset=part.line_offset
    )
    ranges = {table: _key_range(frame, _KIND_OF[table]) for table, frame in screened.frames.items()}
    committed = {
        table: store.existing(
            table, start_utc=window.start_utc, end_utc=window.end_utc, ids=window.ids
        )
        for table, window in screened.windows.items()
    }
    existing = {
        table: _with_own_rows(
            store,
            screened,
            table,
            frame,
            window=ranges[table],
            state=state,
            source_file_id=source_file_id,
        )
        for table, frame in committed.items()
    }
    plan = pipeline.classify(
        screened,
        existing,
        # Late detection looks at committed rows only, as for a file in one batch.
        stored_interval_times=_interval_times(store, screened, committed),
        source_file_id=source_file_id,
        rules=rules,
    )
    state.write(dict(plan.tables), ranges, source_file_id=source_file_id, fault=fault)
    return plan.counts


def _with_own_rows(
    store: ReadStore,
    screened: pipeline.Screened,
    table: Table,
    committed: pl.DataFrame,
    *,
    window: _KeyRange,
    state: _FileBatches,
    source_file_id: int,
) -> pl.DataFrame:
    """The committed rows plus the rows earlier batches of this file appended, per key.

    Only the batch's own keys matter for duplicates, so the file's rows are looked up in the
    batch's exact time range (not whole days): a file sorted by time rather than by meter
    then reads back only the batch's instants, and memory stays bounded. When no earlier
    batch appended rows in the batch's id and time range (a file sorted by meter), nothing is
    read back. A key present in both (a higher source version superseded the stored row)
    keeps the file's row.
    """
    kind = _KIND_OF[table]
    if not state.may_repeat(table, window):
        return committed
    first, last = window.first, window.last
    state.drain()  # the earlier batches' rows (held ones too) must be in the table before reading
    own = store.existing(
        table,
        start_utc=first,
        end_utc=last + dt.timedelta(microseconds=1),
        ids=screened.windows[table].ids,
        pending_source_file_id=source_file_id,
    ).filter(pl.col("source_file_id") == source_file_id)
    if own.is_empty():
        return committed
    return pl.concat([committed, own.select(committed.columns)]).unique(
        subset=list(kind.key), keep="last", maintain_order=True
    )
