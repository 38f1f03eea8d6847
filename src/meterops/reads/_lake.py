"""The Delta Lake layout of the read store: table names, physical schemas, writes and scans.

Only :mod:`meterops.reads.store` uses this module; together they are the only code that knows
where and how reads are kept. Each table is a Delta table in its own folder under the store's
URI, created append-only (``delta.appendOnly = true``): the Delta protocol itself refuses any
commit that removes data, so raw rows cannot be updated or deleted through any API (I1).

Layout choice (measured with ``benchmarks/bench_ingest.py``, "layout" figures: 9.6 M reads of
100,000 meters, best of three, 2-CPU runner): **no Hive partitioning; every append writes files
sorted by the table's key** (meter, channel, time). Writing took 0.75 s unpartitioned against
1.16 s partitioned by UTC day and 1.24 s by meter bucket on a quiet machine (1.2 / 3.0 / 4.8 s
when it was shared: delta-rs's partitioned writer is the slow part), for 1.49 / 1.52 / 1.50
bytes per read, and reading one meter's day back took 9 ms against 13 ms and 37 ms. Pruning
does not need partitions here: an ingest file covers a short time window, so Delta's per-file
min/max statistics on the time column skip files outside a query's range, and Parquet
row-group statistics on ``meter_id`` (rows sorted by meter) skip row groups of other meters.
Values stay ``Float64``: with dictionary encoding and ZSTD they cost the same as scaled
integers (both 1.46 bytes per read in an earlier measurement) and round-trip exactly. Unsigned
flag columns are kept as ``Int64`` because Delta has no unsigned types.

Must not import ``meterops.db``, ``models``, ``web``, ``cli`` or ``config``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

import polars as pl
from deltalake import (
    CommitProperties,
    DeltaTable,
    PostCommitHookProperties,
    WriterProperties,
    write_deltalake,
)
from deltalake.exceptions import TableNotFoundError

from meterops.errors import ConflictError
from meterops.kit.frames import FrameContract
from meterops.reads import schema

__all__ = [
    "COMMITS",
    "COUNT_NAMES",
    "RAW_INTERVAL_READS",
    "TABLES",
    "Lake",
    "PinnedTable",
    "Table",
    "TableSpec",
    "is_sorted",
]


class Table(StrEnum):
    """The tables of the read store (one Delta table each)."""

    INTERVAL_READS = "interval_reads"
    """Raw interval reads as received (version 0)."""
    INTERVAL_VERSIONS = "interval_versions"
    """Estimates, edits and substitutes (version ≥ 1)."""
    INTERVAL_FLAGS = "interval_flags"
    """Sparse VEE flags for stored versions."""
    REGISTER_READS = "register_reads"
    EVENTS = "events"
    COMM_STATS = "comm_stats"
    TOPOLOGY = "topology"
    CONFLICTS = "conflicts"
    QUARANTINE = "quarantine"
    COMMITS = "_commits"
    """One row per committed source file: the single commit point of a file's rows."""


COUNT_NAMES: Final = (
    "rows_in_file",
    "accepted",
    "rejected",
    "duplicate",
    "conflicting",
    "late",
    "quarantined",
    "superseded",
)
"""Journal counts kept with each commit marker."""

_UTC: Final = schema.UTC_DATETIME

RAW_INTERVAL_READS: Final = pl.Schema(
    {
        "meter_id": pl.Int64(),
        "channel": pl.String(),
        "interval_start_utc": _UTC,
        "interval_s": pl.Int32(),
        "value": pl.Float64(),
        "quality_flags": pl.UInt32(),
        "source_quality": pl.String(),
        "source_version": pl.Int64(),
        "source_file_id": pl.Int64(),
        "received_at_utc": _UTC,
    }
)
"""Logical schema of the raw interval table (``INTERVAL_READS`` without the version columns,
which are constant for raw rows and are added on read)."""

