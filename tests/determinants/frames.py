"""Builders of small determinant inputs, and a reference implementation written as plain loops.

The reference (:func:`reference`) is the definition the engine is checked against: one Python
step per read, the TOU period from ``TouSchedule.period_at`` on the local wall time, demand
windows enumerated one by one.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import holidays
import polars as pl

from meterops.assets.programs import TouSchedule, parse_tou_schedule
from meterops.determinants.frames import BILLING_PERIODS
from meterops.reads.schema import UTC_DATETIME

UTC = dt.UTC
CHICAGO = ZoneInfo("America/Chicago")
ZONE = "America/Chicago"


def local(*args: int) -> dt.datetime:
    """An aware Chicago wall time converted to UTC (fold=0 on the repeated hour)."""
    return dt.datetime(*args, tzinfo=CHICAGO).astimezone(UTC)  # type: ignore[misc]


def reads(
    meter_id: int,
    start_utc: dt.datetime,
    values: Sequence[float],
    *,
    interval_s: int = 900,
    channel: str = "kwh_delivered",
    flags: Sequence[int] | None = None,
) -> pl.DataFrame:
    """Consecutive interval reads of one meter and channel from ``start_utc``."""
    n = len(values)
    return pl.DataFrame(
        {
            "meter_id": [meter_id] * n,
            "channel": [channel] * n,
            "interval_start_utc": [
                start_utc + dt.timedelta(seconds=interval_s * i) for i in range(n)
            ],
            "interval_s": [interval_s] * n,
            "value": [float(v) for v in values],
            "quality_flags": list(flags) if flags is not None else [0] * n,
        },
        schema={
            "meter_id": pl.Int64,
            "channel": pl.String,
            "interval_start_utc": UTC_DATETIME,
            "interval_s": pl.Int32,
            "value": pl.Float64,
            "quality_flags": pl.UInt32,
        },
    )


def periods(*rows: dict[str, Any]) -> pl.DataFrame:
    """Billing periods; defaults: no account, no schedule, multiplier 1, not net-metered."""
    defaults = {
        "account_id": None,
        "schedule_key": None,
        "multiplier": 1.0,
        "net_metering": False,
    }
    return pl.DataFrame([{**defaults, **r} for r in rows], schema=BILLING_PERIODS.schema)


_OFF = [["00:00", "off_peak"]]


def seasonal_schedule(calendar: str | None = "US") -> TouSchedule:
    """Summer (06-01..09-30) on-peak 14-19, winter on-peak 17-20, weekdays; US holidays off."""
    return parse_tou_schedule(
        {
            "seasons": [
                {"name": "summer", "start": "06-01", "end": "09-30"},
                {"name": "winter", "start": "10-01", "end": "05-31"},
            ],
            "periods": {
                "summer": {
                    "weekday": [["00:00", "off_peak"], ["14:00", "on_peak"], ["19:00", "off_peak"]],
                    "weekend": _OFF,
                    "holiday": _OFF,
                },
                "winter": {
                    "weekday": [["00:00", "off_peak"], ["17:00", "on_peak"], ["20:00", "off_peak"]],
                    "weekend": _OFF,
                    "holiday": _OFF,
                },
            },
            "holidays": {"calendar": calendar},
        }
    )


def night_schedule() -> TouSchedule:
    """A 'night' period crossing midnight (22:00-06:00) every day; 'day' otherwise."""
    days = [["00:00", "night"], ["06:00", "day"], ["22:00", "night"]]
    return parse_tou_schedule(
        {
            "seasons": [{"name": "all", "start": "01-01", "end": "12-31"}],
            "periods": {"all": {"weekday": days, "weekend": days, "holiday": days}},
        }
    )


@dataclass
class RefPeriod:
    """What the reference computes for one billing period."""

    energy: dict[str, list[float]]  # tou -> [delivered, received, import, export]
    block: dict[str, tuple[float, dt.datetime]]  # tou or "*" -> (kWh, window start)
    rolling: dict[str, tuple[float, dt.datetime]]


def _day_type(day: dt.date, schedule: TouSchedule) -> str:
    found = set(schedule.extra_holidays)
    if schedule.holiday_calendar:
        found |= set(holidays.country_holidays(schedule.holiday_calendar, years=day.year))
    if day in found:
        return "holiday"
    return "weekend" if day.weekday() >= 5 else "weekday"


def tou_of(moment: dt.datetime, schedule: TouSchedule | None) -> str:
    """TOU period of an interval beginning at ``moment`` (UTC)."""
    if schedule is None:
        return "total"
    wall = moment.astimezone(CHICAGO)
    return schedule.period_at(wall, day_type=_day_type(wall.date(), schedule))


def reference(
    frame: pl.DataFrame,
    *,
    meter_id: int,
    start: dt.datetime,
    end: dt.datetime,
    schedule: TouSchedule | None,
    window_s: int,
    sub_s: int,
    slot_s: int,
) -> RefPeriod:
    """TOU energy and demand maxima [kWh per window] of one meter's period, by plain loops."""
    rows = frame.filter(pl.col("meter_id") == meter_id).rows(named=True)
    delivered: dict[dt.datetime, float] = defaultdict(float)
    received: dict[dt.datetime, float] = defaultdict(float)
    for r in rows:
        t = r["interval_start_utc"]
        if start <= t < end:
            (delivered if r["channel"] == "kwh_delivered" else received)[t] += r["value"]
    energy: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0, 0.0])
    for t in sorted(set(delivered) | set(received)):
        d, rc = delivered.get(t, 0.0), received.get(t, 0.0)
        e = energy[tou_of(t, schedule)]
        e[0] += d
        e[1] += rc
        e[2] += max(d - rc, 0.0)
        e[3] += max(rc - d, 0.0)

    def windows(step_s: int) -> dict[str, tuple[float, dt.datetime]]:
        best: dict[str, tuple[float, dt.datetime]] = {}
        epoch = dt.datetime(1970, 1, 1, tzinfo=UTC)
        first = epoch + dt.timedelta(seconds=-(-(start - epoch).total_seconds() // step_s) * step_s)
        w = first
        while w + dt.timedelta(seconds=window_s) <= end:
            inside = [t for t in delivered if w <= t < w + dt.timedelta(seconds=window_s)]
            if inside:
                total = sum(delivered[t] for t in inside)
                last = w + dt.timedelta(seconds=window_s - slot_s)
                for key in (tou_of(last, schedule), "*"):
                    if key not in best or total > best[key][0]:
                        best[key] = (total, w)
            w += dt.timedelta(seconds=step_s)
        return best

    return RefPeriod(dict(energy), windows(window_s), windows(sub_s))
