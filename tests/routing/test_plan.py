"""Plan figures and the GeoJSON export."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from meterops.routing import (
    MaxIterations,
    RoutingProblem,
    check_plan,
    plan_kpis,
    plan_to_geojson,
    solve,
)
from meterops.routing.synthetic import SKILLS, UNSTAFFED_SKILL, technician_day

LoadCase = Callable[[str], RoutingProblem]


def test_kpis_count_stops_drive_time_and_orders_left_out(load_case: LoadCase) -> None:
    problem = load_case("skills_and_reasons")
    plan = solve(problem, stop=MaxIterations(200), seed=1)
    kpis = plan_kpis(problem, plan)
    assert kpis.orders == 5
    assert kpis.orders_served == 3
    assert kpis.left_out_by_reason == {
        "no_technician_with_skill": 1,
        "window_unreachable": 1,
    }
    assert kpis.technicians_used == 2
    assert kpis.stops_per_technician == pytest.approx(1.5)
    assert kpis.drive_s == pytest.approx(sum(r.drive_s for r in plan.routes))
    assert kpis.drive_time_share == pytest.approx(kpis.drive_s / 1000.0)
    assert kpis.on_time_share == 1.0


def test_the_geojson_has_a_line_per_route_and_a_point_per_stop(load_case: LoadCase) -> None:
    problem = load_case("skills_and_reasons")
    plan = solve(problem, stop=MaxIterations(200), seed=1)
    collection = json.loads(json.dumps(plan_to_geojson(problem, plan)))
    assert collection["type"] == "FeatureCollection"
    kinds = [f["properties"]["kind"] for f in collection["features"]]
    assert kinds.count("route") == len(plan.routes)
    assert kinds.count("stop") == 3
    assert kinds.count("left_out") == 2
    route = next(f for f in collection["features"] if f["properties"]["kind"] == "route")
    assert route["geometry"]["type"] == "LineString"
    visits = route["properties"]["stops"]
    assert len(route["geometry"]["coordinates"]) == visits + 2
    first_stop = next(f for f in collection["features"] if f["properties"]["kind"] == "stop")
    assert first_stop["properties"]["sequence"] == 1
    assert len(first_stop["geometry"]["coordinates"]) == 2


def test_the_synthetic_day_is_seeded_and_uses_every_skill() -> None:
    first = technician_day(seed=3, technicians=6, orders=80)
    second = technician_day(seed=3, technicians=6, orders=80)
    assert first.stops == second.stops
    assert first.technicians == second.technicians
    assert technician_day(seed=4, technicians=6, orders=80).stops != first.stops
    needed = set().union(*(s.skills for s in first.stops))
    assert needed <= {*SKILLS, UNSTAFFED_SKILL}
    assert all(t.breaks for t in first.technicians)
    plan = solve(first, stop=MaxIterations(200), seed=1)
    assert check_plan(first, plan) == []
