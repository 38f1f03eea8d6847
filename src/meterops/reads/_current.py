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

Pure module: polars only; must not import ``meterops.db``, ``models``, ``web``, ``cli`` or
``config``.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from meterops.reads.schema import INTERVAL_READS

__all__ = [
    "KEY",
    "apply_flags",
    "as_interval_reads",
    "latest_per_key",
    "raw_as_rows",
    "versions_as_rows",
]

KEY: Final = ("meter_id", "channel", "interval_start_utc")
"""Natural key of an interval read."""

_ORDER: Final = (*KEY, "received_at_utc", "version", "source_version")


def raw_as_rows(raw: pl.LazyFrame) -> pl.LazyFrame:
    """Raw table rows with the version columns of ``INTERVAL_READS`` (version 0, kind raw)."""
    return raw.with_columns(
        pl.lit(0, pl.Int32).alias("version"),
        pl.lit("raw", pl.String).alias("version_kind"),
        pl.lit(None, pl.String).alias("method"),
        pl.lit(None, pl.String).alias("reason_code"),
        pl.lit(None, pl.String).alias("actor"),
        pl.lit(None, pl.Int32).alias("parent_version"),
    ).select(INTERVAL_READS.names)


def versions_as_rows(versions: pl.LazyFrame) -> pl.LazyFrame:
    """Version table rows with the raw-only columns of ``INTERVAL_READS`` set to null."""
    return versions.with_columns(
        pl.lit(None, pl.String).alias("source_quality"),
        pl.lit(None, pl.Int64).alias("source_version"),
        pl.lit(None, pl.Int64).alias("source_file_id"),
    ).select(INTERVAL_READS.names)


def as_interval_reads(frame: pl.LazyFrame) -> pl.LazyFrame:
    """Cast to the ``INTERVAL_READS`` contract, in key order."""
    return frame.select(pl.col(c.name).cast(c.dtype) for c in INTERVAL_READS).sort(
        list(KEY), maintain_order=True
    )


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
