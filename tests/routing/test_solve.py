"""solve() on small hand-checkable days stored under data/."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from meterops.routing import (
    LeaveOutReason,
    MaxIterations,
    RoutePlan,
    RoutingProblem,
    check_plan,
    construct,
    plan_kpis,
    solve,
)

LoadCase = Callable[[str], RoutingProblem]


def _solve(problem: RoutingProblem) -> RoutePlan:
    plan = solve(problem, stop=MaxIterations(300), seed=3)
    assert check_plan(problem, plan) == []
    return plan


def _sequence(plan: RoutePlan, technician_id: str) -> list[str]:
    route = plan.route_of(technician_id)
    return [v.order_id for v in route.visits] if route else []


def test_a_stop_with_an_early_window_is_visited_first(load_case: LoadCase) -> None:
    problem = load_case("line_with_window")
    plan = _solve(problem)
    assert _sequence(plan, "T1") == ["C", "B", "A"]
    assert plan_kpis(problem, plan).drive_s == pytest.approx(60.0)
    visit_c = plan.routes[0].visits[0]
    assert visit_c.start_s == pytest.approx(30.0)


def test_skilled_work_goes_to_the_technician_who_holds_the_skill(load_case: LoadCase) -> None:
    plan = _solve(load_case("skills_and_reasons"))
    assert "CT" in _sequence(plan, "T2")
    assert "FIXED" in _sequence(plan, "T1")


def test_orders_nobody_can_serve_are_left_out_with_their_reason(load_case: LoadCase) -> None:
    plan = _solve(load_case("skills_and_reasons"))
    reasons = {o.order_id: o.reason for o in plan.left_out}
    assert reasons == {
        "SHOP": LeaveOutReason.NO_SKILL,
        "LATE": LeaveOutReason.WINDOW_UNREACHABLE,
    }
    assert plan.served_order_ids() == {"CT", "PLAIN", "FIXED"}


def test_when_only_one_order_fits_the_urgent_one_is_served(load_case: LoadCase) -> None:
    problem = load_case("priorities_over_capacity")
    plan = _solve(problem)
    assert _sequence(plan, "T1") == ["URGENT"]
    assert [(o.order_id, o.reason) for o in plan.left_out] == [
        ("ROUTINE", LeaveOutReason.NOT_WORTH_SERVING)
    ]
    kpis = plan_kpis(problem, plan)
    assert kpis.left_out_share == pytest.approx(0.5)
    assert kpis.cost == pytest.approx(80.0 + problem.penalty(problem.stop_index("ROUTINE")))


def test_an_owed_break_is_taken_inside_its_window_and_all_stops_still_fit(
    load_case: LoadCase,
) -> None:
    problem = load_case("lunch_break")
    plan = _solve(problem)
    route = plan.routes[0]
    assert [b.break_index for b in route.breaks] == [0]
    lunch = route.breaks[0]
    assert 100.0 <= lunch.start_s <= 120.0
    assert lunch.end_s - lunch.start_s == pytest.approx(60.0)
    assert sorted(_sequence(plan, "T1")) == ["A", "B", "C", "D"]
    assert route.return_s <= 400.0


def test_max_stops_splits_the_work_and_the_second_window_is_used(load_case: LoadCase) -> None:
    problem = load_case("two_windows_and_max_stops")
    plan = _solve(problem)
    assert all(len(route.visits) <= 2 for route in plan.routes)
    assert plan.served_order_ids() == {"N", "S", "E", "W"}
    west = next(v for r in plan.routes for v in r.visits if v.order_id == "W")
    assert 100.0 <= west.start_s <= 150.0


def test_the_same_seed_gives_the_same_plan(load_case: LoadCase) -> None:
    problem = load_case("two_windows_and_max_stops")
    first = solve(problem, stop=MaxIterations(200), seed=11)
    second = solve(problem, stop=MaxIterations(200), seed=11)
    assert first.routes == second.routes


def test_the_construction_baseline_is_feasible_but_never_cheaper_here(
    load_case: LoadCase,
) -> None:
    problem = load_case("line_with_window")
    baseline = construct(problem)
    assert check_plan(problem, baseline) == []
    solved = _solve(problem)
    assert plan_kpis(problem, solved).cost <= plan_kpis(problem, baseline).cost


def test_an_empty_day_gives_an_empty_plan(load_case: LoadCase) -> None:
    problem = load_case("line_with_window").replace(stops=(), stop_locations=())
    plan = solve(problem, stop=MaxIterations(10), seed=1)
    assert plan.routes == ()
    assert plan.left_out == ()
