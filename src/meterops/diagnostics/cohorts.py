"""Fleet cohorts: which meter attributes are over-represented among exceptions.

For each set of flagged meters (an exception kind, a cause, or any list such as the meters
of customers' complaints) and each value of each attribute (vendor, model, firmware,
program, collector, transformer, feeder, install batch (lot), install month, installer,
rate, and firmware × program), the cohort's count is tested against the fleet's rate with a
one-sided exact binomial test (``P(X >= x | n, p_fleet)``); cohorts with fewer than
``min_size`` meters are not tested. The p-values of a set are corrected for the number of
tests with Benjamini-Hochberg (false-discovery rate ``alpha``). A significant cohort with a
large lift points at a shared cause: "program RES-TOU-2024B on firmware 4.2.17: 41 of 52
high bills".

Cohorts above 20,000 meters use the normal approximation with continuity correction (their
counts are large enough for it, and the exact sum would cost O(n) per test).

Pure module: standard library, numpy and polars only.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import polars as pl

from meterops.errors import Issue, ValidationReportError

__all__ = [
    "ATTRIBUTES",
    "COHORTS",
    "MeterList",
    "benjamini_hochberg",
    "binomial_tail",
    "find_cohorts",
    "latest_collectors",
    "read_meter_list",
]

ATTRIBUTES: Final = (
    "vendor",
    "model",
    "firmware_revision",
    "program_code",
    "collector_code",
    "transformer_code",
    "feeder_code",
    "lot_number",
    "install_month",
    "installer",
    "rate_code",
    ("firmware_revision", "program_code"),
)
"""Attributes (and pairs) tested by default; those a fleet frame lacks are left out.

``lot_number`` is the install batch (the manufacturer's lot the meter came in),
``install_month`` the ``YYYY-MM`` of the current installation, ``installer`` who installed it,
``collector_code`` the collector the meter last reported through.
"""

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
        attributes: Column names, or pairs of them, to group by; those not in ``meters``
            are left out.
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
            if not set(columns) <= set(meters.columns):
                continue
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


def latest_collectors(comm: pl.DataFrame) -> pl.DataFrame:
    """The collector each meter last reported through.

    Args:
        comm: Comm-stats rows (``meter_id``, ``period_start_utc``, ``collector_code``).

    Returns:
        ``meter_id``, ``collector_code`` of each meter's latest row that names a collector.

    Examples:
        >>> import datetime as dt
        >>> t = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
        >>> comm = pl.DataFrame({"meter_id": [1, 1, 2], "collector_code": ["C1", "C2", None],
        ...     "period_start_utc": [t, t + dt.timedelta(days=1), t]})
        >>> latest_collectors(comm).rows()
        [(1, 'C2')]
    """
    return (
        comm.lazy()
        .filter(pl.col("collector_code").is_not_null())
        .sort("meter_id", "period_start_utc")
        .group_by("meter_id", maintain_order=True)
        .agg(pl.col("collector_code").last())
        .collect()
    )


@dataclass(frozen=True, slots=True)
class MeterList:
    """Meters named in a file (for example the meters of customers' complaints).

    Attributes:
        name: The file's name (errors name it).
        serials: Serial numbers, each once, in file order.
        lines: The line each serial was first named on.
    """

    name: str
    serials: tuple[str, ...]
    lines: tuple[int, ...]


_SERIAL_HEADERS: Final = ("serial_number", "serial", "meter_serial", "meter")


def read_meter_list(text: str, *, name: str) -> MeterList:
    r"""The meters of a list: one serial per line, or a CSV with a serial column.

    Blank lines and lines starting with ``#`` are skipped. When the first line is a CSV
    header naming ``serial_number`` (or ``serial``, ``meter_serial``, ``meter``), that
    column is read; otherwise the first comma-separated field of each line is the serial.

    Raises:
        ValidationReportError: A row without a serial (file, line and field named), or no
            serial at all.

    Examples:
        >>> read_meter_list("serial_number,why\nM1,bill\n\nM2,bill\nM1,again", name="c.csv")
        MeterList(name='c.csv', serials=('M1', 'M2'), lines=(2, 4))
        >>> read_meter_list("# complaints of May\nM7\n", name="c.txt").serials
        ('M7',)
    """
    rows = [
        (number, row)
        for number, row in enumerate(csv.reader(io.StringIO(text)), start=1)
        if row and any(cell.strip() for cell in row) and not row[0].lstrip().startswith("#")
    ]
    column, field = 0, "serial"
    if rows:
        header = [cell.strip().lower() for cell in rows[0][1]]
        named = [h for h in _SERIAL_HEADERS if h in header]
        if named:
            column, field = header.index(named[0]), rows[0][1][header.index(named[0])].strip()
            rows = rows[1:]
    seen: dict[str, int] = {}
    issues = []
    for number, row in rows:
        serial = row[column].strip() if column < len(row) else ""
        if not serial:
            issues.append(Issue(name, number, field, "meter_list.no_serial", "no serial number"))
        else:
            seen.setdefault(serial, number)
    if issues or not seen:
        raise ValidationReportError(
            f"The meter list {name} was refused" + ("" if issues else ": it names no meter"),
            issues,
        )
    return MeterList(name, tuple(seen), tuple(seen.values()))
