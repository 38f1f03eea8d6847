"""Wrong multipliers: the billed use of a CT-rated site steps at a meter exchange.

A transformer-rated meter registers the secondary side of its current (and voltage)
transformers; the back office bills ``register × multiplier`` (``ct_ratio × pt_ratio``). A
wrong multiplier usually enters at a meter exchange: the new meter is recorded with a ratio
that is not the site's (the old CT ratio after a CT change, 1 instead of 80 ...). The meter
side does not notice - the same current flows through the same CTs - so the *meter-side*
use carries on across the exchange while the *billed* use steps by the ratio of the two
recorded multipliers on the exchange day.

For each exchange (:data:`EXCHANGES`) at a CT-rated service point whose installed meter is
in the meter context, the detector compares the removed meter's interval reads before the
exchange day with the installed meter's after it (the exchange day itself is split between
the two and left out). It works on the reads that arrived, not on complete days: on a
network where collectors and feeders go down every few days few days are complete, and a
day's sum over the reads that arrived depends on which hours are missing. So:

* each present read becomes an average demand (``value × 3600 / interval_s``, so a 60-minute
  meter and a 15-minute one compare) divided by its day's *day factor* (that day's energy
  over each meter's own mean, median over the CT-rated meters' complete days when at least
  ``min_peers`` of them have that day, else over all meters: the commercial loads behind CTs
  follow the weather less than homes do); reads flagged POWER_OUTAGE are left out;
* the removed meter's reads give a **profile**: the mean by local hour of day and
  weekday/weekend (the load shape of the site);
* the **meter-side ratio** is the installed meter's present reads over what that profile
  predicts for exactly the same hours (sum over sum): a missing hour is missing from both
  sums, so missing reads do not bias it, and a business closed at weekends is compared
  weekend with weekend.

It is an exception when

* each side holds reads on at least ``min_days`` (7) days and at least ``min_hours`` (96)
  hours of reads that the other side's profile covers,
* the two recorded multipliers differ by at least ``min_multiplier_step`` (a factor),
* the meter-side use carried on: the ratio is within ``continuity`` (×1.35) of 1 and moved
  by less than half the multipliers' step (in log terms), both over the whole span and over
  the ``edge_days`` (7) on either side of the exchange (the step is on the exchange day,
  not gradual), and
* the meter-side use before was at least ``min_kwh_per_day`` (a vacant site says nothing).

A genuine exchange with the right multiplier at a site whose use really changes (the
customer leaves that day: the use drops to nothing) is not flagged: its two multipliers are
equal, so the billed use moves with the meter-side use, and its meter-side use did not carry
on. A CT change recorded correctly is not flagged either: the meter-side use steps by the
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
from meterops.reads.schema import INTERVAL_READS, UTC_DATETIME
from meterops.timeutil import local_date_expr
from meterops.vee.flags import FLAGS

__all__ = [
    "EXCHANGES",
    "EXCHANGE_READS",
    "MultiplierParams",
    "detect_wrong_multiplier",
    "exchange_steps",
]

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

EXCHANGE_READS: Final = FrameContract(
    "exchange_reads",
    tuple(
        c
        for c in INTERVAL_READS
        if c.name in ("meter_id", "interval_start_utc", "interval_s", "value", "quality_flags")
    ),
)
"""Current ``kwh_delivered`` interval reads of the exchanged meters (``INTERVAL_READS``
columns ``meter_id``, ``interval_start_utc``, ``interval_s``, ``value`` [kWh],
``quality_flags``); other columns are ignored."""

_OUTAGE: Final = FLAGS["POWER_OUTAGE"].mask
_KEY: Final = ["service_point_number", "exchanged_at_utc"]
_CELL: Final = ["weekend", "hour"]


@dataclass(frozen=True, slots=True)
class MultiplierParams:
    """Thresholds of the wrong-multiplier detector.

    Attributes:
        min_days: Fewest days with reads on each side of the exchange day (a week: a
            business closed at weekends must not look like a step). [d]
        min_hours: Fewest hours of reads on each side that the other side's hour-of-day
            profile covers (four days' worth). [h]
        span_days: Most days used on each side. [d]
        edge_days: Days next to the exchange compared for a step on the day (a week, so
            both sides hold the same weekdays). [d]
        min_multiplier_step: Smallest factor between the two multipliers that counts. [-]
        continuity: Largest factor by which the meter-side use may move and still count as
            carrying on; it must also move by less than half the multipliers' step (in
            log terms), so a CT change recorded right is never taken for one. [-]
        min_kwh_per_day: Least meter-side use before the exchange. [kWh/d]
        min_peers: Fewest CT-rated meters with a complete day for their median day factor
            to stand for that day (else the whole fleet's). [-]
    """

    min_days: int = 7
    min_hours: float = 96.0
    span_days: int = 21
    edge_days: int = 7
    min_multiplier_step: float = 1.15
    continuity: float = 1.35
    min_kwh_per_day: float = 0.5
    min_peers: int = 20


def _day_factors(daily: pl.LazyFrame) -> pl.LazyFrame:
    """Median day factor per day (energy over the meter's own mean) and how many meters."""
    return (
        daily.with_columns((pl.col("kwh") / pl.col("kwh").mean().over("meter_id")).alias("f"))
        .filter(pl.col("f").is_finite())
        .group_by("day")
        .agg(pl.col("f").median().alias("day_factor"), pl.len().alias("meters"))
    )


def _factors(
    daily: pl.DataFrame, rated: pl.Series | None, last_day: dt.date, min_peers: int
) -> pl.LazyFrame:
    """``day``, ``day_factor``: the CT-rated peers' median where enough, else the fleet's."""
    complete = (
        daily.lazy()
        .filter(pl.col("day") <= last_day)
        .filter(pl.col("reads_received") >= 0.9 * pl.col("reads_received").max().over("meter_id"))
        .select("meter_id", "day", pl.col("kwh_delivered").cast(pl.Float64).alias("kwh"))
    )
    fleet = _day_factors(complete).select("day", "day_factor")
    if rated is None:
        return fleet
    peers = (
        _day_factors(complete.filter(pl.col("meter_id").is_in(rated.implode())))
        .filter(pl.col("meters") >= min_peers)
        .select("day", pl.col("day_factor").alias("_peer"))
    )
    return fleet.join(peers, on="day", how="left").select(
        "day", pl.coalesce("_peer", "day_factor").alias("day_factor")
    )


def _ratio(after: pl.LazyFrame, before: pl.LazyFrame, name: str) -> pl.LazyFrame:
    """After's present reads over what before's hour-of-day profile predicts for them."""
    profile = before.group_by([*_KEY, *_CELL]).agg(pl.col("x").mean().alias("_m"))
    return (
        after.join(profile, on=[*_KEY, *_CELL])
        .group_by(_KEY)
        .agg(
            (pl.col("x").sum() / pl.col("_m").sum()).alias(name),
            pl.col("hours").sum().alias(f"{name}_hours"),
        )
    )


def _typical_day(before: pl.LazyFrame, after: pl.LazyFrame, ratios: pl.LazyFrame) -> pl.LazyFrame:
    """``kwh_before``: the site's typical day before the exchange, from its hourly profile.

    An hour of the day the removed meter has no read of takes the installed meter's mean at
    that hour divided by the meter-side ratio (the same site); weekdays weigh 5, weekend
    days 2; an hour neither meter read is left out of the mean. [kWh/d]
    """
    cell = [*_KEY, *_CELL]
    mean_before = before.group_by(cell).agg(pl.col("x").mean().alias("_b"))
    mean_after = after.group_by(cell).agg(pl.col("x").mean().alias("_a"))
    return (
        mean_before.join(mean_after, on=cell, how="full", coalesce=True)
        .join(ratios.select(*_KEY, "meter_ratio"), on=_KEY)
        .with_columns(
            pl.coalesce("_b", pl.col("_a") / pl.col("meter_ratio")).alias("_m"),
            pl.when(pl.col("weekend")).then(2.0).otherwise(5.0).alias("_w"),
        )
        .filter(pl.col("_m").is_finite())
        .group_by(_KEY)
        .agg((24.0 * (pl.col("_m") * pl.col("_w")).sum() / pl.col("_w").sum()).alias("kwh_before"))
    )


def exchange_steps(
    *,
    daily: pl.DataFrame,
    reads: pl.DataFrame,
    exchanges: pl.DataFrame,
    zone: str,
    last_day: dt.date,
    rated: pl.Series | None = None,
    params: MultiplierParams | None = None,
) -> pl.DataFrame:
    """Meter-side and billed use on each side of every exchange, from the reads present.

    Args:
        daily: ``DAILY_USAGE`` of the window (for the day factors).
        reads: :data:`EXCHANGE_READS` of the exchanged meters (both meters of each).
        exchanges: :data:`EXCHANGES`.
        zone: IANA zone of the utility (the exchange day is a local day).
        last_day: Last local day judged (later days are left out).
        rated: Meter ids of the CT-rated meters (their median day factor stands for a day
            with at least ``min_peers`` of them); None: the fleet's.
        params: Thresholds (``min_days``, ``min_hours``, ``span_days``, ``edge_days``).

    Returns:
        The exchange columns and ``exchange_day``, ``days_before``, ``days_after`` (days
        with reads), ``hours_before``, ``hours_after`` (hours of reads the other side's
        profile covers) [h], ``kwh_before`` (the site's weather-comparable typical day from
        the removed meter's hour-of-day profile, an hour it has no read of from the
        installed meter's) and ``kwh_after`` (``kwh_before`` times ``meter_ratio``)
        [kWh/d], ``billed_before``/``billed_after`` (times the recorded multipliers)
        [kWh/d], ``meter_ratio`` and ``edge_ratio`` (the installed meter's
        reads over what the removed meter's profile predicts for the same hours, whole span
        and next to the exchange), ``billed_ratio`` and ``multiplier_ratio`` (installed over
        removed); exchanges short of ``min_days`` or ``min_hours`` on a side, or without
        reads of the same hours within ``edge_days`` of the exchange, are left out (not
        judged).

    Examples:
        >>> t0 = dt.datetime(2026, 7, 1, 5, tzinfo=dt.UTC)
        >>> stamps = [t0 + dt.timedelta(minutes=15 * k) for k in range(96 * 20)]
        >>> reads = pl.DataFrame({"meter_id": [1] * 960 + [2] * 960,
        ...     "interval_start_utc": stamps, "interval_s": [900] * 1920,
        ...     "value": [0.05] * 1920, "quality_flags": [0] * 1920},
        ...     schema=EXCHANGE_READS.schema).filter(pl.col("interval_start_utc").dt.hour() != 7)
        >>> days = [dt.date(2026, 7, d) for d in range(1, 21)]
        >>> frame = pl.DataFrame({"meter_id": [1] * 10 + [2] * 10, "day": days,
        ...     "kwh_delivered": [4.8] * 20, "reads_received": [92] * 20})
        >>> swap = pl.DataFrame({"service_point_number": ["SP1"], "removed_meter_id": [1],
        ...     "removed_serial": ["A"], "installed_meter_id": [2], "installed_serial": ["B"],
        ...     "exchanged_at_utc": [dt.datetime(2026, 7, 11, 15, tzinfo=dt.UTC)],
        ...     "removed_multiplier": [80.0], "installed_multiplier": [40.0]})
        >>> row = exchange_steps(daily=frame, reads=reads, exchanges=swap, zone="UTC",
        ...                      last_day=days[-1]).row(0, named=True)
        >>> round(row["billed_before"], 1), round(row["billed_after"], 1), row["meter_ratio"]
        (384.0, 192.0, 1.0)
        >>> row["days_before"], row["hours_before"]
        (10, 225.0)
    """
    p = params or MultiplierParams()
    check_frame(exchanges, EXCHANGES)
    check_frame(reads, EXCHANGE_READS)
    factors = _factors(daily, rated, last_day, p.min_peers)
    swaps = exchanges.lazy().with_columns(
        pl.col("exchanged_at_utc").dt.convert_time_zone(zone).dt.date().alias("exchange_day")
    )
    local = pl.col("interval_start_utc").dt.convert_time_zone(zone)
    present = (
        reads.lazy()
        .filter((pl.col("quality_flags") & _OUTAGE) == 0)
        .filter(pl.col("interval_s") > 0)
        .with_columns(
            local_date_expr("interval_start_utc", zone).alias("day"),
            local.dt.hour().alias("hour"),
            (local.dt.weekday() >= 6).alias("weekend"),  # Saturday, Sunday
            (pl.col("interval_s").cast(pl.Float64) / 3600.0).alias("hours"),
        )
        .filter(pl.col("day") <= last_day)
        .join(factors, on="day", how="left")
        .select(
            "meter_id",
            "day",
            "hour",
            "weekend",
            "hours",
            (
                pl.col("value").cast(pl.Float64)
                / pl.col("hours")
                / pl.col("day_factor").fill_null(1.0).clip(0.2, 5.0)
            ).alias("x"),
        )
    )
    span = pl.duration(days=p.span_days)
    edge = pl.duration(days=p.edge_days)
    before = (
        swaps.join(present, left_on="removed_meter_id", right_on="meter_id")
        .filter(pl.col("day") < pl.col("exchange_day"))
        .filter(pl.col("day") >= pl.col("exchange_day") - span)
    )
    after = (
        swaps.join(present, left_on="installed_meter_id", right_on="meter_id")
        .filter(pl.col("day") > pl.col("exchange_day"))
        .filter(pl.col("day") <= pl.col("exchange_day") + span)
    )
    near_before = before.filter(pl.col("day") >= pl.col("exchange_day") - edge)
    near_after = after.filter(pl.col("day") <= pl.col("exchange_day") + edge)
    days = [
        side.group_by(_KEY).agg(pl.col("day").n_unique().cast(pl.Int32).alias(name))
        for side, name in ((before, "days_before"), (after, "days_after"))
    ]
    ratios = _ratio(after, before, "meter_ratio")
    return (
        swaps.join(days[0], on=_KEY)
        .join(days[1], on=_KEY)
        .join(_typical_day(before, after, ratios), on=_KEY)
        .join(ratios, on=_KEY)
        .join(_ratio(before, after, "_back"), on=_KEY)
        .join(_ratio(near_after, near_before, "edge_ratio"), on=_KEY, how="left")
        .rename({"meter_ratio_hours": "hours_after", "_back_hours": "hours_before"})
        .filter(
            (pl.col("days_before") >= p.min_days)
            & (pl.col("days_after") >= p.min_days)
            & (pl.col("hours_before") >= p.min_hours)
            & (pl.col("hours_after") >= p.min_hours)
            & pl.col("edge_ratio").is_not_null()
        )
        .with_columns(
            (pl.col("kwh_before") * pl.col("meter_ratio")).alias("kwh_after"),
            (pl.col("installed_multiplier") / pl.col("removed_multiplier")).alias(
                "multiplier_ratio"
            ),
        )
        .with_columns(
            (pl.col("kwh_before") * pl.col("removed_multiplier")).alias("billed_before"),
            (pl.col("kwh_after") * pl.col("installed_multiplier")).alias("billed_after"),
            (pl.col("meter_ratio") * pl.col("multiplier_ratio")).alias("billed_ratio"),
        )
        .drop("_back", "edge_ratio_hours")
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
        f"{_fmt(float(row['kwh_after']))} kWh/d after, hour by hour over the "  # type: ignore[arg-type]
        f"{_fmt(float(row['hours_after']))} h of reads after the exchange): the customer's "  # type: ignore[arg-type]
        f"use did not change, one of the two multipliers is wrong."
    )


def detect_wrong_multiplier(
    *,
    daily: pl.DataFrame,
    reads: pl.DataFrame,
    meters: pl.DataFrame,
    exchanges: pl.DataFrame,
    last_day: dt.date,
    zone: str,
    params: MultiplierParams | None = None,
) -> pl.DataFrame:
    """Exchanges at CT-rated sites where the billed use steps by the multipliers' ratio.

    Args:
        daily: :data:`DAILY_USAGE` of the window (for the day factors).
        reads: :data:`EXCHANGE_READS` of the exchanged meters.
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
        ``days_after``, ``hours_before``, ``hours_after``.
    """
    p = params or MultiplierParams()
    rated = meters.filter(pl.col("transformer_rated"))["meter_id"]
    candidates = exchanges.filter(pl.col("installed_meter_id").is_in(rated.implode()))
    if candidates.is_empty():
        return EXCEPTIONS.empty()
    steps = exchange_steps(
        daily=daily,
        reads=reads,
        exchanges=candidates,
        zone=zone,
        last_day=last_day,
        rated=rated,
        params=p,
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
        pl.col("hours_before").round(1),
        pl.col("hours_after").round(1),
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
            "hours_before",
            "hours_after",
        ),
    )
