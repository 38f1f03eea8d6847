"""The prepared frame: reads, the expected-interval grid and the VEE context, row by row.

This is the reference path's first step (:mod:`meterops.vee.engine`): it turns current reads
(:data:`~meterops.vee.context.VEE_INPUT`) and a :class:`~meterops.vee.context.VeeContext`
into the frame the rule expressions of :mod:`meterops.vee.rules` read (columns documented
there). Steps, each a plain Polars expression:

1. Rows at or after the window's end are dropped; rows before its start are *history*: they
   feed references (spike mean, like days, runs) but are neither flagged nor estimated.
2. Each series (meter, channel) gets the grid of expected intervals over the window, built in
   UTC from the utility's local midnights, so a spring-forward day holds 92 quarter-hours and
   a fall-back day 100 (TIME-01/02). Grid slots without a row become rows with a null value.
3. Context columns are joined per meter and local day; windows (disconnections, outages,
   clock events) are turned into per-interval booleans and distances; runs of zeros and of
   repeated values are measured over consecutive intervals; day sums are set against the
   register advance (rolled over at ``10^digits``).

:mod:`meterops.vee.fast` computes the same columns in one fused pass; the tests hold the two
to identical flags.

Pure module: polars and pure meterops modules only; must not import ``meterops.db``,
``models``, ``web``, ``cli`` or ``config``.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from meterops.kit.frames import check_frame
from meterops.nomenclature import CHANNELS, FlowDirection
from meterops.vee.context import DEFAULTS, VEE_INPUT, RunWindow, VeeContext, WindowKind
from meterops.vee.flags import FLAGS

__all__ = ["SERIES", "actual_expr", "prepare_frame"]

SERIES: Final = ("meter_id", "channel")
"""Columns that identify a series."""

_T: Final = "interval_start_utc"
_NOT_ACTUAL: Final = FLAGS["SOURCE_MISSING"].mask | FLAGS["ESTIMATED"].mask
_OUTAGE_BIT: Final = FLAGS["POWER_OUTAGE"].mask
_US: Final = 1_000_000


def actual_expr() -> pl.Expr:
    """True where a row holds an actual value.

    Actual means present, not NaN, not flagged source-missing and not an estimate.

    Examples:
        >>> frame = pl.DataFrame({"value": [1.0, None, 2.0, float("nan")],
        ...     "quality_flags": [0, 0, 1 << 24, 0]}, schema_overrides={"quality_flags": pl.UInt32})
        >>> frame.select(actual_expr()).to_series().to_list()
        [True, False, False, False]
    """
    flags_ok = (pl.col("quality_flags") & pl.lit(_NOT_ACTUAL, pl.UInt32)) == 0
    return (pl.col("value").is_not_null() & pl.col("value").is_not_nan() & flags_ok).fill_null(
        value=False
    )


def _flows() -> pl.Expr:
    mapping = {name: channel.flow.value for name, channel in CHANNELS.items()}
    return pl.col("channel").replace_strict(
        mapping, default=FlowDirection.NONE.value, return_dtype=pl.String
    )


def _grid(reads: pl.DataFrame, window: RunWindow) -> pl.DataFrame:
    """Every expected interval of every series over the window."""
    start, end = window.bounds_utc
    series = reads.group_by(SERIES).agg(pl.col("interval_s").min())
    parts = []
    for (interval_s,) in series.select("interval_s").unique().iter_rows():
        times = pl.datetime_range(
            start, end, f"{interval_s}s", closed="left", time_unit="us", eager=True
        ).alias(_T)
        same = series.filter(pl.col("interval_s") == interval_s)
        parts.append(same.join(pl.DataFrame([times]), how="cross"))
    if not parts:
        return series.with_columns(pl.lit(None, reads.schema[_T]).alias(_T))
    return pl.concat(parts).select(*SERIES, _T, "interval_s")


def _window_rows(rows: pl.DataFrame, grid: pl.DataFrame) -> pl.DataFrame:
    """Window rows on the grid, grid slots without a row, and rows off the grid."""
    key = [*SERIES, _T]
    on_grid = grid.join(rows.drop("interval_s"), on=key, how="left")
    off_grid = rows.join(grid.select(key), on=key, how="anti")
    return pl.concat([on_grid, off_grid.select(on_grid.columns)])


def _window_columns(frame: pl.DataFrame, windows: pl.DataFrame) -> pl.DataFrame:
    """``disconnected``, ``outage`` (from events) and ``clock_distance_us`` per row."""
    t = pl.col(_T).dt.epoch("us")
    span = pl.col("interval_s").cast(pl.Int64) * _US
    hits = (
        frame.select("_row", "meter_id", t.alias("_t"), span.alias("_span"))
        .join(
            windows.select(
                "meter_id",
                "kind",
                pl.col("start_utc").dt.epoch("us").alias("_s"),
                pl.col("end_utc").dt.epoch("us").alias("_e"),
            ),
            on="meter_id",
        )
        .with_columns(
            pl.max_horizontal(
                pl.col("_t") - pl.col("_e"), pl.col("_s") - pl.col("_t") - pl.col("_span")
            ).alias("_d")
        )
        .group_by("_row")
        .agg(
            ((pl.col("kind") == WindowKind.DISCONNECTED) & (pl.col("_d") < 0)).any().alias("_disc"),
            ((pl.col("kind") == WindowKind.OUTAGE) & (pl.col("_d") < 0)).any().alias("_out"),
            pl.col("_d").filter(pl.col("kind") == WindowKind.CLOCK_ERROR).min().alias("_clock"),
        )
    )
    joined = frame.join(hits, on="_row", how="left")
    source_outage = (pl.col("quality_flags").fill_null(0) & _OUTAGE_BIT) != 0
    return joined.with_columns(
        pl.col("_disc").fill_null(value=False).alias("disconnected"),
        (pl.col("_out").fill_null(value=False) | source_outage).alias("outage"),
        pl.col("_clock").alias("clock_distance_us"),
    ).drop("_disc", "_out", "_clock")


def _runs(frame: pl.DataFrame) -> pl.DataFrame:
    """Run lengths of eligible zeros and of repeated non-zero values over consecutive rows."""
    same_series = (pl.col("meter_id") == pl.col("meter_id").shift()) & (
        pl.col("channel") == pl.col("channel").shift()
    )
    step = pl.col(_T).dt.epoch("us") - pl.col(_T).dt.epoch("us").shift()
    contiguous = (same_series & (step == pl.col("interval_s").cast(pl.Int64) * _US)).fill_null(
        value=False
    )
    zero = (
        pl.col("actual")
        & (pl.col("value") == 0.0)
        & pl.col("active_account")
        & ~pl.col("disconnected")
        & ~pl.col("outage")
    ).fill_null(value=False)
    flat = (pl.col("actual") & (pl.col("value") != 0.0)).fill_null(value=False)
    frame = frame.with_columns(
        zero.alias("_zero"), flat.alias("_flat"), contiguous.alias("_contiguous")
    )
    zero_start = pl.col("_zero") & ~(
        pl.col("_zero").shift().fill_null(value=False) & pl.col("_contiguous")
    )
    repeated = (
        pl.col("_flat").shift().fill_null(value=False)
        & pl.col("_contiguous")
        & (pl.col("value") == pl.col("value").shift()).fill_null(value=False)
    )
    flat_start = pl.col("_flat") & ~repeated
    frame = frame.with_columns(
        zero_start.cum_sum().alias("_zero_run"), flat_start.cum_sum().alias("_flat_run")
    )
    return frame.with_columns(
        pl.when(pl.col("_zero"))
        .then(pl.len().over("_zero_run", "_zero"))
        .otherwise(0)
        .cast(pl.Int64)
        .alias("zero_run_intervals"),
        pl.when(pl.col("_flat"))
        .then(pl.len().over("_flat_run", "_flat"))
        .otherwise(0)
        .cast(pl.Int64)
        .alias("flat_run_intervals"),
    ).drop("_zero", "_flat", "_contiguous", "_zero_run", "_flat_run")


def _registers(frame: pl.DataFrame, registers: pl.DataFrame) -> pl.DataFrame:
    joined = frame.join(
        registers.select(*SERIES, "local_date", "register_start", "register_end"),
        on=[*SERIES, "local_date"],
        how="left",
    )
    advance = pl.col("register_end") - pl.col("register_start")
    modulus = pl.lit(10.0).pow(pl.col("register_digits").cast(pl.Float64))
    rolled = pl.when(advance < 0).then(advance + modulus).otherwise(advance)
    window_day = pl.col("in_window")
    return joined.with_columns(
        pl.when(window_day).then(rolled).alias("register_advance"),
        pl.lit(10.0).pow(-pl.col("register_decimals").cast(pl.Float64)).alias("register_step"),
    ).drop("register_start", "register_end")


def prepare_frame(reads: pl.DataFrame, context: VeeContext, *, window: RunWindow) -> pl.DataFrame:
    """Build the prepared frame the rule expressions run over.

    Args:
        reads: Current reads (:data:`~meterops.vee.context.VEE_INPUT`), one row per key; rows
            before the window are history.
        context: Meter facts, windows and register reads.
        window: The local days to validate.

    Returns:
        One row per history row, per expected interval of the window and per window row off
        the grid, sorted by series and time, with the columns of :mod:`meterops.vee.rules`
        plus ``_row`` (the input row, null for an absent interval), ``in_window``,
        ``local_date``, ``slot_of_day``, ``weekend``, ``quality_flags`` and ``version``.

    Raises:
        MissingColumnsError: ``reads`` lacks columns of ``VEE_INPUT``.
    """
    check_frame(reads, VEE_INPUT)
    start, end = window.bounds_utc
    rows = reads.select(VEE_INPUT.names).with_row_index("_row").filter(pl.col(_T) < end)
    rows = rows.with_columns(pl.col("interval_s").min().over(SERIES))
    history = rows.filter(pl.col(_T) < start)
    in_window = rows.filter(pl.col(_T) >= start)
    window_rows = _window_rows(in_window, _grid(rows, window)) if rows.height else in_window
    frame = pl.concat(
        [
            history.with_columns(pl.lit(value=False).alias("in_window")),
            window_rows.select(history.columns).with_columns(pl.lit(value=True).alias("in_window")),
        ]
    ).sort([*SERIES, _T])
    local = pl.col(_T).dt.convert_time_zone(window.zone)
    wall_s = local.dt.hour().cast(pl.Int64) * 3600 + local.dt.minute().cast(pl.Int64) * 60
    frame = frame.with_columns(
        actual_expr().alias("actual"),
        ((pl.col("quality_flags").fill_null(0) & FLAGS["ESTIMATED"].mask) != 0).alias(
            "is_estimate"
        ),
        _flows().alias("flow"),
        local.dt.date().alias("local_date"),
        ((wall_s + local.dt.second()) // pl.col("interval_s")).alias("slot_of_day"),
        (local.dt.weekday() >= 6).alias("weekend"),
    )
    days = context.days.select(
        "meter_id",
        "local_date",
        "active_account",
        "bidirectional",
        "multiplier",
        "register_digits",
        "register_decimals",
        "nominal_voltage_v",
    )
    frame = frame.join(days, on=["meter_id", "local_date"], how="left").with_columns(
        pl.col("active_account").fill_null(DEFAULTS.active_account),
        pl.col("bidirectional").fill_null(DEFAULTS.bidirectional),
        pl.col("multiplier").fill_null(DEFAULTS.multiplier),
        pl.col("register_digits").fill_null(DEFAULTS.register_digits),
        pl.col("register_decimals").fill_null(DEFAULTS.register_decimals),
    )
    frame = _with_windows(frame, context.windows)
    actual_value = pl.when(pl.col("actual")).then(pl.col("value"))
    frame = frame.with_columns(
        actual_value.sum().over(SERIES).alias("series_sum"),
        pl.col("actual").sum().over(SERIES).cast(pl.Int64).alias("series_count"),
    )
    frame = _runs(frame)
    day = [*SERIES, "local_date"]
    frame = frame.with_columns(
        pl.col("value").sum().over([*day, "in_window"]).alias("day_sum"),
        pl.col("actual").all().over([*day, "in_window"]).alias("day_complete"),
    ).with_columns((pl.col("day_complete") & pl.col("in_window")).alias("day_complete"))
    return _registers(frame, context.registers)


def _with_windows(frame: pl.DataFrame, windows: pl.DataFrame) -> pl.DataFrame:
    indexed = frame.with_row_index("_prep").rename({"_row": "_input_row"})
    done = _window_columns(indexed.rename({"_prep": "_row"}), windows)
    return done.sort("_row").drop("_row").rename({"_input_row": "_row"})
