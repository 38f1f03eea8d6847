"""The meter page's communication trend and events timeline, laid out server-side as SVG shapes.

:func:`comm_trend` turns a meter's communication statistics (``reads.schema.COMM_STATS``) over
a range of local days into a :class:`TrendChart`: two lines on one time axis, the signal
strength at the mesh parent (RSSI, left axis, dBm) and the read success (reads received over
reads expected, right axis, %), with a point per reporting period.

:func:`event_timeline` turns a meter's head-end events (``reads.schema.EVENTS``) into a
:class:`Timeline`: a marker per event on the same kind of time axis, one lane per severity
(critical at the top), and the events as rows, newest first, for the table under it.

The templates draw both as plain SVG elements with classes (no inline script or style, so the
page keeps its strict Content-Security-Policy). Pure module: standard library and polars only.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass
from typing import Final
from zoneinfo import ZoneInfo

import polars as pl

from meterops.vee.chart import Tick

__all__ = [
    "SEVERITIES",
    "EventMark",
    "EventRow",
    "Timeline",
    "TrendChart",
    "TrendPoint",
    "comm_trend",
    "event_timeline",
    "success_percent",
]

SEVERITIES: Final = ("critical", "alarm", "warning", "info")
"""Event severities, most serious first (the timeline's lanes, top to bottom)."""

_RSSI_FLOOR: Final = -120.0
_RSSI_CEILING: Final = -40.0
_LEFT: Final = 56.0
_RIGHT_MARGIN: Final = 48.0
_TOP: Final = 10.0
_BOTTOM_MARGIN: Final = 34.0


@dataclass(frozen=True, slots=True)
class TrendPoint:
    """One reporting period on one line.

    Attributes:
        x: Centre of the period. [px]
        y: The value's height. [px]
        value: RSSI [dBm] or read success [%].
        title: Tooltip: local period start, both values and the read counts.
    """

    x: float
    y: float
    value: float
    title: str


@dataclass(frozen=True, slots=True)
class TrendChart:
    """What the template draws for the communication trend.

    Attributes:
        width: SVG width. [px]
        height: SVG height. [px]
        plot_left: Left edge of the plot area. [px]
        plot_right: Right edge of the plot area. [px]
        plot_top: Top edge of the plot area. [px]
        plot_bottom: Bottom edge of the plot area. [px]
        rssi: RSSI points in time order (periods without RSSI left out).
        success: Read-success points in time order (periods expecting no reads left out).
        rssi_line: ``points`` attribute of the RSSI polyline.
        success_line: ``points`` attribute of the read-success polyline.
        days: Local midnights (x) with labels (every day a line; some days a label).
        rssi_ticks: Left axis marks (y). [dBm]
        success_ticks: Right axis marks (y). [%]
        periods: Reporting periods shown.
        reads_expected: Reads expected over the range.
        reads_received: Reads received over the range.
    """

    width: int
    height: int
    plot_left: float
    plot_right: float
    plot_top: float
    plot_bottom: float
    rssi: tuple[TrendPoint, ...]
    success: tuple[TrendPoint, ...]
    rssi_line: str
    success_line: str
    days: tuple[Tick, ...]
    rssi_ticks: tuple[Tick, ...]
    success_ticks: tuple[Tick, ...]
    periods: int
    reads_expected: int
    reads_received: int

    @property
    def overall_success(self) -> float | None:
        """Read success over the whole range [%], None when no read was expected."""
        return success_percent(self.reads_received, self.reads_expected)


@dataclass(frozen=True, slots=True)
class EventMark:
    """One event on the timeline.

    Attributes:
        x: When it happened. [px]
        y: Centre of its severity's lane. [px]
        severity: ``critical``, ``alarm``, ``warning`` or ``info``.
        title: Tooltip: local time, type and vendor code.
    """

    x: float
    y: float
    severity: str
    title: str


@dataclass(frozen=True, slots=True)
class EventRow:
    """One event as the table lists it.

    Attributes:
        local_time: Local time with the zone's abbreviation.
        cim_event_type: IEC 61968-9 event code.
        vendor_code: The head-end's own code (empty when none).
        severity: ``critical``, ``alarm``, ``warning`` or ``info``.
        details: ``name=value`` pairs of the event's details.
    """

    local_time: str
    cim_event_type: str
    vendor_code: str
    severity: str
    details: str


@dataclass(frozen=True, slots=True)
class Timeline:
    """What the template draws for the events timeline.

    Attributes:
        width: SVG width. [px]
        height: SVG height. [px]
        plot_left: Left edge of the plot area. [px]
        plot_right: Right edge of the plot area. [px]
        plot_top: Top edge of the lanes. [px]
        plot_bottom: Bottom edge of the lanes. [px]
        lanes: One tick per severity (y of the lane's centre, label = severity).
        marks: One per event in the range, in time order.
        days: Local midnights (x) with labels.
        rows: The events, newest first (at most ``max_rows``).
        counts: Events per severity.
        total: Events in the range.
    """

    width: int
    height: int
    plot_left: float
    plot_right: float
    plot_top: float
    plot_bottom: float
    lanes: tuple[Tick, ...]
    marks: tuple[EventMark, ...]
    days: tuple[Tick, ...]
    rows: tuple[EventRow, ...]
    counts: dict[str, int]
    total: int


def success_percent(received: int, expected: int) -> float | None:
    """Reads received over reads expected, as a percentage capped at 100.

    Args:
        received: Reads received.
        expected: Reads expected.

    Returns:
        The success [%], or None when no read was expected.

    Examples:
        >>> success_percent(90, 96), success_percent(5, 0), success_percent(100, 96)
        (93.75, None, 100.0)
    """
    if expected <= 0:
        return None
    return min(100.0, 100.0 * received / expected)


def _bounds(days: list[dt.date], zone: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    if not days:
        msg = "at least one day is needed"
        raise ValueError(msg)
    start = dt.datetime.combine(days[0], dt.time(), tzinfo=zone).astimezone(dt.UTC)
    end = dt.datetime.combine(days[-1] + dt.timedelta(days=1), dt.time(), tzinfo=zone)
    return start, end.astimezone(dt.UTC)


def _day_ticks(
    days: list[dt.date], zone: ZoneInfo, x_of: _XOf, *, max_labels: int = 10
) -> tuple[Tick, ...]:
    step = max(1, math.ceil(len(days) / max_labels))
    return tuple(
        Tick(
            round(x_of(dt.datetime.combine(d, dt.time(), tzinfo=zone).astimezone(dt.UTC)), 2),
            d.strftime("%d %b") if i % step == 0 else "",
        )
        for i, d in enumerate(days)
    )


class _XOf:
    """Maps an instant in ``[start, end]`` to x in ``[left, right]``."""

    def __init__(self, start: dt.datetime, end: dt.datetime, left: float, right: float) -> None:
        self.start, self.left, self.right = start, left, right
        self.span_s = (end - start).total_seconds()

    def __call__(self, moment: dt.datetime) -> float:
        share = (moment - self.start).total_seconds() / self.span_s
        return self.left + (self.right - self.left) * min(1.0, max(0.0, share))


def comm_trend(
    rows: pl.DataFrame,
    *,
    days: list[dt.date],
    zone: ZoneInfo,
    width: int = 960,
    height: int = 220,
) -> TrendChart:
    """Lay out a meter's RSSI and read success over whole local days.

    Rows of the same period (two files reporting one day) are added up: reads expected and
    received summed, RSSI averaged. Periods starting outside the days are left out.

    Args:
        rows: Communication statistics of one meter (``period_start_utc``, ``period_s``,
            ``reads_expected``, ``reads_received``, ``rssi_dbm``), any order.
        days: The local days shown, consecutive.
        zone: The utility's zone (day lines at local midnights).
        width: SVG width. [px]
        height: SVG height. [px]

    Returns:
        The chart.

    Raises:
        ValueError: No day given.

    Examples:
        >>> t = dt.datetime(2024, 7, 1, 5, tzinfo=dt.UTC)
        >>> rows = pl.DataFrame({"period_start_utc": [t, t + dt.timedelta(days=1)],
        ...     "period_s": [86400, 86400], "reads_expected": [96, 96],
        ...     "reads_received": [96, 48], "rssi_dbm": [-80.0, None]})
        >>> chart = comm_trend(rows, days=[dt.date(2024, 7, 1), dt.date(2024, 7, 2)],
        ...     zone=ZoneInfo("America/Chicago"))
        >>> [p.value for p in chart.success], [p.value for p in chart.rssi]
        ([100.0, 50.0], [-80.0])
    """
    start, end = _bounds(days, zone)
    left, right = _LEFT, float(width) - _RIGHT_MARGIN
    top, bottom = _TOP, float(height) - _BOTTOM_MARGIN
    periods = (
        rows.filter(pl.col("period_start_utc").is_between(start, end, closed="left"))
        .group_by("period_start_utc")
        .agg(
            pl.col("period_s").max(),
            pl.col("reads_expected").sum(),
            pl.col("reads_received").sum(),
            pl.col("rssi_dbm").mean(),
        )
        .sort("period_start_utc")
    )
    measured = [v for v in periods["rssi_dbm"].to_list() if v is not None]
    floor = min([_RSSI_FLOOR, *(10.0 * math.floor(v / 10.0) for v in measured)])
    ceiling = max([_RSSI_CEILING, *(10.0 * math.ceil(v / 10.0) for v in measured)])
    rssi_step = 20.0 if ceiling - floor > 80 else 10.0
    floor = rssi_step * math.floor(floor / rssi_step)
    ceiling = rssi_step * math.ceil(ceiling / rssi_step)
    x_of = _XOf(start, end, left, right)

    def y_of(value: float, low: float, high: float) -> float:
        return bottom - (bottom - top) * (value - low) / (high - low)

    rssi: list[TrendPoint] = []
    success: list[TrendPoint] = []
    expected_total = received_total = 0
    for row in periods.iter_rows(named=True):
        begin: dt.datetime = row["period_start_utc"]
        x = round(x_of(begin + dt.timedelta(seconds=int(row["period_s"]) / 2)), 2)
        expected, received = int(row["reads_expected"]), int(row["reads_received"])
        expected_total += expected
        received_total += received
        level: float | None = row["rssi_dbm"]
        share = success_percent(received, expected)
        local = begin.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")
        shown_rssi = "no RSSI" if level is None else f"RSSI {level:.1f} dBm"
        shown_share = "no reads expected" if share is None else f"read success {share:.1f} %"
        title = f"{local}: {shown_rssi} · {shown_share} ({received} of {expected} reads)"
        if level is not None:
            rssi.append(TrendPoint(x, round(y_of(level, floor, ceiling), 2), level, title))
        if share is not None:
            success.append(TrendPoint(x, round(y_of(share, 0.0, 100.0), 2), share, title))
    rssi_ticks = tuple(
        Tick(round(y_of(mark, floor, ceiling), 2), f"{mark:g}")
        for mark in _marks(floor, ceiling, rssi_step)
    )
    success_ticks = tuple(
        Tick(round(y_of(mark, 0.0, 100.0), 2), f"{mark:g}") for mark in _marks(0.0, 100.0, 25.0)
    )
    return TrendChart(
        width=width,
        height=height,
        plot_left=left,
        plot_right=right,
        plot_top=top,
        plot_bottom=bottom,
        rssi=tuple(rssi),
        success=tuple(success),
        rssi_line=" ".join(f"{p.x},{p.y}" for p in rssi),
        success_line=" ".join(f"{p.x},{p.y}" for p in success),
        days=_day_ticks(days, zone, x_of),
        rssi_ticks=rssi_ticks,
        success_ticks=success_ticks,
        periods=periods.height,
        reads_expected=expected_total,
        reads_received=received_total,
    )


def _marks(low: float, high: float, step: float) -> list[float]:
    count = round((high - low) / step)
    return [low + step * i for i in range(count + 1)]


def _details(text: str | None) -> str:
    if not text:
        return ""
    try:
        loaded = json.loads(text)
    except ValueError:
        return text
    if not isinstance(loaded, dict):
        return text
    return ", ".join(f"{name}={value}" for name, value in loaded.items())


def event_timeline(
    rows: pl.DataFrame,
    *,
    days: list[dt.date],
    zone: ZoneInfo,
    max_rows: int = 200,
    width: int = 960,
    height: int = 120,
) -> Timeline:
    """Lay out a meter's head-end events over whole local days.

    Args:
        rows: Events of one meter (``event_time_utc``, ``cim_event_type``, ``vendor_code``,
            ``severity``, ``details``), any order.
        days: The local days shown, consecutive.
        zone: The utility's zone (day lines at local midnights, local times in the table).
        max_rows: Most events listed in the table (the newest); every event gets a marker.
        width: SVG width. [px]
        height: SVG height. [px]

    Returns:
        The timeline. An unknown severity is drawn in the ``info`` lane.

    Raises:
        ValueError: No day given.

    Examples:
        >>> t = dt.datetime(2024, 7, 1, 17, tzinfo=dt.UTC)
        >>> rows = pl.DataFrame({"event_time_utc": [t], "cim_event_type": ["3.26.0.185"],
        ...     "vendor_code": ["PWR_OFF"], "severity": ["alarm"],
        ...     "details": ['{"phase": "A"}']})
        >>> line = event_timeline(rows, days=[dt.date(2024, 7, 1)],
        ...     zone=ZoneInfo("America/Chicago"))
        >>> line.counts["alarm"], line.rows[0].local_time, line.rows[0].details
        (1, '2024-07-01 12:00:00 CDT', 'phase=A')
    """
    start, end = _bounds(days, zone)
    left, right = _LEFT, float(width) - _RIGHT_MARGIN
    top, bottom = _TOP, float(height) - _BOTTOM_MARGIN
    lane_height = (bottom - top) / len(SEVERITIES)
    lane_y = {name: round(top + lane_height * (i + 0.5), 2) for i, name in enumerate(SEVERITIES)}
    x_of = _XOf(start, end, left, right)
    shown = rows.filter(pl.col("event_time_utc").is_between(start, end, closed="left")).sort(
        "event_time_utc", "cim_event_type"
    )
    marks: list[EventMark] = []
    table: list[EventRow] = []
    counts = dict.fromkeys(SEVERITIES, 0)
    for row in shown.iter_rows(named=True):
        at: dt.datetime = row["event_time_utc"]
        severity = row["severity"] if row["severity"] in lane_y else "info"
        counts[severity] += 1
        local = at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z")
        vendor = row["vendor_code"] or ""
        title = f"{local}: {severity} {row['cim_event_type']} {vendor}".strip()
        marks.append(EventMark(round(x_of(at), 2), lane_y[severity], severity, title))
        table.append(
            EventRow(local, row["cim_event_type"], vendor, severity, _details(row["details"]))
        )
    return Timeline(
        width=width,
        height=height,
        plot_left=left,
        plot_right=right,
        plot_top=top,
        plot_bottom=bottom,
        lanes=tuple(Tick(y, name) for name, y in lane_y.items()),
        marks=tuple(marks),
        days=_day_ticks(days, zone, x_of),
        rows=tuple(reversed(table[-max_rows:])) if max_rows > 0 else (),
        counts=counts,
        total=shown.height,
    )