COMMITS: Final = pl.Schema(
    {
        "source_file_id": pl.Int64(),
        "content_hash": pl.String(),
        "file_name": pl.String(),
        "format": pl.String(),
        "committed_at_utc": _UTC,
        **{name: pl.Int64() for name in COUNT_NAMES},
    }
)
"""Logical schema of the commit-marker table."""


def _stored(contract: FrameContract) -> pl.Schema:
    return contract.schema


def _versions_schema() -> pl.Schema:
    columns = dict(schema.INTERVAL_VERSIONS.schema)
    columns["received_at_utc"] = _UTC
    return pl.Schema(columns)


def _flags_schema() -> pl.Schema:
    columns = dict(schema.INTERVAL_FLAGS.schema)
    columns["received_at_utc"] = _UTC
    return pl.Schema(columns)


@dataclass(frozen=True, slots=True)
class TableSpec:
    """One table's logical schema and sort order.

    Attributes:
        table: Which table.
        schema: Logical (Polars) schema; unsigned columns are stored as ``Int64``.
        sort_by: Order of rows inside every written file.
    """

    table: Table
    schema: pl.Schema
    sort_by: tuple[str, ...]


TABLES: Final[Mapping[Table, TableSpec]] = {
    spec.table: spec
    for spec in (
        TableSpec(
            Table.INTERVAL_READS,
            RAW_INTERVAL_READS,
            ("meter_id", "channel", "interval_start_utc"),
        ),
        TableSpec(
            Table.INTERVAL_VERSIONS,
            _versions_schema(),
            ("meter_id", "channel", "interval_start_utc", "version"),
        ),
        TableSpec(
            Table.INTERVAL_FLAGS,
            _flags_schema(),
            ("meter_id", "channel", "interval_start_utc", "version"),
        ),
        TableSpec(
            Table.REGISTER_READS,
            _stored(schema.REGISTER_READS),
            ("meter_id", "channel", "read_time_utc"),
        ),
        TableSpec(Table.EVENTS, _stored(schema.EVENTS), ("meter_id", "event_time_utc")),
        TableSpec(Table.COMM_STATS, _stored(schema.COMM_STATS), ("meter_id", "period_start_utc")),
        TableSpec(Table.TOPOLOGY, _stored(schema.TOPOLOGY), ("node_id", "observed_at_utc")),
        TableSpec(
            Table.CONFLICTS, _stored(schema.CONFLICTS), ("record_kind", "meter_id", "time_utc")
        ),
        TableSpec(Table.QUARANTINE, _stored(schema.QUARANTINE), ("record_kind", "source_line")),
        TableSpec(Table.COMMITS, COMMITS, ("source_file_id",)),
    )
}
"""Every table of the store."""

_WRITER: Final = WriterProperties(compression="ZSTD", compression_level=3)
_CAST: Final = pl.ScanCastOptions(
    integer_cast="upcast",
    float_cast=["upcast", "downcast"],
    datetime_cast=("nanosecond-downcast", "millisecond-upcast", "convert-timezone"),
    categorical_to_string="allow",
)
"""How Parquet columns are cast to the table's physical schema (what ``scan_delta`` allows)."""
_UNSIGNED: Final = (pl.UInt32(), pl.UInt16(), pl.UInt8())
_LOCK_FILE: Final = "_writer.lock"


def _physical(frame: pl.DataFrame) -> pl.DataFrame:
    """Unsigned columns as Int64 (Delta has no unsigned types)."""
    casts = [pl.col(n).cast(pl.Int64) for n, t in frame.schema.items() if t in _UNSIGNED]
    return frame.with_columns(casts) if casts else frame


def _logical(frame: pl.LazyFrame, spec: TableSpec) -> pl.LazyFrame:
    return frame.select(pl.col(n).cast(t) for n, t in spec.schema.items())


