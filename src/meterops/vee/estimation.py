"""Estimation: values for expected intervals that hold no actual value (reference path).

Estimators are separate from checks (conventions §5.6): they read the prepared frame of
:mod:`meterops.vee.prepare` and return *new version rows*; they never touch an actual value.
A gap is a maximal run of consecutive window intervals of an accumulating channel without an
actual value (absent, null, source-missing, or a current estimate being re-made). Per gap,
in this order (standards.md §9.3, California MDMA rules):

1. **zero_disconnected / zero_outage** — every interval of the gap lies in a known
   disconnection or outage: zero (reason ``disconnected`` / ``power_outage``).
2. **linear_interpolation** — the gap is at most ``max_interpolation_s`` long and has actual
   values on both sides: straight line between them.
3. **like_day** — otherwise, per interval, the mean of the same local time of day on the
   ``like_days`` most recent earlier days of the same day type (weekday / weekend) that hold
   an actual value there; **flat_average** (the series' mean) when some interval of the gap
   has no like day.
4. **register_scaled_profile** — on a local day whose register advance is known, the
   profile-estimated intervals (3.) are scaled so that the day adds up to the advance; with
   no usable profile the remainder is spread evenly.

Each estimate carries its method, a reason code, the actor ``estimation.<method>@<version>``,
``ESTIMATED`` and ``MISSING_INTERVAL`` flags (plus the source bits of the row it replaces) and
its parent version (the row it replaces, or null where no row existed).
:mod:`meterops.vee.fast` computes the same numbers in one pass.

Pure module: polars and pure meterops modules only; must not import ``meterops.db``,
``models``, ``web``, ``cli`` or ``config``.
"""

from __future__ import annotations

from enum import StrEnum
from types import MappingProxyType
from typing import Final

import polars as pl

from meterops.reads.schema import UTC_DATETIME
from meterops.vee.flags import FLAGS
from meterops.vee.prepare import SERIES
from meterops.vee.suites import Suite

__all__ = [
    "ESTIMATES",
    "ESTIMATOR_VERSIONS",
    "REASONS",
    "SOURCE_MASK",
    "Method",
    "actor_of",
    "drop_unchanged",
    "estimate_gaps",
    "estimate_linear_interpolation",
    "estimate_register_scaled_profile",
    "interval_values_primary",
]


class Method(StrEnum):
    """Estimation methods (the ``method`` of an estimate version)."""

    ZERO_DISCONNECTED = "zero_disconnected"
    ZERO_OUTAGE = "zero_outage"
    LINEAR_INTERPOLATION = "linear_interpolation"
    LIKE_DAY = "like_day"
    FLAT_AVERAGE = "flat_average"
    REGISTER_SCALED_PROFILE = "register_scaled_profile"


ESTIMATOR_VERSIONS: Final = MappingProxyType(dict.fromkeys(Method, 1))
"""Version of each estimator (bumped when its arithmetic changes; part of the actor)."""

REASONS: Final = MappingProxyType(
    {
        Method.ZERO_DISCONNECTED: "disconnected",
        Method.ZERO_OUTAGE: "power_outage",
        Method.LINEAR_INTERPOLATION: "missing_read",
        Method.LIKE_DAY: "missing_read",
        Method.FLAT_AVERAGE: "missing_read",
        Method.REGISTER_SCALED_PROFILE: "missing_read",
    }
)
"""Reason code of the estimates each method makes."""

SOURCE_MASK: Final = 0xFF
"""Source bits (0-7) an estimate keeps from the row it replaces."""

_T: Final = "interval_start_utc"

ESTIMATES: Final = pl.Schema(
    {
        "meter_id": pl.Int64(),
        "channel": pl.String(),
        _T: UTC_DATETIME,
        "interval_s": pl.Int32(),
        "value": pl.Float64(),
        "quality_flags": pl.UInt32(),
        "method": pl.String(),
        "reason_code": pl.String(),
        "actor": pl.String(),
        "parent_version": pl.Int32(),
        "previous_value": pl.Float64(),
    }
)
"""Columns of the estimates both paths return (before version numbering)."""


