"""docs/workorders.md stays true to the code: lifecycle moves, types, default priorities."""

from __future__ import annotations

import re
from pathlib import Path

from meterops.workorders.lifecycle import TRANSITIONS, WorkOrderStatus
from meterops.workorders.types import ORDER_TYPES, DeadlineRule

DOC = (Path(__file__).resolve().parents[2] / "docs" / "workorders.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    return DOC.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_the_lifecycle_table_lists_exactly_the_legal_moves() -> None:
    rows: dict[str, set[str]] = {}
    for line in _section("Lifecycle").splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = set(re.findall(r"`([a-z_]+)`", cells[2]))
    assert rows == {s.value: {t.value for t in TRANSITIONS[s]} for s in WorkOrderStatus}


def test_every_order_type_is_in_the_type_table() -> None:
    table = _section("Order types")
    assert [t.value for t in ORDER_TYPES if f"| `{t.value}` |" not in table] == []


def test_the_priority_table_matches_the_types() -> None:
    rows: dict[str, tuple[int, bool]] = {}
    for line in _section("Priorities and deadlines").splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`"):
            for name in re.findall(r"`([a-z_]+)`", cells[0]):
                rows[name] = (int(cells[1]), cells[2] != "none")
    assert rows == {
        t.value: (spec.priority, spec.deadline is not DeadlineRule.NONE)
        for t, spec in ORDER_TYPES.items()
    }


def test_the_ping_section_names_the_types_pinged() -> None:
    pinged = [t.value for t, spec in ORDER_TYPES.items() if spec.cancel_when_meter_answers]
    section = _section("Ping before the visit")
    assert all(f"`{name}`" in section for name in pinged)