def is_sorted(frame: pl.DataFrame, keys: tuple[str, ...]) -> bool:
    """Whether ``frame`` is sorted ascending by ``keys`` (nulls first), in one pass.

    Two shortcuts keep the check cheap for an ingest batch (it runs at every append): a text
    key with one value and no null (the channel of a one-channel file) cannot order two rows
    and is left out, and without nulls in the keys the null handling is left out too.
    String comparisons were most of the check (5.5-9 ms of CPU per 250,000 reads, against
    2.6 ms). A null compared with a value counts as smaller, not as unknown (an unknown
    would be skipped by the final ``all`` and take an unsorted frame for sorted).

    Examples:
        >>> is_sorted(pl.DataFrame({"a": [1, 1, 2], "b": [2, 3, 1]}), ("a", "b"))
        True
        >>> is_sorted(pl.DataFrame({"a": [1, 1, 2], "b": [3, 2, 1]}), ("a", "b"))
        False
        >>> is_sorted(pl.DataFrame({"a": [None, 1, 1], "b": ["x", "x", "x"]}), ("a", "b"))
        True
    """
    if frame.height < 2:
        return True
    keys = tuple(key for key in keys if not _one_text_value(frame[key]))
    nulls = any(frame[key].null_count() for key in keys)
    ordered: pl.Expr = pl.lit(value=True)
    for key in reversed(keys):
        column, previous = pl.col(key), pl.col(key).shift()
        if nulls:
            # ``>`` of a null is null, which ``all`` would skip: it is not greater.
            greater = (column > previous).fill_null(value=False) | (
                previous.is_null() & column.is_not_null()
            )
            equal = column.eq_missing(previous)
        else:
            greater, equal = column > previous, column == previous
        ordered = greater | (equal & ordered)
    return bool(frame.select(ordered.slice(1).all()).item())


def _one_text_value(column: pl.Series) -> bool:
    """Whether a text column holds one value in every row (no null)."""
    if column.dtype != pl.String or column.null_count():
        return False
    return bool((column == column[0]).all())


def _physical_schema(spec: TableSpec) -> pl.Schema:
    return pl.Schema({n: pl.Int64() if t in _UNSIGNED else t for n, t in spec.schema.items()})


@dataclass(frozen=True, slots=True)
class PinnedTable:
    """One table at one Delta version: its files and their statistics, read from the log once.

    Scans of a pinned table never look at the Delta log again, so a commit made after
    pinning is not seen, and a scan reads only the files whose statistics meet its filters.

    Attributes:
        table: Which table.
        version: The pinned Delta version (-1: the table did not exist).
        files: One row per data file: ``uri`` and the Delta log's flattened per-file
            statistics (``num_records``, ``min.<column>``, ``max.<column>``; a column is
            absent when the log has no statistics for it).
        storage_options: Object-store options for reading the files.
    """

    table: Table
    version: int
    files: pl.DataFrame
    storage_options: Mapping[str, str] | None = None

    def select(self, keep: pl.Expr | None = None) -> pl.DataFrame:
        """The files whose statistics pass ``keep`` (a filter over :attr:`files`)."""
        return self.files if keep is None else self.files.filter(keep)

    def scan(self, files: pl.DataFrame | None = None) -> pl.LazyFrame:
        """Rows of ``files`` (default: every file), lazily, with the table's logical dtypes."""
        spec = TABLES[self.table]
        uris = (self.files if files is None else files)["uri"].to_list()
        if not uris:
            return pl.LazyFrame(schema=spec.schema)
        frame = pl.scan_parquet(
            uris,
            schema=_physical_schema(spec),
            missing_columns="insert",
            extra_columns="ignore",
            cast_options=_CAST,
            storage_options=dict(self.storage_options) if self.storage_options else None,
            glob=False,
        )
        return _logical(frame, spec)


