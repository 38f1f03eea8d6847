"""The current view of interval reads: raw rows and versions merged, sparse flags applied.

Rules (``docs/storage.md``):

* For each key (meter, channel, interval start) the **current** row is the one received last
  among the raw rows and the versions (ties: higher version, then higher source version), so an
  actual read that arrives after an estimate supersedes it, while the estimate stays in history.
* A flags row speaks for the bits in its ``flag_mask`` of one (key, version); the latest such
  row received at or after the version itself applies: ``(flags & ~mask) | (set & mask)``.
  Flags written before a row arrived never apply to it (a superseding read must be
  re-validated).
* Conflicts live in their own table and never become current.

Two implementations of the same rules: :func:`latest_per_key`, :func:`apply_flags` and
:func:`as_interval_reads` are the readable reference (sorts over every row: about 1-5 µs per
row); :func:`current_rows` is what the store uses. It encodes each key as one ``int64``
(meter offset, channel rank, time step), so that key order is one integer sort (skipped
when the rows already come in key order, and replaced by putting whole runs in order when
they come as a few sorted runs of distinct keys — sorted files read in another order),
picks the single row of every key that has one directly, and hands only the keys with
several rows (raw read plus versions, or a superseded raw read) and the rows that have
flags to the reference functions. Its result equals the reference's (a Hypothesis test in
``tests/reads/test_current.py``).

Pure module: polars and numpy only; must not import ``meterops.db``, ``models``, ``web``, ``cli`` or
``config``.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import Final

import numpy as np
import numpy.typing as npt
import polars as pl

from meterops.reads.schema import INTERVAL_READS

__all__ = [
    "KEY",
    "apply_flags",
    "as_interval_reads",
    "current_rows",
    "latest_per_key",
    "raw_as_rows",
    "versions_as_rows",
]

KEY: Final = ("meter_id", "channel", "interval_start_utc")
"""Natural key of an interval read."""

_ORDER: Final = (*KEY, "received_at_utc", "version", "source_version")


def _present(columns: Collection[str] | None) -> list[str]:
    """``INTERVAL_READS`` names in contract order, only those in ``columns`` (None: all)."""
    return [n for n in INTERVAL_READS.names if columns is None or n in columns]


def raw_as_rows(raw: pl.LazyFrame, columns: Collection[str] | None = None) -> pl.LazyFrame:
    """Raw table rows with the version columns of ``INTERVAL_READS`` (version 0, kind raw).

    Args:
        raw: Raw table rows (all stored columns, or at least those of ``columns`` that the
            raw table has).
        columns: Keep only these ``INTERVAL_READS`` columns (None: all), in contract order.
    """
    return raw.with_columns(
        pl.lit(0, pl.Int32).alias("version"),
        pl.lit("raw", pl.String).alias("version_kind"),
        pl.lit(None, pl.String).alias("method"),
        pl.lit(None, pl.String).alias("reason_code"),
        pl.lit(None, pl.String).alias("actor"),
        pl.lit(None, pl.Int32).alias("parent_version"),
    ).select(_present(columns))


def versions_as_rows(
    versions: pl.LazyFrame, columns: Collection[str] | None = None
) -> pl.LazyFrame:
    """Version table rows with the raw-only columns of ``INTERVAL_READS`` set to null.

    Args:
        versions: Version table rows.
        columns: Keep only these ``INTERVAL_READS`` columns (None: all), in contract order.
    """
    return versions.with_columns(
        pl.lit(None, pl.String).alias("source_quality"),
        pl.lit(None, pl.Int64).alias("source_version"),
        pl.lit(None, pl.Int64).alias("source_file_id"),
    ).select(_present(columns))


def as_interval_reads(frame: pl.LazyFrame) -> pl.LazyFrame:
    """Cast to the ``INTERVAL_READS`` contract (the columns ``frame`` has), in key order."""
    names = frame.collect_schema().names()
    return frame.select(_cast_present(names)).sort(list(KEY), maintain_order=True)


def _cast_present(names: Collection[str]) -> list[pl.Expr]:
    return [pl.col(c.name).cast(c.dtype) for c in INTERVAL_READS if c.name in names]


def latest_per_key(rows: pl.LazyFrame) -> pl.LazyFrame:
    """For each key, the row received last (ties: higher version, then source version).

    Examples:
        >>> import datetime as dt
        >>> t = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
        >>> rows = pl.LazyFrame({"meter_id": [1, 1], "channel": ["c", "c"],
        ...     "interval_start_utc": [t, t], "received_at_utc": [t, t + dt.timedelta(1)],
        ...     "version": [1, 0], "source_version": [None, None], "value": [2.0, 3.0]})
        >>> latest_per_key(rows).collect()["value"].to_list()
        [3.0]
    """
    return rows.sort(list(_ORDER), nulls_last=False).unique(
        subset=list(KEY), keep="last", maintain_order=True
    )


def apply_flags(current: pl.LazyFrame, flags: pl.LazyFrame) -> pl.LazyFrame:
    """Merge sparse flag rows into the current rows' ``quality_flags``.

    Args:
        current: Current rows (``INTERVAL_READS`` columns).
        flags: Flag rows (``INTERVAL_FLAGS`` columns plus ``received_at_utc``).

    Returns:
        ``current`` with ``quality_flags`` updated by the latest applicable flag row.

    Examples:
        >>> import datetime as dt
        >>> t = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
        >>> cur = pl.LazyFrame({"meter_id": [1], "channel": ["c"], "interval_start_utc": [t],
        ...     "version": [0], "received_at_utc": [t], "quality_flags": [1]},
        ...     schema_overrides={"quality_flags": pl.UInt32, "version": pl.Int32})
        >>> fl = pl.LazyFrame({"meter_id": [1], "channel": ["c"], "interval_start_utc": [t],
        ...     "version": [0], "quality_flags": [1024], "flag_mask": [1024],
        ...     "received_at_utc": [t]},
        ...     schema_overrides={"quality_flags": pl.UInt32, "flag_mask": pl.UInt32,
        ...                       "version": pl.Int32})
        >>> apply_flags(cur, fl).collect()["quality_flags"].to_list()
        [1025]
    """
    on = [*KEY, "version"]
    applicable = (
        current.select(*on, pl.col("received_at_utc").alias("_row_received"))
        .join(flags, on=on, how="inner")
        .filter(pl.col("received_at_utc") >= pl.col("_row_received"))
        .sort([*on, "received_at_utc"])
        .unique(subset=on, keep="last")
        .select(
            *on,
            pl.col("quality_flags").cast(pl.UInt32).alias("_set"),
            pl.col("flag_mask").cast(pl.UInt32).alias("_mask"),
        )
    )
    flags_expr = pl.when(pl.col("_mask").is_null()).then(pl.col("quality_flags"))
    merged = (pl.col("quality_flags") & ~pl.col("_mask")) | (pl.col("_set") & pl.col("_mask"))
    return (
        current.join(applicable, on=on, how="left", maintain_order="left")
        .with_columns(flags_expr.otherwise(merged).cast(pl.UInt32).alias("quality_flags"))
        .drop("_set", "_mask")
    )


_MAX_KEY: Final = 2**62
_ROW: Final = "__row"

I64 = npt.NDArray[np.int64]


def _time_grid(*columns: pl.Series) -> tuple[int, int, int]:
    """The common grid of interval starts: (lowest start [µs], step [µs], step count).

    The step is the gcd of the distinct offsets from the lowest start (few: a grid of
    intervals), so it is found without touching every row twice.
    """
    epochs = [c.dt.epoch("us") for c in columns if c.len()]
    low = min(int(e.min()) for e in epochs)  # type: ignore[arg-type]
    high = max(int(e.max()) for e in epochs)  # type: ignore[arg-type]
    step = 0
    for e in epochs:
        offsets = (e.unique() - low).to_numpy().astype(np.int64, copy=False)
        step = math.gcd(step, int(np.gcd.reduce(offsets)))
    step = max(step, 1)
    return low, step, (high - low) // step + 1


def _keys(rows: pl.DataFrame, flags: pl.DataFrame) -> tuple[I64, I64] | None:
    """One ``int64`` per row whose order is key order (None: the key space is too big)."""
    frames = [f for f in (rows, flags) if f.height]
    for frame in frames:
        if frame.select(pl.any_horizontal(pl.col(list(KEY)).is_null().any())).item():
            return None
    channels = sorted(set().union(*(f["channel"].unique().to_list() for f in frames)))
    enum = pl.Enum(channels)  # categories in string order: physical codes sort as the strings
    low = min(int(f["meter_id"].min()) for f in frames)  # type: ignore[arg-type]
    high = max(int(f["meter_id"].max()) for f in frames)  # type: ignore[arg-type]
    t_low, step, n_steps = _time_grid(rows["interval_start_utc"], flags["interval_start_utc"])
    if (high - low + 1) * len(channels) * n_steps >= _MAX_KEY:
        return None
    encoded = []
    for frame in (rows, flags):
        if not frame.height:
            encoded.append(np.zeros(0, dtype=np.int64))
            continue
        # NumPy over zero-copy views of the columns: no Polars temporaries per row.
        key = frame["meter_id"].to_numpy().astype(np.int64, copy=False) - low
        if len(channels) > 1:
            code = frame["channel"].cast(enum).to_physical().to_numpy().astype(np.int64)
            key = key * len(channels) + code
        times = frame["interval_start_utc"].dt.epoch("us").to_numpy()
        key *= n_steps
        key += (times.astype(np.int64, copy=False) - t_low) // step
        encoded.append(key)
    return encoded[0], encoded[1]


def _flags_frame(flags: pl.DataFrame) -> pl.DataFrame:
    if flags.is_empty():
        return pl.DataFrame(
            {"meter_id": [], "channel": [], "interval_start_utc": []},
            schema={"meter_id": pl.Int64, "channel": pl.String,
                    "interval_start_utc": INTERVAL_READS.schema["interval_start_utc"]},
        )  # fmt: skip
    return flags


def current_rows(rows: pl.DataFrame, flags: pl.DataFrame) -> pl.DataFrame:
    """The current view of raw and version rows with flags merged, in key order.

    Same result as ``as_interval_reads(apply_flags(latest_per_key(rows), flags))`` (the
    reference), without sorting every row by six columns.

    Args:
        rows: Raw rows and version rows as ``INTERVAL_READS`` columns (``raw_as_rows``,
            ``versions_as_rows``), in any order.
        flags: Flag rows (``INTERVAL_FLAGS`` columns plus ``received_at_utc``); may be empty.

    Returns:
        ``INTERVAL_READS`` rows, one per key, in key order.

    Examples:
        >>> import datetime as dt
        >>> t = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
        >>> raw = raw_as_rows(pl.LazyFrame({
        ...     "meter_id": [2, 1, 1], "channel": ["c", "c", "c"],
        ...     "interval_start_utc": [t, t + dt.timedelta(minutes=15), t],
        ...     "interval_s": [900] * 3, "value": [5.0, 2.0, 1.0], "quality_flags": [0] * 3,
        ...     "source_quality": [None] * 3, "source_version": [None] * 3,
        ...     "source_file_id": [1] * 3, "received_at_utc": [t] * 3},
        ...     schema_overrides={"interval_start_utc": pl.Datetime("us", "UTC"),
        ...                       "received_at_utc": pl.Datetime("us", "UTC")})).collect()
        >>> current_rows(raw, pl.DataFrame())["value"].to_list()
        [1.0, 2.0, 5.0]
    """
    if rows.is_empty():
        return as_interval_reads(rows.lazy()).collect()
    encoded = _keys(rows, _flags_frame(flags))
    if encoded is None:  # null keys or a key space beyond int64: the reference
        lazy = latest_per_key(rows.lazy())
        if flags.height:
            lazy = apply_flags(lazy, flags.lazy())
        return as_interval_reads(lazy).collect()
    key, flag_key = encoded
    in_order = key.size < 2 or bool((key[1:] >= key[:-1]).all())
    runs = None if in_order else _sorted_runs(key)
    if in_order and not bool((key[1:] == key[:-1]).any()):
        # The common case (a raw scan of sorted files, no versions): every key once, in order.
        current, current_key = rows, key
    elif runs is not None:
        # Sorted files read in another order: every key once, the runs put in key order.
        current = pl.concat([rows.slice(start, length) for start, length in runs], rechunk=False)
        current_key = np.concatenate([key[start : start + length] for start, length in runs])
    else:
        current, current_key = _resolve(rows, key, in_order=in_order)
    if flags.height:
        current = _merge_flags(current, current_key, flags, flag_key)
    return current.select(_cast_present(current.columns))


_MAX_RUNS: Final = 4096
"""Most sorted runs :func:`_sorted_runs` puts in order (a scan has one run per file read)."""


def _sorted_runs(key: I64) -> list[tuple[int, int]] | None:
    """(start, length) of the rows' strictly increasing runs in key order, if they interleave not.

    None when a key repeats, the runs overlap in key range, or there are more than
    :data:`_MAX_RUNS` of them (then :func:`_resolve` sorts). When not None, concatenating
    the runs in the order given is the key order of all rows: the same rows, in the same
    order, as sorting by key (every key is once, so the order is unique).
    """
    if key.size < 2:
        return None
    breaks = np.flatnonzero(key[1:] <= key[:-1]) + 1
    if breaks.size >= _MAX_RUNS:
        return None
    starts = np.concatenate(([0], breaks)).astype(np.int64)
    ends = np.concatenate((breaks, [key.size])).astype(np.int64)
    order = np.argsort(key[starts], kind="stable")
    starts, ends = starts[order], ends[order]
    if bool((key[ends[:-1] - 1] >= key[starts[1:]]).any()):
        return None  # runs overlap (or a key repeats across runs)
    return [(int(a), int(b - a)) for a, b in zip(starts, ends, strict=True)]


def _resolve(rows: pl.DataFrame, key: I64, *, in_order: bool) -> tuple[pl.DataFrame, I64]:
    """The latest row of every key (``latest_per_key`` on keys with several rows only)."""
    order: I64
    if in_order:
        order = np.arange(key.size, dtype=np.int64)
    else:
        order = pl.Series(key).arg_sort().to_numpy().astype(np.int64, copy=False)
    sorted_key = key[order]
    same = sorted_key[1:] == sorted_key[:-1]
    several = np.zeros(key.size, dtype=bool)
    several[1:] |= same
    several[:-1] |= same
    keep = np.ones(key.size, dtype=bool)  # in original row positions
    if several.any():
        contested = order[several]
        keep[contested] = False
        candidates = rows[contested].with_columns(pl.Series(_ROW, contested))
        winners = latest_per_key(candidates.lazy()).select(_ROW).collect()[_ROW].to_numpy()
        keep[winners] = True
    chosen = order[keep[order]]
    identity = chosen.size == key.size and bool((chosen == np.arange(key.size)).all())
    return (rows if identity else rows[chosen]), key[chosen]  # a gather only when rows move


def _merge_flags(
    current: pl.DataFrame, key: I64, flags: pl.DataFrame, flag_key: I64
) -> pl.DataFrame:
    """``apply_flags`` on only the current rows that flag rows name (``key`` sorted, unique)."""
    at = np.minimum(np.searchsorted(key, flag_key), key.size - 1)
    hit = key[at] == flag_key
    if not hit.any():
        return current
    positions = np.unique(at[hit])
    named = current[positions].with_columns(pl.Series(_ROW, positions))
    merged = apply_flags(named.lazy(), flags.filter(pl.Series(hit)).lazy()).collect()
    merged = merged.sort(_ROW)  # apply_flags keeps the left order; sort for safety
    quality = current["quality_flags"].cast(pl.UInt32).to_numpy().copy()
    quality[merged[_ROW].to_numpy()] = merged["quality_flags"].to_numpy()
    return current.with_columns(pl.Series("quality_flags", quality, dtype=pl.UInt32))
