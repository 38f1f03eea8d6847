"""Consumption drops: an occupied premise that suddenly registers far less than its history.

A bypass (jumpered socket, tapped service) leaves a *step down* in the registered energy that
persists, often without any tamper event. For each active account's meter the detector
removes its weekly shape (weekend days are divided by the meter's median
weekend-to-weekday ratio over the weeks of the window: a business that closes at weekends is
not a drop every Saturday), weather-adjusts the daily energy (each day is divided by the
fleet's median *day factor* — the energy of that day over the meter's own window mean,
median over all meters — so a cool spell that lowers everyone's use is not a drop) and finds
the best single step in the adjusted series (the split that leaves the least squared error
on both sides, found with cumulative sums in one pass). It is an exception when

* at least ``drop_min_days_after`` days lie after the step and ``baseline_days`` before it,
* the mean after the step is at most ``drop_ratio`` of the mean before it,
* the use before it was at least ``drop_min_kwh_per_day``, and
* the drop holds: no adjusted day after the step reaches ``drop_hold_ratio`` of the mean
  before it (one low day is not a step).

The evidence also carries how the meter's transformer neighbours moved across the same
split (their median after/before ratio over the fleet's median ratio at that split): a drop
the whole transformer shares is the grid, not this premise. For a premise with export the
evidence says how the export moved across the step (more sun lowers the delivered energy
and raises the export; a bypass lowers the delivered energy only). Zero use after the step
is left to the zero-consumption detector (a stopped register or a vacant premise).

Pure module: polars and pure meterops modules only.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from meterops.diagnostics.detect._common import as_exceptions
from meterops.diagnostics.detect.usage import detect_zero_consumption
from meterops.diagnostics.frames import EXCEPTIONS
from meterops.diagnostics.kinds import ExceptionKind
from meterops.diagnostics.params import DetectParams

__all__ = ["adjusted_daily", "detect_consumption_drop", "step_changes"]


def _local_midnight_utc(column: str, zone: str) -> pl.Expr:
    return (
        pl.col(column)
        .cast(pl.Datetime("us"))
        .dt.replace_time_zone(zone, ambiguous="earliest", non_existent="null")
        .dt.convert_time_zone("UTC")
    )


def _weekday_level(daily: pl.DataFrame, last_day: dt.date, min_read_share: float) -> pl.LazyFrame:
    """Days with enough reads, scaled to full days, weekends divided by the weekend factor."""
    full = pl.col("reads_received").max().over("meter_id")
    scale = full.cast(pl.Float64) / pl.col("reads_received")
    complete = (
        daily.lazy()
        .filter(pl.col("day") <= last_day)
        .filter(
            (pl.col("reads_received") > 0) & (pl.col("reads_received") >= min_read_share * full)
        )
        .select(
            "meter_id",
            "day",
            (pl.col("kwh_delivered").cast(pl.Float64) * scale).alias("kwh"),
            (pl.col("kwh_received").cast(pl.Float64) * scale).alias("export"),
        )
        .with_columns(
            (pl.col("day").dt.weekday() >= 6).alias("weekend"),
            pl.col("day").dt.truncate("1w").alias("week"),
        )
    )
    weekly = (
        complete.group_by("meter_id", "week")
        .agg(
            (
                pl.col("kwh").filter(pl.col("weekend")).mean()
                / pl.col("kwh").filter(~pl.col("weekend")).mean()
            ).alias("w")
        )
        .filter(pl.col("w").is_finite())
        .group_by("meter_id")
        .agg(pl.col("w").median().clip(0.1, 10.0).alias("weekend_factor"))
    )
    complete = complete.join(weekly, on="meter_id", how="left").with_columns(
        pl.when(pl.col("weekend"))
        .then(pl.col("kwh") / pl.col("weekend_factor").fill_null(1.0))
        .otherwise(pl.col("kwh"))
        .alias("kwh")
    )
    return complete


def adjusted_daily(
    daily: pl.DataFrame,
    *,
    last_day: dt.date,
    factors: pl.DataFrame | None = None,
    min_read_share: float = 0.9,
) -> pl.DataFrame:
    """Each meter's days with enough reads, weekly shape removed and weather-adjusted.

    A day counts with at least ``min_read_share`` of the meter's best day's reads, its
    energy scaled to that best day's reads (the mean demand of the intervals that arrived
    stands for the missing ones: a collector down for hours is not a fall in use). Weekend days are
    divided by the meter's median weekend-to-weekday ratio over the window's weeks; then
    each day by the fleet's median *day factor* (that day's energy over each meter's own
    mean, median over all meters): a cool spell that lowers everyone's use is not a drop.

    Args:
        daily: ``meter_id``, ``day``, ``kwh_delivered``, ``kwh_received``,
            ``reads_received`` (``DAILY_USAGE``).
        last_day: Last local day judged (later days are left out).
        factors: The fleet's ``DAILY_USAGE`` to take the day factors from (None: ``daily``;
            pass it when ``daily`` holds only a few meters).
        min_read_share: Fewest reads of a day that counts, as a share of the meter's most.

    Returns:
        ``meter_id``, ``day``, ``kwh`` and ``export`` (raw) [kWh], ``x`` (the adjusted
        energy) [kWh], sorted by meter and day.

    Examples:
        >>> days = [dt.date(2026, 7, d) for d in range(6, 9)]  # a cool day halves both
        >>> frame = pl.DataFrame({"meter_id": [1, 1, 1, 2, 2, 2], "day": days * 2,
        ...     "kwh_delivered": [10.0, 5.0, 10.0, 20.0, 10.0, 20.0],
        ...     "kwh_received": [0.0] * 6, "reads_received": [96] * 6})
        >>> adjusted_daily(frame, last_day=days[-1])["x"].round(1).to_list()
        [8.3, 8.3, 8.3, 16.7, 16.7, 16.7]
    """
    complete = _weekday_level(daily, last_day, min_read_share)
    fleet = complete if factors is None else _weekday_level(factors, last_day, 0.9)
    factor = (
        fleet.with_columns((pl.col("kwh") / pl.col("kwh").mean().over("meter_id")).alias("f"))
        .filter(pl.col("f").is_finite())
        .group_by("day")
        .agg(pl.col("f").median().alias("day_factor"))
    )
    return (
        complete.join(factor, on="day", how="left")
        .with_columns(
            (pl.col("kwh") / pl.col("day_factor").fill_null(1.0).clip(0.2, 5.0)).alias("x")
        )
        .select("meter_id", "day", "kwh", "export", "x")
        .sort("meter_id", "day")
        .collect()
    )


def step_changes(daily: pl.DataFrame, *, last_day: dt.date, min_days: int) -> pl.DataFrame:
    """The best single step of each meter's weather-adjusted daily energy.

    Args:
        daily: ``meter_id``, ``day``, ``kwh_delivered``, ``reads_received`` (``DAILY_USAGE``).
        last_day: Last local day judged (later days are left out).
        min_days: Fewest days on either side of a step.

    Returns:
        ``meter_id``, ``step_day`` (first day after the step), ``days_before``,
        ``days_after``, ``kwh_before`` and ``kwh_after`` (adjusted means) [kWh/d],
        ``ratio`` (after / before), ``hold_max`` (largest adjusted day after the step over
        the mean before), ``export_ratio`` (mean export after over before, raw; null
        without export before), ``export_before`` and ``export_after`` (mean daily export,
        raw) [kWh/d].

    Examples:
        >>> days = [dt.date(2026, 7, d) for d in range(1, 15)]
        >>> use = [10.0] * 8 + [3.0] * 6 + [5.0] * 42  # meter 1 steps down, 2 to 4 steady
        >>> frame = pl.DataFrame({"meter_id": [m for m in (1, 2, 3, 4) for _ in days],
        ...                       "day": days * 4, "kwh_delivered": use,
        ...                       "kwh_received": [0.0] * 56, "reads_received": [96] * 56})
        >>> row = step_changes(frame, last_day=days[-1], min_days=3).row(0, named=True)
        >>> row["step_day"], round(row["ratio"], 2)
        (datetime.date(2026, 7, 9), 0.31)
    """
    adjusted = (
        adjusted_daily(daily, last_day=last_day)
        .lazy()
        .sort("meter_id", "day")
        .with_columns(
            pl.len().over("meter_id").alias("n"),
            pl.col("x").sum().over("meter_id").alias("total"),
            (pl.col("x") ** 2).sum().over("meter_id").alias("total_sq"),
            (pl.col("x").cum_sum().over("meter_id") - pl.col("x")).alias("sum_b"),
            ((pl.col("x") ** 2).cum_sum().over("meter_id") - pl.col("x") ** 2).alias("sq_b"),
            (pl.int_range(pl.len()).over("meter_id")).alias("n_b"),
            pl.col("export").sum().over("meter_id").alias("export_total"),
            (pl.col("export").cum_sum().over("meter_id") - pl.col("export")).alias("export_b"),
            pl.col("x").cum_max(reverse=True).over("meter_id").alias("max_a"),
        )
        .with_columns((pl.col("n") - pl.col("n_b")).alias("n_a"))
        .filter((pl.col("n_b") >= min_days) & (pl.col("n_a") >= 1))
        .with_columns(
            (pl.col("total") - pl.col("sum_b")).alias("sum_a"),
            (pl.col("total_sq") - pl.col("sq_b")).alias("sq_a"),
        )
        .with_columns(
            (
                pl.col("sq_b")
                - pl.col("sum_b") ** 2 / pl.col("n_b")
                + pl.col("sq_a")
                - pl.col("sum_a") ** 2 / pl.col("n_a")
            ).alias("sse"),
            (pl.col("sum_b") / pl.col("n_b")).alias("kwh_before"),
            (pl.col("sum_a") / pl.col("n_a")).alias("kwh_after"),
        )
        .filter(pl.col("kwh_after") < pl.col("kwh_before"))  # the best step *down*
        .sort("meter_id", "sse", "day")
        .group_by("meter_id", maintain_order=True)
        .first()
        .select(
            "meter_id",
            pl.col("day").alias("step_day"),
            pl.col("n_b").cast(pl.Int32).alias("days_before"),
            pl.col("n_a").cast(pl.Int32).alias("days_after"),
            "kwh_before",
            "kwh_after",
            (pl.col("kwh_after") / pl.col("kwh_before")).alias("ratio"),
            (
                (pl.col("kwh_before") - pl.col("kwh_after"))
                / (
                    pl.col("sse").clip(lower_bound=0.0)
                    / (pl.col("n") - 2).clip(lower_bound=1)
                    * (1.0 / pl.col("n_b") + 1.0 / pl.col("n_a"))
                ).sqrt()
            ).alias("step_t"),
            (pl.col("max_a") / pl.col("kwh_before")).alias("hold_max"),
            pl.when(pl.col("export_b") > 0)
            .then(
                ((pl.col("export_total") - pl.col("export_b")) / pl.col("n_a"))
                / (pl.col("export_b") / pl.col("n_b"))
            )
            .otherwise(None)
            .alias("export_ratio"),
            (pl.col("export_b") / pl.col("n_b")).alias("export_before"),
            ((pl.col("export_total") - pl.col("export_b")) / pl.col("n_a")).alias("export_after"),
        )
    )
    return adjusted.collect()


def _neighbour_ratio(
    daily: pl.DataFrame, steps: pl.DataFrame, meters: pl.DataFrame, last_day: dt.date
) -> pl.DataFrame:
    """The transformer neighbours' median after/before ratio over the fleet's, per split."""
    context = meters.lazy().select("meter_id", "transformer_code")
    pairs = (
        steps.lazy()
        .select("meter_id", "step_day")
        .join(context, on="meter_id")
        .join(context.rename({"meter_id": "neighbour_id"}), on="transformer_code", how="inner")
        .filter(pl.col("neighbour_id") != pl.col("meter_id"))
    )
    usage = (
        daily.lazy()
        .filter(pl.col("day") <= last_day)
        .select(pl.col("meter_id").alias("neighbour_id"), "day", "kwh_delivered")
    )
    splits = steps.lazy().select("step_day").unique()
    fleet = (
        splits.join(usage, how="cross")
        .group_by("step_day", "neighbour_id")
        .agg(
            (
                pl.col("kwh_delivered").filter(pl.col("day") >= pl.col("step_day")).mean()
                / pl.col("kwh_delivered").filter(pl.col("day") < pl.col("step_day")).mean()
            ).alias("r")
        )
        .filter(pl.col("r").is_finite())
        .group_by("step_day")
        .agg(pl.col("r").median().alias("fleet_ratio"))
    )
    return (
        pairs.join(usage, on="neighbour_id")
        .group_by("meter_id", "step_day", "neighbour_id")
        .agg(
            (
                pl.col("kwh_delivered").filter(pl.col("day") >= pl.col("step_day")).mean()
                / pl.col("kwh_delivered").filter(pl.col("day") < pl.col("step_day")).mean()
            ).alias("r")
        )
        .filter(pl.col("r").is_finite())
        .join(fleet, on="step_day")
        .group_by("meter_id")
        .agg(
            (pl.col("r").median() / pl.col("fleet_ratio").first()).alias("neighbour_ratio"),
            pl.len().cast(pl.Int32).alias("neighbours"),
        )
        .collect()
    )


def detect_consumption_drop(
    *,
    daily: pl.DataFrame,
    meters: pl.DataFrame,
    last_day: dt.date,
    zone: str,
    params: DetectParams,
) -> pl.DataFrame:
    """Active accounts whose weather-adjusted use stepped down and stayed down.

    Args:
        daily: :data:`DAILY_USAGE`.
        meters: ``METER_CONTEXT``.
        last_day: Last local day judged.
        zone: IANA zone of the utility.
        params: Thresholds (``drop_*``, ``baseline_days``).

    Returns:
        ``EXCEPTIONS`` rows of kind ``consumption_drop``; evidence: ``step_day``,
        ``kwh_per_day_before``, ``kwh_per_day_after``, ``drop_ratio``, ``days_after``,
        ``hold_max``, ``neighbour_ratio``, ``neighbours``, ``export_ratio``,
        ``export_kwh_per_day_before``, ``export_kwh_per_day_after``.
    """
    active = meters.filter(pl.col("account_active"))
    own = daily.join(active.select("meter_id"), on="meter_id")
    if "account_opened_on" in active.columns:
        # the customer's own history: the days after the open account's move-in day
        opened = active.select("meter_id", "account_opened_on")
        own = (
            own.join(opened, on="meter_id", how="left")
            .filter(
                pl.col("account_opened_on").is_null()
                | (pl.col("day") > pl.col("account_opened_on"))
            )
            .drop("account_opened_on")
        )
    # a register that reads nothing any more is the zero-consumption detector's
    stopped = detect_zero_consumption(
        daily=daily, meters=meters, last_day=last_day, zone=zone, params=params
    )["meter_id"]
    steps = (
        step_changes(own, last_day=last_day, min_days=params.baseline_days)
        .filter(~pl.col("meter_id").is_in(stopped.implode()))
        .filter(
            (pl.col("days_after") >= params.drop_min_days_after)
            & (pl.col("kwh_before") >= params.drop_min_kwh_per_day)
            & (pl.col("ratio") <= params.drop_ratio)
            & (pl.col("hold_max") < params.drop_hold_ratio)
            & (pl.col("kwh_after") > params.zero_kwh)
        )
        .sort("meter_id")
    )
    if steps.is_empty():
        return EXCEPTIONS.empty()
    neighbours = _neighbour_ratio(daily, steps, meters, last_day)
    frame = (
        steps.join(neighbours, on="meter_id", how="left")
        .with_columns(
            _local_midnight_utc("step_day", zone).alias("first_seen_utc"),
            pl.lit(last_day + dt.timedelta(days=1)).alias("_next"),
            pl.col("step_day").cast(pl.String),
            pl.col("kwh_before").round(2).alias("kwh_per_day_before"),
            pl.col("kwh_after").round(2).alias("kwh_per_day_after"),
            pl.col("ratio").round(3).alias("drop_ratio"),
            pl.col("step_t").round(2),
            pl.col("hold_max").round(3),
            pl.col("neighbour_ratio").round(3),
            pl.col("export_ratio").round(3),
            pl.col("export_before").round(2).alias("export_kwh_per_day_before"),
            pl.col("export_after").round(2).alias("export_kwh_per_day_after"),
        )
        .with_columns(_local_midnight_utc("_next", zone).alias("last_seen_utc"))
    )
    return as_exceptions(
        frame,
        ExceptionKind.CONSUMPTION_DROP,
        (
            "step_day",
            "kwh_per_day_before",
            "kwh_per_day_after",
            "drop_ratio",
            "step_t",
            "days_after",
            "hold_max",
            "neighbour_ratio",
            "neighbours",
            "export_ratio",
            "export_kwh_per_day_before",
            "export_kwh_per_day_after",
        ),
    )
