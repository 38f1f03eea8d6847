"""Clock rules: intervals recorded while the meter's clock was wrong or being set.

Pure module: standard library and polars only.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from meterops.vee.rules import rule

__all__ = ["ClockWindowParams", "check_clock_error_window"]


@dataclass(frozen=True, slots=True)
class ClockWindowParams:
    """Parameters of ``clock.clock_error_window``.

    Attributes:
        window_s: Intervals closer than this to a ``clock_error`` or ``time_changed`` event
            are flagged. [s]
    """

    window_s: int = 3600


@rule(
    flag="CLOCK_ERROR",
    rule_id="clock.clock_error_window",
    version=1,
    params=ClockWindowParams,
)
def check_clock_error_window(*, window_s: int) -> pl.Expr:
    """An actual interval lies within ``window_s`` of a meter clock error or clock change.

    ``clock_distance_us`` is the gap between the interval and the nearest clock event
    (negative when the event falls inside the interval; null without events).

    Args:
        window_s: Distance under which an interval is flagged. [s]

    Examples:
        >>> frame = pl.DataFrame({"actual": [True, True, True],
        ...     "clock_distance_us": [-1, 3_600_000_000, None]})
        >>> frame.select(check_clock_error_window(window_s=3600)).to_series().to_list()
        [True, False, None]
    """
    return pl.col("actual") & (pl.col("clock_distance_us") < window_s * 1_000_000)
