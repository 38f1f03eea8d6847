"""Completeness rules: expected intervals without an actual value.

The expected intervals of a series are its local days' grid (92, 96 or 100 quarter-hours on
DST days, built in the utility's zone by :mod:`meterops.vee.prepare`), so a DST day never
raises a false alarm (TIME-01). Pure module: polars only.
"""

from __future__ import annotations

import polars as pl

from meterops.vee.rules import rule

__all__ = ["check_missing_interval"]


@rule(flag="MISSING_INTERVAL", rule_id="completeness.missing_interval", version=1)
def check_missing_interval() -> pl.Expr:
    """An expected interval holds no actual value (absent, null, source-missing or estimated).

    Examples:
        >>> frame = pl.DataFrame({"actual": [True, False, True]})
        >>> frame.select(check_missing_interval()).to_series().to_list()
        [False, True, False]
    """
    return ~pl.col("actual")
