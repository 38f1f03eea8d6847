"""The read store: interval reads, versions, flags, registers, events, comm stats, topology.

This module (with its ``reads/_lake.py`` and ``reads/_current.py`` helpers) is the only code
that knows how reads are kept: one append-only Delta table per kind under one URI (layout and
its measurement in ``reads/_lake.py``; the full description in ``docs/storage.md``).

Visibility. Ingest appends a file's rows to several tables, each tagged with the file's
``source_file_id``, and then appends one row to the ``_commits`` table: that single Delta
commit is the moment all of the file's rows become visible, in every table at once. Every read
here keeps only rows whose ``source_file_id`` has a commit marker, so rows of a file whose
ingest died (even by SIGKILL) between appends are never seen, and re-ingesting it later cannot
duplicate them. ``as_of_utc=T`` shows what was visible at ``T``: files committed at or before
``T`` and versions and flags received at or before ``T``.

Versions (for VEE and editing): :meth:`ReadStore.write_versions` appends estimates, edits and
substitutes; :meth:`ReadStore.write_flags` appends sparse flag rows;
:meth:`ReadStore.current_interval_reads` returns, per key, the row received last among the raw
read and its versions, with flags merged. Nothing here updates or deletes a row.

Other engines (Spark): :meth:`ReadStore.table_files` lists the Parquet files of a table's
current Delta version and :meth:`ReadStore.commits` the visible source files; an engine reads
the files itself, keeps raw rows of visible files, and hands each group's raw, version and flag
rows to :func:`current_from_rows`, the same current-view rule as
:meth:`ReadStore.current_interval_reads`.

Must not import ``meterops.db``, ``models``, ``web``, ``cli`` or ``config``: it receives a URI
and explicit parameters.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Final, NamedTuple

import numpy as np
import polars as pl
from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError

from meterops.errors import ConflictError
from meterops.kit.frames import check_frame
from meterops.reads import _current, _versions
from meterops.reads._lake import COUNT_NAMES, TABLES, Lake, PinnedTable, Table
from meterops.reads.schema import (
    COMM_STATS,
    CONFLICTS,
    EVENTS,
    INTERVAL_FLAGS,
    INTERVAL_READS,
    INTERVAL_VERSIONS,
    QUARANTINE,
    REGISTER_READS,
    TOPOLOGY,
)
from meterops.vee.flags import FLAGS

__all__ = [
    "COUNT_NAMES",
    "TIME_COLUMNS",
    "FileCommit",
    "ReadSnapshot",
    "ReadStore",
    "Table",
    "current_from_rows",
    "stored_schema",
]

TIME_COLUMNS: Final[Mapping[Table, str]] = {
    Table.INTERVAL_READS: "interval_start_utc",
    Table.INTERVAL_VERSIONS: "interval_start_utc",
    Table.INTERVAL_FLAGS: "interval_start_utc",
    Table.REGISTER_READS: "read_time_utc",
    Table.EVENTS: "event_time_utc",
    Table.COMM_STATS: "period_start_utc",
    Table.TOPOLOGY: "observed_at_utc",
    Table.CONFLICTS: "time_utc",
}
"""The column each table is filtered on by time."""

_ID_COLUMN: Final = {Table.TOPOLOGY: "node_id"}
_LATE_MASK: Final = FLAGS["LATE"].mask
_MAX_COMMIT_FILES: Final = 16
_STORED_CONTRACTS: Final = {
    Table.REGISTER_READS: REGISTER_READS,
    Table.EVENTS: EVENTS,
    Table.COMM_STATS: COMM_STATS,
    Table.TOPOLOGY: TOPOLOGY,
    Table.CONFLICTS: CONFLICTS,
    Table.QUARANTINE: QUARANTINE,
}


@dataclass(frozen=True, slots=True)
class FileCommit:
    """The commit marker of one source file.

    Attributes:
        source_file_id: Import journal id the file's rows are tagged with.
        content_hash: The import journal's content hash of the file.
        file_name: File name as given.
        format: Format id.
        committed_at_utc: When the file became visible (the ingest's "now"). [UTC]
        counts: Journal counts by name (:data:`COUNT_NAMES`).
    """

    source_file_id: int
    content_hash: str
    file_name: str
    format: str
    committed_at_utc: dt.datetime
    counts: Mapping[str, int]


_Ids = Collection[int] | Collection[str] | pl.Series


class _Window(NamedTuple):
    start_utc: dt.datetime | None
    end_utc: dt.datetime | None
    ids: _Ids | None
    channels: Collection[str] | None = None


def stored_schema(table: Table) -> pl.Schema:
    """The schema of ``table``'s Parquet files, for engines that read them (Spark).

    The logical columns, with unsigned integers (flags, masks) stored as ``Int64``: Delta has
    no unsigned types.

    Examples:
        >>> stored_schema(Table.INTERVAL_FLAGS)["flag_mask"]
        Int64
    """
    unsigned = (pl.UInt8(), pl.UInt16(), pl.UInt32())
    return pl.Schema(
        {n: pl.Int64() if t in unsigned else t for n, t in TABLES[table].schema.items()}
    )


def current_from_rows(
    raw: pl.DataFrame, versions: pl.DataFrame, flags: pl.DataFrame
) -> pl.DataFrame:
    """The current view of given rows, as :meth:`ReadStore.current_interval_reads` builds it.

    For engines that read the tables' Parquet files themselves (Spark): pass the visible raw
    rows (of files with a commit marker), the version rows and the flag rows of a set of keys,
    with their stored (:func:`stored_schema`) or logical dtypes; visibility and time windows
    are the caller's. An empty frame may lack columns.

    Args:
        raw: Rows of the raw interval table (``Table.INTERVAL_READS`` columns).
        versions: Rows of the versions table (with ``received_at_utc``).
        flags: Rows of the flags table (with ``received_at_utc``).

    Returns:
        ``INTERVAL_READS`` rows, one per key, flags merged, in key order.
    """
    rows = _current.raw_as_rows(_cast(raw, Table.INTERVAL_READS).lazy())
    if versions.height:
        version_rows = _current.versions_as_rows(_cast(versions, Table.INTERVAL_VERSIONS).lazy())
        rows = pl.concat([rows, version_rows])
    return _current.current_rows(
        rows.collect(), _cast(flags, Table.INTERVAL_FLAGS) if flags.height else pl.DataFrame()
    )


_KEY: Final = _current.KEY
_RESOLVE: Final = (*_current.KEY, "received_at_utc", "version", "source_version", "quality_flags")
"""Columns the current-view rule needs besides those asked for."""


def _resolution_columns(columns: Sequence[str]) -> frozenset[str]:
    unknown = [c for c in columns if c not in INTERVAL_READS.names]
    if unknown:
        msg = f"unknown interval read column(s) {unknown}; known: {list(INTERVAL_READS.names)}"
        raise ValueError(msg)
    return frozenset((*columns, *_RESOLVE))


def _cast(frame: pl.DataFrame, table: Table) -> pl.DataFrame:
    schema = TABLES[table].schema
    if frame.is_empty():
        return pl.DataFrame(schema=schema)
    return frame.select(pl.col(n).cast(t) for n, t in schema.items())


def _aware(moment: dt.datetime, name: str) -> dt.datetime:
    if moment.tzinfo is None:
        msg = f"{name} must be an aware UTC datetime, got naive {moment.isoformat()}"
        raise ValueError(msg)
    return moment.astimezone(dt.UTC)


def _lit(moment: dt.datetime) -> pl.Expr:
    return pl.lit(moment.astimezone(dt.UTC)).dt.cast_time_unit("us")


def _in_window(frame: pl.LazyFrame, table: Table, window: _Window) -> pl.LazyFrame:
    """Rows of ``frame`` (all of ``table``'s or some of its files) inside ``window``."""
    start_utc, end_utc, ids, channels = window
    time = pl.col(TIME_COLUMNS[table]) if table in TIME_COLUMNS else None
    if time is not None and start_utc is not None:
        frame = frame.filter(time >= _lit(_aware(start_utc, "start_utc")))
    if time is not None and end_utc is not None:
        frame = frame.filter(time < _lit(_aware(end_utc, "end_utc")))
    if ids is not None:
        column = pl.col(_ID_COLUMN.get(table, "meter_id"))
        if isinstance(ids, range) and ids.step == 1:
            # A contiguous range (a batch of meters): one range filter, no membership.
            if not ids:
                return frame.filter(pl.lit(value=False))
            return _channels(
                frame.filter(column.is_between(pl.lit(ids.start), pl.lit(ids.stop - 1))),
                channels,
            )
        values = ids if isinstance(ids, pl.Series) else pl.Series(list(ids))
        if values.is_empty():
            return frame.filter(pl.lit(value=False))
        # The range first: it prunes files and row groups by their statistics.
        frame = frame.filter(column.is_between(pl.lit(values.min()), pl.lit(values.max())))
        frame = frame.filter(column.is_in(values.implode()))
    return _channels(frame, channels)


def _channels(frame: pl.LazyFrame, channels: Collection[str] | None) -> pl.LazyFrame:
    if channels is None:
        return frame
    return frame.filter(pl.col("channel").is_in(pl.Series(list(channels)).implode()))


def _id_bounds(ids: _Ids | None) -> tuple[object, object] | None:
    """Lowest and highest of ``ids`` (None: no bound; nothing selected gives (1, 0))."""
    if ids is None:
        return None
    if isinstance(ids, range):
        if not ids:
            return (1, 0)
        return (ids.start, ids.stop - 1) if ids.step > 0 else (min(ids), max(ids))
    values = ids if isinstance(ids, pl.Series) else pl.Series(list(ids))
    if values.is_empty():
        return (1, 0)
    if values.has_nulls():
        return None
    return values.min(), values.max()


def _file_filter(
    files: pl.DataFrame, table: Table, window: _Window, *, received_by: dt.datetime | None = None
) -> pl.Expr:
    """Which files of ``table`` may hold rows of ``window``, by their Delta statistics.

    Missing statistics (a column absent, or a null bound) keep the file. Delta keeps timestamp
    statistics in milliseconds, truncated: a file's maximum may be up to 1 ms below its true
    maximum, which the start bound allows for.

    Args:
        files: The files' flattened statistics (only the column names are looked at).
        table: Which table (time and id column).
        window: Time window and ids.
        received_by: Also leave out files all of whose rows were received after this. [UTC]
    """
    start_utc, end_utc, ids, _ = window
    names = set(files.columns)
    keep = pl.lit(value=True)

    def bounded(column: str, low: pl.Expr | None, high: pl.Expr | None) -> pl.Expr:
        out = pl.lit(value=True)
        if f"max.{column}" in names and low is not None:
            out &= pl.col(f"max.{column}").is_null() | (pl.col(f"max.{column}") >= low)
        if f"min.{column}" in names and high is not None:
            out &= pl.col(f"min.{column}").is_null() | (pl.col(f"min.{column}") <= high)
        return out

    time = TIME_COLUMNS.get(table)
    if time is not None:
        if start_utc is not None:
            start = _aware(start_utc, "start_utc") - dt.timedelta(milliseconds=1)
            keep &= bounded(time, _lit(start), None)
        if end_utc is not None and f"min.{time}" in names:
            low_t = pl.col(f"min.{time}")
            keep &= low_t.is_null() | (low_t < _lit(_aware(end_utc, "end_utc")))
    bounds = _id_bounds(ids)
    if bounds is not None:
        keep &= bounded(_ID_COLUMN.get(table, "meter_id"), pl.lit(bounds[0]), pl.lit(bounds[1]))
    if received_by is not None:
        keep &= bounded("received_at_utc", None, _lit(_aware(received_by, "as_of_utc")))
    return keep


def _read_interval_rows(
    raw: pl.LazyFrame,
    versions: pl.LazyFrame,
    flags: pl.LazyFrame,
    *,
    commits: pl.DataFrame,
    as_of_utc: dt.datetime | None,
    keep: frozenset[str] | None,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Visible raw rows, and version and flag rows received by ``as_of_utc``, collected.

    The inputs are already cut to a window; ``commits`` are the markers visible as of then.
    """
    raw_columns = [n for n in TABLES[Table.INTERVAL_READS].schema if keep is None or n in keep]
    raw = raw.filter(pl.col("source_file_id").is_in(commits["source_file_id"].implode()))
    if as_of_utc is not None:
        limit = pl.col("received_at_utc") <= _lit(_aware(as_of_utc, "as_of_utc"))
        versions, flags = versions.filter(limit), flags.filter(limit)
    out = pl.collect_all([raw.select(raw_columns), versions, flags])
    return out[0], out[1], out[2]


def _current_view(
    raw: pl.DataFrame,
    versions: pl.DataFrame,
    flags: pl.DataFrame,
    *,
    columns: Sequence[str] | None,
    keep: frozenset[str] | None,
    one_sorted_file: bool = False,
) -> pl.DataFrame:
    """The current view of a window's raw, version and flag rows (``current_interval_reads``).

    When the window holds no version and no flag row and its raw rows come strictly
    increasing in key, they are the current view as they are: each key once, in key order;
    the rule's resolution (key encoding, sort, latest per key) is skipped. Rows read from
    one file of the raw table come in key order (``Lake.append`` writes every file sorted by
    key), so for them only ties are looked for (:func:`_unique_in_sorted_file`); otherwise
    the order is checked in full (:func:`_strictly_increasing`). Anything else goes through
    :func:`~meterops.reads._current.current_rows`.
    """
    if versions.is_empty() and flags.is_empty() and raw.height:
        names = list(INTERVAL_READS.names if columns is None else columns)
        if (
            _unique_in_sorted_file(raw)
            if one_sorted_file
            else _strictly_increasing(raw, _current.KEY)
        ):
            return _raw_view(raw, names)
    rows = _current.raw_as_rows(raw.lazy(), keep)
    if not versions.is_empty():
        rows = pl.concat([rows, _current.versions_as_rows(versions.lazy(), keep)])
    current = _current.current_rows(rows.collect(), flags)
    return current if columns is None else current.select(columns)


def _raw_view(raw: pl.DataFrame, names: Sequence[str]) -> pl.DataFrame:
    """Raw rows as ``INTERVAL_READS`` columns ``names`` (what ``raw_as_rows`` gives).

    Columns are taken as they are (no copy) and cast only when their dtype differs; the
    version columns are the constants of a raw read (version 0, kind raw).
    """
    schema = INTERVAL_READS.schema
    constants = _current.raw_as_rows(raw.head(1).lazy(), names).collect()
    out = []
    for name in names:
        if name in raw.columns:
            column = raw[name]
            out.append(column if column.dtype == schema[name] else column.cast(schema[name]))
        else:
            out.append(constants[name].new_from_index(0, raw.height).cast(schema[name]))
    return pl.DataFrame(out)


def _unique_in_sorted_file(raw: pl.DataFrame) -> bool:
    """Whether rows known to come in key order (one sorted file) hold each key once.

    In key order, two rows of one key are neighbours with equal meter and interval start:
    only those few pairs have their channels compared. Null keys, and meter ids or interval
    starts that step back outside a change of channel, answer False (not the expected order).
    """
    if any(raw[k].null_count() for k in _current.KEY):
        return False
    meter = raw["meter_id"].to_numpy()
    start = raw["interval_start_utc"].to_physical().to_numpy()
    same_meter = meter[1:] == meter[:-1]
    step = start[1:] - start[:-1]
    if bool((meter[1:] < meter[:-1]).any()):
        return False
    channel = raw["channel"]
    tie = np.flatnonzero(same_meter & (step == 0))
    back = np.flatnonzero(same_meter & (step < 0))  # a new channel of the same meter starts
    if tie.size and bool((channel.gather(tie + 1) == channel.gather(tie)).any()):
        return False
    return not (back.size and bool((channel.gather(back + 1) <= channel.gather(back)).any()))


def _strictly_increasing(frame: pl.DataFrame, keys: Sequence[str]) -> bool:
    """Whether every row's ``keys`` are greater than the previous row's (no nulls, no ties).

    Examples:
        >>> _strictly_increasing(pl.DataFrame({"a": [1, 1, 2], "b": [1, 2, 0]}), ("a", "b"))
        True
        >>> _strictly_increasing(pl.DataFrame({"a": [1, 1], "b": [2, 2]}), ("a", "b"))
        False
        >>> _strictly_increasing(pl.DataFrame({"a": [1, None]}), ("a",))
        False
    """
    if frame.select(pl.any_horizontal(pl.col(list(keys)).is_null().any())).item():
        return False
    if frame.height < 2:
        return True
    after: pl.Expr = pl.lit(value=False)  # equal in every key: not strictly after
    for key in reversed(keys):
        column, previous = pl.col(key), pl.col(key).shift()
        after = (column > previous) | ((column == previous) & after)
    return bool(frame.select(after.slice(1).all()).item())


def _meter_ranges(
    stats: Sequence[pl.DataFrame | None],
    *,
    rows_per_range: int,
    bounds: Callable[[int], tuple[int | None, int | None]],
) -> list[range]:
    """Meter-id ranges of about ``rows_per_range`` stored rows from per-file statistics.

    Args:
        stats: Per table, its files' ``num_records``, ``min.meter_id``, ``max.meter_id`` in
            the window (None: no table).
        rows_per_range: Target stored rows per range.
        bounds: Lowest and highest meter id of table ``stats[i]`` read from the data (for
            files without statistics).
    """
    low: int | None = None
    high: int | None = None
    rows = 0
    for index, frame in enumerate(stats):
        if frame is None or frame.is_empty():
            continue
        lo, hi = frame["min.meter_id"].min(), frame["max.meter_id"].max()
        if not isinstance(lo, int) or not isinstance(hi, int):  # no statistics: one range
            lo, hi = bounds(index)
        if lo is None or hi is None:
            continue
        low = lo if low is None else min(low, lo)
        high = hi if high is None else max(high, hi)
        rows += int(frame["num_records"].sum())
    if low is None or high is None:
        return []
    count = max(1, -(-rows // max(rows_per_range, 1)))
    width = max(1, -(-(high - low + 1) // count))
    return [range(lo, min(lo + width, high + 1)) for lo in range(low, high + 1, width)]


def _window_stats(
    actions: pl.DataFrame, table: Table, *, start_utc: dt.datetime, end_utc: dt.datetime
) -> pl.DataFrame:
    """``num_records`` and meter-id bounds of ``table``'s files overlapping the window."""
    column = TIME_COLUMNS[table]
    stats = ("num_records", "min.meter_id", "max.meter_id")
    schema = dict.fromkeys(stats, pl.Int64())
    if actions.is_empty():
        return pl.DataFrame(schema=schema)
    if any(n not in actions.columns for n in (*stats, f"min.{column}", f"max.{column}")):
        # No statistics: one row of unknown bounds (the caller reads them from the data).
        total = int(actions["num_records"].sum()) if "num_records" in actions.columns else 0
        return pl.DataFrame([[total], [None], [None]], schema=schema)
    keep = _file_filter(actions, table, _Window(start_utc, end_utc, None))
    return actions.filter(keep).select(
        pl.col("num_records").fill_null(0), "min.meter_id", "max.meter_id"
    )


_EMPTY_STORED: Final[dict[Table, pl.DataFrame]] = {}


def _empty_stored(table: Table) -> pl.DataFrame:
    """No rows, with the columns and dtypes :meth:`ReadStore.existing` returns for ``table``.

    Built once per table (Polars frames are immutable, so one empty frame serves every call).
    """
    empty = _EMPTY_STORED.get(table)
    if empty is None:
        lazy = pl.LazyFrame(schema=TABLES[table].schema)
        empty = _EMPTY_STORED[table] = ReadStore._latest_raw(table, lazy).collect()
    return empty


class ReadStore:
    """Read and append meter data in the Delta tables under ``uri``.

    Args:
        uri: Folder or object-store URI of the store (``Settings.reads_uri``).
        storage_options: Object-store options (credentials, endpoint), if any.
    """

    def __init__(self, uri: str, *, storage_options: Mapping[str, str] | None = None) -> None:
        self._lake = Lake(uri, storage_options=storage_options)
        # Per table: the commit markers read just before the add actions were last brought
        # up to date, and those actions (see _committed_actions).
        self._committed_seen: dict[Table, tuple[pl.DataFrame, pl.DataFrame | None]] = {}

    @property
    def uri(self) -> str:
        """Where the store lives."""
        return self._lake.uri

    @property
    def storage_options(self) -> Mapping[str, str] | None:
        """The object-store options the store was opened with (for workers that reopen it)."""
        return self._lake.storage_options

    def snapshot(self) -> ReadSnapshot:
        """The interval reads as they are now, pinned: later commits are not seen.

        For a long run of queries (a fleet streamed in batches): the Delta logs are read
        once, here, and every query of the snapshot reads only the files its window needs.
        """
        return ReadSnapshot(self._lake)

    # ----------------------------------------------------------------------------------------
    # Commit markers and visibility

    def writer_lock(self) -> AbstractContextManager[None]:
        """The single-writer lock ingest holds while it appends and commits files.

        Raises:
            ConflictError: Another process is writing.
        """
        return self._lake.writer_lock()

    def commits(self, *, as_of_utc: dt.datetime | None = None) -> pl.DataFrame:
        """Commit markers (one row per visible source file), optionally as of a time."""
        frame = self._lake.read_cached(Table.COMMITS)
        if as_of_utc is not None:
            frame = frame.filter(pl.col("committed_at_utc") <= _lit(_aware(as_of_utc, "as_of")))
        return frame

    def commit_of(self, source_file_id: int) -> FileCommit | None:
        """The commit marker of ``source_file_id``, or None when the file is not visible."""
        rows = self.commits().filter(pl.col("source_file_id") == source_file_id)
        if rows.is_empty():
            return None
        row = rows.row(0, named=True)
        return FileCommit(
            source_file_id=row["source_file_id"],
            content_hash=row["content_hash"],
            file_name=row["file_name"],
            format=row["format"],
            committed_at_utc=row["committed_at_utc"],
            counts={name: int(row[name]) for name in COUNT_NAMES},
        )

    def commit_file(self, commit: FileCommit) -> None:
        """Make every row tagged with ``commit.source_file_id`` visible, in one Delta commit.

        Raises:
            ConflictError: The id already has a marker (journal and store out of step).
        """
        self.commit_files([commit])

    def commit_files(self, commits: Sequence[FileCommit]) -> None:
        """Make the rows of several files visible together, in one Delta commit.

        Each file is still whole or absent: the markers of all of them land in the same
        commit (ingest groups many small files this way; one commit per file costs more than
        parsing a small file).

        Raises:
            ConflictError: An id already has a marker (journal and store out of step).
        """
        if not commits:
            return
        ids = [c.source_file_id for c in commits]
        known = self.commits()["source_file_id"]
        for source_file_id in ids:
            if source_file_id in known:
                raise ConflictError(
                    f"Source file id {source_file_id} is already committed in {self.uri}; "
                    "the import journal and the read store disagree (restored database?).",
                    code="reads.already_committed",
                    details={"source_file_id": source_file_id},
                )
        rows = [
            {
                "source_file_id": commit.source_file_id,
                "content_hash": commit.content_hash,
                "file_name": commit.file_name,
                "format": commit.format,
                "committed_at_utc": _aware(commit.committed_at_utc, "committed_at_utc"),
                **{name: int(commit.counts.get(name, 0)) for name in COUNT_NAMES},
            }
            for commit in commits
        ]
        frame = pl.DataFrame(rows, schema=TABLES[Table.COMMITS].schema)
        metadata = {"source_file_id": ",".join(str(i) for i in ids)}
        self._lake.append(Table.COMMITS, frame, metadata=metadata)
        # One tiny file per commit would make every visibility check slower; keep it compact.
        self._lake.compact_when_fragmented(Table.COMMITS, max_files=_MAX_COMMIT_FILES)

    def append_rows(
        self, table: Table, frame: pl.DataFrame, *, source_file_id: int | Collection[int]
    ) -> int:
        """Append one file's rows (or a group's) to ``table``; invisible until committed.

        Args:
            table: A table fed by ingest (not versions, flags or commits).
            frame: Rows of the table's stored contract, all tagged ``source_file_id``.
            source_file_id: The file's import journal id, or the ids of a group of files
                committed together (:meth:`commit_files`).

        Returns:
            Rows appended.

        Raises:
            ValueError: A row carries another source file id, or the table is not ingest's.
        """
        if table in (Table.INTERVAL_VERSIONS, Table.INTERVAL_FLAGS, Table.COMMITS):
            msg = f"{table.value} is not written by ingest"
            raise ValueError(msg)
        if table in _STORED_CONTRACTS:
            check_frame(frame, _STORED_CONTRACTS[table])
        ids = [source_file_id] if isinstance(source_file_id, int) else list(source_file_id)
        if frame.height and not frame["source_file_id"].is_in(ids).all():
            msg = f"every row appended for file(s) {ids} must carry one of their source_file_ids"
            raise ValueError(msg)
        metadata = {"source_file_id": ",".join(str(i) for i in ids)}
        return self._lake.append(table, frame, metadata=metadata)

    def _visible(self, frame: pl.LazyFrame, as_of_utc: dt.datetime | None) -> pl.LazyFrame:
        ids = self.commits(as_of_utc=as_of_utc)["source_file_id"]
        return frame.filter(pl.col("source_file_id").is_in(ids.implode()))

    def _window(self, table: Table, window: _Window) -> pl.LazyFrame:
        return _in_window(self._lake.scan(table), table, window)

    # ----------------------------------------------------------------------------------------
    # What ingest compares a new file with

    def existing(
        self,
        table: Table,
        *,
        start_utc: dt.datetime,
        end_utc: dt.datetime,
        ids: _Ids,
        pending_source_file_id: int | None = None,
    ) -> pl.DataFrame:
        """Visible stored rows of ``table`` in ``[start_utc, end_utc)`` for the given ids.

        For interval reads only the latest raw row per key is returned (a key holds several
        raw rows only when a higher source version superseded a lower one).

        Args:
            table: An ingest-fed table.
            start_utc: Window start (inclusive). [UTC]
            end_utc: Window end (exclusive). [UTC]
            ids: Meter ids (node ids for topology).
            pending_source_file_id: Also the rows already appended, not yet committed, for
                this file: a big file ingested in batches compares each batch with its
                earlier ones.

        Returns:
            The table's stored columns.
        """
        if pending_source_file_id is None:
            if not self._may_hold_visible(table, start_utc, end_utc, ids):
                # No committed file's statistics meet the window: nothing to read.
                return _empty_stored(table)
            frame = self._visible(self._window(table, _Window(start_utc, end_utc, ids)), None)
        else:
            frame = self._window(table, _Window(start_utc, end_utc, ids))
            ids_seen = self.commits()["source_file_id"].append(
                pl.Series([pending_source_file_id], dtype=pl.Int64)
            )
            frame = frame.filter(pl.col("source_file_id").is_in(ids_seen.implode()))
        return self._latest_raw(table, frame).collect()

    @staticmethod
    def _latest_raw(table: Table, frame: pl.LazyFrame) -> pl.LazyFrame:
        if table is Table.INTERVAL_READS:
            return _current.latest_per_key(frame.with_columns(pl.lit(0).alias("version"))).drop(
                "version"
            )
        return frame

    def _may_hold_visible(
        self,
        table: Table,
        start_utc: dt.datetime,
        end_utc: dt.datetime,
        ids: _Ids,
        *,
        committed_only: bool = True,
    ) -> bool:
        """Whether a file of ``table`` may hold committed rows in the window (write side).

        Reads only the Delta log's per-file statistics (built once per table version): a
        file is left out when its time range misses ``[start_utc, end_utc)``, its id range
        misses the ids' range, or (``committed_only``) no committed source file id lies in
        its ``source_file_id`` range (rows of a file still being ingested, or abandoned).
        Missing statistics count as "may hold". With ``committed_only``, no marker means no
        visible row, and the table's log is read again only when the markers changed since
        it was last read (:meth:`_committed_actions`).
        """
        commits = self.commits() if committed_only else None
        if commits is not None and commits.is_empty():
            return False  # no file committed yet: no row is visible
        actions = (
            self._lake.add_actions(table)
            if commits is None
            else self._committed_actions(table, commits)
        )
        if actions is None or actions.is_empty():
            return False
        keep = pl.lit(value=True)
        time = TIME_COLUMNS.get(table)
        if time is not None and {f"min.{time}", f"max.{time}"} <= set(actions.columns):
            # Delta keeps timestamp statistics in milliseconds, truncated: allow for that.
            start = _aware(start_utc, "start_utc") - dt.timedelta(milliseconds=1)
            low_t, high_t = pl.col(f"min.{time}"), pl.col(f"max.{time}")
            keep &= high_t.is_null() | (high_t >= _lit(start))
            keep &= low_t.is_null() | (low_t < _lit(_aware(end_utc, "end_utc")))
        column = _ID_COLUMN.get(table, "meter_id")
        lowest: object
        highest: object
        if isinstance(ids, range):
            if not ids:
                return False
            lowest, highest = (ids.start, ids.stop - 1) if ids.step > 0 else (min(ids), max(ids))
        else:
            values = ids if isinstance(ids, pl.Series) else pl.Series(list(ids))
            if values.is_empty():
                return False
            lowest, highest = (None, None) if values.has_nulls() else (values.min(), values.max())
        if lowest is not None and {f"min.{column}", f"max.{column}"} <= set(actions.columns):
            low_i, high_i = pl.col(f"min.{column}"), pl.col(f"max.{column}")
            keep &= high_i.is_null() | (high_i >= lowest)
            keep &= low_i.is_null() | (low_i <= highest)
        candidates = actions.filter(keep)
        if candidates.is_empty():
            return False
        if commits is None:
            return True
        if not {"min.source_file_id", "max.source_file_id"} <= set(candidates.columns):
            return True
        committed = np.sort(commits["source_file_id"].to_numpy())
        low_f = candidates["min.source_file_id"].to_numpy(allow_copy=True)
        high_f = candidates["max.source_file_id"].to_numpy(allow_copy=True)
        unknown = candidates["min.source_file_id"].is_null().to_numpy() | (
            candidates["max.source_file_id"].is_null().to_numpy()
        )
        if unknown.any():
            return True
        at = np.searchsorted(committed, low_f, side="left")
        inside = at < committed.size
        inside[inside] &= committed[at[inside]] <= high_f[inside]
        return bool(inside.any())

    def _committed_actions(self, table: Table, commits: pl.DataFrame) -> pl.DataFrame | None:
        """Add actions of ``table`` that cover every file holding rows of a committed file.

        ``commits`` are the markers just read (the same frame object while the commits table
        keeps its version). A file's rows are appended before its marker is committed
        (:meth:`append_rows`, :meth:`commit_file`), so data files added to ``table`` after
        its log was last read hold rows of files committed after that, never of files
        committed before: while the markers are the ones read just before that read, the
        actions of that read still cover every committed row, and the table's log is not
        read again. A big file's batches append to the table while ingest checks the next
        batch against committed rows: that check no longer brings the table's handle up to
        date (a Delta log replay) once per batch. When the markers changed, the actions are
        brought up to date, after the markers were read.
        """
        seen = self._committed_seen.get(table)
        if seen is not None and seen[0] is commits:
            return seen[1]
        actions = self._lake.add_actions(table)
        self._committed_seen[table] = (commits, actions)
        return actions

    def stored_version_keys(
        self, *, start_utc: dt.datetime, end_utc: dt.datetime, meter_ids: _Ids
    ) -> pl.DataFrame:
        """Keys of the stored versions in the window (ingest's late detection needs them).

        Returns:
            Columns ``meter_id``, ``channel``, ``interval_start_utc``.
        """
        table = Table.INTERVAL_VERSIONS
        if not self._may_hold_visible(table, start_utc, end_utc, meter_ids, committed_only=False):
            # No versions file's statistics meet the window (or no versions yet).
            return pl.DataFrame(schema={k: TABLES[table].schema[k] for k in _current.KEY})
        window = _Window(start_utc, end_utc, meter_ids)
        return self._window(table, window).select(_current.KEY).collect()

    # ----------------------------------------------------------------------------------------
    # Interval reads: current view, history, versions and flags

    def _interval_rows(
        self,
        *,
        start_utc: dt.datetime,
        end_utc: dt.datetime,
        meter_ids: Collection[int] | None,
        channels: Collection[str] | None,
        as_of_utc: dt.datetime | None,
        keep: frozenset[str] | None = None,
    ) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, bool]:
        window = _Window(start_utc, end_utc, meter_ids, channels)
        commits = self.commits(as_of_utc=as_of_utc)
        raw, versions, flags = _read_interval_rows(
            self._window(Table.INTERVAL_READS, window),
            self._window(Table.INTERVAL_VERSIONS, window),
            self._window(Table.INTERVAL_FLAGS, window),
            commits=commits,
            as_of_utc=as_of_utc,
            keep=keep,
        )
        superseded = bool(commits["superseded"].sum())
        return raw, versions, flags, superseded

    def current_interval_reads(
        self,
        *,
        start_utc: dt.datetime,
        end_utc: dt.datetime,
        meter_ids: Collection[int] | None = None,
        channels: Collection[str] | None = None,
        as_of_utc: dt.datetime | None = None,
        columns: Sequence[str] | None = None,
    ) -> pl.DataFrame:
        """The current interval reads in ``[start_utc, end_utc)`` (``INTERVAL_READS``).

        Args:
            start_utc: First interval start included. [UTC]
            end_utc: Interval starts before this are included. [UTC]
            meter_ids: Only these meters (None: all). A ``range`` (step 1) is read as one
                meter-id range (how batches of a partition are read).
            channels: Only these channels (None: all).
            as_of_utc: Reconstruct the view as it was at this instant (None: now). [UTC]
            columns: Only these ``INTERVAL_READS`` columns, in this order (None: all). The
                stored columns nobody asked for are not read (Parquet projection).

        Returns:
            One row per key: the latest of raw read and versions, flags merged, in key order.

        Raises:
            ValueError: A name in ``columns`` is not an ``INTERVAL_READS`` column.
        """
        keep = None if columns is None else _resolution_columns(columns)
        raw, versions, flags, superseded = self._interval_rows(
            start_utc=start_utc,
            end_utc=end_utc,
            meter_ids=meter_ids,
            channels=channels,
            as_of_utc=as_of_utc,
            keep=keep,
        )
        del superseded  # keys with several rows are found whatever made them
        return _current_view(raw, versions, flags, columns=columns, keep=keep)

    def interval_history(
        self,
        *,
        start_utc: dt.datetime,
        end_utc: dt.datetime,
        meter_ids: Collection[int] | None = None,
        channels: Collection[str] | None = None,
        as_of_utc: dt.datetime | None = None,
    ) -> pl.DataFrame:
        """Every stored row (raw and versions) in the window, with ``is_current``.

        Same arguments as :meth:`current_interval_reads`. Flags are merged into the rows they
        apply to. Rows are in key order, oldest first within a key.
        """
        raw, versions, flags, _ = self._interval_rows(
            start_utc=start_utc,
            end_utc=end_utc,
            meter_ids=meter_ids,
            channels=channels,
            as_of_utc=as_of_utc,
        )
        rows = pl.concat(
            [_current.raw_as_rows(raw.lazy()), _current.versions_as_rows(versions.lazy())]
        )
        if not flags.is_empty():
            rows = _current.apply_flags(rows, flags.lazy())
        ordered = (
            _current.as_interval_reads(rows)
            .collect()
            .sort([*_current.KEY, "received_at_utc", "version", "source_version"], nulls_last=False)
        )
        last = pl.struct(list(_current.KEY)).is_last_distinct()
        return ordered.with_columns(last.alias("is_current"))

    def write_versions(self, frame: pl.DataFrame, *, now: dt.datetime) -> int:
        """Append estimates, edits and substitutes (``INTERVAL_VERSIONS`` rows).

        Each row names its kind, method, reason code, actor and parent version (null only when
        no read existed, e.g. an estimate for a gap). Versions are numbered per key by the
        caller (1, 2, …) and never reused.

        Args:
            frame: Rows of contract ``INTERVAL_VERSIONS``.
            now: When the versions are recorded (their ``received_at_utc``). [UTC]

        Returns:
            Rows appended.

        Raises:
            InvalidInputError: A required field is missing or empty, a kind is unknown, a
                version is below 1 or not above its parent, or a parent does not exist.
            ConflictError: A (key, version) is already stored.
        """
        _versions.check_versions(frame)
        key = [*_current.KEY, "version"]
        if frame.is_empty():
            return 0
        start, end = frame["interval_start_utc"].min(), frame["interval_start_utc"].max()
        assert isinstance(start, dt.datetime)
        assert isinstance(end, dt.datetime)
        window = _Window(start, end + dt.timedelta(microseconds=1), frame["meter_id"].unique())
        stored = self._window(Table.INTERVAL_VERSIONS, window).select(key).collect()
        clash = frame.join(stored, on=key, how="semi")
        if not clash.is_empty():
            raise ConflictError(
                f"{clash.height} version(s) already exist for the same key and version number, "
                f"e.g. {clash.select(key).row(0)}; number new versions above the stored ones.",
                code="reads.version_exists",
                details={"count": clash.height},
            )
        raw_keys = self._raw_parent_keys(frame)
        _versions.check_parents(frame, raw_keys=raw_keys, version_keys=stored)
        rows = frame.select(INTERVAL_VERSIONS.names).with_columns(
            _lit(_aware(now, "now")).alias("received_at_utc")
        )
        return self._lake.append(Table.INTERVAL_VERSIONS, rows, metadata={"kind": "versions"})

    def _raw_parent_keys(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Keys of visible raw reads that rows of ``frame`` name as parent (version 0).

        Only those keys are read and kept (a semi-join), not every raw key of the window.
        """
        keys = list(_current.KEY)
        children = frame.filter(pl.col("parent_version") == 0).select(keys)
        if children.is_empty():
            return children
        start, end = children["interval_start_utc"].min(), children["interval_start_utc"].max()
        assert isinstance(start, dt.datetime)
        assert isinstance(end, dt.datetime)
        window = _Window(start, end + dt.timedelta(microseconds=1), children["meter_id"].unique())
        return (
            self._visible(self._window(Table.INTERVAL_READS, window), None)
            .select(keys)
            .join(children.lazy(), on=keys, how="semi")
            .collect()
        )

    def write_flags(self, frame: pl.DataFrame, *, now: dt.datetime) -> int:
        """Append sparse flag rows (``INTERVAL_FLAGS``) for stored versions.

        A row sets the bits of ``flag_mask`` of one (key, version) to ``quality_flags``; other
        bits keep their value. Write only the keys whose flags change: the latest row for a
        (key, version) wins, so a re-validation that clears a flag writes the cleared bits.

        Args:
            frame: Rows of contract ``INTERVAL_FLAGS``.
            now: When the flags are recorded. [UTC]

        Returns:
            Rows appended.

        Raises:
            InvalidInputError: Empty mask, bits set outside the mask, negative version or no
                actor.
        """
        _versions.check_flags(frame)
        rows = frame.select(INTERVAL_FLAGS.names).with_columns(
            _lit(_aware(now, "now")).alias("received_at_utc")
        )
        return self._lake.append(Table.INTERVAL_FLAGS, rows, metadata={"kind": "flags"})

    def latest_versions(
        self, *, start_utc: dt.datetime, end_utc: dt.datetime, meter_ids: _Ids | None = None
    ) -> pl.DataFrame:
        """The highest stored version number per key (0 when only the raw read exists).

        Number new versions of a key above this, whether or not that version is current.

        Returns:
            Columns ``meter_id``, ``channel``, ``interval_start_utc``, ``version`` (Int32).
        """
        window = _Window(start_utc, end_utc, meter_ids)
        keys = list(_current.KEY)
        raw = self._visible(self._window(Table.INTERVAL_READS, window), None).select(
            *keys, pl.lit(0, pl.Int32).alias("version")
        )
        versions = self._window(Table.INTERVAL_VERSIONS, window).select(*keys, "version")
        return (
            pl.concat([raw, versions])
            .group_by(keys)
            .agg(pl.col("version").max())
            .sort(keys)
            .collect()
        )

    def highest_versions(self, keys: pl.DataFrame) -> pl.DataFrame:
        """The highest number in the versions table for each of the given keys.

        What VEE numbers new estimates above, without reading the raw reads: a key with only
        a raw read (version 0) or nothing stored is left out, and its first version is 1.

        Args:
            keys: Columns ``meter_id``, ``channel``, ``interval_start_utc`` (more are ignored;
                duplicates allowed).

        Returns:
            Columns ``meter_id``, ``channel``, ``interval_start_utc``, ``version`` (Int32), in
            key order.
        """
        names = list(_current.KEY)
        if keys.is_empty():
            return pl.DataFrame(
                schema={**{n: INTERVAL_VERSIONS.schema[n] for n in names}, "version": pl.Int32}
            )
        start, end = keys["interval_start_utc"].min(), keys["interval_start_utc"].max()
        assert isinstance(start, dt.datetime)
        assert isinstance(end, dt.datetime)
        window = _Window(start, end + dt.timedelta(microseconds=1), keys["meter_id"].unique())
        return (
            self._window(Table.INTERVAL_VERSIONS, window)
            .select(*names, "version")
            .join(keys.select(names).lazy(), on=names, how="semi")
            .group_by(names)
            .agg(pl.col("version").max().cast(pl.Int32))
            .sort(names)
            .collect()
        )

    def meter_ranges(
        self, *, start_utc: dt.datetime, end_utc: dt.datetime, rows_per_range: int
    ) -> list[range]:
        """Contiguous meter-id ranges that together cover every interval read of a window.

        How a partition (a window of every meter) is read in bounded batches: each range is
        expected to hold about ``rows_per_range`` stored rows. The estimate comes from the
        Delta log's per-file statistics (row count, lowest and highest meter id) of the raw
        and version tables' files that overlap the window, with rows assumed evenly spread
        over the meter ids; no data file is read. A file holding more time than the window
        makes the ranges smaller than asked, never incomplete.

        Args:
            start_utc: Window start (inclusive). [UTC]
            end_utc: Window end (exclusive). [UTC]
            rows_per_range: Target stored rows per range (at least 1).

        Returns:
            Ranges of meter ids, ascending and disjoint, empty when nothing is stored.
        """
        tables = (Table.INTERVAL_READS, Table.INTERVAL_VERSIONS)
        stats = [self._file_stats(t, start_utc=start_utc, end_utc=end_utc) for t in tables]
        return _meter_ranges(
            stats,
            rows_per_range=rows_per_range,
            bounds=lambda i: self._meter_bounds(tables[i], start_utc=start_utc, end_utc=end_utc),
        )

    def _file_stats(
        self, table: Table, *, start_utc: dt.datetime, end_utc: dt.datetime
    ) -> pl.DataFrame | None:
        """Per-file statistics of ``table``'s files overlapping the window (None: no table)."""
        try:
            handle = DeltaTable(
                self._lake.table_uri(table), storage_options=self._lake.storage_options
            )
        except TableNotFoundError:
            return None
        actions = pl.DataFrame(handle.get_add_actions(flatten=True))
        return _window_stats(actions, table, start_utc=start_utc, end_utc=end_utc)

    def _meter_bounds(
        self, table: Table, *, start_utc: dt.datetime, end_utc: dt.datetime
    ) -> tuple[int | None, int | None]:
        """Lowest and highest meter id in the window, read from the data (no statistics)."""
        bounds = (
            self._window(table, _Window(start_utc, end_utc, None))
            .select(pl.col("meter_id").min().alias("lo"), pl.col("meter_id").max().alias("hi"))
            .collect()
        )
        lo, hi = bounds["lo"][0], bounds["hi"][0]
        return (int(lo) if lo is not None else None, int(hi) if hi is not None else None)

    def touched_days(
        self,
        *,
        committed_after_utc: dt.datetime,
        committed_until_utc: dt.datetime | None = None,
    ) -> pl.DataFrame:
        """Meter, channel and UTC day of every interval read committed in a time range.

        What VEE and daily aggregates must (re)compute after ingest: every day that received
        reads, with how many arrived late (ING-07).

        Args:
            committed_after_utc: Files committed after this instant (exclusive). [UTC]
            committed_until_utc: … and at or before this one (None: up to now). [UTC]

        Returns:
            Columns ``meter_id``, ``channel``, ``day`` (UTC date), ``reads``, ``late_reads``.
        """
        commits = self.commits(as_of_utc=committed_until_utc).filter(
            pl.col("committed_at_utc") > _lit(_aware(committed_after_utc, "committed_after"))
        )
        late = pl.lit(_LATE_MASK, pl.UInt32)
        return (
            self._lake.scan(Table.INTERVAL_READS)
            .filter(pl.col("source_file_id").is_in(commits["source_file_id"].implode()))
            .group_by("meter_id", "channel", pl.col("interval_start_utc").dt.date().alias("day"))
            .agg(
                pl.len().cast(pl.Int64).alias("reads"),
                ((pl.col("quality_flags") & late) != 0).sum().cast(pl.Int64).alias("late_reads"),
            )
            .sort("meter_id", "channel", "day")
            .collect()
        )

    # ----------------------------------------------------------------------------------------
    # Other record kinds

    def records(
        self,
        table: Table,
        *,
        start_utc: dt.datetime | None = None,
        end_utc: dt.datetime | None = None,
        ids: _Ids | None = None,
        as_of_utc: dt.datetime | None = None,
    ) -> pl.DataFrame:
        """Visible rows of an ingest-fed table, in the table's key order.

        For registers, events, comm stats, topology and conflicts.

        Args:
            table: Which table.
            start_utc: Rows at or after this time. [UTC]
            end_utc: Rows before this time. [UTC]
            ids: Only these meter ids (node ids for topology).
            as_of_utc: As visible at this instant. [UTC]

        Returns:
            The table's stored contract.
        """
        frame = self._window(table, _Window(start_utc, end_utc, ids))
        return (
            self._visible(frame, as_of_utc)
            .sort(list(TABLES[table].sort_by), nulls_last=False, maintain_order=True)
            .collect()
        )

    def quarantine(
        self, *, source_file_id: int | None = None, reason_code: str | None = None
    ) -> pl.DataFrame:
        """Held rows of committed files (``QUARANTINE``), optionally of one file or reason."""
        frame = self._visible(self._lake.scan(Table.QUARANTINE), None)
        if source_file_id is not None:
            frame = frame.filter(pl.col("source_file_id") == source_file_id)
        if reason_code is not None:
            frame = frame.filter(pl.col("reason_code") == reason_code)
        return frame.sort("source_file_id", "source_line", nulls_last=False).collect()

    def table_files(
        self,
        table: Table,
        *,
        start_utc: dt.datetime | None = None,
        end_utc: dt.datetime | None = None,
    ) -> list[str]:
        """URIs of the Parquet files of ``table``'s current Delta version (for Spark).

        The files hold :func:`stored_schema` columns. Rows of ingest-fed tables are visible
        only when their ``source_file_id`` has a row in the ``Table.COMMITS`` files (the
        visibility marker; :meth:`commits`): an engine must semi-join them. The table's
        log is not needed to read the files; no files are listed for a table never written.

        Args:
            table: Which table.
            start_utc: Leave out files whose rows all lie before this (by the Delta log's
                per-file statistics of the table's time column; ``TIME_COLUMNS``). [UTC]
            end_utc: Leave out files whose rows all lie at or after this. [UTC]

        Returns:
            Absolute file URIs (plain paths for a local store), empty when the table does
            not exist. A file kept may still hold rows outside the window: filter them.
        """
        try:
            handle = DeltaTable(
                self._lake.table_uri(table), storage_options=self._lake.storage_options
            )
        except TableNotFoundError:
            return []
        uris = list(handle.file_uris())
        column = TIME_COLUMNS.get(table)
        if column is None or (start_utc is None and end_utc is None):
            return uris
        actions = pl.DataFrame(handle.get_add_actions(flatten=True))
        low, high = f"min.{column}", f"max.{column}"
        if low not in actions.columns or high not in actions.columns:
            return uris
        keep = pl.lit(value=True)
        if start_utc is not None:
            # Delta keeps timestamp statistics in milliseconds, truncated: allow for that.
            start = _aware(start_utc, "start_utc") - dt.timedelta(milliseconds=1)
            keep &= pl.col(high).is_null() | (pl.col(high) >= _lit(start))
        if end_utc is not None:
            keep &= pl.col(low).is_null() | (pl.col(low) < _lit(_aware(end_utc, "end_utc")))
        kept = {path.rsplit("/", 1)[-1] for path in actions.filter(keep)["path"].to_list()}
        return [uri for uri in uris if uri.rsplit("/", 1)[-1] in kept]

    def size_bytes(self, table: Table) -> int:
        """Size of ``table``'s data files on disk [bytes]."""
        return self._lake.size_bytes(table)

    def row_count(self, table: Table, *, visible_only: bool = True) -> int:
        """Rows in ``table`` (only those of committed files, unless ``visible_only=False``)."""
        frame = self._lake.scan(table)
        if visible_only and "source_file_id" in TABLES[table].schema and table != Table.COMMITS:
            frame = self._visible(frame, None)
        return int(frame.select(pl.len()).collect().item())


class ReadSnapshot:
    """The interval reads of a store as they are at one moment: each table pinned at a version.

    Made by :meth:`ReadStore.snapshot`. The Delta log of each interval table (raw reads,
    versions, flags and the commit markers) is read once, when the snapshot is made; every
    query afterwards reuses the file list and its per-file statistics, so a long run of
    queries (a fleet streamed batch by batch) sees one consistent state and pays for the log
    once. A file, version or flag committed after the snapshot is not seen.

    Queries give exactly what the same :class:`ReadStore` query would have given at the
    moment the snapshot was made (``as_of_utc`` included). They also read fewer files: a file
    whose statistics (time, meter id, and for versions and flags the time received) miss the
    query is not opened, so a window without versions or flags skips their tables and the
    resolution of several rows per key entirely (:meth:`holds_versions` says so up front).

    The commit markers are pinned first: every raw row of a file whose marker is in the
    snapshot was appended before that marker, so it is in the pinned raw table too.
    """

    def __init__(self, lake: Lake) -> None:
        self._commits_table = lake.pin(Table.COMMITS)
        self._commits = self._commits_table.scan().collect()
        self._raw = lake.pin(Table.INTERVAL_READS)
        self._versions = lake.pin(Table.INTERVAL_VERSIONS)
        self._flags = lake.pin(Table.INTERVAL_FLAGS)
        self._uri = lake.uri

    @property
    def uri(self) -> str:
        """Where the store lives."""
        return self._uri

    @property
    def table_versions(self) -> Mapping[Table, int]:
        """The pinned Delta version of each table (-1: the table did not exist)."""
        pins = (self._commits_table, self._raw, self._versions, self._flags)
        return {p.table: p.version for p in pins}

    def commits(self, *, as_of_utc: dt.datetime | None = None) -> pl.DataFrame:
        """Commit markers in the snapshot (one row per visible source file), as of a time."""
        if as_of_utc is None:
            return self._commits
        limit = pl.col("committed_at_utc") <= _lit(_aware(as_of_utc, "as_of"))
        return self._commits.filter(limit)

    def _files(
        self, pinned: PinnedTable, window: _Window, as_of_utc: dt.datetime | None
    ) -> pl.DataFrame:
        received_by = None if pinned.table is Table.INTERVAL_READS else as_of_utc
        files = pinned.files
        if files.is_empty():
            return files
        return files.filter(_file_filter(files, pinned.table, window, received_by=received_by))

    def holds_versions(
        self,
        *,
        start_utc: dt.datetime,
        end_utc: dt.datetime,
        meter_ids: _Ids | None = None,
        as_of_utc: dt.datetime | None = None,
    ) -> bool:
        """Whether a version or flag row may lie in the window (by per-file statistics only).

        False proves there is none: no file of the versions or flags table has statistics
        that meet the window (time, meter ids, received by ``as_of_utc``), so the current
        view of the window is its visible raw reads. True means "maybe".
        """
        window = _Window(start_utc, end_utc, meter_ids)
        return any(self._files(p, window, as_of_utc).height for p in (self._versions, self._flags))

    def current_interval_reads(
        self,
        *,
        start_utc: dt.datetime,
        end_utc: dt.datetime,
        meter_ids: Collection[int] | None = None,
        channels: Collection[str] | None = None,
        as_of_utc: dt.datetime | None = None,
        columns: Sequence[str] | None = None,
    ) -> pl.DataFrame:
        """The current interval reads in ``[start_utc, end_utc)``, from the snapshot.

        Same arguments and result as :meth:`ReadStore.current_interval_reads`; only the
        files whose statistics meet the window are read.

        Raises:
            ValueError: A name in ``columns`` is not an ``INTERVAL_READS`` column.
        """
        keep = None if columns is None else _resolution_columns(columns)
        window = _Window(start_utc, end_utc, meter_ids, channels)
        frames = []
        file_counts = []
        for pinned in (self._raw, self._versions, self._flags):
            files = self._files(pinned, window, as_of_utc)
            file_counts.append(files.height)
            frames.append(_in_window(pinned.scan(files), pinned.table, window))
        commits = self.commits(as_of_utc=as_of_utc)
        if columns is not None and file_counts == [1, 0, 0]:
            # One raw file and, by the statistics, no version or flag: only the columns asked
            # for and the key are read; a key found twice (a superseded read) reads the rest.
            narrow = [n for n in TABLES[Table.INTERVAL_READS].schema if n in {*columns, *_KEY}]
            visible = pl.col("source_file_id").is_in(commits["source_file_id"].implode())
            raw = frames[0].filter(visible).select(narrow).collect()
            if raw.height and _unique_in_sorted_file(raw):
                return _raw_view(raw, columns)
        raw, versions, flags = _read_interval_rows(
            frames[0],
            frames[1],
            frames[2],
            commits=commits,
            as_of_utc=as_of_utc,
            keep=keep,
        )
        return _current_view(
            raw, versions, flags, columns=columns, keep=keep, one_sorted_file=file_counts[0] == 1
        )

    def meter_ranges(
        self, *, start_utc: dt.datetime, end_utc: dt.datetime, rows_per_range: int
    ) -> list[range]:
        """Contiguous meter-id ranges covering every interval read of a window.

        As :meth:`ReadStore.meter_ranges`, from the snapshot's statistics.
        """
        pins = (self._raw, self._versions)
        stats = [
            None
            if p.version < 0
            else _window_stats(p.files, p.table, start_utc=start_utc, end_utc=end_utc)
            for p in pins
        ]

        def bounds(index: int) -> tuple[int | None, int | None]:
            pinned = pins[index]
            window = _Window(start_utc, end_utc, None)
            found = (
                _in_window(pinned.scan(), pinned.table, window)
                .select(pl.col("meter_id").min().alias("lo"), pl.col("meter_id").max().alias("hi"))
                .collect()
            )
            lo, hi = found["lo"][0], found["hi"][0]
            return (int(lo) if lo is not None else None, int(hi) if hi is not None else None)

        return _meter_ranges(stats, rows_per_range=rows_per_range, bounds=bounds)
