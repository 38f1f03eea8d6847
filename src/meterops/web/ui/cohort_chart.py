"""The cohort page's chart: the cohorts that stand out, laid out server-side as SVG bars.

:func:`cohort_bars` turns rows of :data:`meterops.diagnostics.cohorts.COHORTS` into a
:class:`CohortChart`: one row per cohort (the strongest first), a bar for the share of the
cohort's meters in the set (an exception kind, a cause or a list of meters) and a tick at
the fleet's share, so a cohort at 19 times the fleet's rate reads at a glance. The template
draws it as plain SVG elements with classes (no inline script or style). Pure module:
standard library and polars only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import polars as pl

__all__ = ["CohortBar", "CohortChart", "cohort_bars"]

_LEFT: Final = 12.0
_RIGHT_MARGIN: Final = 250.0
_ROW: Final = 38.0
_TOP: Final = 24.0
_BOTTOM: Final = 6.0
_BAR: Final = 14.0
"""Bar height. [px]"""


@dataclass(frozen=True, slots=True)
class CohortBar:
    """One cohort's row.

    Attributes:
        y: Top of the bar (its label sits just above). [px]
        width: Bar length: the cohort's rate. [px]
        fleet_x: Where the fleet's rate lies. [px]
        label: ``attribute = value`` with the set's name.
        figures: ``x of n · rate · lift``.
        title: Tooltip with the q-value.
        significant: The cohort stands out (false-discovery rate).
    """

    y: float
    width: float
    fleet_x: float
    label: str
    figures: str
    title: str
    significant: bool


@dataclass(frozen=True, slots=True)
class CohortChart:
    """What the template draws.

    Attributes:
        width: SVG width. [px]
        height: SVG height. [px]
        plot_left: Where bars start (0 %). [px]
        plot_right: Where 100 % lies. [px]
        bar_height: Height of a bar. [px]
        bars: Rows, the strongest first.
        ticks: ``(x, label)`` of the rate axis (0, 25, 50, 75, 100 %).
    """

    width: float
    height: float
    plot_left: float
    plot_right: float
    bar_height: float
    bars: tuple[CohortBar, ...]
    ticks: tuple[tuple[float, str], ...]


def cohort_bars(cohorts: pl.DataFrame, *, limit: int = 12, width: float = 960.0) -> CohortChart:
    """Lay out the first ``limit`` cohorts (in the frame's order) as bars.

    Args:
        cohorts: ``COHORTS`` rows, strongest first (as ``find_cohorts`` returns them).
        limit: At most this many rows.
        width: SVG width. [px]

    Returns:
        The chart; no bars when ``cohorts`` is empty.

    Examples:
        >>> frame = pl.DataFrame({"kind": ["high_bill"], "attribute": ["program_code"],
        ...     "value": ["TOU-B"], "cohort_meters": [52], "cohort_exceptions": [41],
        ...     "cohort_rate": [41 / 52], "fleet_rate": [0.04], "lift": [19.7],
        ...     "q_value": [1e-12], "significant": [True]})
        >>> bar = cohort_bars(frame).bars[0]
        >>> bar.label, bar.figures
        ('high bill · program_code = TOU-B', '41 of 52 · 78.8 % · 19.7× the fleet')
    """
    left = _LEFT
    right = width - _RIGHT_MARGIN
    span = right - left
    bars = []
    for index, row in enumerate(cohorts.head(limit).iter_rows(named=True)):
        rate = min(max(float(row["cohort_rate"]), 0.0), 1.0)
        fleet = min(max(float(row["fleet_rate"]), 0.0), 1.0)
        kind = str(row["kind"]).replace("_", " ")
        bars.append(
            CohortBar(
                y=_TOP + index * _ROW + _ROW - _BAR - 6,
                width=rate * span,
                fleet_x=left + fleet * span,
                label=f"{kind} · {row['attribute']} = {row['value']}",
                figures=(
                    f"{row['cohort_exceptions']} of {row['cohort_meters']} · "
                    f"{rate * 100:.1f} % · {float(row['lift']):.1f}× the fleet"
                ),
                title=(
                    f"{row['cohort_exceptions']} of the cohort's {row['cohort_meters']} meters "
                    f"({rate * 100:.1f} %) against {fleet * 100:.2f} % of the fleet; "
                    f"q = {float(row['q_value']):.2g}"
                ),
                significant=bool(row["significant"]),
            )
        )
    ticks = tuple(
        (left + share * span, f"{share * 100:.0f} %") for share in (0, 0.25, 0.5, 0.75, 1)
    )
    height = _TOP + max(len(bars), 1) * _ROW + _BOTTOM
    return CohortChart(width, height, left, right, _BAR, tuple(bars), ticks)
