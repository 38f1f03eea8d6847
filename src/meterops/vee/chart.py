"""The interval chart of the meter page: current reads as SVG shapes, computed server-side.

:func:`interval_chart` turns one channel's current reads over a range of local days into a
:class:`Chart`: one bar per interval (class ``actual``, ``estimated`` or ``edited``), a marker
above every interval a VEE rule flagged, a mark under every expected interval with no value,
day lines at local midnights and a value axis. The template draws it as plain SVG elements
with classes (no inline script or style, so the page keeps its strict CSP).

Pure module: standard library and polars only.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Final
from zoneinfo import ZoneInfo

import polars as pl

from meterops.vee.flags import FLAGS, RULE_MASK, flag_names

__all__ = ["Bar", "Chart", "Tick", "interval_chart"]

_ESTIMATED: Final = FLAGS["ESTIMATED"].mask
_EDITED: Final = FLAGS["EDITED"].mask
_DAY_LABEL_PX: Final = 80.0
"""Room a day label needs on the time axis. [px]"""


@dataclass(frozen=True, slots=True)
class Bar:
    """One interval of the chart.

    Attributes:
        x: Left edge. [px]
        y: Top edge. [px]
        width: Width. [px]
        height: Height (0 for a missing interval). [px]
        kind: ``actual``, ``estimated``, ``edited`` or ``missing``.
        flagged: A VEE rule flagged the interval.
        title: Tooltip: local time, value, version and flag names.
        at_utc: ISO interval start (links to the interval's history).
    """

    x: float
    y: float
    width: float
    height: float
    kind: str
    flagged: bool
    title: str
    at_utc: str


@dataclass(frozen=True, slots=True)
class Tick:
    """An axis mark: position and label."""

    position: float
    label: str


@dataclass(frozen=True, slots=True)
class Chart:
    """What the template draws.

    Attributes:
        width: SVG width. [px]
        height: SVG height. [px]
        plot_left: Left edge of the plot area. [px]
        plot_top: Top edge of the plot area. [px]
        plot_bottom: Bottom edge of the plot area. [px]
        baseline: Y of value 0. [px]
        bars: One per expected or stored interval.
        days: Local midnights (x) with the day's date (an empty label where days are too
            close to label each).
        values: Value axis marks (y) with their values.
        counts: Intervals per kind, and ``flagged``.
    """

    width: int
    height: int
    plot_left: float
    plot_top: float
    plot_bottom: float
    baseline: float
    bars: tuple[Bar, ...]
    days: tuple[Tick, ...]
    values: tuple[Tick, ...]
    counts: dict[str, int]


def _kind(flags: int) -> str:
    if flags & _EDITED:
        return "edited"
    if flags & _ESTIMATED:
        return "estimated"
    return "actual"


def _nice_step(span: float) -> float:
    """A 1-2-5 step giving about four marks over ``span``."""
    raw = span / 4 if span > 0 else 1.0
    power = 10.0 ** int(f"{raw:e}".split("e")[1])
    for factor in (1.0, 2.0, 5.0, 10.0):
        if raw <= factor * power:
            return factor * power
    return 10.0 * power


def interval_chart(
    rows: pl.DataFrame,
    *,
    days: list[dt.date],
    zone: ZoneInfo,
    unit: str = "",
    width: int = 960,
    height: int = 260,
) -> Chart:
    """Lay out one channel's current reads over whole local days.

    Args:
        rows: Current reads of one series (``interval_start_utc``, ``interval_s``,
            ``value``, ``quality_flags``, ``version``, ``version_kind``), any order.
        days: The local days shown, consecutive.
        zone: The utility's zone (day lines at local midnights; DST days are 23 or 25 h).
        unit: Value unit for tooltips and the axis.
        width: SVG width. [px]
        height: SVG height. [px]

    Returns:
        The chart.

    Examples:
        >>> t = dt.datetime(2024, 7, 1, 5, tzinfo=dt.UTC)
        >>> rows = pl.DataFrame({"interval_start_utc": [t, t + dt.timedelta(hours=1)],
        ...     "interval_s": [3600, 3600], "value": [1.0, 2.0],
        ...     "quality_flags": [0, 1 << 24], "version": [0, 1],
        ...     "version_kind": ["raw", "estimate"]})
        >>> chart = interval_chart(rows, days=[dt.date(2024, 7, 1)],
        ...     zone=ZoneInfo("America/Chicago"))
        >>> [b.kind for b in chart.bars][:3], chart.counts["missing"]
        (['actual', 'estimated', 'missing'], 22)
    """
    start = dt.datetime.combine(days[0], dt.time(), tzinfo=zone).astimezone(dt.UTC)
    end = dt.datetime.combine(days[-1] + dt.timedelta(days=1), dt.time(), tzinfo=zone)
    end = end.astimezone(dt.UTC)
    left, right, top, bottom = 56.0, float(width) - 8.0, 10.0, float(height) - 34.0
    span_s = (end - start).total_seconds()
    ordered = rows.filter(pl.col("interval_start_utc").is_between(start, end, closed="left")).sort(
        "interval_start_utc"
    )
    values = [v for v in ordered["value"].to_list() if v is not None]
    high = max([0.0, *values])
    low = min([0.0, *values])
    step = _nice_step(high - low)
    high = step * math.ceil(high / step) if high > 0 else step
    low = step * math.floor(low / step) if low < 0 else 0.0

    def x_of(moment: dt.datetime) -> float:
        return left + (right - left) * (moment - start).total_seconds() / span_s

    def y_of(value: float) -> float:
        return bottom - (bottom - top) * (value - low) / (high - low)

    baseline = y_of(0.0)
    bars: list[Bar] = []
    counts = {"actual": 0, "estimated": 0, "edited": 0, "missing": 0, "flagged": 0}
    interval_s = int(ordered["interval_s"].min() or 900) if ordered.height else 900  # type: ignore[arg-type]
    seen: set[dt.datetime] = set()
    for row in ordered.iter_rows(named=True):
        at: dt.datetime = row["interval_start_utc"]
        seen.add(at)
        flags = int(row["quality_flags"])
        value = row["value"]
        kind = "missing" if value is None else _kind(flags)
        flagged = bool(flags & RULE_MASK)
        counts[kind] += 1
        counts["flagged"] += int(flagged)
        x0 = x_of(at)
        x1 = x_of(at + dt.timedelta(seconds=int(row["interval_s"])))
        y = y_of(value) if value is not None else baseline
        local = at.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")
        shown = "no value" if value is None else f"{value:g} {unit}".strip()
        names = ", ".join(flag_names(flags)) or "no flags"
        title = f"{local}: {shown} · version {row['version']} {row['version_kind']} · {names}"
        bars.append(
            Bar(
                round(x0, 2),
                round(min(y, baseline), 2),
                round(max(x1 - x0 - 0.2, 0.5), 2),
                round(abs(baseline - y), 2),
                kind,
                flagged,
                title,
                at.isoformat(),
            )
        )
    moment = start
    while moment < end:  # expected intervals with no row at all
        if moment not in seen:
            local = moment.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")
            x0, x1 = x_of(moment), x_of(moment + dt.timedelta(seconds=interval_s))
            bars.append(
                Bar(
                    round(x0, 2),
                    baseline,
                    round(max(x1 - x0 - 0.2, 0.5), 2),
                    0.0,
                    "missing",
                    False,
                    f"{local}: no read",
                    moment.isoformat(),
                )
            )
            counts["missing"] += 1
        moment += dt.timedelta(seconds=interval_s)
    # A label needs about 80 px ("Mon 06 Jul"): over many days, every n-th day is labelled
    # (each day keeps its tick line).
    step = max(1, math.ceil(len(days) * _DAY_LABEL_PX / (right - left)))
    day_ticks = tuple(
        Tick(
            round(x_of(dt.datetime.combine(d, dt.time(), tzinfo=zone).astimezone(dt.UTC)), 2),
            d.strftime("%a %d %b") if i % step == 0 else "",
        )
        for i, d in enumerate(days)
    )
    value_ticks: list[Tick] = []
    mark = low
    while mark <= high + step / 2:
        value_ticks.append(Tick(round(y_of(mark), 2), f"{mark:g}"))
        mark += step
    return Chart(
        width,
        height,
        left,
        top,
        bottom,
        round(baseline, 2),
        tuple(sorted(bars, key=lambda b: b.x)),
        day_ticks,
        tuple(value_ticks),
        counts,
    )
