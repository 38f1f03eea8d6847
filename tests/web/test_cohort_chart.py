"""The cohort page's bars: geometry invariants (Hypothesis) and the labels."""

from __future__ import annotations

import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from meterops.diagnostics.cohorts import COHORTS
from meterops.web.ui.cohort_chart import cohort_bars


@st.composite
def _cohorts(draw: st.DrawFn) -> pl.DataFrame:
    rows = []
    for i in range(draw(st.integers(0, 20))):
        n = draw(st.integers(1, 5000))
        x = draw(st.integers(0, n))
        fleet = draw(st.floats(0.0001, 1.0))
        rows.append(
            {
                "kind": draw(st.sampled_from(["high_bill", "tamper", "listed"])),
                "attribute": "installer",
                "value": f"T{i:04d}",
                "cohort_meters": n,
                "cohort_exceptions": x,
                "cohort_rate": x / n,
                "fleet_rate": fleet,
                "lift": (x / n) / fleet,
                "share_of_kind": 0.5,
                "p_value": 0.01,
                "q_value": 0.02,
                "significant": draw(st.booleans()),
            }
        )
    return pl.DataFrame(rows, schema=COHORTS)


@given(_cohorts(), st.integers(1, 15))
def test_bars_stay_in_the_plot_keep_the_order_and_grow_with_the_rate(
    cohorts: pl.DataFrame, limit: int
) -> None:
    chart = cohort_bars(cohorts, limit=limit)
    span = chart.plot_right - chart.plot_left
    assert len(chart.bars) == min(limit, cohorts.height)
    for bar, row in zip(chart.bars, cohorts.iter_rows(named=True), strict=False):
        assert 0 <= bar.width <= span + 1e-9
        assert abs(bar.width - row["cohort_rate"] * span) < 1e-6
        assert chart.plot_left <= bar.fleet_x <= chart.plot_right
        assert bar.y > 0
        assert bar.y + chart.bar_height <= chart.height
        assert row["value"] in bar.label
        assert bar.significant == row["significant"]
    tops = [bar.y for bar in chart.bars]
    assert tops == sorted(tops)  # the strongest first, at the top


def test_an_empty_frame_draws_no_bars() -> None:
    assert cohort_bars(pl.DataFrame(schema=COHORTS)).bars == ()