def actor_of(method: Method | str) -> str:
    """``estimation.<method>@<version>``.

    Examples:
        >>> actor_of("like_day")
        'estimation.like_day@1'
    """
    return f"estimation.{method}@{ESTIMATOR_VERSIONS[Method(method)]}"


def estimate_linear_interpolation(
    *, left: pl.Expr, right: pl.Expr, position: pl.Expr, length: pl.Expr
) -> pl.Expr:
    """Straight line between the actual values on each side of a gap.

    Args:
        left: Actual value just before the gap. [kWh]
        right: Actual value just after the gap. [kWh]
        position: 1-based position of the interval in the gap.
        length: Number of intervals in the gap.

    Examples:
        >>> f = pl.DataFrame({"a": [1.0, 1.0, 1.0], "b": [4.0] * 3, "k": [1, 2, 3], "n": [3] * 3})
        >>> f.select(estimate_linear_interpolation(left=pl.col("a"), right=pl.col("b"),
        ...     position=pl.col("k"), length=pl.col("n"))).to_series().to_list()
        [1.75, 2.5, 3.25]
    """
    step = (right - left) / (length + 1).cast(pl.Float64)
    return left + step * position.cast(pl.Float64)


def estimate_register_scaled_profile(
    *, profile: pl.Expr, remaining: pl.Expr, profile_total: pl.Expr, slots: pl.Expr
) -> pl.Expr:
    """Scale profile values so that they add up to the energy the register says is missing.

    Args:
        profile: Profile value of the interval (null counts as 0). [kWh]
        remaining: Register advance minus the day's actual and other estimated energy. [kWh]
        profile_total: Sum of the profile over the day's profile-estimated intervals. [kWh]
        slots: Number of those intervals.

    Examples:
        >>> f = pl.DataFrame({"p": [1.0, 3.0, None], "r": [8.0] * 3, "q": [4.0] * 3,
        ...     "n": [3] * 3})
        >>> f.select(estimate_register_scaled_profile(profile=pl.col("p"),
        ...     remaining=pl.col("r"), profile_total=pl.col("q"),
        ...     slots=pl.col("n"))).to_series().to_list()
        [2.0, 6.0, 0.0]
    """
    scaled = profile.fill_null(0.0) * (remaining / profile_total)
    even = remaining / slots.cast(pl.Float64)
    return (
        pl.when(remaining <= 0.0).then(0.0).when(profile_total > 0.0).then(scaled).otherwise(even)
    )


def interval_values_primary(suite: Suite) -> bool:
    """Whether interval values are primary-side (from the sum check's parameters)."""
    rule_set = suite.rule_set
    if rule_set.enabled("registers.sum_check"):
        return bool(rule_set.params("registers.sum_check").interval_values_primary)
    return False


def _like_day(gaps: pl.DataFrame, frame: pl.DataFrame, like_days: int) -> pl.DataFrame:
    """Mean of the same slot on the most recent earlier like days, per gap interval."""
    on = [*SERIES, "slot_of_day", "weekend"]
    refs = frame.filter(pl.col("actual")).select(
        *on, pl.col("local_date").alias("_ref_date"), pl.col(_T).alias("_ref_t"), "value"
    )
    means = (
        gaps.select("_prep", *on, "local_date")
        .join(refs, on=on)
        .filter(pl.col("_ref_date") < pl.col("local_date"))
        .sort(["_prep", "_ref_t"], descending=[False, True])
        .group_by("_prep", maintain_order=True)
        .head(like_days)
        .group_by("_prep")
        .agg(pl.col("value").mean().alias("_like"))
    )
    return gaps.join(means, on="_prep", how="left")


