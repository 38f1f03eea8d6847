"""The independent checker catches each kind of broken plan.

Each test takes a feasible plan of a stored case, breaks one rule by hand and expects the
checker to name it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import pytest

from meterops.routing import (
    LeaveOutReason,
    LeftOut,
    MaxIterations,
    PinnedVisit,
    Route,
    RoutePlan,
    RoutingProblem,
    TakenBreak,
    Visit,
    VisitStatus,
    check_plan,
    plan_distance,
    solve,
)

LoadCase = Callable[[str], RoutingProblem]


@pytest.fixture
def lunch(load_case: LoadCase) -> tuple[RoutingProblem, RoutePlan]:
    problem = load_case("lunch_break")
    plan = solve(problem, stop=MaxIterations(200), seed=1)
    assert check_plan(problem, plan) == []
    return problem, plan


def _with_activities(plan: RoutePlan, activities: tuple[Visit | TakenBreak, ...]) -> RoutePlan:
    route = dataclasses.replace(plan.routes[0], activities=activities)
    return dataclasses.replace(plan, routes=(route, *plan.routes[1:]))


def _codes(problem: RoutingProblem, plan: RoutePlan) -> set[str]:
    return {v.code for v in check_plan(problem, plan)}


def test_a_visit_moved_before_its_window_is_flagged(
    lunch: tuple[RoutingProblem, RoutePlan],
) -> None:
    problem, plan = lunch
    activities = list(plan.routes[0].activities)
    k = next(i for i, a in enumerate(activities) if isinstance(a, Visit) and a.order_id == "D")
    last = activities[k]
    assert isinstance(last, Visit)
    activities[k] = dataclasses.replace(last, start_s=150.0, end_s=190.0)
    assert "window.missed" in _codes(problem, _with_activities(plan, tuple(activities)))


def test_a_route_that_drives_faster_than_the_matrix_is_flagged(
    lunch: tuple[RoutingProblem, RoutePlan],
) -> None:
    problem, plan = lunch
    first = plan.routes[0].activities[0]
    assert isinstance(first, Visit)
    hurried = dataclasses.replace(first, start_s=first.start_s - 5.0, end_s=first.end_s - 5.0)
    activities = (hurried, *plan.routes[0].activities[1:])
    route = dataclasses.replace(plan.routes[0], departure_s=0.0, activities=activities)
    broken = dataclasses.replace(plan, routes=(route,))
    assert "travel.too_fast" in _codes(problem, broken)


def test_a_missing_break_is_flagged(lunch: tuple[RoutingProblem, RoutePlan]) -> None:
    problem, plan = lunch
    visits = tuple(a for a in plan.routes[0].activities if isinstance(a, Visit))
    assert "break.missing" in _codes(problem, _with_activities(plan, visits))


def test_a_break_outside_its_window_is_flagged(lunch: tuple[RoutingProblem, RoutePlan]) -> None:
    problem, plan = lunch
    moved = tuple(
        dataclasses.replace(a, start_s=a.start_s + 30.0, end_s=a.end_s + 30.0)
        if isinstance(a, TakenBreak)
        else a
        for a in plan.routes[0].activities
    )
    assert "break.window" in _codes(problem, _with_activities(plan, moved))


def test_a_late_return_and_a_short_service_are_flagged(
    lunch: tuple[RoutingProblem, RoutePlan],
) -> None:
    problem, plan = lunch
    route = dataclasses.replace(plan.routes[0], return_s=1_000.0)
    assert "shift.late" in _codes(problem, dataclasses.replace(plan, routes=(route,)))
    activities = list(plan.routes[0].activities)
    first = activities[0]
    assert isinstance(first, Visit)
    activities[0] = dataclasses.replace(first, end_s=first.start_s + 1.0)
    assert "service.short" in _codes(problem, _with_activities(plan, tuple(activities)))


def test_an_order_served_twice_or_forgotten_is_flagged(
    lunch: tuple[RoutingProblem, RoutePlan],
) -> None:
    problem, plan = lunch
    twice = dataclasses.replace(plan, left_out=(LeftOut("A", LeaveOutReason.NO_SKILL),))
    assert "order.repeated" in _codes(problem, twice)
    activities = tuple(
        a for a in plan.routes[0].activities if not (isinstance(a, Visit) and a.order_id == "A")
    )
    assert "order.missing" in _codes(problem, _with_activities(plan, activities))


def test_skills_fixed_technicians_and_max_stops_are_checked(load_case: LoadCase) -> None:
    problem = load_case("skills_and_reasons")
    plan = solve(problem, stop=MaxIterations(200), seed=1)
    assert check_plan(problem, plan) == []
    t1, t2 = plan.route_of("T1"), plan.route_of("T2")
    assert t1 is not None
    assert t2 is not None
    swapped = RoutePlan(
        routes=(
            dataclasses.replace(t1, technician_id="T2"),
            dataclasses.replace(t2, technician_id="T1"),
        ),
        left_out=plan.left_out,
    )
    codes = _codes(problem, swapped)
    assert {"skill.missing", "technician.fixed"} <= codes
    limited = problem.replace(
        technicians=tuple(dataclasses.replace(t, max_stops=0) for t in problem.technicians)
    )
    assert "max_stops" in _codes(limited, plan)


def test_a_changed_pinned_visit_is_flagged(lunch: tuple[RoutingProblem, RoutePlan]) -> None:
    problem, plan = lunch
    first = plan.routes[0].visits[0]
    pinned = problem.replace(
        pinned_visits=(
            PinnedVisit(first.order_id, "T1", first.start_s, first.end_s, VisitStatus.COMPLETED),
        ),
    )
    assert check_plan(pinned, plan) == []
    moved = dataclasses.replace(first, start_s=first.start_s + 1.0, end_s=first.end_s + 1.0)
    activities = (moved, *plan.routes[0].activities[1:])
    assert "pinned.changed" in _codes(pinned, _with_activities(plan, activities))
    gone = RoutePlan(routes=(), left_out=(*plan.left_out,))
    assert "pinned.moved" in _codes(pinned, gone)


def test_plan_distance_sums_every_leg_with_the_given_matrix(
    lunch: tuple[RoutingProblem, RoutePlan],
) -> None:
    problem, plan = lunch
    assert plan_distance(problem, plan, problem.distance_m) == pytest.approx(80.0)
    doubled = np.asarray(problem.distance_m) * 2
    assert plan_distance(problem, plan, doubled) == pytest.approx(160.0)


def test_an_unknown_technician_route_is_flagged(lunch: tuple[RoutingProblem, RoutePlan]) -> None:
    problem, plan = lunch
    ghost: Route = dataclasses.replace(plan.routes[0], technician_id="GHOST")
    assert "route.unknown_technician" in _codes(problem, dataclasses.replace(plan, routes=(ghost,)))
