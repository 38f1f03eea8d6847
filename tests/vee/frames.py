"""Builders of small VEE inputs: reads of a series, context rows, a run window.

Builders, not fixtures: each test states the meters, days and values it needs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from zoneinfo import ZoneInfo

import polars as pl

from meterops.reads.schema import UTC_DATETIME
from meterops.timeutil import local_day_bounds_utc
from meterops.vee.context import (
    VEE_CONTEXT_DAYS,
    VEE_CONTEXT_REGISTERS,
    VEE_CONTEXT_WINDOWS,
    VEE_INPUT,
    RunWindow,
    VeeContext,
)
from meterops.vee.engine import run_vee
from meterops.vee.outcome import VeeOutcome
from meterops.vee.suites import Suite, default_suite

ZONE = "America/Chicago"
DAY = dt.date(2024, 7, 10)  # a Wednesday, no DST change
SPRING = dt.date(2024, 3, 10)  # 92 quarter-hours
FALL = dt.date(2024, 11, 3)  # 100 quarter-hours


def slots(day: dt.date, interval_s: int = 900) -> list[dt.datetime]:
    """Every interval start of a local day in UTC."""
    start, end = local_day_bounds_utc(day, ZoneInfo(ZONE))
    count = int((end - start).total_seconds()) // interval_s
    return [start + dt.timedelta(seconds=interval_s * i) for i in range(count)]


def series(
    values: Sequence[float | None],
    *,
    first_day: dt.date = DAY,
    meter_id: int = 1,
    channel: str = "kwh_delivered",
    interval_s: int = 900,
    flags: Sequence[int] | None = None,
    version: int = 0,
    skip: Sequence[int] = (),
) -> pl.DataFrame:
    """Reads of one series from local midnight of ``first_day``, one per value.

    Indexes in ``skip`` are left out (absent rows); ``None`` values are null rows.
    """
    start, _ = local_day_bounds_utc(first_day, ZoneInfo(ZONE))
    times = [start + dt.timedelta(seconds=interval_s * i) for i in range(len(values))]
    keep = [i for i in range(len(values)) if i not in set(skip)]
    return pl.DataFrame(
        {
            "meter_id": [meter_id] * len(keep),
            "channel": [channel] * len(keep),
            "interval_start_utc": [times[i] for i in keep],
            "interval_s": [interval_s] * len(keep),
            "value": [values[i] for i in keep],
            "quality_flags": [flags[i] if flags else 0 for i in keep],
            "version": [version] * len(keep),
        },
        schema=VEE_INPUT.schema,
    )


def window(first: dt.date = DAY, last: dt.date | None = None) -> RunWindow:
    """The run window of local days ``first`` … ``last``."""
    return RunWindow(first, last or first, ZONE)


def days_frame(rows: Sequence[dict[str, object]]) -> pl.DataFrame:
    """``VEE_CONTEXT_DAYS`` rows with defaults for the columns not given."""
    base: dict[str, object] = {
        "active_account": True,
        "bidirectional": False,
        "multiplier": 1.0,
        "register_digits": 5,
        "register_decimals": 0,
        "nominal_voltage_v": None,
    }
    return pl.DataFrame([{**base, **r} for r in rows], schema=VEE_CONTEXT_DAYS.schema)


def windows_frame(rows: Sequence[tuple[int, str, dt.datetime, dt.datetime]]) -> pl.DataFrame:
    """``VEE_CONTEXT_WINDOWS`` rows from (meter, kind, start, end)."""
    return pl.DataFrame(
        [dict(zip(("meter_id", "kind", "start_utc", "end_utc"), r, strict=True)) for r in rows],
        schema=VEE_CONTEXT_WINDOWS.schema,
    )


def registers_frame(rows: Sequence[tuple[int, str, dt.date, float, float]]) -> pl.DataFrame:
    """``VEE_CONTEXT_REGISTERS`` rows from (meter, channel, day, start, end)."""
    names = ("meter_id", "channel", "local_date", "register_start", "register_end")
    return pl.DataFrame(
        [dict(zip(names, r, strict=True)) for r in rows], schema=VEE_CONTEXT_REGISTERS.schema
    )


def both(
    reads: pl.DataFrame,
    context: VeeContext | None = None,
    *,
    run: RunWindow | None = None,
    suite: Suite | None = None,
) -> VeeOutcome:
    """Run both engines, assert they agree, and return the reference outcome."""
    context = context or VeeContext()
    run = run or window()
    suite = suite or default_suite()
    ref = run_vee(reads, context, suite=suite, window=run, engine="reference")
    fast = run_vee(reads, context, suite=suite, window=run, engine="fast")
    assert ref.rule_flags.to_list() == fast.rule_flags.to_list()
    assert ref.absent.equals(fast.absent)
    assert_estimates_equal(ref.estimates, fast.estimates)
    return ref


def assert_estimates_equal(a: pl.DataFrame, b: pl.DataFrame, rel: float = 1e-9) -> None:
    """Same estimate rows; values equal within ``rel`` relative (absolute near zero)."""
    assert a.columns == b.columns
    assert a.height == b.height, (a, b)
    assert a.drop("value", "previous_value").equals(b.drop("value", "previous_value"))
    for column in ("value", "previous_value"):
        pair = pl.DataFrame({"a": a[column], "b": b[column]})
        assert pair["a"].is_null().to_list() == pair["b"].is_null().to_list()
        scale = pl.max_horizontal(pl.col("a").abs(), pl.col("b").abs())
        bad = pair.filter(
            ((pl.col("a") - pl.col("b")).abs() > rel * scale + 1e-12).fill_null(False)
        )
        assert bad.is_empty(), bad


def rule_hits(outcome: VeeOutcome, mask: int) -> list[int]:
    """Input row indexes whose rule flags include ``mask``."""
    flags = outcome.rule_flags.to_list()
    return [i for i, f in enumerate(flags) if f & mask]


__all__ = [
    "DAY",
    "FALL",
    "SPRING",
    "UTC_DATETIME",
    "ZONE",
    "assert_estimates_equal",
    "both",
    "days_frame",
    "registers_frame",
    "rule_hits",
    "series",
    "slots",
    "window",
    "windows_frame",
]
