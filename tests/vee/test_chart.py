"""The interval chart's time axis: every day keeps its line, labels never crowd."""

from __future__ import annotations

import datetime as dt
import itertools
from zoneinfo import ZoneInfo

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from meterops.vee.chart import interval_chart

_EMPTY = pl.DataFrame(
    schema={
        "interval_start_utc": pl.Datetime("us", "UTC"),
        "interval_s": pl.Int64,
        "value": pl.Float64,
        "quality_flags": pl.Int64,
        "version": pl.Int64,
        "version_kind": pl.String,
    }
)


@settings(deadline=None, max_examples=40)  # a long range lays out thousands of missing bars
@given(st.integers(1, 62), st.sampled_from([480, 960, 1400]))
def test_day_labels_leave_room_for_each_other(count: int, width: int) -> None:
    first = dt.date(2026, 2, 20)
    days = [first + dt.timedelta(days=k) for k in range(count)]
    chart = interval_chart(_EMPTY, days=days, zone=ZoneInfo("America/Chicago"), width=width)
    assert len(chart.days) == count
    labelled = [t for t in chart.days if t.label]
    assert labelled[0].label == first.strftime("%a %d %b")
    gaps = [b.position - a.position for a, b in itertools.pairwise(labelled)]
    assert all(gap >= 75 for gap in gaps)  # 80 px a label; a 23 h DST day is a bit shorter


def test_a_few_days_are_all_labelled() -> None:
    days = [dt.date(2026, 7, 6) + dt.timedelta(days=k) for k in range(3)]
    chart = interval_chart(_EMPTY, days=days, zone=ZoneInfo("America/Chicago"))
    assert [t.label for t in chart.days] == ["Mon 06 Jul", "Tue 07 Jul", "Wed 08 Jul"]