def estimate_gaps(frame: pl.DataFrame, suite: Suite) -> pl.DataFrame:
    """Estimates for every gap interval of the prepared frame (reference implementation).

    Args:
        frame: The prepared frame (:func:`meterops.vee.prepare.prepare_frame`).
        suite: The suite (estimation parameters, which channels are estimated).

    Returns:
        :data:`ESTIMATES` rows in key order; intervals nothing can estimate are left out.
    """
    params = suite.rule_set.estimation
    channels = frame.select(pl.col("channel").unique()).to_series().to_list()
    estimable = [c for c in channels if suite.estimates(c)]
    # Every estimated interval was missing; the bit is set when the rule is enabled.
    # (A literal: Polars types ``replace_strict`` with an empty mapping as the
    # input's string dtype, which broke a frame with no channels.)
    missing_bit = pl.lit(
        FLAGS["MISSING_INTERVAL"].mask
        if suite.rule_set.enabled("completeness.missing_interval")
        else 0,
        dtype=pl.UInt32,
    )
    frame = frame.with_row_index("_prep")
    same_series = (pl.col("meter_id") == pl.col("meter_id").shift()) & (
        pl.col("channel") == pl.col("channel").shift()
    )
    step = pl.col(_T).dt.epoch("us") - pl.col(_T).dt.epoch("us").shift()
    contiguous = (
        same_series & (step == pl.col("interval_s").cast(pl.Int64) * 1_000_000)
    ).fill_null(value=False)
    gap = pl.col("in_window") & ~pl.col("actual") & pl.col("channel").is_in(estimable)
    frame = frame.with_columns(contiguous.alias("_contiguous"), gap.alias("_gap"))
    before = pl.when(pl.col("_contiguous") & pl.col("actual").shift()).then(pl.col("value").shift())
    after = pl.when(pl.col("_contiguous").shift(-1) & pl.col("actual").shift(-1)).then(
        pl.col("value").shift(-1)
    )
    gap_start = pl.col("_gap") & ~(
        pl.col("_gap").shift().fill_null(value=False) & pl.col("_contiguous")
    )
    frame = frame.with_columns(
        before.alias("_before"), after.alias("_after"), gap_start.cum_sum().alias("_gap_id")
    )
    gaps = frame.filter(pl.col("_gap")).with_columns(
        pl.len().over("_gap_id").alias("_length"),
        pl.int_range(1, pl.len() + 1).over("_gap_id").alias("_position"),
        pl.col("_before").first().over("_gap_id").alias("_left"),
        pl.col("_after").last().over("_gap_id").alias("_right"),
        (pl.col("disconnected") | pl.col("outage")).all().over("_gap_id").alias("_covered"),
    )
    interpolate = (
        (pl.col("_length") * pl.col("interval_s") <= params.max_interpolation_s)
        & pl.col("_left").is_not_null()
        & pl.col("_right").is_not_null()
    )
    gaps = _like_day(gaps, frame, params.like_days)
    has_like = pl.col("_like").is_not_null().all().over("_gap_id")
    flat = pl.when(pl.col("series_count") > 0).then(
        pl.col("series_sum") / pl.col("series_count").cast(pl.Float64)
    )
    gaps = gaps.with_columns(
        pl.when(pl.col("_covered") & pl.col("disconnected"))
        .then(pl.lit(Method.ZERO_DISCONNECTED.value))
        .when(pl.col("_covered"))
        .then(pl.lit(Method.ZERO_OUTAGE.value))
        .when(interpolate)
        .then(pl.lit(Method.LINEAR_INTERPOLATION.value))
        .when(has_like)
        .then(pl.lit(Method.LIKE_DAY.value))
        .otherwise(pl.lit(Method.FLAT_AVERAGE.value))
        .alias("method")
    )
    line = estimate_linear_interpolation(
        left=pl.col("_left"),
        right=pl.col("_right"),
        position=pl.col("_position"),
        length=pl.col("_length"),
    )
    gaps = gaps.with_columns(
        pl.when(pl.col("method").str.starts_with("zero_"))
        .then(0.0)
        .when(pl.col("method") == Method.LINEAR_INTERPOLATION.value)
        .then(line)
        .when(pl.col("method") == Method.LIKE_DAY.value)
        .then(pl.col("_like"))
        .otherwise(flat)
        .alias("_estimate")
    )
    gaps = _scale_to_registers(gaps, frame, primary=interval_values_primary(suite))
    flags = (
        (pl.col("quality_flags").fill_null(0) & SOURCE_MASK) | FLAGS["ESTIMATED"].mask | missing_bit
    )
    actors = {m.value: actor_of(m) for m in Method}
    reasons = {m.value: REASONS[m] for m in Method}
    return (
        gaps.filter(pl.col("_estimate").is_not_null())
        .select(
            "meter_id",
            "channel",
            _T,
            "interval_s",
            pl.col("_estimate").alias("value"),
            flags.cast(pl.UInt32).alias("quality_flags"),
            "method",
            pl.col("method").replace_strict(reasons, return_dtype=pl.String).alias("reason_code"),
            pl.col("method").replace_strict(actors, return_dtype=pl.String).alias("actor"),
            pl.when(pl.col("_row").is_not_null()).then(pl.col("version")).alias("parent_version"),
            pl.when(pl.col("is_estimate") & pl.col("value").is_not_nan())
            .then(pl.col("value"))
            .alias("previous_value"),
        )
        .cast(ESTIMATES)
        .sort([*SERIES, _T])
    )


