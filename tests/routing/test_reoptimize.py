"""Changes during the day keep done work fixed and the plan feasible."""

from __future__ import annotations

import pytest

from meterops.errors import ConflictError
from meterops.routing import (
    Break,
    EuclideanTravel,
    GreatCircleTravel,
    LeaveOutReason,
    Location,
    MaxIterations,
    RoutePlan,
    RoutingProblem,
    Stop,
    Technician,
    TimeWindow,
    build_problem,
    check_plan,
    solve,
)
from meterops.routing.reoptimize import (
    Replan,
    cancel_order,
    insert_order,
    move_order,
    pin_progress,
    remove_technician,
)
from meterops.routing.synthetic import technician_day

NOW = 11.0 * 3600


@pytest.fixture(scope="module")
def day() -> tuple[RoutingProblem, RoutePlan]:
    problem = technician_day(seed=5, technicians=5, orders=90, radius_km=8.0)
    plan = solve(problem, stop=MaxIterations(400), seed=2)
    assert check_plan(problem, plan) == []
    return problem, plan


def _started(plan: RoutePlan) -> dict[str, tuple[str, float, float]]:
    return {
        v.order_id: (r.technician_id, v.start_s, v.end_s)
        for r in plan.routes
        for v in r.visits
        if v.start_s < NOW
    }


def _assert_done_work_kept(before: RoutePlan, after: Replan) -> None:
    assert check_plan(after.problem, after.plan) == []
    now_on = {
        v.order_id: (r.technician_id, v.start_s, v.end_s)
        for r in after.plan.routes
        for v in r.visits
    }
    for order_id, (who, start, end) in _started(before).items():
        assert order_id in now_on, f"{order_id} started before now and vanished"
        assert now_on[order_id][0] == who
        assert now_on[order_id][1:] == pytest.approx((start, end))


def _unstarted(plan: RoutePlan) -> list[tuple[str, str]]:
    return [(r.technician_id, v.order_id) for r in plan.routes for v in r.visits if v.start_s > NOW]


def test_pinning_marks_started_visits_completed_or_in_progress(
    day: tuple[RoutingProblem, RoutePlan],
) -> None:
    problem, plan = day
    pinned = pin_progress(problem, plan, now_s=NOW)
    assert {p.order_id for p in pinned.pinned_visits} == set(_started(plan))
    assert pinned.now_s == NOW
    with pytest.raises(ConflictError):
        pin_progress(pinned, plan, now_s=NOW - 60)


def test_an_emergency_reconnect_is_inserted_and_done_work_stays(
    day: tuple[RoutingProblem, RoutePlan],
) -> None:
    problem, plan = day
    centre = problem.stops[0].location
    emergency = Stop(
        "RECONNECT-1",
        Location(centre.x + 0.01, centre.y),
        900.0,
        (TimeWindow(NOW, NOW + 3 * 3600),),
        frozenset({"residential"}),
        priority=1,
    )
    result = insert_order(
        problem, plan, stop=emergency, now_s=NOW, travel=GreatCircleTravel(), seed=1
    )
    _assert_done_work_kept(plan, result)
    assert "RECONNECT-1" in result.plan.served_order_ids()
    visit = next(v for r in result.plan.routes for v in r.visits if v.order_id == "RECONNECT-1")
    assert visit.start_s >= NOW


def test_an_order_that_cannot_be_reached_in_time_is_left_out_with_its_reason(
    day: tuple[RoutingProblem, RoutePlan],
) -> None:
    problem, plan = day
    far = Stop("FAR", Location(-72.0, 45.5), 600.0, (TimeWindow(NOW, NOW + 600),), priority=1)
    result = insert_order(problem, plan, stop=far, now_s=NOW, travel=GreatCircleTravel(), seed=1)
    reasons = {o.order_id: o.reason for o in result.plan.left_out}
    assert reasons["FAR"] is LeaveOutReason.WINDOW_UNREACHABLE
    _assert_done_work_kept(plan, result)


def test_a_cancelled_order_disappears_and_done_work_stays(
    day: tuple[RoutingProblem, RoutePlan],
) -> None:
    problem, plan = day
    _, order_id = _unstarted(plan)[0]
    result = cancel_order(problem, plan, order_id=order_id, now_s=NOW, seed=1)
    _assert_done_work_kept(plan, result)
    assert not result.problem.has_order(order_id)
    assert order_id not in result.plan.served_order_ids()
    assert len(result.plan.left_out) <= len(plan.left_out)
    started = next(iter(_started(plan)))
    with pytest.raises(ConflictError):
        cancel_order(problem, plan, order_id=started, now_s=NOW, seed=1)


