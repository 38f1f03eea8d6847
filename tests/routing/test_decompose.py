"""Large days are split into territories; the split plan still respects every rule."""

from __future__ import annotations

from meterops.routing import MaxIterations, check_plan, solve
from meterops.routing.decompose import partition
from meterops.routing.schedule import technician_states
from meterops.routing.solve import SolveParams, prefilter
from meterops.routing.synthetic import technician_day


def test_territories_cover_every_stop_and_technician_once() -> None:
    problem = technician_day(seed=8, technicians=12, orders=150)
    states = technician_states(problem)
    planned, _ = prefilter(problem, states)
    territories = partition(problem, states, stops=planned, technicians=range(12), parts=3, seed=1)
    assert len(territories) == 3
    assert sorted(s for t in territories for s in t.stops) == sorted(planned)
    assert sorted(x for t in territories for x in t.technicians) == list(range(12))
    for territory in territories:
        needed = set().union(*(problem.stops[s].skills for s in territory.stops))
        held = set().union(*(problem.technicians[t].skills for t in territory.technicians))
        assert needed <= held


def test_a_split_day_solved_in_parallel_respects_every_rule() -> None:
    problem = technician_day(seed=8, technicians=8, orders=120)
    params = SolveParams(max_part_stops=50, part_stops=40)
    plan = solve(problem, stop=MaxIterations(150), seed=2, workers=2, params=params)
    assert check_plan(problem, plan) == []
    assert plan.notes[0] == "3 territories"
    sequential = solve(problem, stop=MaxIterations(150), seed=2, workers=1, params=params)
    assert sequential.routes == plan.routes
