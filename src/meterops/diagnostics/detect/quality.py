"""Data-quality exceptions: suspect reads and register/interval mismatch.

Suspect reads are VEE and source flags, and clock errors.

Flags are read from the store's current view (``quality_flags``): the VEE rule bits
(``vee.flags.RULE_MASK``) and ``SOURCE_SUSPECT``, counted in :data:`DAILY_USAGE`.

Pure module: polars and pure meterops modules only.
"""

from __future__ import annotations

import polars as pl

from meterops.diagnostics.detect._common import as_exceptions, event_name_expr
from meterops.diagnostics.kinds import ExceptionKind
from meterops.diagnostics.params import DetectParams

__all__ = ["detect_register_mismatch", "detect_suspect_reads"]


def detect_suspect_reads(
    *, daily: pl.DataFrame, events: pl.DataFrame, zone: str, params: DetectParams
) -> pl.DataFrame:
    """Meters with many flagged reads or clock errors on several days.

    Args:
        daily: :data:`DAILY_USAGE` of the window.
        events: Stored events of the window (``clock_error``).
        zone: IANA zone of the utility (days of clock errors).
        params: Thresholds (``suspect_share``, ``clock_error_days``).

    Returns:
        ``EXCEPTIONS`` rows; evidence: ``suspect_share``, ``suspect_intervals``,
        ``clock_error_days``, ``clock_offset_s`` (largest reported offset, when the event
        details give one).
    """
    flagged = (
        daily.lazy()
        .group_by("meter_id")
        .agg(
            pl.col("suspect_intervals").sum().alias("suspect_intervals"),
            pl.col("reads_received").sum().alias("reads"),
            pl.col("day").min().alias("first_day"),
            pl.col("day").max().alias("last_day"),
        )
        .with_columns(
            (pl.col("suspect_intervals") / pl.col("reads").clip(lower_bound=1))
            .round(4)
            .alias("suspect_share")
        )
    )
    clock = (
        events.lazy()
        .with_columns(event_name_expr().alias("event_name"))
        .filter(pl.col("event_name") == "clock_error")
        .with_columns(
            pl.col("event_time_utc").dt.convert_time_zone(zone).dt.date().alias("event_day"),
            pl.col("details")
            .str.json_path_match("$.offset_s")
            .cast(pl.Float64, strict=False)
            .abs()
            .alias("offset"),
        )
        .group_by("meter_id")
        .agg(
            pl.col("event_day").n_unique().alias("clock_error_days"),
            pl.col("offset").max().alias("clock_offset_s"),
            pl.col("event_time_utc").min().alias("first_clock"),
            pl.col("event_time_utc").max().alias("last_clock"),
        )
    )
    frame = (
        flagged.join(clock, on="meter_id", how="full", coalesce=True)
        .with_columns(
            pl.col("suspect_share").fill_null(0.0),
            pl.col("suspect_intervals").fill_null(0),
            pl.col("clock_error_days").fill_null(0),
        )
        .filter(
            (pl.col("suspect_share") >= params.suspect_share)
            | (pl.col("clock_error_days") >= params.clock_error_days)
        )
        .with_columns(
            pl.coalesce(
                "first_clock",
                pl.col("first_day").cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
            ).alias("first_seen_utc"),
            pl.coalesce(
                "last_clock",
                pl.col("last_day").cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
            ).alias("last_seen_utc"),
        )
        .collect()
    )
    return as_exceptions(
        frame,
        ExceptionKind.SUSPECT_READS,
        ("suspect_share", "suspect_intervals", "clock_error_days", "clock_offset_s"),
    )


def detect_register_mismatch(
    *,
    registers: pl.DataFrame,
    daily: pl.DataFrame,
    meters: pl.DataFrame,
    zone: str,
    params: DetectParams,
) -> pl.DataFrame:
    """Meters whose total register advanced differently from the sum of their intervals.

    Between the first and the last total ``kwh_delivered`` register read of the window (read
    at local midnight, as head-ends do), the advance (with one dial rollover at
    ``10^register_digits``) is compared with the sum of the complete local days in between.
    Days with missing intervals are not compared (a gap is not a mismatch).

    Args:
        registers: Stored register reads (``REGISTER_READS``).
        daily: :data:`DAILY_USAGE` (energy includes intervals flagged outage: they are 0).
        meters: ``METER_CONTEXT`` (``register_digits``).
        zone: IANA zone of the utility.
        params: Thresholds (``mismatch_kwh``, ``mismatch_share``).

    Returns:
        ``EXCEPTIONS`` rows; evidence: ``register_advance_kwh``, ``interval_sum_kwh``,
        ``difference_kwh``, ``days``.
    """
    totals = (
        registers.lazy()
        .filter((pl.col("channel") == "kwh_delivered") & pl.col("tou_period").is_null())
        .with_columns(pl.col("read_time_utc").dt.convert_time_zone(zone).dt.date().alias("day"))
        .group_by("meter_id")
        .agg(
            pl.col("value").sort_by("read_time_utc").first().alias("first_value"),
            pl.col("value").sort_by("read_time_utc").last().alias("last_value"),
            pl.col("day").min().alias("from_day"),
            pl.col("day").max().alias("to_day"),
            pl.col("read_time_utc").min().alias("first_seen_utc"),
            pl.col("read_time_utc").max().alias("last_seen_utc"),
        )
        .filter(pl.col("to_day") > pl.col("from_day"))
        .join(meters.lazy().select("meter_id", "register_digits"), on="meter_id")
        .with_columns(
            (pl.col("last_value") - pl.col("first_value")).alias("advance"),
        )
        .with_columns(
            pl.when(pl.col("advance") < 0)
            .then(pl.col("advance") + 10.0 ** pl.col("register_digits").cast(pl.Float64))
            .otherwise(pl.col("advance"))
            .alias("register_advance_kwh")
        )
    )
    full_day = 92  # the shortest (spring-forward) local day of 15-minute intervals
    sums = (
        daily.lazy()
        .join(totals.select("meter_id", "from_day", "to_day"), on="meter_id")
        .filter((pl.col("day") >= pl.col("from_day")) & (pl.col("day") < pl.col("to_day")))
        .group_by("meter_id")
        .agg(
            (pl.col("kwh_delivered").sum()).alias("interval_sum_kwh"),
            pl.len().alias("days"),
            (pl.col("reads_received") < full_day).any().alias("incomplete"),
        )
    )
    frame = (
        totals.join(sums, on="meter_id")
        .with_columns(
            ((pl.col("to_day") - pl.col("from_day")).dt.total_days()).alias("span_days"),
            (pl.col("register_advance_kwh") - pl.col("interval_sum_kwh")).alias("difference_kwh"),
        )
        .filter(~pl.col("incomplete") & (pl.col("days") == pl.col("span_days")))
        .filter(
            (pl.col("difference_kwh").abs() > params.mismatch_kwh)
            & (
                pl.col("difference_kwh").abs()
                > params.mismatch_share * pl.col("register_advance_kwh").abs()
            )
        )
        .with_columns(
            pl.col("register_advance_kwh").round(3),
            pl.col("interval_sum_kwh").round(3),
            pl.col("difference_kwh").round(3),
        )
        .collect()
    )
    return as_exceptions(
        frame,
        ExceptionKind.REGISTER_MISMATCH,
        ("register_advance_kwh", "interval_sum_kwh", "difference_kwh", "days"),
    )