class Lake:
    """The store's folder (or object-store prefix) of Delta tables.

    Args:
        uri: Local folder or object-store URI (``s3://…``, ``az://…``).
        storage_options: Options for object stores (credentials, endpoint).
    """

    def __init__(self, uri: str, *, storage_options: Mapping[str, str] | None = None) -> None:
        self.uri = uri.rstrip("/")
        self.storage_options = dict(storage_options) if storage_options else None
        self._tables: dict[Table, DeltaTable] = {}
        self._cache: dict[Table, tuple[int, pl.DataFrame]] = {}
        self._actions: dict[Table, tuple[int, pl.DataFrame]] = {}

    @property
    def local_root(self) -> Path | None:
        """The folder, when the store is on the local file system."""
        if "://" not in self.uri or self.uri.startswith("file://"):
            return Path(self.uri.removeprefix("file://"))
        return None

    def table_uri(self, table: Table) -> str:
        """URI of one table."""
        return f"{self.uri}/{table.value}"

    def _log(self, table: Table) -> Path | None:
        root = self.local_root
        return None if root is None else root / table.value / "_delta_log"

    def _open(self, table: Table) -> DeltaTable | None:
        """The cached handle of ``table`` at its newest version (None: no such table).

        On a local store the handle is brought up to date only when the log holds the
        commit after the handle's version (Delta versions have no gaps, so a missing
        ``<version + 1>.json`` means the handle is current): one ``stat`` instead of a
        log listing per call. A table that does not exist is found by one ``stat`` too.
        """
        handle = self._tables.get(table)
        log = self._log(table)
        if handle is not None:
            if log is None or (log / f"{handle.version() + 1:020d}.json").exists():
                handle.update_incremental()
            return handle
        if log is not None and not log.is_dir():
            return None
        try:
            handle = DeltaTable(self.table_uri(table), storage_options=self.storage_options)
        except TableNotFoundError:
            return None
        self._tables[table] = handle
        return handle

    def pin(self, table: Table) -> PinnedTable:
        """``table`` at its latest Delta version, its file list and statistics read once.

        A fresh log read (not the cached handle), so the pinned state is the newest one.
        """
        try:
            handle = DeltaTable(self.table_uri(table), storage_options=self.storage_options)
        except TableNotFoundError:
            return PinnedTable(table, -1, pl.DataFrame({"uri": []}, schema={"uri": pl.String}))
        actions = pl.DataFrame(handle.get_add_actions(flatten=True))
        # file_uris() gives absolute URIs; the log's paths are relative: pair them by name.
        by_name = {uri.rsplit("/", 1)[-1]: uri for uri in handle.file_uris()}
        if actions.is_empty():
            files = pl.DataFrame({"uri": []}, schema={"uri": pl.String})
        else:
            names = actions["path"].str.split("/").list.last()
            files = actions.with_columns(uri=names.replace_strict(by_name, default=None))
            if files["uri"].null_count():
                # a name that file_uris() spells differently (escaping): rebuild from the root
                root = self.table_uri(table)
                files = files.with_columns(
                    pl.col("uri").fill_null(pl.lit(root + "/") + pl.col("path"))
                )
        return PinnedTable(table, handle.version(), files, self.storage_options)

    def ensure(self, table: Table) -> DeltaTable:
        """Open ``table``, creating it (empty, append-only) when it does not exist."""
        handle = self._open(table)
        if handle is not None:
            return handle
        root = self.local_root
        if root is not None:
            root.mkdir(parents=True, exist_ok=True)
        empty = _physical(pl.DataFrame(schema=TABLES[table].schema)).to_arrow()
        DeltaTable.create(
            self.table_uri(table),
            schema=empty.schema,
            mode="ignore",
            name=table.value,
            configuration={"delta.appendOnly": "true"},
            storage_options=self.storage_options,
        )
        created = self._open(table)
        assert created is not None
        return created

    def scan(self, table: Table) -> pl.LazyFrame:
        """All rows of ``table`` (lazily, with logical dtypes; empty when it does not exist)."""
        spec = TABLES[table]
        handle = self._open(table)
        if handle is None:
            return pl.LazyFrame(schema=spec.schema)
        return _logical(pl.scan_delta(handle), spec)

    def read_cached(self, table: Table) -> pl.DataFrame:
        """All rows of a small table, re-read only when its Delta version changed."""
        handle = self._open(table)
        if handle is None:
            return pl.DataFrame(schema=TABLES[table].schema)
        version = handle.version()
        cached = self._cache.get(table)
        if cached is None or cached[0] != version:
            cached = (version, _logical(pl.scan_delta(handle), TABLES[table]).collect())
            self._cache[table] = cached
        return cached[1]

    def add_actions(self, table: Table) -> pl.DataFrame | None:
        """The log's add actions of ``table`` (file statistics, flattened), None: no table.

        Built once per Delta version of the table and reused until it changes.
        """
        handle = self._open(table)
        if handle is None:
            return None
        version = handle.version()
        cached = self._actions.get(table)
        if cached is None or cached[0] != version:
            cached = (version, pl.DataFrame(handle.get_add_actions(flatten=True)))
            self._actions[table] = cached
        return cached[1]

    def compact_when_fragmented(self, table: Table, *, max_files: int) -> None:
        """Merge the table's files into few when it holds more than ``max_files``.

        Compaction rewrites files without changing data (Delta ``dataChange = false``), which
        append-only tables allow; readers at older versions still see the old files.
        """
        handle = self._open(table)
        if handle is not None and len(handle.file_uris()) > max_files:
            handle.optimize.compact(writer_properties=_WRITER)

    def append(
        self, table: Table, frame: pl.DataFrame, *, metadata: Mapping[str, Any] | None = None
    ) -> int:
        """Append ``frame`` to ``table`` as one Delta commit, sorted by the table's key.

        Args:
            table: Target table.
            frame: Rows with exactly the table's logical columns (any order).
            metadata: Recorded in the Delta commit info (e.g. the source file id).

        Returns:
            Rows appended.
        """
        if frame.is_empty():
            return 0
        spec = TABLES[table]
        frame = frame.select(pl.col(n).cast(t) for n, t in spec.schema.items())
        if not is_sorted(frame, spec.sort_by):
            frame = frame.sort(spec.sort_by, nulls_last=False)
        handle = self.ensure(table)
        write_deltalake(
            handle,
            # Text as Arrow string views, Polars' own layout: no copy of every string into
            # one buffer (4.5 -> 0.5 ms per 250,000 reads); the Parquet type is the same
            # STRING, and files written either way read back alike.
            _physical(frame).to_arrow(compat_level=pl.CompatLevel.newest()),
            mode="append",
            writer_properties=_WRITER,
            commit_properties=CommitProperties(custom_metadata=dict(metadata or {})),
            post_commithook_properties=PostCommitHookProperties(create_checkpoint=True),
        )
        return frame.height

    def size_bytes(self, table: Table) -> int:
        """Size of the table's data files (Parquet only, not the log) [bytes]."""
        handle = self._open(table)
        if handle is None:
            return 0
        actions = pl.DataFrame(handle.get_add_actions(flatten=True))
        return int(actions["size_bytes"].sum()) if actions.height else 0

    @contextlib.contextmanager
    def writer_lock(self) -> Iterator[None]:
        """Hold the store's single-writer lock (local stores; a no-op for object stores).

        The lock is a ``flock`` on a file in the store's folder, so the kernel releases it
        when the holder dies, even by SIGKILL.

        Raises:
            ConflictError: Another process holds the lock.
        """
        root = self.local_root
        if root is None:
            yield
            return
        root.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(root / _LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise ConflictError(
                    f"Another process is writing to the read store {self.uri}; wait for it to "
                    "finish and try again.",
                    code="reads.store_busy",
                    details={"uri": self.uri},
                ) from None
            yield
        finally:
            os.close(descriptor)
