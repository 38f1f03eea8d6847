"""Fleet cohorts: which meter attributes are over-represented among exceptions.

For each exception kind and each value of each attribute (vendor, model, firmware, program,
install year, feeder, rate, and firmware × program), the cohort's exception count is tested
against the fleet's rate of that kind with a one-sided exact binomial test
(``P(X >= x | n, p_fleet)``); cohorts with fewer than ``min_size`` meters are not tested.
The p-values of a kind are corrected for the number of tests with Benjamini-Hochberg
(false-discovery rate ``alpha``). A significant cohort with a large lift points at a shared
cause: "program RES-TOU-2024B on firmware 4.2.17: 41 of 52 high bills".

Cohorts above 20,000 meters use the normal approximation with continuity correction (their
counts are large enough for it, and the exact sum would cost O(n) per test).

Pure module: standard library, numpy and polars only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Final

import numpy as np
import polars as pl

__all__ = ["ATTRIBUTES", "COHORTS", "benjamini_hochberg", "binomial_tail", "find_cohorts"]

ATTRIBUTES: Final = (
    "vendor",
    "model",
    "firmware_revision",
    "program_code",
    "install_year",
    "feeder_code",
    "rate_code",
    ("firmware_revision", "program_code"),
)
"""Attributes (and pairs) tested by default."""

COHORTS: Final = pl.Schema(
    {
        "kind": pl.String,
        "attribute": pl.String,
        "value": pl.String,
        "cohort_meters": pl.Int64,
        "cohort_exceptions": pl.Int64,
        "cohort_rate": pl.Float64,
        "fleet_rate": pl.Float64,
        "lift": pl.Float64,
        "share_of_kind": pl.Float64,
        "p_value": pl.Float64,
        "q_value": pl.Float64,
        "significant": pl.Boolean,
    }
)
"""Columns of :func:`find_cohorts`."""

_EXACT_LIMIT = 20_000


def binomial_tail(successes: int, trials: int, rate: float) -> float:
    """``P(X >= successes)`` for ``X ~ Binomial(trials, rate)``.

    Args:
        successes: Observed count.
        trials: Cohort size.
        rate: Probability under the null hypothesis. [0-1]

    Returns:
        The one-sided p-value.

    Examples:
        >>> round(binomial_tail(3, 3, 0.5), 3)
        0.125
        >>> binomial_tail(0, 10, 0.2)
        1.0
    """
    if successes <= 0:
        return 1.0
    if rate <= 0.0:
        return 0.0
    if rate >= 1.0:
        return 1.0
    if trials > _EXACT_LIMIT:
        mean = trials * rate
        sd = math.sqrt(trials * rate * (1 - rate))
        z = (successes - 0.5 - mean) / sd
        return 0.5 * math.erfc(z / math.sqrt(2))
    i = np.arange(successes, trials + 1, dtype=np.float64)
    log_terms = (
        math.lgamma(trials + 1)
        - np.array([math.lgamma(k + 1) for k in i])
        - np.array([math.lgamma(trials - k + 1) for k in i])
        + i * math.log(rate)
        + (trials - i) * math.log1p(-rate)
    )
    peak = float(log_terms.max())
    return float(min(1.0, math.exp(peak) * float(np.exp(log_terms - peak).sum())))


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (q-values), in the input order.

    Examples:
        >>> [round(q, 3) for q in benjamini_hochberg([0.01, 0.04, 0.03])]
        [0.03, 0.04, 0.04]
    """
    n = len(p_values)
    if n == 0:
        return []
    order = sorted(range(n), key=lambda k: p_values[k])
    adjusted = [0.0] * n
    running = 1.0
    for rank in range(n, 0, -1):
        index = order[rank - 1]
        running = min(running, p_values[index] * n / rank)
        adjusted[index] = running
    return adjusted


def find_cohorts(
    flagged: pl.DataFrame,
    meters: pl.DataFrame,
    *,
    attributes: Sequence[str | tuple[str, str]] = ATTRIBUTES,
    min_size: int = 10,
    alpha: float = 0.05,
) -> pl.DataFrame:
    """Cohorts whose exception rate stands out from the fleet's.

    Args:
        flagged: ``meter_id``, ``kind`` of the exceptions (one row per meter and kind).
        meters: The fleet (``METER_CONTEXT`` or any frame with ``meter_id`` and the
            attributes).
        attributes: Column names, or pairs of them, to group by.
        min_size: Smallest cohort tested. [meters]
        alpha: False-discovery rate for ``significant``.

    Returns:
        :data:`COHORTS` rows of every tested cohort with at least one exception, the
        significant ones first (by q-value, then lift).
    """
    fleet = meters.height
    rows: list[dict[str, object]] = []
    if fleet == 0 or flagged.is_empty():
        return pl.DataFrame(schema=COHORTS)
    for kind in sorted(flagged["kind"].unique().to_list()):
        ids = flagged.filter(pl.col("kind") == kind)["meter_id"].unique()
        total = int(ids.len())
        rate = total / fleet
        marked = meters.with_columns(pl.col("meter_id").is_in(ids.implode()).alias("_hit"))
        kind_rows: list[dict[str, object]] = []
        for attribute in attributes:
            columns = [attribute] if isinstance(attribute, str) else list(attribute)
            label = " × ".join(columns)
            value = pl.concat_str(
                [pl.col(c).cast(pl.String).fill_null("∅") for c in columns], separator=" × "
            )
            groups = (
                marked.group_by(value.alias("value"))
                .agg(pl.len().alias("n"), pl.col("_hit").sum().alias("x"))
                .filter((pl.col("n") >= min_size) & (pl.col("x") > 0))
            )
            for group_value, n, x in groups.select("value", "n", "x").iter_rows():
                kind_rows.append(
                    {
                        "kind": kind,
                        "attribute": label,
                        "value": group_value,
                        "cohort_meters": int(n),
                        "cohort_exceptions": int(x),
                        "cohort_rate": x / n,
                        "fleet_rate": rate,
                        "lift": (x / n) / rate,
                        "share_of_kind": x / total,
                        "p_value": binomial_tail(int(x), int(n), rate),
                    }
                )
        q_values = benjamini_hochberg([float(str(r["p_value"])) for r in kind_rows])
        for row, q in zip(kind_rows, q_values, strict=True):
            row["q_value"] = q
            row["significant"] = q <= alpha and float(str(row["lift"])) > 1.0
        rows.extend(kind_rows)
    if not rows:
        return pl.DataFrame(schema=COHORTS)
    return pl.DataFrame(rows, schema=COHORTS).sort(
        ["significant", "q_value", "lift"], descending=[True, False, True]
    )
