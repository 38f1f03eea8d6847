"""The lifecycle graph and the order-type table hold together."""

from __future__ import annotations

import itertools

import pytest

from meterops.errors import IllegalTransitionError
from meterops.fleet.spec import KINDS
from meterops.workorders.lifecycle import (
    ACTIVE_STATES,
    OPEN_STATES,
    TRANSITIONS,
    WorkOrderStatus,
    check_transition,
)
from meterops.workorders.types import ORDER_TYPES, WorkOrderType

S = WorkOrderStatus


def _reachable(start: WorkOrderStatus) -> set[WorkOrderStatus]:
    seen, todo = {start}, [start]
    while todo:
        for nxt in TRANSITIONS[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_every_state_is_reachable_from_created_and_every_state_can_end() -> None:
    assert _reachable(S.CREATED) == set(S)
    for state in S:
        assert _reachable(state) & {S.CLOSED, S.CANCELLED}, state


@pytest.mark.parametrize("state", sorted(OPEN_STATES))
def test_every_open_state_can_be_cancelled(state: WorkOrderStatus) -> None:
    check_transition("work order WO-1", state, S.CANCELLED)


@pytest.mark.parametrize("state", [S.COMPLETED, S.VERIFIED, S.CLOSED, S.CANCELLED])
def test_done_work_cannot_be_cancelled(state: WorkOrderStatus) -> None:
    with pytest.raises(IllegalTransitionError):
        check_transition("work order WO-1", state, S.CANCELLED)


def test_the_happy_path_is_legal_step_by_step() -> None:
    path = [
        S.CREATED,
        S.SCHEDULED,
        S.ASSIGNED,
        S.EN_ROUTE,
        S.ON_SITE,
        S.COMPLETED,
        S.VERIFIED,
        S.CLOSED,
    ]
    for current, target in itertools.pairwise(path):
        check_transition("work order WO-1", current, target)


def test_active_states_are_the_open_ones_and_completed() -> None:
    assert {S.COMPLETED} == ACTIVE_STATES - OPEN_STATES


def test_every_order_type_has_sane_defaults_and_fleet_skills() -> None:
    fleet_skills = set(
        next(c for c in KINDS["technicians"].columns if c.name == "skills").choices or ()
    )
    assert set(ORDER_TYPES) == set(WorkOrderType)
    for spec in ORDER_TYPES.values():
        assert 0 < spec.duration_min <= 240
        assert 1 <= spec.priority <= 5
        assert spec.checklist
        assert spec.skill.value in fleet_skills
        assert spec.ct_skill is None or spec.ct_skill.value in fleet_skills


def test_only_communication_problems_are_cancelled_when_the_meter_answers() -> None:
    answering = {t for t, spec in ORDER_TYPES.items() if spec.cancel_when_meter_answers}
    assert answering == {
        WorkOrderType.NON_COMM_INVESTIGATION,
        WorkOrderType.RADIO_MODULE_REPLACEMENT,
    }