def test_a_moved_order_ends_on_the_chosen_technician(
    day: tuple[RoutingProblem, RoutePlan],
) -> None:
    problem, plan = day
    pairs = _unstarted(plan)
    holder, order_id = pairs[len(pairs) // 2]
    target = next(
        t.technician_id
        for t in problem.technicians
        if t.technician_id != holder
        and problem.stops[problem.stop_index(order_id)].skills <= t.skills
    )
    result = move_order(problem, plan, order_id=order_id, technician_id=target, now_s=NOW, seed=1)
    _assert_done_work_kept(plan, result)
    route = result.plan.route_of(target)
    assert route is not None
    assert order_id in [v.order_id for v in route.visits]
    assert result.problem.stops[result.problem.stop_index(order_id)].technician_id == target


def test_moving_to_a_technician_without_the_skill_is_refused(
    day: tuple[RoutingProblem, RoutePlan],
) -> None:
    problem, plan = day
    skilled = next(
        (holder, order_id)
        for holder, order_id in _unstarted(plan)
        if problem.stops[problem.stop_index(order_id)].skills - {"residential"}
    )
    unable = [
        t.technician_id
        for t in problem.technicians
        if not problem.stops[problem.stop_index(skilled[1])].skills <= t.skills
    ]
    if not unable:
        pytest.skip("every technician of this seeded day holds the skill")
    with pytest.raises(ConflictError):
        move_order(problem, plan, order_id=skilled[1], technician_id=unable[0], now_s=NOW, seed=1)


def test_a_technician_who_goes_home_keeps_done_work_and_hands_over_the_rest(
    day: tuple[RoutingProblem, RoutePlan],
) -> None:
    problem, plan = day
    leaver = max(plan.routes, key=lambda r: len(r.visits)).technician_id
    handed = [o for who, o in _unstarted(plan) if who == leaver]
    assert handed
    result = remove_technician(problem, plan, technician_id=leaver, now_s=NOW, seed=1)
    _assert_done_work_kept(plan, result)
    route = result.plan.route_of(leaver)
    kept = {v.order_id for v in route.visits} if route else set()
    assert kept == {o for o, (who, _, _) in _started(plan).items() if who == leaver}
    left = {o.order_id for o in result.plan.left_out}
    for order_id in handed:
        assert order_id in result.plan.served_order_ids() or order_id in left


def test_a_break_that_can_still_begin_stays_on_a_route_left_with_pinned_work_only() -> None:
    """Found by Hypothesis: a cancel left T2 with only the visit in progress and lost the break.

    T2 works S0 from 151 to 168; the break may begin until 168. Cancelling T2's later order at
    152 must keep the break at 168, not send T2 home without it.
    """

    def technician(k: int, breaks: tuple[Break, ...] = ()) -> Technician:
        home = Location(0.0, 0.0)
        return Technician(f"T{k}", home, home, 0.0, 350.0, frozenset(), breaks, None)

    problem = build_problem(
        stops=[
            Stop("S0", Location(0.0, 1.0), 17.0, (TimeWindow(151.0, 151.0),), priority=1),
            Stop(
                "S1",
                Location(0.0, 1.0),
                0.0,
                (TimeWindow(0.0, 0.0), TimeWindow(78.0, 198.0)),
                priority=1,
            ),
        ],
        technicians=[technician(0), technician(1), technician(2, (Break(108.0, 168.0, 30.0),))],
        travel=EuclideanTravel(),
    )
    plan = solve(problem, stop=MaxIterations(40), seed=0)
    [route] = [r for r in plan.routes if r.technician_id == "T2"]
    assert [getattr(a, "order_id", "break") for a in route.activities] == ["S0", "break", "S1"]

    cancelled = cancel_order(problem, plan, order_id="S1", now_s=152.0, seed=0)

    assert check_plan(cancelled.problem, cancelled.plan) == []
    [after] = [r for r in cancelled.plan.routes if r.technician_id == "T2"]
    assert [(getattr(a, "order_id", "break"), a.start_s) for a in after.activities] == [
        ("S0", 151.0),
        ("break", 168.0),
    ]
