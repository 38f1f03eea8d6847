"""The VEE engine: apply a suite to current reads; flags and estimates as data.

Two public forms (power-grid-model's validation API): :func:`validate_reads` returns a
:class:`VeeReport` (per-rule counts and affected meters; data, not exceptions) and
:func:`assert_valid_reads` raises :class:`InvalidReadsError` carrying the report when any rule
fires. :func:`run_vee` returns the full :class:`~meterops.vee.outcome.VeeOutcome` (flags per
row, absent intervals, estimates) from one of two implementations:

* ``"reference"`` — the readable path: :func:`meterops.vee.prepare.prepare_frame`, then each
  rule's Polars expression (:mod:`meterops.vee.rules`), folded into bits, then
  :func:`meterops.vee.estimation.estimate_gaps`;
* ``"fast"`` (default) — :func:`meterops.vee.fast.run_fast`, the fused numba kernel.

Both give identical flags and estimates equal within 1e-9 (tests and ``make bench``).
Raw reads are never changed: callers turn the outcome into sparse flag rows and estimate
versions (:mod:`meterops.vee.batch`).

Pure module: polars, numpy, numba and pure meterops modules only; must not import
``meterops.db``, ``models``, ``web``, ``cli`` or ``config``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal

import numpy as np
import polars as pl

from meterops.errors import InvalidInputError
from meterops.vee.context import RunWindow, VeeContext
from meterops.vee.estimation import ESTIMATES, estimate_gaps
from meterops.vee.fast import run_fast
from meterops.vee.outcome import ABSENT, VeeOutcome
from meterops.vee.prepare import SERIES, prepare_frame
from meterops.vee.suites import Suite

__all__ = [
    "Engine",
    "InvalidReadsError",
    "RuleResult",
    "VeeReport",
    "assert_valid_reads",
    "build_report",
    "reference_rule_flags",
    "run_vee",
    "validate_reads",
]

Engine = Literal["fast", "reference"]
_T: Final = "interval_start_utc"


@dataclass(frozen=True, slots=True)
class RuleResult:
    """What one rule found.

    Attributes:
        rule_id: The rule.
        version: Its version.
        flag: The flag it sets.
        intervals: Intervals flagged (for ``completeness.missing_interval``: expected
            intervals without an actual value, absent ones included).
        meter_ids: Meters with at least one flagged interval, ascending.
    """

    rule_id: str
    version: int
    flag: str
    intervals: int
    meter_ids: tuple[int, ...]

    @property
    def code(self) -> str:
        """Stable dotted code of the finding, ``vee.<rule_id>``."""
        return f"vee.{self.rule_id}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "code": self.code,
            "rule_id": self.rule_id,
            "version": self.version,
            "flag": self.flag,
            "intervals": self.intervals,
            "meter_ids": list(self.meter_ids),
        }


@dataclass(frozen=True, slots=True)
class VeeReport:
    """Findings of a VEE run over a window.

    Attributes:
        reads: Input rows validated (inside the window).
        rules: One result per rule of the suite that applies to a channel present.
        estimates: Estimates made, by method.
    """

    reads: int
    rules: tuple[RuleResult, ...]
    estimates: tuple[tuple[str, int], ...]

    @property
    def ok(self) -> bool:
        """True when no rule flagged anything."""
        return all(result.intervals == 0 for result in self.rules)

    def result(self, rule_id: str) -> RuleResult:
        """The result of one rule.

        Raises:
            KeyError: The rule did not run.
        """
        for result in self.rules:
            if result.rule_id == rule_id:
                return result
        raise KeyError(rule_id)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "reads": self.reads,
            "ok": self.ok,
            "rules": [r.to_dict() for r in self.rules],
            "estimates": dict(self.estimates),
        }


class InvalidReadsError(InvalidInputError):
    """Reads that fail VEE rules, with the report of what failed.

    Args:
        report: The report; ``details`` lists the failing rules.
    """

    default_code = "vee.invalid_reads"

    def __init__(self, report: VeeReport) -> None:
        failing = [r for r in report.rules if r.intervals]
        listed = ", ".join(f"{r.rule_id} ({r.intervals} intervals)" for r in failing)
        super().__init__(
            f"{len(failing)} VEE rule(s) flagged reads: {listed}.",
            details={"rules": [r.to_dict() for r in failing]},
        )
        self.report = report


def reference_rule_flags(prepared: pl.DataFrame, suite: Suite) -> pl.Series:
    """Rule bits per prepared row from the rules' Polars expressions (0 outside the window).

    Args:
        prepared: The prepared frame.
        suite: Which rules apply to which channel, with their parameters.

    Returns:
        UInt32 bits, one per prepared row.
    """
    channels = prepared.select(pl.col("channel").unique()).to_series().to_list()
    specs = {spec.rule_id: spec for c in channels for spec in suite.rules_for(c)}
    bits = pl.lit(0, pl.UInt32)
    for spec in specs.values():
        params = suite.rule_set.params(spec.rule_id)
        bits = bits | pl.when(spec.expr(params)).then(pl.lit(spec.mask, pl.UInt32)).otherwise(0)
    applicable = pl.col("channel").replace_strict(
        {c: suite.rule_mask(c) for c in channels}, return_dtype=pl.UInt32
    )
    masked = pl.when(pl.col("in_window")).then(bits & applicable).otherwise(0)
    return prepared.select(masked.cast(pl.UInt32).alias("rule_flags")).to_series()


def _run_reference(
    reads: pl.DataFrame, context: VeeContext, *, suite: Suite, window: RunWindow
) -> VeeOutcome:
    prepared = prepare_frame(reads, context, window=window)
    flags = reference_rule_flags(prepared, suite)
    rows = prepared.select("_row").to_series()
    present = rows.is_not_null().to_numpy()
    rule_flags = np.zeros(reads.height, np.uint32)
    rule_flags[rows.filter(rows.is_not_null()).to_numpy().astype(np.int64)] = flags.to_numpy()[
        present
    ]
    absent = prepared.filter(pl.col("_row").is_null() & pl.col("in_window")).select(ABSENT.names())
    return VeeOutcome(
        pl.Series("rule_flags", rule_flags, pl.UInt32),
        absent.cast(ABSENT).sort([*SERIES, _T]),
        estimate_gaps(prepared, suite),
    )


def run_vee(
    reads: pl.DataFrame,
    context: VeeContext,
    *,
    suite: Suite,
    window: RunWindow,
    engine: Engine = "fast",
) -> VeeOutcome:
    """Validate and estimate current reads over a window.

    Args:
        reads: Current reads (``VEE_INPUT`` columns; rows before the window are history).
        context: Meter facts, windows and register reads.
        suite: Rules, parameters, estimation settings.
        window: Local days to validate and estimate.
        engine: ``"fast"`` (fused numba kernel) or ``"reference"`` (Polars expressions).

    Returns:
        Rule flags per input row, absent intervals and estimates.
    """
    if reads.is_empty():
        # No channel has a row, so no interval is expected: nothing to flag or estimate.
        return VeeOutcome(
            pl.Series("rule_flags", [], pl.UInt32),
            pl.DataFrame(schema=ABSENT),
            pl.DataFrame(schema=ESTIMATES),
        )
    if engine == "reference":
        return _run_reference(reads, context.checked(), suite=suite, window=window)
    return run_fast(reads, context.checked(), suite=suite, window=window)


def build_report(
    reads: pl.DataFrame, outcome: VeeOutcome, *, suite: Suite, window: RunWindow
) -> VeeReport:
    """Per-rule counts and affected meters of an outcome.

    Args:
        reads: The frame the outcome was computed from.
        outcome: Its flags, absent intervals and estimates.
        suite: The suite that ran.
        window: The window that was validated.
    """
    start, end = window.bounds_utc
    in_window = reads.select(pl.col(_T).is_between(start, end, closed="left")).to_series()
    flagged = pl.DataFrame(
        {"meter_id": reads["meter_id"], "rule_flags": outcome.rule_flags}
    ).filter(in_window & (outcome.rule_flags != 0))
    channels = reads.select(pl.col("channel").unique()).to_series().to_list()
    specs = {spec.rule_id: spec for c in channels for spec in suite.rules_for(c)}
    results = []
    for spec in specs.values():
        hit = flagged.filter((pl.col("rule_flags") & spec.mask) != 0)
        meters = hit["meter_id"]
        intervals = hit.height
        if spec.flag == "MISSING_INTERVAL":
            intervals += outcome.absent.height
            meters = pl.concat([meters, outcome.absent["meter_id"]])
        ids = tuple(int(m) for m in meters.unique().sort().to_list())
        results.append(RuleResult(spec.rule_id, spec.version, spec.flag, intervals, ids))
    methods = outcome.estimates.group_by("method").len().sort("method").iter_rows()
    return VeeReport(
        int(in_window.sum()),
        tuple(results),
        tuple((str(method), int(count)) for method, count in methods),
    )


def validate_reads(
    reads: pl.DataFrame,
    context: VeeContext,
    suite: Suite,
    *,
    window: RunWindow,
    engine: Engine = "fast",
) -> VeeReport:
    """Apply ``suite`` to ``reads`` and report what each rule found.

    Args:
        reads: Current reads (``VEE_INPUT`` columns).
        context: Meter facts, windows and register reads.
        suite: The suite to apply.
        window: Local days to validate.
        engine: Which implementation computes the flags.

    Returns:
        The report (``report.ok`` when nothing was flagged).

    Examples:
        >>> import datetime as dt
        >>> from meterops.vee.suites import default_suite
        >>> t = dt.datetime(2024, 7, 1, 5, tzinfo=dt.UTC)  # local midnight in Chicago
        >>> reads = pl.DataFrame({"meter_id": [7] * 3, "channel": ["kwh_delivered"] * 3,
        ...     "interval_start_utc": [t + dt.timedelta(minutes=15 * i) for i in range(3)],
        ...     "interval_s": [900] * 3, "value": [0.4, -0.2, 0.5],
        ...     "quality_flags": [0] * 3, "version": [0] * 3},
        ...     schema_overrides={"interval_s": pl.Int32, "quality_flags": pl.UInt32,
        ...                       "version": pl.Int32})
        >>> window = RunWindow(dt.date(2024, 7, 1), dt.date(2024, 7, 1), "America/Chicago")
        >>> report = validate_reads(reads, VeeContext(), default_suite(), window=window)
        >>> report.result("limits.reverse_energy").intervals
        1
        >>> report.result("completeness.missing_interval").intervals  # 96 - 3
        93
    """
    outcome = run_vee(reads, context, suite=suite, window=window, engine=engine)
    return build_report(reads, outcome, suite=suite, window=window)


def assert_valid_reads(
    reads: pl.DataFrame,
    context: VeeContext,
    suite: Suite,
    *,
    window: RunWindow,
    engine: Engine = "fast",
) -> VeeReport:
    """Like :func:`validate_reads`, but raise when any rule flags anything.

    Returns:
        The report, when it is clean.

    Raises:
        InvalidReadsError: A rule flagged reads; ``error.report`` has the details.
    """
    report = validate_reads(reads, context, suite, window=window, engine=engine)
    if not report.ok:
        raise InvalidReadsError(report)
    return report
