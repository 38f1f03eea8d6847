"""What a verdict rule is: conditions on a meter's facts, and the verdict they give.

The rules themselves are data in :mod:`._rules_comm` and :mod:`._rules_usage`;
:mod:`.rules` tries them.

Pure module: standard library and pure meterops modules only.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

from meterops.diagnostics.kinds import ActionKind, Cause, ExceptionKind
from meterops.workorders.types import WorkOrderType

__all__ = ["OPERATORS", "Condition", "VerdictRule", "c"]

OPERATORS: Final[Mapping[str, Callable[[Any, Any], bool]]] = MappingProxyType(
    {
        "==": operator.eq,
        "!=": operator.ne,
        ">=": operator.ge,
        "<=": operator.le,
        ">": operator.gt,
        "<": operator.lt,
    }
)
"""Comparison operators a condition may use (a null fact never satisfies one)."""


@dataclass(frozen=True, slots=True)
class Condition:
    """One test of a fact: ``fact op value``.

    Attributes:
        fact: A name from ``facts.FACT_NAMES``.
        op: One of :data:`OPERATORS`.
        value: The threshold or value compared with.
    """

    fact: str
    op: str
    value: Any

    def holds(self, facts: Mapping[str, Any]) -> bool:
        """Whether the condition holds (False when the fact is null)."""
        found = facts.get(self.fact)
        if found is None:
            return False
        return bool(OPERATORS[self.op](found, self.value))

    def describe(self, facts: Mapping[str, Any]) -> str:
        """``fact = value (op threshold)`` for the evidence text."""
        return f"{self.fact} = {facts.get(self.fact)} ({self.op} {self.value})"


@dataclass(frozen=True, slots=True)
class VerdictRule:
    """One way an exception can be explained.

    Attributes:
        rule_id: Stable id (``kind.cause[.variant]``).
        kind: The exception kind it explains.
        cause: The root cause it names.
        when: Conditions that must all hold (empty: always, the kind's fallback).
        confidence: How sure the rule is when it holds. [0-1]
        action: Where the fix happens.
        order_type: Work-order type of a visit (``action`` = field).
        remote_command: Head-end command of a remote fix (``ping``, ``read_on_demand``,
            ``push_program``, ``time_sync``).
        subject: ``meter`` or ``collector`` (collector work is ordered on the collector).
        priority: Work-order priority, 1 (most urgent) to 5 (None: the type's default).
        explanation: One sentence for people.
        facts: Further facts shown with the evidence.
    """

    rule_id: str
    kind: ExceptionKind
    cause: Cause
    when: tuple[Condition, ...]
    confidence: float
    action: ActionKind
    explanation: str
    order_type: WorkOrderType | None = None
    remote_command: str | None = None
    subject: str = "meter"
    priority: int | None = None
    facts: tuple[str, ...] = field(default=())


def c(fact: str, op: str, value: Any) -> Condition:
    """A condition ``fact op value`` (short, for the rule tables)."""
    return Condition(fact, op, value)
