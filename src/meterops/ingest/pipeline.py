"""Sort every row of a parsed file into exactly one journal bucket, as frames, in two steps.

1. :func:`screen` resolves serial numbers to meter ids (one join per batch) and holds back,
   with a reason, rows under a serial the fleet does not know (``unknown_meter``), rows
   stamped in the future (``future_timestamp``) and rows older than the late-data horizon
   (``beyond_horizon``). It also says which window of the store each kind must be compared
   with (:class:`Window`).
2. :func:`classify` compares the remaining rows with themselves and with the rows already
   stored in those windows: a natural key seen before with the same value is a
   ``duplicate``; with a different value a ``conflicting`` record (both values kept, the stored
   one stays current) unless the source gives a higher ``source_version``, which supersedes;
   new keys are ``accepted``, or ``late`` (stored and flagged ``LATE``) when their meter and
   channel already had data stored at or after the same instant of the same UTC day.

Counts: ``accepted + rejected + duplicate + conflicting + late + quarantined = rows_in_file``;
``late`` is a bucket of its own (not a subset of ``accepted``); ``superseded`` counts the stored
rows that replaced a lower source version (a subset of ``accepted + late``). ``rejected`` rows
are those the parser could not read; their issues are kept in the quarantine with line and
text.

Pure module: polars, numpy and pure meterops modules; never ``meterops.db``, ``models``,
``web``, ``cli`` or ``config``. "Now" is an argument.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import polars as pl

from meterops.errors import Issue
from meterops.ingest._kinds import KINDS, RAW_COLUMNS, Counts, IngestRules, KindSpec
from meterops.ingest.formats.base import ParsedBatch
from meterops.reads import schema
from meterops.reads.store import Table
from meterops.vee.flags import FLAGS

__all__ = [
    "KINDS",
    "Counts",
    "IngestRules",
    "KindSpec",
    "Plan",
    "Screened",
    "Window",
    "classify",
    "screen",
]

_LATE: Final = FLAGS["LATE"].mask
_DAY: Final = dt.timedelta(days=1)
_FLOAT_TOLERANCE: Final = 1e-9


@dataclass(frozen=True, slots=True)
class Window:
    """The part of a store table a kind's rows must be compared with.

    Attributes:
        ids: Meter ids (node ids for topology) in the batch.
        start_utc: Start of the first UTC day the batch touches. [UTC]
        end_utc: End of the last UTC day the batch touches (exclusive). [UTC]
    """

    ids: pl.Series
    start_utc: dt.datetime
    end_utc: dt.datetime


@dataclass(slots=True)
class Screened:
    """A batch after meter resolution and time screening.

    Attributes:
        file_name: Source file name.
        frames: Rows still to compare, by kind (with ``meter_id``).
        windows: Store windows to compare each kind with.
        held: Quarantine rows (``QUARANTINE`` without ``source_file_id``/``received_at_utc``).
        counts: ``rows_in_file``, ``rejected`` and ``quarantined`` so far.
    """

    file_name: str
    frames: dict[Table, pl.DataFrame]
    windows: dict[Table, Window]
    held: list[pl.DataFrame] = field(default_factory=list)
    counts: Counts = field(default_factory=Counts)


@dataclass(slots=True)
class Plan:
    """What to append for one file, and its journal counts.

    Attributes:
        tables: Frames to append, by table (stored contracts, tagged with the file id).
        counts: Journal counts; they add up to the rows in the file.
    """

    tables: dict[Table, pl.DataFrame]
    counts: Counts


# --------------------------------------------------------------------------------------------
# Step 1: resolve and screen


def _resolve_meters(frame: pl.DataFrame, meters: pl.DataFrame) -> tuple[pl.Series, pl.Series]:
    """``meter_id`` for each row (null when unknown), joining one row per run of a serial.

    Parsers emit a meter's rows together, so joining the first row of each run and spreading
    the ids over the run is several times cheaper than joining every row.

    Returns:
        (the rows' meter ids, the meter id of each run of a serial, in file order)
    """
    runs = frame["serial_number"].rle().struct.unnest()  # nulls make one run, as equals
    heads = pl.DataFrame({"serial_number": runs["value"]})
    ids = heads.join(meters, on="serial_number", how="left", maintain_order="left")["meter_id"]
    lengths = runs["len"].to_numpy()
    if ids.has_nulls():  # unknown serials: spread the ids with their nulls
        rows = ids.gather(np.repeat(np.arange(ids.len()), lengths))
    else:
        rows = pl.Series(np.repeat(ids.to_numpy(), lengths), dtype=ids.dtype)
    return rows.alias("meter_id"), ids


def _payload(frame: pl.DataFrame) -> pl.Expr:
    columns = [c for c in frame.columns if c not in ("source_line", "_reason", "_message")]
    return pl.struct(columns).struct.json_encode()


def _held(frame: pl.DataFrame, kind: KindSpec) -> pl.DataFrame:
    return frame.select(
        pl.col("source_line").cast(pl.Int64),
        pl.lit(kind.record_kind).alias("record_kind"),
        pl.col("_reason").alias("reason_code"),
        pl.col("_message").alias("message"),
        _payload(frame).alias("payload"),
    )


def _text(column: str) -> pl.Expr:
    return pl.col(column).cast(pl.String).fill_null("")


def _screen_kind(
    frame: pl.DataFrame, kind: KindSpec, meters: pl.DataFrame, rules: IngestRules
) -> tuple[pl.DataFrame, pl.DataFrame | None, Window | None]:
    """Rows kept, rows held back (quarantine rows or None) and the kept rows' window."""
    now = rules.now.astimezone(dt.UTC)
    added: list[pl.Series | pl.Expr] = []
    head_ids: pl.Series | None = None
    if kind.id_column == "meter_id":
        row_ids, head_ids = _resolve_meters(frame, meters)
        added.append(row_ids)
    if kind.table is Table.INTERVAL_READS and "source_version" not in frame.columns:
        # Formats with an explicit source version (NEM12 UpdateDateTime) may add the column.
        added.append(pl.lit(None, pl.Int64).alias("source_version"))
    if added:
        frame = frame.with_columns(added)
    time = pl.col(kind.time_column)
    end = time
    if kind.duration_column is not None:
        end = time + pl.duration(seconds=pl.col(kind.duration_column))
    future_limit = now + dt.timedelta(seconds=rules.future_tolerance_s)
    horizon = now - dt.timedelta(days=rules.late_data_horizon_days)
    window = _window_if_all_good(frame, kind, head_ids, future_limit, horizon)
    if window is not None:  # the usual case: every row known and in time, in one pass
        return frame, None, window
    unknown = pl.col("meter_id").is_null() if kind.id_column == "meter_id" else pl.lit(value=False)
    future = end > pl.lit(future_limit).dt.cast_time_unit("us")
    old = time < pl.lit(horizon).dt.cast_time_unit("us")
    reason = (
        pl.when(unknown)
        .then(pl.lit("unknown_meter"))
        .when(future)
        .then(pl.lit("future_timestamp"))
        .when(old)
        .then(pl.lit("beyond_horizon"))
    )
    stamp = [pl.lit(kind.time_column), _text(kind.time_column)]
    # Only meter kinds have a serial to name (topology rows are keyed by node).
    serial = _text("serial_number") if kind.id_column == "meter_id" else pl.lit("")
    message = (
        pl.when(unknown)
        .then(pl.format("serial number '{}' is not a meter in the fleet", serial))
        .when(future)
        .then(
            pl.format(
                "{} {} ends more than {} s after the ingest time {}",
                *stamp,
                pl.lit(rules.future_tolerance_s),
                pl.lit(now.isoformat()),
            )
        )
        .when(old)
        .then(
            pl.format(
                "{} {} is more than {} days before the ingest time {}",
                *stamp,
                pl.lit(rules.late_data_horizon_days),
                pl.lit(now.isoformat()),
            )
        )
    )
    bad = frame.select((unknown | future | old).alias("_bad")).to_series()
    if not bad.any():  # no strings built for 10 M good rows
        return frame, None, _window(frame, kind)
    held = frame.filter(bad).with_columns(reason.alias("_reason"), message.alias("_message"))
    kept = frame.filter(~bad)
    return kept, _held(held, kind), _window(kept, kind) if kept.height else None


def _window_if_all_good(
    frame: pl.DataFrame,
    kind: KindSpec,
    head_ids: pl.Series | None,
    future_limit: dt.datetime,
    horizon: dt.datetime,
) -> Window | None:
    """The batch's window when no row is to be held back, else None (check row by row).

    One pass of aggregates instead of a mask over every row: with every run's serial known,
    no null time, the latest end at most ``future_limit`` and the earliest time at or after
    ``horizon``, no row is unknown, in the future or beyond the horizon. The latest end is
    bounded by the latest time plus the longest duration (a bound: a batch near the limit
    takes the row-by-row check). The window's ids come from the runs' ids (one per run
    rather than one per row).
    """
    if head_ids is not None and head_ids.has_nulls():
        return None
    time = pl.col(kind.time_column)
    longest = (
        pl.duration(seconds=pl.col(kind.duration_column).max())
        if kind.duration_column is not None
        else pl.duration(seconds=0)
    )
    nulls = time.null_count()
    if kind.duration_column is not None:
        nulls += pl.col(kind.duration_column).null_count()
    first, last, late_end, null_count = frame.select(
        time.min().alias("first"),
        time.max().alias("last"),
        (time.max() + longest).alias("end"),
        nulls.alias("nulls"),
    ).row(0)
    if null_count or first is None or late_end is None:
        return None
    if late_end > future_limit or first < horizon:
        return None
    ids = (head_ids if head_ids is not None else frame[kind.id_column]).unique().sort()
    start = dt.datetime.combine(first.date(), dt.time(), tzinfo=dt.UTC)
    end = dt.datetime.combine(last.date(), dt.time(), tzinfo=dt.UTC) + _DAY
    return Window(ids, start, end)


def _window(frame: pl.DataFrame, kind: KindSpec) -> Window:
    ids = frame[kind.id_column].unique().sort()
    first, last = frame[kind.time_column].min(), frame[kind.time_column].max()
    assert isinstance(first, dt.datetime)
    assert isinstance(last, dt.datetime)
    start = dt.datetime.combine(first.date(), dt.time(), tzinfo=dt.UTC)
    end = dt.datetime.combine(last.date(), dt.time(), tzinfo=dt.UTC) + _DAY
    return Window(ids, start, end)


def _issue_rows(issues: Sequence[Issue], data: bytes | None, line_offset: int) -> pl.DataFrame:
    """Quarantine rows for parse issues, each with the text of its line when known.

    ``data`` holds the file's lines from line ``line_offset + 1`` on (a batch of a big file).
    """
    texts: dict[int, str] = {}
    lines = sorted({i.line for i in issues if i.line is not None})
    if data is not None and lines:
        ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
        starts = np.concatenate(([0], ends + 1))
        ends = np.concatenate((ends, [len(data)]))
        for line in lines:
            if 1 <= line - line_offset <= len(starts):
                at = line - line_offset - 1
                raw = data[starts[at] : ends[at]][:2000]
                texts[line] = raw.decode("utf-8", "replace").rstrip("\r")
    return pl.DataFrame(
        {
            "source_line": [i.line for i in issues],
            "record_kind": ["source_line"] * len(issues),
            "reason_code": ["parse_error"] * len(issues),
            "message": [str(i) for i in issues],
            "payload": [
                json.dumps(
                    {
                        "code": i.code,
                        "field": i.field,
                        "line_text": texts.get(i.line) if i.line is not None else None,
                    }
                )
                for i in issues
            ],
        },
        schema={
            "source_line": pl.Int64,
            "record_kind": pl.String,
            "reason_code": pl.String,
            "message": pl.String,
            "payload": pl.String,
        },
    )


def screen(
    batch: ParsedBatch,
    meters: pl.DataFrame,
    *,
    rules: IngestRules,
    data: bytes | None = None,
    line_offset: int = 0,
) -> Screened:
    """Resolve meters and hold back unknown-meter, future and beyond-horizon rows.

    Args:
        batch: What the parser found (rows with issues are not in its frames).
        meters: ``serial_number`` → ``meter_id`` for (at least) the batch's serials.
        rules: Arrival time and limits.
        data: The file's bytes, to keep the text of lines with parse issues.
        line_offset: ``data`` starts at the file's line ``line_offset + 1`` (issue and row
            lines are the file's).

    Returns:
        Rows to compare, the store windows to compare them with, held rows and counts.
    """
    parsed = 0
    frames: dict[Table, pl.DataFrame] = {}
    windows: dict[Table, Window] = {}
    held: list[pl.DataFrame] = []
    quarantined = 0
    for kind in KINDS:
        frame: pl.DataFrame = getattr(batch, kind.batch_attr)
        parsed += frame.height
        if frame.is_empty():
            continue
        kept, kind_held, window = _screen_kind(frame, kind, meters, rules)
        if kind_held is not None:
            held.append(kind_held)
            quarantined += kind_held.height
        if kept.height and window is not None:
            frames[kind.table] = kept
            windows[kind.table] = window
    if batch.issues:
        held.append(_issue_rows(batch.issues, data, line_offset))
    rows_in_file = max(batch.rows_in_file, parsed)
    counts = Counts(
        rows_in_file=rows_in_file, rejected=rows_in_file - parsed, quarantined=quarantined
    )
    return Screened(batch.source_name, frames, windows, held, counts)


# --------------------------------------------------------------------------------------------
# Step 2: duplicates, conflicts, late rows


def _same(column: str, other: str, dtype: pl.DataType) -> pl.Expr:
    a, b = pl.col(column), pl.col(other)
    if dtype.is_float():
        scale = pl.max_horizontal(pl.lit(1.0), a.abs(), b.abs())
        close = (a - b).abs() <= _FLOAT_TOLERANCE * scale
        return (a.is_null() & b.is_null()) | close.fill_null(value=False)
    return a.eq_missing(b)


def _all_same(kind: KindSpec, suffix: str, schema_: pl.Schema) -> pl.Expr:
    return pl.all_horizontal(_same(v, f"{v}{suffix}", schema_[v]) for v in kind.values)


def _json(columns: Sequence[str], suffix: str = "") -> pl.Expr:
    return pl.struct([pl.col(f"{c}{suffix}").alias(c) for c in columns]).struct.json_encode()


def _conflicts(
    rows: pl.DataFrame, kind: KindSpec, suffix: str, stored_file: pl.Expr
) -> pl.DataFrame:
    """``CONFLICTS`` rows (without file id and arrival time) for rows that clash.

    ``rows`` holds the new record and, as ``<value><suffix>``, the values it clashes with.
    """
    detail = [c for c in kind.key if c not in (kind.id_column, "channel", kind.time_column)]
    if kind.id_column != "meter_id":
        detail = [kind.id_column, *detail]
    numeric = kind.values == ("value",)
    return rows.select(
        pl.col("source_line").cast(pl.Int64),
        pl.lit(kind.record_kind).alias("record_kind"),
        (pl.col("meter_id") if kind.id_column == "meter_id" else pl.lit(None, pl.Int64)).alias(
            "meter_id"
        ),
        (pl.col("channel") if "channel" in kind.key else pl.lit(None, pl.String)).alias("channel"),
        pl.col(kind.time_column).alias("time_utc"),
        (_json(detail) if detail else pl.lit(None, pl.String)).alias("key_detail"),
        (pl.col(f"value{suffix}") if numeric else pl.lit(None, pl.Float64)).alias("stored_value"),
        (pl.col("value") if numeric else pl.lit(None, pl.Float64)).alias("new_value"),
        _json(kind.values, suffix).alias("stored_payload"),
        _json(kind.values).alias("new_payload"),
        stored_file.cast(pl.Int64).alias("stored_source_file_id"),
    )


def _strictly_sorted(frame: pl.DataFrame, key: Sequence[str]) -> bool:
    """Whether every row's key is greater than the previous row's (so keys are unique).

    Nulls sort first, as ``DataFrame.sort(nulls_last=False)`` puts them.
    """
    if frame.height < 2:
        return True
    if not any(frame[name].null_count() for name in key):  # the usual case: no null in a key
        # Each row against the one before it, without the null masks (one Polars query).
        later: pl.Expr | None = None
        for name in reversed(key):
            row, before = pl.col(name), pl.col(name).shift()
            later = row > before if later is None else (row > before) | ((row == before) & later)
        assert later is not None
        return bool(frame.select(later.slice(1).all()).item())
    after: pl.Expr = pl.lit(value=False)
    for name in reversed(key):
        column, previous = pl.col(name), pl.col(name).shift()
        greater = (column > previous).fill_null(value=False) | (
            previous.is_null() & column.is_not_null()
        )
        after = greater | (column.eq_missing(previous) & after)
    return bool(frame.select(after.slice(1).all()).item())


def _first_rows(
    frame: pl.DataFrame, kind: KindSpec, source_file_id: int
) -> tuple[pl.DataFrame, int, pl.DataFrame | None]:
    """Keep the first row of each key in file order; count the rest as duplicates or conflicts.

    Returns:
        (first rows sorted by key, duplicate count, conflict rows or None)
    """
    if _strictly_sorted(frame, kind.key):  # parsers usually emit rows in key order
        return frame, 0, None
    frame = frame.sort([*kind.key, "source_line"], nulls_last=False)
    first = pl.any_horizontal(pl.col(k).ne_missing(pl.col(k).shift()) for k in kind.key)
    frame = frame.with_columns(first.fill_null(value=True).alias("_first"))
    if frame["_first"].all():
        return frame.drop("_first"), 0, None
    head = pl.when(pl.col("_first")).then(pl.int_range(pl.len())).forward_fill()
    again = frame.with_columns(head.alias("_head")).filter(~pl.col("_first"))
    heads = frame.select(pl.col(kind.values).gather(again["_head"]))
    again = again.with_columns(heads.rename({v: f"{v}_first" for v in kind.values}))
    same = again.select(_all_same(kind, "_first", frame.schema)).to_series()
    clashes = again.filter(~same)
    conflicts = (
        _conflicts(clashes, kind, "_first", pl.lit(source_file_id)) if clashes.height else None
    )
    return frame.filter(pl.col("_first")).drop("_first"), int(same.sum()), conflicts


def _against_own_rows(
    frame: pl.DataFrame, kind: KindSpec, own: pl.DataFrame, source_file_id: int
) -> tuple[pl.DataFrame, int, pl.DataFrame | None]:
    """Compare rows with the rows an earlier batch of the same file stored, key by key.

    In a file, the first row of a key wins and every later row of it is a duplicate or an
    in-file conflict against that first row, also when both lie in one later batch (as in
    a file read in one go). Rows with a key no earlier batch stored are returned for the
    usual comparison. One case still counts differently from one go: a key whose first row
    clashed with another file's stored row (so it was not stored) and comes again in a later
    batch is compared with the stored row, not with the file's first row; both values are
    kept either way.

    Returns:
        (rows left to compare, duplicate count, conflict rows or None)
    """
    first = own.select(
        *kind.key,
        *(pl.col(v).alias(f"{v}_first") for v in kind.values),
        pl.lit(value=True).alias("_own"),
    )
    joined = frame.join(
        first, on=list(kind.key), how="left", nulls_equal=True, maintain_order="left"
    ).with_columns(pl.col("_own").fill_null(value=False))
    same = joined.select(_all_same(kind, "_first", frame.schema)).to_series()
    mine = joined["_own"]
    clashes = joined.filter(mine & ~same)
    conflicts = (
        _conflicts(clashes, kind, "_first", pl.lit(source_file_id)) if clashes.height else None
    )
    return joined.filter(~mine).select(frame.columns), int((mine & same).sum()), conflicts


def _late(rows: pl.DataFrame, kind: KindSpec, stored_times: pl.DataFrame) -> pl.Series:
    """True where the meter (and channel) had data stored at or after the row's time that day.

    The day is the UTC day of the row's time.
    """
    group = list(kind.late_group)
    time = kind.time_column
    if stored_times.is_empty():
        return pl.repeat(False, rows.height, dtype=pl.Boolean, eager=True).alias("_late")
    latest = stored_times.group_by(*group, pl.col(time).dt.date().alias("_day")).agg(
        pl.col(time).max().alias("_latest")
    )
    joined = rows.select(*group, time, pl.col(time).dt.date().alias("_day")).join(
        latest, on=[*group, "_day"], how="left", maintain_order="left", nulls_equal=True
    )
    return (joined["_latest"] >= joined[time]).fill_null(value=False).alias("_late")


def _classify_kind(
    frame: pl.DataFrame,
    kind: KindSpec,
    existing: pl.DataFrame,
    stored_times: pl.DataFrame,
    source_file_id: int,
) -> tuple[pl.DataFrame, pl.DataFrame | None, Counts]:
    conflicts: list[pl.DataFrame] = []
    duplicates = 0
    if not existing.is_empty():  # a later batch of a file: its earlier batches' rows first
        mine = pl.col("source_file_id") == source_file_id
        own = existing.filter(mine)
        if own.height:
            frame, duplicates, own_conflicts = _against_own_rows(frame, kind, own, source_file_id)
            conflicts += [own_conflicts] if own_conflicts is not None else []
            existing = existing.filter(~mine)
    candidates, in_file_duplicates, in_file_conflicts = _first_rows(frame, kind, source_file_id)
    duplicates += in_file_duplicates
    conflicts += [in_file_conflicts] if in_file_conflicts is not None else []
    conflicting = sum(c.height for c in conflicts)
    superseded = 0
    if not existing.is_empty():
        stored = existing.select(
            *kind.key,
            *(pl.col(v).alias(f"{v}_stored") for v in kind.values),
            pl.col("source_file_id").alias("_stored_file"),
            *(
                [pl.col("source_version").alias("_stored_version")]
                if kind.table is Table.INTERVAL_READS
                else []
            ),
        )
        joined = candidates.join(
            stored, on=list(kind.key), how="left", nulls_equal=True, maintain_order="left"
        )
        matched = pl.col("_stored_file").is_not_null()
        same = _all_same(kind, "_stored", candidates.schema)
        newer = pl.lit(value=False)
        if kind.table is Table.INTERVAL_READS:
            newer = (pl.col("source_version") > pl.col("_stored_version")).fill_null(value=False)
        joined = joined.with_columns(
            (matched & same).alias("_dup"),
            (matched & ~same & newer).alias("_super"),
            (matched & ~same & ~newer).alias("_clash"),
        )
        duplicates += int(joined["_dup"].sum())
        superseded = int(joined["_super"].sum())
        clashes = joined.filter(pl.col("_clash"))
        if clashes.height:
            conflicts.append(_conflicts(clashes, kind, "_stored", pl.col("_stored_file")))
            conflicting += clashes.height
        candidates = joined.filter(~pl.col("_dup") & ~pl.col("_clash")).select(candidates.columns)
    times = stored_times if kind.table is Table.INTERVAL_READS else existing
    # Nothing stored in the window: no row can be late (no mask of 10 M False values).
    late = _late(candidates, kind, times) if kind.late_flag and not times.is_empty() else None
    late_count = int(late.sum()) if late is not None else 0
    if late is not None and late_count:
        flags = pl.col("quality_flags") | pl.when(late).then(_LATE).otherwise(0).cast(pl.UInt32)
        candidates = candidates.with_columns(flags.alias("quality_flags"))
    counts = Counts(
        accepted=candidates.height - late_count,
        duplicate=duplicates,
        conflicting=conflicting,
        late=late_count,
        superseded=superseded,
    )
    return candidates, (pl.concat(conflicts) if conflicts else None), counts


def _stored_rows(frame: pl.DataFrame, kind: KindSpec, tag: Sequence[pl.Expr]) -> pl.DataFrame:
    """The stored columns in the stored order, the file id and arrival time (``tag``) last."""
    if kind.stored is None:
        return frame.select(*RAW_COLUMNS, *tag)
    names = [c for c in kind.stored.names if c not in ("source_file_id", "received_at_utc")]
    return frame.select(*names, *tag)


def classify(
    screened: Screened,
    existing: Mapping[Table, pl.DataFrame],
    *,
    stored_interval_times: pl.DataFrame,
    source_file_id: int,
    rules: IngestRules,
) -> Plan:
    """Split screened rows into stored, duplicate and conflicting ones.

    Args:
        screened: Output of :func:`screen`.
        existing: Visible stored rows of each kind's window (``ReadStore.existing``).
        stored_interval_times: Keys of stored raw reads and versions in the interval window
            (``meter_id``, ``channel``, ``interval_start_utc``), for late detection.
        source_file_id: The file's import journal id; every appended row carries it.
        rules: Arrival time (stored as ``received_at_utc``).

    Returns:
        The frames to append per table and the file's journal counts.

    Raises:
        DataContractError: The counts do not add up (a bug).
    """
    received = pl.lit(rules.now.astimezone(dt.UTC)).dt.cast_time_unit("us")
    tag = [
        pl.lit(source_file_id, pl.Int64).alias("source_file_id"),
        received.alias("received_at_utc"),
    ]
    counts = screened.counts
    tables: dict[Table, pl.DataFrame] = {}
    conflicts: list[pl.DataFrame] = []
    for kind in KINDS:
        frame = screened.frames.get(kind.table)
        if frame is None:
            continue
        empty = pl.DataFrame()
        rows, kind_conflicts, kind_counts = _classify_kind(
            frame,
            kind,
            existing.get(kind.table, empty),
            stored_interval_times,
            source_file_id,
        )
        counts += kind_counts
        if rows.height:
            tables[kind.table] = _stored_rows(rows, kind, tag)
        if kind_conflicts is not None:
            conflicts.append(kind_conflicts)
    if conflicts:
        tables[Table.CONFLICTS] = (
            pl.concat(conflicts).with_columns(tag).select(schema.CONFLICTS.names)
        )
    if screened.held:
        tables[Table.QUARANTINE] = (
            pl.concat(screened.held).with_columns(tag).select(schema.QUARANTINE.names)
        )
    counts.check(screened.file_name)
    return Plan(tables, counts)
