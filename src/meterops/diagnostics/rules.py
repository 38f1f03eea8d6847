"""Verdict rules as data: for each exception kind, the causes in the order they are tried.

A rule holds when all its conditions hold on the meter's facts (:mod:`diagnostics.facts`);
the first rule of the exception's kind that holds gives the verdict: the cause, a
confidence, the action (remote command, back-office fix, or a visit with its work-order
type) and the evidence (each condition with the fact's value and the threshold). A kind's
last rule has no conditions, so every exception gets a verdict.

Pure module: standard library, polars and pure meterops modules only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

import polars as pl

from meterops.diagnostics._rule import OPERATORS, Condition, VerdictRule
from meterops.diagnostics._rules_comm import COMM_RULES, SHORT_SILENCE_HOURS
from meterops.diagnostics._rules_usage import USAGE_RULES
from meterops.diagnostics.kinds import ExceptionKind

__all__ = [
    "OPERATORS",
    "RULES",
    "SHORT_SILENCE_HOURS",
    "VERDICTS",
    "Condition",
    "VerdictRule",
    "diagnose",
    "evaluate",
]

RULES: Final[tuple[VerdictRule, ...]] = (*COMM_RULES, *USAGE_RULES)
"""Every verdict rule, by kind in the order tried."""

VERDICTS: Final = pl.Schema(
    {
        "meter_id": pl.Int64,
        "kind": pl.String,
        "rule_id": pl.String,
        "cause": pl.String,
        "confidence": pl.Float64,
        "action": pl.String,
        "order_type": pl.String,
        "remote_command": pl.String,
        "subject": pl.String,
        "priority": pl.Int32,
        "summary": pl.String,
        "verdict_evidence": pl.String,
    }
)
"""Columns of :func:`diagnose`'s output."""


def evaluate(kind: ExceptionKind, facts: Mapping[str, Any]) -> tuple[VerdictRule, list[str]]:
    """The first rule of ``kind`` that holds on ``facts``, and its conditions described.

    Args:
        kind: The exception kind.
        facts: Fact name → value (nulls as None).

    Returns:
        The rule and ``fact = value (op threshold)`` for each of its conditions.

    Raises:
        KeyError: No rule for the kind (every kind has a fallback, so only a new kind).

    Examples:
        >>> rule, why = evaluate(ExceptionKind.TAMPER, {"usage_ratio_since_tamper": 0.4})
        >>> rule.cause.value, why
        ('bypass_theft', ['usage_ratio_since_tamper = 0.4 (<= 0.7)'])
    """
    for rule in _BY_KIND[kind]:
        if all(condition.holds(facts) for condition in rule.when):
            return rule, [condition.describe(facts) for condition in rule.when]
    raise KeyError(kind)


def diagnose(exceptions: pl.DataFrame, facts: pl.DataFrame) -> pl.DataFrame:
    """A verdict for each exception.

    Args:
        exceptions: ``EXCEPTIONS`` rows.
        facts: ``facts.meter_facts`` of their meters.

    Returns:
        One row per exception (:data:`VERDICTS` columns), in the exceptions' order.
    """
    by_meter = {row["meter_id"]: row for row in facts.iter_rows(named=True)}
    rows: list[dict[str, Any]] = []
    for meter_id, kind_text, evidence in exceptions.select(
        "meter_id", "kind", "evidence"
    ).iter_rows():
        kind = ExceptionKind(kind_text)
        meter_facts = by_meter.get(meter_id, {})
        rule, why = evaluate(kind, meter_facts)
        shown = {
            name: meter_facts.get(name) for name in (*(c.fact for c in rule.when), *rule.facts)
        }
        summary = rule.explanation + (" Because " + "; ".join(why) + "." if why else "")
        rows.append(
            {
                "meter_id": meter_id,
                "kind": kind.value,
                "rule_id": rule.rule_id,
                "cause": rule.cause.value,
                "confidence": rule.confidence,
                "action": rule.action.value,
                "order_type": rule.order_type.value if rule.order_type else None,
                "remote_command": rule.remote_command,
                "subject": rule.subject,
                "priority": rule.priority,
                "summary": summary,
                "verdict_evidence": json.dumps(
                    {
                        "rule": rule.rule_id,
                        "conditions": why,
                        "facts": shown,
                        "detector": json.loads(evidence),
                    },
                    default=str,
                    sort_keys=True,
                ),
            }
        )
    return pl.DataFrame(rows, schema=VERDICTS)


def _by_kind(rules: Sequence[VerdictRule]) -> dict[ExceptionKind, tuple[VerdictRule, ...]]:
    grouped: dict[ExceptionKind, list[VerdictRule]] = {}
    for rule in rules:
        grouped.setdefault(rule.kind, []).append(rule)
    missing = [kind for kind in ExceptionKind if kind not in grouped or grouped[kind][-1].when]
    if missing:  # pragma: no cover - guarded by a test
        raise ValueError(f"kinds without a fallback rule: {missing}")
    return {kind: tuple(found) for kind, found in grouped.items()}


_BY_KIND: Final = _by_kind(RULES)
