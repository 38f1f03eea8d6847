"""Routing test helpers: hand-checkable cases stored as files under ``data/``.

A case file is JSON with named planar ``points`` (travel time = Euclidean distance in seconds,
so every figure can be checked by hand), ``technicians`` and ``stops`` referring to them, and
an optional ``leave_out`` penalty. ``load_case`` turns one into a :class:`RoutingProblem`
through the public :func:`build_problem`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from meterops.routing import (
    Break,
    EuclideanTravel,
    LeaveOutPenalty,
    Location,
    RoutingProblem,
    Stop,
    Technician,
    TimeWindow,
    build_problem,
)

DATA = Path(__file__).parent / "data"


def problem_from_case(case: dict[str, Any]) -> RoutingProblem:
    points = {name: Location(float(x), float(y)) for name, (x, y) in case["points"].items()}
    technicians = [
        Technician(
            technician_id=t["id"],
            start=points[t["start"]],
            end=points[t["end"]],
            shift_start_s=float(t["shift"][0]),
            shift_end_s=float(t["shift"][1]),
            skills=frozenset(t.get("skills", ())),
            breaks=tuple(Break(float(a), float(b), float(c)) for a, b, c in t.get("breaks", ())),
            max_stops=t.get("max_stops"),
        )
        for t in case["technicians"]
    ]
    stops = [
        Stop(
            order_id=s["id"],
            location=points[s["at"]],
            service_s=float(s["service"]),
            windows=tuple(TimeWindow(float(a), float(b)) for a, b in s.get("windows", ())),
            skills=frozenset(s.get("skills", ())),
            priority=int(s.get("priority", 3)),
            technician_id=s.get("technician"),
        )
        for s in case["stops"]
    ]
    penalty = case.get("leave_out")
    return build_problem(
        stops=stops,
        technicians=technicians,
        travel=EuclideanTravel(speed=1.0),
        leave_out=LeaveOutPenalty(**penalty) if penalty else LeaveOutPenalty(),
    )


@pytest.fixture(scope="session")
def load_case() -> Callable[[str], RoutingProblem]:
    """Load ``data/<name>.json`` as a routing problem."""

    def load(name: str) -> RoutingProblem:
        case = json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))
        return problem_from_case(case)

    return load
