"""Wrong multipliers: the billed use of a CT-rated site steps at a meter exchange.

A transformer-rated meter registers the secondary side of its current (and voltage)
transformers; the back office bills ``register × multiplier`` (``ct_ratio × pt_ratio``). A
wrong multiplier usually enters at a meter exchange: the new meter is recorded with a ratio
that is not the site's (the old CT ratio after a CT change, 1 instead of 80 ...). The meter
side does not notice - the same current flows through the same CTs - so the *meter-side*
use carries on across the exchange while the *billed* use steps by the ratio of the two
recorded multipliers on the exchange day.

For each exchange (:data:`EXCHANGES`) at a CT-rated service point whose installed meter is
in the meter context, the detector compares the removed meter's days before the exchange day
with the installed meter's days after it (the exchange day itself is split between the two
and left out). Each day is made weather-comparable by dividing it by the fleet's median
*day factor* (that day's energy over each meter's own mean, median over all meters), as in
``detect/drop.py``. It is an exception when

* at least ``min_days`` (7) complete days lie on each side (``reads_received`` at least 90 % of
  the meter's most),
* the two recorded multipliers differ by at least ``min_multiplier_step`` (a factor),
* the meter-side use carried on: the mean after over the mean before is within
  ``continuity`` (×1.35) of 1 and moved by less than half the multipliers' step (in log
  terms), both over the whole span and over the ``edge_days`` (7) on either side of the
  exchange (the step is on the exchange day, not gradual), and
* the meter-side use before was at least ``min_kwh_per_day`` (a vacant site says nothing).

A genuine exchange with the right multiplier at a site whose use really changes is not
flagged: its two multipliers are equal, so the billed use moves with the meter-side use.
A CT change recorded correctly is not flagged either: the meter-side use steps by the
inverse ratio, so the billed use carries on. Not detected: a CT change where the back office
kept the old ratio on *both* records (equal multipliers, a meter-side step that is a ratio
of standard CT ratios): that step looks like a real change of load, and telling the two
apart needs the work order's CT nameplate.

Pure module: polars and pure meterops modules only.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Final

import polars as pl

from meterops.diagnostics.detect._common import as_exceptions
from meterops.diagnostics.frames import EXCEPTIONS
from meterops.diagnostics.kinds import ExceptionKind
from meterops.kit.frames import ColumnSpec, FrameContract, check_frame
from meterops.reads.schema import UTC_DATETIME

__all__ = ["EXCHANGES", "MultiplierParams", "detect_wrong_multiplier", "exchange_steps"]

EXCHANGES: Final = FrameContract(
    "meter_exchanges",
    (
        ColumnSpec("service_point_number", pl.String(), "Where the meter was exchanged."),
        ColumnSpec("removed_meter_id", pl.Int64(), "meterops id of the meter taken out."),
        ColumnSpec("removed_serial", pl.String(), "Serial of the meter taken out."),
        ColumnSpec("installed_meter_id", pl.Int64(), "meterops id of the meter put in."),
        ColumnSpec("installed_serial", pl.String(), "Serial of the meter put in."),
        ColumnSpec("exchanged_at_utc", UTC_DATETIME, "When the new meter went in. [UTC]"),
        ColumnSpec(
            "removed_multiplier", pl.Float64(), "Multiplier the old meter was billed with. [-]"
        ),
        ColumnSpec(
            "installed_multiplier", pl.Float64(), "Multiplier recorded for the new meter. [-]"
        ),
    ),
)
"""One row per meter exchange the back office recorded (``fleet`` installation history)."""


@dataclass(frozen=True, slots=True)
class MultiplierParams:
    """Thresholds of the wrong-multiplier detector.

    Attributes:
        min_days: Fewest complete days on each side of the exchange day (a week: a business
            closed at weekends must not look like a step). [d]
        span_days: Most days used on each side. [d]
        edge_days: Days next to the exchange compared for a step on the day (a week, so
            both sides hold the same weekdays). [d]
        min_multiplier_step: Smallest factor between the two multipliers that counts. [-]
        continuity: Largest factor by which the meter-side use may move and still count as
            carrying on; it must also move by less than half the multipliers' step (in
            log terms), so a CT change recorded right is never taken for one. [-]
        min_kwh_per_day: Least meter-side use before the exchange. [kWh/d]
    """

    min_days: int = 7
    span_days: int = 21
    edge_days: int = 7
    min_multiplier_step: float = 1.15
    continuity: float = 1.35
    min_kwh_per_day: float = 0.5


def _day_factors(daily: pl.LazyFrame) -> pl.LazyFrame:
    """The fleet's median day factor per day (energy over the meter's own mean)."""
    return (
        daily.with_columns((pl.col("kwh") / pl.col("kwh").mean().over("meter_id")).alias("f"))
        .filter(pl.col("f").is_finite())
        .group_by("day")
        .agg(pl.col("f").median().alias("day_factor"))
    )


def exchange_steps(
    *,
    daily: pl.DataFrame,
    exchanges: pl.DataFrame,
    zone: str,
    last_day: dt.date,
    params: MultiplierParams | None = None,
) -> pl.DataFrame:
    """Meter-side and billed use on each side of every exchange.

    Args:
        daily: ``DAILY_USAGE`` of the window (the removed meters' days included).
        exchanges: :data:`EXCHANGES`.
        zone: IANA zone of the utility (the exchange day is a local day).
        last_day: Last local day judged (later days are left out).
        params: Thresholds (``min_days``, ``span_days``, ``edge_days``).

    Returns:
        The exchange columns and ``exchange_day``, ``days_before``, ``days_after``,
        ``kwh_before``/``kwh_after`` (weather-comparable meter-side means) [kWh/d],
        ``billed_before``/``billed_after`` (times the recorded multipliers) [kWh/d],
        ``meter_ratio`` and ``edge_ratio`` (meter-side after over before, whole span and
        next to the exchange), ``billed_ratio`` and ``multiplier_ratio`` (installed over
        removed); exchanges with fewer than ``min_days`` on a side are left out.

    Examples:
        >>> days = [dt.date(2026, 7, d) for d in range(1, 21)]
        >>> frame = pl.DataFrame({"meter_id": [1] * 10 + [2] * 10, "day": days,
        ...     "kwh_delivered": [5.0] * 20, "kwh_received": [0.0] * 20,
        ...     "reads_received": [96] * 20})
        >>> swap = pl.DataFrame({"service_point_number": ["SP1"], "removed_meter_id": [1],
        ...     "removed_serial": ["A"], "installed_meter_id": [2], "installed_serial": ["B"],
        ...     "exchanged_at_utc": [dt.datetime(2026, 7, 11, 15, tzinfo=dt.UTC)],
        ...     "removed_multiplier": [80.0], "installed_multiplier": [40.0]})
        >>> row = exchange_steps(daily=frame, exchanges=swap, zone="UTC",
        ...                      last_day=days[-1]).row(0, named=True)
        >>> row["billed_before"], row["billed_after"], row["meter_ratio"]
        (400.0, 200.0, 1.0)
    """
    p = params or MultiplierParams()
    check_frame(exchanges, EXCHANGES)
    complete = (
        daily.lazy()
        .filter(pl.col("day") <= last_day)
        .filter(pl.col("reads_received") >= 0.9 * pl.col("reads_received").max().over("meter_id"))
        .select("meter_id", "day", pl.col("kwh_delivered").cast(pl.Float64).alias("kwh"))
    )
    adjusted = complete.join(_day_factors(complete), on="day", how="left").select(
        "meter_id",
        "day",
        (pl.col("kwh") / pl.col("day_factor").fill_null(1.0).clip(0.2, 5.0)).alias("x"),
    )
    swaps = exchanges.lazy().with_columns(
        pl.col("exchanged_at_utc").dt.convert_time_zone(zone).dt.date().alias("exchange_day")
    )
    before = (
        swaps.join(adjusted, left_on="removed_meter_id", right_on="meter_id")
        .filter(pl.col("day") < pl.col("exchange_day"))
        .filter(pl.col("day") >= pl.col("exchange_day") - pl.duration(days=p.span_days))
        .sort("day")
        .group_by("service_point_number", "exchanged_at_utc")
        .agg(
            pl.len().alias("days_before"),
            pl.col("x").mean().alias("kwh_before"),
            pl.col("x").tail(p.edge_days).mean().alias("_edge_before"),
        )
    )
    after = (
        swaps.join(adjusted, left_on="installed_meter_id", right_on="meter_id")
        .filter(pl.col("day") > pl.col("exchange_day"))
        .filter(pl.col("day") <= pl.col("exchange_day") + pl.duration(days=p.span_days))
        .sort("day")
        .group_by("service_point_number", "exchanged_at_utc")
        .agg(
            pl.len().alias("days_after"),
            pl.col("x").mean().alias("kwh_after"),
            pl.col("x").head(p.edge_days).mean().alias("_edge_after"),
        )
    )
    key = ["service_point_number", "exchanged_at_utc"]
    return (
        swaps.join(before, on=key)
        .join(after, on=key)
        .filter((pl.col("days_before") >= p.min_days) & (pl.col("days_after") >= p.min_days))
        .with_columns(
            (pl.col("kwh_before") * pl.col("removed_multiplier")).alias("billed_before"),
            (pl.col("kwh_after") * pl.col("installed_multiplier")).alias("billed_after"),
            (pl.col("kwh_after") / pl.col("kwh_before")).alias("meter_ratio"),
            (pl.col("_edge_after") / pl.col("_edge_before")).alias("edge_ratio"),
            (pl.col("installed_multiplier") / pl.col("removed_multiplier")).alias(
                "multiplier_ratio"
            ),
        )
        .with_columns(
            (pl.col("billed_after") / pl.col("billed_before")).alias("billed_ratio"),
            pl.col("days_before").cast(pl.Int32),
            pl.col("days_after").cast(pl.Int32),
        )
        .drop("_edge_before", "_edge_after")
        .sort("installed_meter_id", "exchanged_at_utc")
        .collect()
    )


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 10 else f"{value:.2f}"


def _message(row: dict[str, object]) -> str:
    billed_before = float(row["billed_before"])  # type: ignore[arg-type]
    billed_after = float(row["billed_after"])  # type: ignore[arg-type]
    day = row["exchange_day"]
    assert isinstance(day, dt.date)
    moved = "fell" if billed_after < billed_before else "rose"
    return (
        f"Billed daily use {moved} from {_fmt(billed_before)} kWh to {_fmt(billed_after)} kWh "
        f"on {day.day} {day:%b %Y}, the day meter {row['installed_serial']} replaced "
        f"{row['removed_serial']}; multiplier {row['installed_multiplier']:g} recorded for "
        f"the new meter, the old meter billed with {row['removed_multiplier']:g}. The "
        f"meter-side use carried on ({_fmt(float(row['kwh_before']))} kWh/d before, "  # type: ignore[arg-type]
        f"{_fmt(float(row['kwh_after']))} kWh/d after): the customer's use did not change, "  # type: ignore[arg-type]
        f"one of the two multipliers is wrong."
    )


def detect_wrong_multiplier(
    *,
    daily: pl.DataFrame,
    meters: pl.DataFrame,
    exchanges: pl.DataFrame,
    last_day: dt.date,
    zone: str,
    params: MultiplierParams | None = None,
) -> pl.DataFrame:
    """Exchanges at CT-rated sites where the billed use steps by the multipliers' ratio.

    Args:
        daily: :data:`DAILY_USAGE` (the removed meters' days included).
        meters: ``METER_CONTEXT`` (the installed meters; ``transformer_rated``).
        exchanges: :data:`EXCHANGES` the back office recorded.
        last_day: Last local day judged.
        zone: IANA zone of the utility.
        params: Thresholds.

    Returns:
        ``EXCEPTIONS`` rows of kind ``wrong_multiplier`` on the installed meter; evidence:
        ``message`` (plain language), ``exchange_day``, ``removed_serial``,
        ``installed_serial``, ``removed_multiplier``, ``installed_multiplier``,
        ``billed_kwh_per_day_before``, ``billed_kwh_per_day_after``, ``billed_ratio``,
        ``multiplier_ratio``, ``meter_ratio``, ``edge_ratio``, ``days_before``,
        ``days_after``.
    """
    p = params or MultiplierParams()
    rated = meters.filter(pl.col("transformer_rated")).select(
        pl.col("meter_id").alias("installed_meter_id")
    )
    candidates = exchanges.join(rated, on="installed_meter_id", how="semi")
    if candidates.is_empty():
        return EXCEPTIONS.empty()
    steps = exchange_steps(
        daily=daily, exchanges=candidates, zone=zone, last_day=last_day, params=p
    )
    step = math.log(p.min_multiplier_step)
    flat = math.log(p.continuity)
    allowed = pl.min_horizontal(pl.lit(flat), 0.5 * pl.col("multiplier_ratio").log().abs())
    found = steps.filter(
        (pl.col("multiplier_ratio").log().abs() >= step)
        & (pl.col("meter_ratio").log().abs() < allowed)
        & (pl.col("edge_ratio").log().abs() < allowed)
        & (pl.col("kwh_before") >= p.min_kwh_per_day)
    )
    if found.is_empty():
        return EXCEPTIONS.empty()
    messages = [_message(row) for row in found.iter_rows(named=True)]
    frame = found.with_columns(
        pl.Series("message", messages, dtype=pl.String),
        pl.col("installed_meter_id").alias("meter_id"),
        pl.col("exchanged_at_utc").alias("first_seen_utc"),
        pl.lit(last_day + dt.timedelta(days=1))
        .cast(pl.Datetime("us"))
        .dt.replace_time_zone(zone, ambiguous="earliest", non_existent="null")
        .dt.convert_time_zone("UTC")
        .alias("last_seen_utc"),
        pl.col("exchange_day").cast(pl.String),
        pl.col("billed_before").round(1).alias("billed_kwh_per_day_before"),
        pl.col("billed_after").round(1).alias("billed_kwh_per_day_after"),
        *(pl.col(c).round(3) for c in ("billed_ratio", "multiplier_ratio", "meter_ratio")),
        pl.col("edge_ratio").round(3),
    )
    return as_exceptions(
        frame,
        ExceptionKind.WRONG_MULTIPLIER,
        (
            "message",
            "exchange_day",
            "removed_serial",
            "installed_serial",
            "removed_multiplier",
            "installed_multiplier",
            "billed_kwh_per_day_before",
            "billed_kwh_per_day_after",
            "billed_ratio",
            "multiplier_ratio",
            "meter_ratio",
            "edge_ratio",
            "days_before",
            "days_after",
        ),
    )
