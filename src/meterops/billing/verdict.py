"""The verdict of a high-bill investigation: a meter or billing problem, or what changed.

A check that finds a problem decides first, in this order (the first explains the bill best
and is fixed first): TOU program, multiplier, crossed meters, accuracy test, estimation. Without
one, the increase is put down to the largest of its parts: **weather** (heating + cooling),
**days** (a longer period) or **use** (what weather and days do not explain; EV charging and
baseload are named when they grew). A bill that did not go up is ``no_increase``.

Pure module: standard library only (plus pure meterops modules).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from meterops.billing.checks import Finding, Status
from meterops.billing.compare import PeriodComparison

__all__ = ["PROBLEM_ORDER", "Cause", "Verdict", "decide"]


class Cause(StrEnum):
    """What explains the bill."""

    PROGRAM_ERROR = "program_error"
    WRONG_MULTIPLIER = "wrong_multiplier"
    CROSSED_METERS = "crossed_meters"
    METER_ACCURACY = "meter_accuracy"
    ESTIMATED_READS = "estimated_reads"
    WEATHER = "weather"
    MORE_DAYS = "more_days"
    CHANGE_IN_USE = "change_in_use"
    NO_INCREASE = "no_increase"

    @property
    def is_meter_or_billing_problem(self) -> bool:
        """True for causes the utility must fix (not the customer's use)."""
        return self in _PROBLEMS


PROBLEM_ORDER: Final = (
    ("billing.tou_program", Cause.PROGRAM_ERROR),
    ("billing.multiplier", Cause.WRONG_MULTIPLIER),
    ("billing.crossed_meters", Cause.CROSSED_METERS),
    ("billing.accuracy_test", Cause.METER_ACCURACY),
    ("billing.estimation", Cause.ESTIMATED_READS),
)
"""Check code → cause, in the order problems decide."""

_PROBLEMS: Final = frozenset(cause for _, cause in PROBLEM_ORDER)


@dataclass(frozen=True, slots=True)
class Verdict:
    """The investigation's answer.

    Attributes:
        cause: What explains the bill.
        summary: One sentence for the technician.
        evidence: The findings behind it (problem findings first).
        contributions: Part of the change per component. [kWh]
    """

    cause: Cause
    summary: str
    evidence: tuple[Finding, ...]
    contributions: dict[str, float]

    def as_dict(self) -> dict[str, Any]:
        """JSON-able verdict."""
        return {
            "cause": self.cause.value,
            "meter_or_billing_problem": self.cause.is_meter_or_billing_problem,
            "summary": self.summary,
            "evidence": [f.as_dict() for f in self.evidence],
            "contributions": {k: round(v, 3) for k, v in self.contributions.items()},
        }


def decide(comparison: PeriodComparison, findings: Sequence[Finding]) -> Verdict:
    """Decide what explains the current bill.

    Args:
        comparison: The two periods compared.
        findings: Results of the checks.

    Returns:
        The verdict with its evidence.
    """
    by_code = {f.code: f for f in findings}
    problems = [f for f in findings if f.status is Status.PROBLEM]
    ordered = tuple(problems) + tuple(f for f in findings if f.status is not Status.PROBLEM)
    contributions = {
        "days": comparison.days_kwh,
        "weather": comparison.weather_kwh,
        "use": comparison.use_kwh,
    }
    for code, cause in PROBLEM_ORDER:
        finding = by_code.get(code)
        if finding is not None and finding.status is Status.PROBLEM:
            return Verdict(cause, finding.message, ordered, contributions)
    change = comparison.change_kwh
    if change <= 0:
        summary = f"use fell by {-change:.0f} kWh; nothing to explain"
        return Verdict(Cause.NO_INCREASE, summary, ordered, contributions)
    name, largest = max(contributions.items(), key=lambda kv: kv[1])
    cause = {"days": Cause.MORE_DAYS, "weather": Cause.WEATHER, "use": Cause.CHANGE_IN_USE}[name]
    share = 100.0 * largest / change
    summary = (
        f"use rose {change:.0f} kWh; {name} explains {largest:.0f} kWh ({share:.0f} %): "
        f"weather {comparison.weather_kwh:+.0f}, days {comparison.days_kwh:+.0f}, "
        f"use {comparison.use_kwh:+.0f} kWh"
    )
    return Verdict(cause, summary, ordered, contributions)
