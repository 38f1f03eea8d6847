"""The Solomon reader, on a tiny stored instance and on the 56 real ones."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from meterops.errors import InvalidInputError
from meterops.routing import (
    MaxIterations,
    Route,
    RoutePlan,
    RoutingProblem,
    Visit,
    check_plan,
    plan_distance,
    solve,
)
from meterops.routing.solomon import (
    DistanceConvention,
    parse_solomon,
    parse_solomon_solution,
    read_solomon,
    read_solomon_solution,
)

DATA = Path(__file__).parent / "data"


def _timed_plan(problem: RoutingProblem, routes: tuple[tuple[str, ...], ...]) -> RoutePlan:
    """Time routes of customer ids as early as possible (written here, not the solver's)."""
    technicians = iter(problem.technicians)
    planned = []
    for sequence in routes:
        technician = next(technicians)
        here, clock = problem.start_locations[0], technician.shift_start_s
        visits = []
        for order_id in sequence:
            stop = problem.stops[problem.stop_index(order_id)]
            there = problem.stop_locations[problem.stop_index(order_id)]
            arrival = clock + float(problem.duration_s[here, there])
            start = max(arrival, stop.windows[0].start_s)
            visits.append(
                Visit(
                    order_id, there, arrival, start, start + stop.service_s, start - arrival, 0, 0
                )
            )
            here, clock = there, start + stop.service_s
        back = clock + float(problem.duration_s[here, problem.end_locations[0]])
        planned.append(
            Route(technician.technician_id, technician.shift_start_s, back, tuple(visits), 0, 0)
        )
    return RoutePlan(routes=tuple(planned), left_out=())


def test_the_tiny_instance_reads_as_mandatory_stops_and_identical_vehicles() -> None:
    problem = read_solomon(DATA / "tiny_solomon.txt")
    assert [t.technician_id for t in problem.technicians] == ["v1", "v2"]
    assert {t.capacity for t in problem.technicians} == {30}
    assert all(s.mandatory for s in problem.stops)
    assert [s.demand for s in problem.stops] == [10, 10, 10, 10, 20]
    assert problem.technicians[0].shift_end_s == 200.0
    assert problem.time_resolution_s == pytest.approx(0.1)


def test_the_tiny_instance_is_solved_to_its_hand_computed_optimum() -> None:
    # Capacity 30 forces {5, 3} + {1, 2, 4}: 10 + 14.1 + 10 and 10 + 10 + 28.2 + 20 (DIMACS).
    problem = read_solomon(DATA / "tiny_solomon.txt")
    plan = solve(problem, stop=MaxIterations(500), seed=1)
    assert check_plan(problem, plan) == []
    assert plan_distance(problem, plan, problem.distance_m) == pytest.approx(102.3)
    assert sorted(sorted(v.order_id for v in r.visits) for r in plan.routes) == [
        ["1", "2", "4"],
        ["3", "5"],
    ]


def test_exact_distances_keep_full_precision() -> None:
    problem = read_solomon(DATA / "tiny_solomon.txt", convention=DistanceConvention.EXACT)
    a, b = problem.stop_locations[0], problem.stop_locations[2]
    assert problem.distance_m[a, b] == pytest.approx(math.sqrt(200))


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("NAME\nCUSTOMER\n 0 1 2 3 4 5 6\n", "VEHICLE/CUSTOMER"),
        ("N\nVEHICLE\nNUMBER CAPACITY\n 2 x\nCUSTOMER\n", "NUMBER/CAPACITY"),
        (
            "N\nVEHICLE\nNUMBER CAPACITY\n 2 10\nCUSTOMER\n 0 0 0 0 0 100 0\n 1 5 5 1 0\n",
            "due_date",
        ),
        ("N\nVEHICLE\nNUMBER CAPACITY\n 2 10\nCUSTOMER\n 0 0 0 0 0 100 0\n 1 5 y 1 0 9 1\n", "y"),
    ],
)
def test_malformed_instances_name_the_line_and_field(text: str, field: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_solomon(text, name="bad.txt")
    assert caught.value.details["field"] == field
    assert "bad.txt" in caught.value.message


def test_a_solution_without_a_cost_line_is_refused() -> None:
    assert parse_solomon_solution("Route #1: 1 2\nCost 12.5\n").routes == (("1", "2"),)
    with pytest.raises(InvalidInputError, match="Cost"):
        parse_solomon_solution("Route #1: 1 2\n")


def _instances(shared_data: Path) -> list[Path]:
    files = sorted((shared_data / "solomon").glob("*.txt"))
    assert len(files) == 56
    return files


def test_every_real_instance_reads_with_100_customers(shared_data: Path) -> None:
    for path in _instances(shared_data):
        problem = read_solomon(path)
        assert len(problem.stops) == 100, path.name
        assert len(problem.technicians) == 25, path.name


def test_best_known_solutions_are_feasible_and_cost_exactly_their_figure_under_dimacs(
    shared_data: Path,
) -> None:
    for path in _instances(shared_data):
        problem = read_solomon(path)
        best = read_solomon_solution(path.with_suffix(".sol"))
        plan = _timed_plan(problem, best.routes)
        assert check_plan(problem, plan) == [], path.name
        cost = plan_distance(problem, plan, problem.distance_m)
        assert cost == pytest.approx(best.cost, abs=0.05), path.name


def test_exact_euclidean_distances_price_the_best_known_routes_higher(shared_data: Path) -> None:
    late = 0
    for path in _instances(shared_data):
        problem = read_solomon(path, convention=DistanceConvention.EXACT)
        best = read_solomon_solution(path.with_suffix(".sol"))
        plan = _timed_plan(problem, best.routes)
        assert plan_distance(problem, plan, problem.distance_m) > best.cost, path.name
        late += bool(check_plan(problem, plan))
    assert late > 0  # some best-known routes arrive late without the one-decimal truncation


def test_a_real_instance_is_solved_within_one_percent_of_the_best_known(
    shared_data: Path,
) -> None:
    problem = read_solomon(shared_data / "solomon" / "C101.txt")
    best = read_solomon_solution(shared_data / "solomon" / "C101.sol")
    plan = solve(problem, stop=MaxIterations(1500), seed=1)
    assert check_plan(problem, plan) == []
    assert plan_distance(problem, plan, problem.distance_m) <= best.cost * 1.01
