"""Register rules: the day's interval sum against the register (dial) advance.

Pure module: standard library and polars only.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from meterops.vee.rules import rule

__all__ = ["SumCheckParams", "check_sum", "register_advance_in_interval_units"]


@dataclass(frozen=True, slots=True)
class SumCheckParams:
    """Parameters of ``registers.sum_check``.

    Attributes:
        abs_tolerance: Absolute tolerance in the interval values' unit. [kWh]
        rel_tolerance: Tolerance as a fraction of the register advance.
        interval_values_primary: True when the head-end delivers interval values already
            multiplied (primary side) while registers are dial readings (secondary side).
    """

    abs_tolerance: float = 0.5
    rel_tolerance: float = 0.01
    interval_values_primary: bool = False


def register_advance_in_interval_units(*, interval_values_primary: bool) -> pl.Expr:
    """The day's register advance in the unit of the interval values.

    Registers are dial readings before the multiplier; interval values are on the same
    (secondary) side unless the head-end multiplied them.

    Args:
        interval_values_primary: Interval values are primary-side (multiplied).

    Examples:
        >>> frame = pl.DataFrame({"register_advance": [12.5], "multiplier": [40.0]})
        >>> frame.select(register_advance_in_interval_units(
        ...     interval_values_primary=True)).item()
        500.0
    """
    factor = pl.col("multiplier") if interval_values_primary else pl.lit(1.0)
    return pl.col("register_advance") * factor


@rule(flag="SUM_CHECK", rule_id="registers.sum_check", version=1, params=SumCheckParams)
def check_sum(
    *, abs_tolerance: float, rel_tolerance: float, interval_values_primary: bool
) -> pl.Expr:
    """A complete local day whose interval sum disagrees with the register advance.

    The advance has already rolled over (a dial of ``d`` digits wraps at ``10^d``); the
    tolerance is ``abs_tolerance + rel_tolerance x |advance| + one register step``, all in the
    interval values' unit. Every interval of a failing day is flagged.

    Args:
        abs_tolerance: Absolute tolerance. [kWh]
        rel_tolerance: Relative tolerance.
        interval_values_primary: Interval values are primary-side (multiplied).

    Examples:
        >>> frame = pl.DataFrame({"actual": [True, True], "day_complete": [True, True],
        ...     "day_sum": [24.0, 30.0], "register_advance": [24.0, 24.0],
        ...     "register_step": [1.0, 1.0], "multiplier": [1.0, 1.0]})
        >>> frame.select(check_sum(abs_tolerance=0.5, rel_tolerance=0.01,
        ...     interval_values_primary=False)).to_series().to_list()
        [False, True]
    """
    advance = register_advance_in_interval_units(interval_values_primary=interval_values_primary)
    factor = pl.col("multiplier") if interval_values_primary else pl.lit(1.0)
    tolerance = abs_tolerance + rel_tolerance * advance.abs() + pl.col("register_step") * factor
    return (
        pl.col("actual")
        & pl.col("day_complete")
        & ((pl.col("day_sum") - advance).abs() > tolerance)
    )
