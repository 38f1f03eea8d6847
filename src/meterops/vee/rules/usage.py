"""Usage rules: zero runs on active accounts, usage on inactive accounts, flatlines.

Pure module: standard library and polars only.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from meterops.vee.rules import rule

__all__ = [
    "FlatlineParams",
    "InactiveUsageParams",
    "ZeroRunParams",
    "check_flatline",
    "check_inactive_usage",
    "check_zero_run",
]


@dataclass(frozen=True, slots=True)
class ZeroRunParams:
    """Parameters of ``usage.zero_run``.

    Attributes:
        min_duration_s: Shortest run of zeros that is flagged. [s]
    """

    min_duration_s: int = 14_400


@rule(flag="ZERO_RUN", rule_id="usage.zero_run", version=1, params=ZeroRunParams)
def check_zero_run(*, min_duration_s: int) -> pl.Expr:
    """Part of a run of at least ``min_duration_s`` of zeros on an active, connected account.

    ``zero_run_intervals`` counts consecutive actual zeros that are *eligible*: the account is
    active and the interval lies outside disconnections and outages (a vacant or disconnected
    premise legitimately uses nothing, standards.md §9.2 item 5).

    Args:
        min_duration_s: Shortest flagged run. [s]

    Examples:
        >>> frame = pl.DataFrame({"zero_run_intervals": [0, 16, 4], "interval_s": [900] * 3})
        >>> frame.select(check_zero_run(min_duration_s=14_400)).to_series().to_list()
        [False, True, False]
    """
    run = pl.col("zero_run_intervals")
    return (run > 0) & (run * pl.col("interval_s") >= min_duration_s)


@dataclass(frozen=True, slots=True)
class InactiveUsageParams:
    """Parameters of ``usage.inactive_account``.

    Attributes:
        min_value: Consumption above this on an inactive day is flagged. [kWh]
    """

    min_value: float = 0.0


@rule(
    flag="INACTIVE_USAGE",
    rule_id="usage.inactive_account",
    version=1,
    params=InactiveUsageParams,
)
def check_inactive_usage(*, min_value: float) -> pl.Expr:
    """Consumption above ``min_value`` on a local day with no open account on the meter.

    Args:
        min_value: Largest value tolerated without an account. [kWh]

    Examples:
        >>> frame = pl.DataFrame({"actual": [True, True, True], "value": [0.0, 0.4, 0.4],
        ...     "active_account": [False, False, True]})
        >>> frame.select(check_inactive_usage(min_value=0.0)).to_series().to_list()
        [False, True, False]
    """
    return pl.col("actual") & ~pl.col("active_account") & (pl.col("value") > min_value)


@dataclass(frozen=True, slots=True)
class FlatlineParams:
    """Parameters of ``usage.flatline``.

    Attributes:
        min_duration_s: Shortest run of one repeated non-zero value that is flagged. [s]
    """

    min_duration_s: int = 10_800


@rule(flag="FLATLINE", rule_id="usage.flatline", version=1, params=FlatlineParams)
def check_flatline(*, min_duration_s: int) -> pl.Expr:
    """Part of a run of at least ``min_duration_s`` of one repeated non-zero actual value.

    Args:
        min_duration_s: Shortest flagged run. [s]

    Examples:
        >>> frame = pl.DataFrame({"actual": [True, True, True], "value": [1.2, 0.0, 1.2],
        ...     "flat_run_intervals": [12, 12, 3], "interval_s": [900] * 3})
        >>> frame.select(check_flatline(min_duration_s=10_800)).to_series().to_list()
        [True, False, False]
    """
    run = pl.col("flat_run_intervals") * pl.col("interval_s")
    return pl.col("actual") & (pl.col("value") != 0.0) & (run >= min_duration_s)
