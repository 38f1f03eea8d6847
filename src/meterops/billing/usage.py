"""Daily use of an account from its meters' interval reads: energy, baseload, EV, solar export.

The reads of every meter that served the account's service point (each within its own
installation window) are scaled by the meter's billing multiplier (CT ratio × PT ratio; reads
are secondary values) and summed per local day:

* ``delivered_kwh`` / ``received_kwh`` — import and export (solar) energy;
* ``baseload_kwh`` — the always-on load: 24 h × the 10th percentile of the day's interval
  demand;
* ``ev_kwh`` — energy of EV-charging sessions: a step up of at least ``step_kw`` held for
  ``min_hours`` to ``max_hours`` and ended by a step down (a charger switches on and off at
  full power; heating and cooling ramp with the weather), counted above the level before the
  step;
* ``estimated_intervals`` — intervals flagged estimated (``SOURCE_ESTIMATED`` by the head-end,
  ``ESTIMATED`` by meterops VEE), ``outage_intervals`` — flagged ``POWER_OUTAGE``;
* ``expected_intervals`` — intervals the day should have (92/96/100 on DST days).

Pure module: numpy, polars and pure meterops modules; must not import ``meterops.db``,
``models``, ``web``, ``cli`` or ``config``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from meterops.kit.frames import ColumnSpec, FrameContract, check_frame
from meterops.timeutil import intervals_in_local_day
from meterops.vee.flags import flag_mask

__all__ = [
    "ACCOUNT_METERS",
    "DAILY_USE",
    "ESTIMATED_MASK",
    "OUTAGE_MASK",
    "EvParams",
    "daily_usage",
    "detect_ev_sessions",
]

ESTIMATED_MASK: Final = flag_mask(["SOURCE_ESTIMATED", "ESTIMATED"])
"""Quality flags of an estimated interval (head-end or meterops VEE)."""
OUTAGE_MASK: Final = flag_mask(["POWER_OUTAGE"])
"""Quality flag of an interval without power."""

ACCOUNT_METERS: Final = FrameContract(
    "account_meters",
    (
        ColumnSpec("meter_id", pl.Int64(), "Meter."),
        ColumnSpec("serial_number", pl.String(), "Its serial number."),
        ColumnSpec("multiplier", pl.Float64(), "Billing multiplier, CT × PT ratio. [-]"),
        ColumnSpec(
            "installed_from_utc", pl.Datetime("us", "UTC"), "Installed at the service point. [UTC]"
        ),
        ColumnSpec(
            "installed_to_utc",
            pl.Datetime("us", "UTC"),
            "Removed (null: still there). [UTC]",
            nullable=True,
        ),
    ),
)

DAILY_USE: Final = FrameContract(
    "daily_use",
    (
        ColumnSpec("day", pl.Date(), "Local calendar day."),
        ColumnSpec("delivered_kwh", pl.Float64(), "Imported energy, multiplied. [kWh]"),
        ColumnSpec("received_kwh", pl.Float64(), "Exported energy (solar), multiplied. [kWh]"),
        ColumnSpec("baseload_kwh", pl.Float64(), "24 h × 10th-percentile demand. [kWh]"),
        ColumnSpec("ev_kwh", pl.Float64(), "Energy of detected EV-charging sessions. [kWh]"),
        ColumnSpec("peak_kw", pl.Float64(), "Highest interval demand, multiplied. [kW]"),
        ColumnSpec("intervals", pl.Int64(), "Delivered-energy intervals present."),
        ColumnSpec("expected_intervals", pl.Int64(), "Intervals the day should have."),
        ColumnSpec("estimated_intervals", pl.Int64(), "Intervals flagged estimated."),
        ColumnSpec("outage_intervals", pl.Int64(), "Intervals flagged POWER_OUTAGE."),
    ),
)


@dataclass(frozen=True, slots=True)
class EvParams:
    """EV-charging session detection.

    Attributes:
        step_kw: Smallest step up (and down) of a charger. [kW]
        hold_share: Demand must stay above the level before the step plus this share of the
            step for the whole session. [-]
        min_hours: Shortest session. [h]
        max_hours: Longest session. [h]
    """

    step_kw: float = 3.0
    hold_share: float = 0.7
    min_hours: float = 0.75
    max_hours: float = 12.0


def detect_ev_sessions(
    start_us: np.ndarray, demand_kw: np.ndarray, *, interval_s: int, params: EvParams
) -> list[tuple[int, float]]:
    """EV-charging sessions in one meter's demand series.

    Args:
        start_us: Interval starts, sorted (epoch µs).
        demand_kw: Demand of each interval. [kW]
        interval_s: Interval length. [s]
        params: Detection parameters.

    Returns:
        ``(first interval index, energy above the pre-step level [kWh])`` per session.

    Examples:
        >>> t = np.arange(12, dtype=np.int64) * 900_000_000
        >>> d = np.array([1, 1, 8.2, 8.2, 8.2, 8.4, 8.2, 1, 1, 1, 1, 1], dtype=float)
        >>> [(i, round(e, 2)) for i, e in detect_ev_sessions(t, d, interval_s=900,
        ...     params=EvParams())]
        [(2, 9.05)]
    """
    step_us = interval_s * 1_000_000
    hours = interval_s / 3600.0
    n = demand_kw.size
    sessions: list[tuple[int, float]] = []
    i = 1
    while i < n:
        rise = demand_kw[i] - demand_kw[i - 1]
        if rise < params.step_kw or start_us[i] - start_us[i - 1] != step_us:
            i += 1
            continue
        level = demand_kw[i - 1]
        floor = level + params.hold_share * rise
        j = i
        while j < n and demand_kw[j] >= floor and start_us[j] - start_us[j - 1] == step_us:
            j += 1
        length_h = (j - i) * hours
        ended = j < n and demand_kw[j - 1] - demand_kw[j] >= params.hold_share * rise
        if ended and params.min_hours <= length_h <= params.max_hours:
            sessions.append((i, float((demand_kw[i:j] - level).sum() * hours)))
        i = max(j, i + 1)
    return sessions


def _ev_by_day(delivered: pl.DataFrame, zone: str, params: EvParams) -> pl.DataFrame:
    rows: list[tuple[dt.date, float]] = []
    z = ZoneInfo(zone)
    for (_,), meter in delivered.sort("meter_id", "interval_start_utc").group_by(
        ["meter_id"], maintain_order=True
    ):
        start = meter["interval_start_utc"]
        interval_s = int(meter["interval_s"][0])
        demand = meter["energy_kwh"].to_numpy() * 3600.0 / interval_s
        micros = start.dt.epoch("us").to_numpy()
        for index, energy in detect_ev_sessions(
            micros, demand, interval_s=interval_s, params=params
        ):
            rows.append((start[index].astimezone(z).date(), energy))
    return (
        pl.DataFrame(rows, schema={"day": pl.Date(), "ev_kwh": pl.Float64()}, orient="row")
        .group_by("day")
        .agg(pl.col("ev_kwh").sum())
    )


def daily_usage(
    reads: pl.DataFrame,
    *,
    meters: pl.DataFrame,
    zone: str,
    first_day: dt.date,
    last_day: dt.date,
    ev: EvParams | None = None,
) -> pl.DataFrame:
    """Daily use of one account (:data:`DAILY_USE`), one row per local day in the range.

    Args:
        reads: Interval reads of the meters (``meter_id``, ``channel``, ``interval_start_utc``,
            ``interval_s``, ``value`` [kWh, secondary], ``quality_flags``).
        meters: The account's meters (:data:`ACCOUNT_METERS`).
        zone: The utility's IANA zone.
        first_day: First local day.
        last_day: Last local day (included).
        ev: EV detection parameters.

    Returns:
        Every day of the range; days without reads have zero ``intervals`` and null energy.
    """
    check_frame(meters, ACCOUNT_METERS)
    ev = ev or EvParams()
    scaled = (
        reads.lazy()
        .join(meters.lazy(), on="meter_id", how="inner")
        .filter(
            (pl.col("interval_start_utc") >= pl.col("installed_from_utc"))
            & (
                pl.col("installed_to_utc").is_null()
                | (pl.col("interval_start_utc") < pl.col("installed_to_utc"))
            )
        )
        .with_columns(
            energy_kwh=pl.col("value") * pl.col("multiplier"),
            day=pl.col("interval_start_utc").dt.convert_time_zone(zone).dt.date(),
        )
        .filter(pl.col("day").is_between(first_day, last_day))
        .collect()
    )
    delivered = scaled.filter(pl.col("channel") == "kwh_delivered")
    per_interval = delivered.group_by("day", "interval_start_utc").agg(
        pl.col("energy_kwh").sum(),
        pl.col("interval_s").first(),
        pl.col("quality_flags").first(),
    )
    demand = pl.col("energy_kwh") * 3600.0 / pl.col("interval_s")
    daily = per_interval.group_by("day").agg(
        delivered_kwh=pl.col("energy_kwh").sum(),
        baseload_kwh=demand.quantile(0.1, interpolation="linear") * 24.0,
        peak_kw=demand.max(),
        intervals=pl.len().cast(pl.Int64),
        estimated_intervals=((pl.col("quality_flags") & ESTIMATED_MASK) != 0).sum().cast(pl.Int64),
        outage_intervals=((pl.col("quality_flags") & OUTAGE_MASK) != 0).sum().cast(pl.Int64),
    )
    received = (
        scaled.filter(pl.col("channel") == "kwh_received")
        .group_by("day")
        .agg(received_kwh=pl.col("energy_kwh").sum())
    )
    interval_s = int(delivered["interval_s"][0]) if delivered.height else 900
    z = ZoneInfo(zone)
    days = [first_day + dt.timedelta(days=i) for i in range((last_day - first_day).days + 1)]
    calendar = pl.DataFrame(
        {
            "day": days,
            "expected_intervals": [intervals_in_local_day(d, z, interval_s) for d in days],
        },
        schema={"day": pl.Date(), "expected_intervals": pl.Int64()},
    )
    out = (
        calendar.join(daily, on="day", how="left")
        .join(received, on="day", how="left")
        .join(_ev_by_day(delivered, zone, ev), on="day", how="left")
        .with_columns(
            pl.col("received_kwh").fill_null(0.0),
            pl.col("ev_kwh").fill_null(0.0),
            pl.col("intervals", "estimated_intervals", "outage_intervals").fill_null(0),
        )
    )
    return out.select(DAILY_USE.names).sort("day")
