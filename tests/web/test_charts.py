"""Geometry invariants of the meter page's communication trend and events timeline."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meterops.reads.schema import UTC_DATETIME
from meterops.web.ui.charts import SEVERITIES, comm_trend, event_timeline, success_percent

ZONE = ZoneInfo("America/Chicago")
FIRST = dt.date(2026, 3, 1)  # DST starts on 8 March: a 23-hour day inside some ranges


def _days(count: int) -> list[dt.date]:
    return [FIRST + dt.timedelta(days=i) for i in range(count)]


def _start() -> dt.datetime:
    return dt.datetime.combine(FIRST, dt.time(), tzinfo=ZONE).astimezone(dt.UTC)


periods = st.lists(
    st.tuples(
        st.integers(min_value=-2, max_value=40),  # day offset (some outside the range)
        st.integers(min_value=0, max_value=200),  # expected
        st.integers(min_value=0, max_value=250),  # received (may exceed expected)
        st.one_of(st.none(), st.floats(min_value=-140.0, max_value=-20.0)),
    ),
    max_size=40,
)


def _comm(rows: list[tuple[int, int, int, float | None]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "period_start_utc": [_start() + dt.timedelta(days=d) for d, *_ in rows],
            "period_s": [86400] * len(rows),
            "reads_expected": [e for _, e, _, _ in rows],
            "reads_received": [r for _, _, r, _ in rows],
            "rssi_dbm": [v for *_, v in rows],
        },
        schema={
            "period_start_utc": UTC_DATETIME,
            "period_s": pl.Int32,
            "reads_expected": pl.Int32,
            "reads_received": pl.Int32,
            "rssi_dbm": pl.Float64,
        },
    )


@settings(max_examples=150, deadline=None)
@given(rows=periods, count=st.integers(min_value=1, max_value=31))
def test_trend_points_stay_in_the_plot_in_time_order(
    rows: list[tuple[int, int, int, float | None]], count: int
) -> None:
    days = _days(count)
    chart = comm_trend(_comm(rows), days=days, zone=ZONE)
    for line in (chart.rssi, chart.success):
        xs = [p.x for p in line]
        assert xs == sorted(xs)
        assert len(set(xs)) == len(xs)  # one point per period
        for point in line:
            assert chart.plot_left <= point.x <= chart.plot_right
            assert chart.plot_top <= point.y <= chart.plot_bottom
    for point in chart.success:
        assert 0.0 <= point.value <= 100.0
    for tick in (*chart.rssi_ticks, *chart.success_ticks):
        assert chart.plot_top - 0.01 <= tick.position <= chart.plot_bottom + 0.01
    inside = {d for d, *_ in rows if 0 <= d < count}
    assert chart.periods == len(inside)
    assert len(chart.days) == count
    assert [t.position for t in chart.days] == sorted(t.position for t in chart.days)


@settings(max_examples=100, deadline=None)
@given(
    a=st.integers(min_value=0, max_value=96),
    b=st.integers(min_value=0, max_value=96),
    level_a=st.integers(min_value=-130, max_value=-30),
    level_b=st.integers(min_value=-130, max_value=-30),
)
def test_higher_values_are_drawn_higher(a: int, b: int, level_a: int, level_b: int) -> None:
    chart = comm_trend(
        _comm([(0, 96, a, float(level_a)), (1, 96, b, float(level_b))]), days=_days(2), zone=ZONE
    )
    first, second = chart.success
    assert (first.y < second.y) == (a > b)
    assert (first.y == second.y) == (a == b)
    low, high = chart.rssi
    if level_a > level_b:
        assert low.y < high.y
    elif level_a < level_b:
        assert low.y > high.y


def test_periods_reported_twice_are_added_up() -> None:
    chart = comm_trend(_comm([(0, 48, 48, -70.0), (0, 48, 0, -90.0)]), days=_days(1), zone=ZONE)
    assert [p.value for p in chart.success] == [50.0]
    assert [p.value for p in chart.rssi] == [-80.0]
    assert (chart.reads_received, chart.reads_expected) == (48, 96)


events = st.lists(
    st.tuples(
        st.integers(min_value=-3 * 86400, max_value=35 * 86400),
        st.sampled_from([*SEVERITIES, "bogus"]),
    ),
    max_size=50,
)


@settings(max_examples=150, deadline=None)
@given(rows=events, count=st.integers(min_value=1, max_value=31), max_rows=st.integers(0, 60))
def test_every_event_in_the_range_gets_a_marker_in_its_lane(
    rows: list[tuple[int, str]], count: int, max_rows: int
) -> None:
    frame = pl.DataFrame(
        {
            "event_time_utc": [_start() + dt.timedelta(seconds=s) for s, _ in rows],
            "cim_event_type": ["3.26.0.185"] * len(rows),
            "vendor_code": [None] * len(rows),
            "severity": [sev for _, sev in rows],
            "details": [None] * len(rows),
        },
        schema={
            "event_time_utc": UTC_DATETIME,
            "cim_event_type": pl.String,
            "vendor_code": pl.String,
            "severity": pl.String,
            "details": pl.String,
        },
    )
    days = _days(count)
    line = event_timeline(frame, days=days, zone=ZONE, max_rows=max_rows)
    end = dt.datetime.combine(days[-1] + dt.timedelta(days=1), dt.time(), tzinfo=ZONE)
    inside = [r for r in rows if _start() <= _start() + dt.timedelta(seconds=r[0]) < end]
    assert line.total == len(inside) == len(line.marks) == sum(line.counts.values())
    assert len(line.rows) == min(max_rows, len(inside))
    lanes = {t.label: t.position for t in line.lanes}
    assert [t.label for t in line.lanes] == list(SEVERITIES)
    assert list(lanes.values()) == sorted(lanes.values())
    xs = [m.x for m in line.marks]
    assert xs == sorted(xs)
    for mark in line.marks:
        assert line.plot_left <= mark.x <= line.plot_right
        assert line.plot_top <= mark.y <= line.plot_bottom
        assert mark.y == lanes[mark.severity]
    times = [r.local_time for r in line.rows]
    assert times == sorted(times, reverse=True)  # newest first (no repeated local hour in March)


def test_no_day_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="at least one day"):
        comm_trend(_comm([]), days=[], zone=ZONE)


@given(received=st.integers(0, 10_000), expected=st.integers(-5, 10_000))
def test_success_is_a_capped_percentage(received: int, expected: int) -> None:
    share = success_percent(received, expected)
    if expected <= 0:
        assert share is None
    else:
        assert share is not None
        assert 0.0 <= share <= 100.0
