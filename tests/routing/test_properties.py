"""Property tests: whatever the small day, plans respect every rule and keep pins fixed."""

from __future__ import annotations

from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meterops.routing import (
    Break,
    EuclideanTravel,
    Location,
    MaxIterations,
    RoutingProblem,
    Stop,
    Technician,
    TimeWindow,
    build_problem,
    check_plan,
    construct,
    solve,
)
from meterops.routing.reoptimize import cancel_order, insert_order

SKILLS = ("a", "b")

points = st.builds(Location, st.integers(0, 60).map(float), st.integers(0, 60).map(float))


@st.composite
def windows(draw: st.DrawFn) -> tuple[TimeWindow, ...]:
    if draw(st.booleans()):
        return ()
    start = draw(st.integers(0, 300))
    first = TimeWindow(float(start), float(start + draw(st.integers(0, 120))))
    if draw(st.booleans()):
        return (first,)
    later = first.end_s + draw(st.integers(1, 100))
    return (first, TimeWindow(later, later + draw(st.integers(0, 120))))


@st.composite
def days(draw: st.DrawFn) -> RoutingProblem:
    n_technicians = draw(st.integers(1, 3))
    technicians = []
    for k in range(n_technicians):
        home = draw(points)
        breaks = ()
        if draw(st.booleans()):
            earliest = float(draw(st.integers(60, 250)))
            breaks = (Break(earliest, earliest + draw(st.integers(0, 60)), 30.0),)
        technicians.append(
            Technician(
                technician_id=f"T{k}",
                start=home,
                end=home if draw(st.booleans()) else draw(points),
                shift_start_s=0.0,
                shift_end_s=float(draw(st.integers(350, 600))),
                skills=frozenset(draw(st.lists(st.sampled_from(SKILLS), max_size=2))),
                breaks=breaks,
                max_stops=draw(st.one_of(st.none(), st.integers(1, 5))),
            )
        )
    stops = [
        Stop(
            order_id=f"S{k}",
            location=draw(points),
            service_s=float(draw(st.integers(0, 40))),
            windows=draw(windows()),
            skills=frozenset(draw(st.lists(st.sampled_from(SKILLS), max_size=1))),
            priority=draw(st.integers(1, 5)),
            technician_id=(
                f"T{draw(st.integers(0, n_technicians - 1))}" if draw(st.booleans()) else None
            )
            if k % 3 == 0
            else None,
        )
        for k in range(draw(st.integers(1, 8)))
    ]
    return build_problem(stops=stops, technicians=technicians, travel=EuclideanTravel())


COMMON = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)


@COMMON
@given(problem=days(), seed=st.integers(0, 1000))
def test_solved_plans_respect_every_rule(problem: RoutingProblem, seed: int) -> None:
    plan = solve(problem, stop=MaxIterations(60), seed=seed)
    assert check_plan(problem, plan) == []
    visits = Counter(v.order_id for r in plan.routes for v in r.visits)
    assert all(count == 1 for count in visits.values())
    assert set(visits) | {o.order_id for o in plan.left_out} == {s.order_id for s in problem.stops}


@COMMON
@given(problem=days())
def test_the_construction_baseline_respects_every_rule(problem: RoutingProblem) -> None:
    assert check_plan(problem, construct(problem)) == []


@COMMON
@given(problem=days(), now=st.integers(0, 400), where=points, seed=st.integers(0, 100))
def test_changes_during_the_day_keep_started_work_fixed(
    problem: RoutingProblem, now: int, where: Location, seed: int
) -> None:
    plan = solve(problem, stop=MaxIterations(40), seed=seed)
    started = {
        v.order_id: (r.technician_id, v.start_s)
        for r in plan.routes
        for v in r.visits
        if v.start_s < now
    }
    new = Stop("NEW", where, 10.0, (TimeWindow(float(now), float(now) + 200.0),), priority=1)
    inserted = insert_order(
        problem, plan, stop=new, now_s=float(now), travel=EuclideanTravel(), seed=seed
    )
    assert check_plan(inserted.problem, inserted.plan) == []
    after = {
        v.order_id: (r.technician_id, v.start_s) for r in inserted.plan.routes for v in r.visits
    }
    assert all(after.get(order_id) == where_when for order_id, where_when in started.items())
    unstarted = [v.order_id for r in plan.routes for v in r.visits if v.start_s >= now]
    if unstarted:
        cancelled = cancel_order(problem, plan, order_id=unstarted[0], now_s=float(now), seed=seed)
        assert check_plan(cancelled.problem, cancelled.plan) == []
        after = {
            v.order_id: (r.technician_id, v.start_s)
            for r in cancelled.plan.routes
            for v in r.visits
        }
        assert all(after.get(order_id) == where_when for order_id, where_when in started.items())