def _scale_to_registers(gaps: pl.DataFrame, frame: pl.DataFrame, *, primary: bool) -> pl.DataFrame:
    """Scale profile estimates of days with a known register advance (method 4)."""
    day = [*SERIES, "local_date"]
    factor = pl.col("multiplier") if primary else pl.lit(1.0)
    actual = (
        frame.filter(pl.col("in_window"))
        .group_by(day)
        .agg(
            pl.col("value").filter(pl.col("actual")).sum().alias("_actual_sum"),
            (pl.col("register_advance") * factor).first().alias("_advance"),
        )
    )
    profiled = pl.col("method").is_in([Method.LIKE_DAY.value, Method.FLAT_AVERAGE.value])
    gaps = gaps.join(actual, on=day, how="left").with_columns(profiled.alias("_profiled"))
    fixed = pl.col("_estimate").filter(~pl.col("_profiled")).sum().over(day)
    profile_total = pl.col("_estimate").filter(pl.col("_profiled")).fill_null(0.0).sum().over(day)
    slots = pl.col("_profiled").sum().over(day)
    remaining = pl.col("_advance") - pl.col("_actual_sum") - fixed
    scaled = estimate_register_scaled_profile(
        profile=pl.col("_estimate"), remaining=remaining, profile_total=profile_total, slots=slots
    )
    use = pl.col("_profiled") & pl.col("_advance").is_not_null()
    return gaps.with_columns(
        pl.when(use).then(scaled).otherwise(pl.col("_estimate")).alias("_estimate"),
        pl.when(use)
        .then(pl.lit(Method.REGISTER_SCALED_PROFILE.value))
        .otherwise(pl.col("method"))
        .alias("method"),
    )


def drop_unchanged(estimates: pl.DataFrame, *, rel_tol: float = 1e-9) -> pl.DataFrame:
    """Leave out estimates that re-make a current estimate with the same value.

    Examples:
        >>> f = pl.DataFrame({"value": [1.0, 2.0, 3.0], "previous_value": [None, 2.0, 2.5]})
        >>> drop_unchanged(f)["value"].to_list()
        [1.0, 3.0]
    """
    previous = pl.col("previous_value")
    close = (pl.col("value") - previous).abs() <= rel_tol * pl.max_horizontal(
        pl.col("value").abs(), previous.abs()
    )
    return estimates.filter(previous.is_null() | ~close.fill_null(value=False))
