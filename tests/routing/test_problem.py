"""RoutingProblem validation names the object and field; helpers keep problems consistent."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import pytest

from meterops.errors import ConflictError, InvalidInputError, NotFoundError
from meterops.routing import (
    Break,
    EuclideanTravel,
    LeaveOutPenalty,
    Location,
    PinnedVisit,
    RoutingProblem,
    Stop,
    Technician,
    TimeWindow,
    VisitStatus,
    build_problem,
)
from meterops.routing.editing import with_stops, without_stops

LoadCase = Callable[[str], RoutingProblem]

DEPOT = Location(0.0, 0.0)


def _technician(**changes: object) -> Technician:
    base = Technician("T1", DEPOT, DEPOT, 0.0, 100.0)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def _stop(**changes: object) -> Stop:
    base = Stop("S1", Location(3.0, 4.0), 10.0)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def _build(stops: list[Stop], technicians: list[Technician]) -> RoutingProblem:
    return build_problem(stops=stops, technicians=technicians, travel=EuclideanTravel())


@pytest.mark.parametrize(
    ("stop", "field"),
    [
        (_stop(priority=0), "priority"),
        (_stop(service_s=-1.0), "service_s"),
        (_stop(windows=(TimeWindow(50.0, 40.0),)), "windows"),
        (_stop(windows=(TimeWindow(10.0, 40.0), TimeWindow(30.0, 60.0))), "windows"),
        (_stop(technician_id="NOBODY"), "technician_id"),
        (_stop(demand=-2), "demand"),
    ],
)
def test_a_bad_stop_is_refused_naming_it_and_the_field(stop: Stop, field: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        _build([stop], [_technician()])
    assert "stop S1" in caught.value.message
    assert caught.value.details["field"] == field


@pytest.mark.parametrize(
    ("technician", "field"),
    [
        (_technician(shift_end_s=-1.0), "shift"),
        (_technician(breaks=(Break(90.0, 95.0, 30.0),)), "breaks[0]"),
        (_technician(breaks=(Break(50.0, 40.0, 5.0),)), "breaks[0]"),
        (_technician(max_stops=-1), "max_stops"),
    ],
)
def test_a_bad_technician_is_refused_naming_it_and_the_field(
    technician: Technician, field: str
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        _build([_stop()], [technician])
    assert "technician T1" in caught.value.message
    assert caught.value.details["field"] == field


def test_duplicate_ids_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="not unique"):
        _build([_stop(), _stop()], [_technician()])
    with pytest.raises(InvalidInputError, match="not unique"):
        _build([_stop()], [_technician(), _technician()])


def test_pins_must_refer_to_known_orders_and_not_overlap() -> None:
    problem = _build([_stop(), _stop(order_id="S2")], [_technician()])
    unknown = PinnedVisit("NOPE", "T1", 0.0, 5.0, VisitStatus.COMPLETED)
    with pytest.raises(InvalidInputError, match="order_id"):
        problem.replace(pinned_visits=(unknown,))
    overlapping = (
        PinnedVisit("S1", "T1", 0.0, 10.0, VisitStatus.COMPLETED),
        PinnedVisit("S2", "T1", 5.0, 15.0, VisitStatus.IN_PROGRESS),
    )
    with pytest.raises(InvalidInputError, match="overlaps"):
        problem.replace(pinned_visits=overlapping)


def test_matrices_must_match_the_locations_and_be_non_negative() -> None:
    problem = _build([_stop()], [_technician()])
    with pytest.raises(InvalidInputError, match="shape"):
        problem.replace(duration_s=np.zeros((3, 3)))
    negative = np.array(problem.duration_s)
    negative[0, 1] = -1.0
    with pytest.raises(InvalidInputError, match="non-negative"):
        problem.replace(duration_s=negative)


def test_shared_points_share_one_location_and_matrices_are_read_only() -> None:
    problem = _build(
        [_stop(), _stop(order_id="S2")], [_technician(), _technician(technician_id="T2")]
    )
    assert len(problem.locations) == 2
    assert problem.duration_s[0, 1] == pytest.approx(5.0)
    with pytest.raises(ValueError, match="read-only"):
        problem.duration_s[0, 1] = 1.0


def test_lookups_raise_not_found_for_unknown_ids() -> None:
    problem = _build([_stop()], [_technician()])
    with pytest.raises(NotFoundError):
        problem.stop_index("NOPE")
    with pytest.raises(NotFoundError):
        problem.technician_index("NOPE")


def test_leave_out_penalty_grows_as_priority_gets_more_urgent() -> None:
    penalty = LeaveOutPenalty(base=10.0, growth=2.0)
    assert [penalty.penalty(p) for p in (5, 4, 3, 2, 1)] == [10.0, 20.0, 40.0, 80.0, 160.0]


def test_adding_a_stop_extends_the_matrices_with_travel_to_and_from_it() -> None:
    problem = _build([_stop()], [_technician()])
    extended = with_stops(
        problem, [_stop(order_id="S2", location=Location(0.0, 8.0))], EuclideanTravel()
    )
    new = extended.stop_locations[extended.stop_index("S2")]
    assert extended.duration_s[0, new] == pytest.approx(8.0)
    assert extended.duration_s[new, extended.stop_locations[0]] == pytest.approx(5.0)
    assert np.array_equal(extended.duration_s[:2, :2], problem.duration_s)


def test_removing_a_pinned_stop_is_a_conflict() -> None:
    problem = _build([_stop(), _stop(order_id="S2")], [_technician()])
    pinned = problem.replace(
        pinned_visits=(PinnedVisit("S1", "T1", 5.0, 15.0, VisitStatus.IN_PROGRESS),)
    )
    with pytest.raises(ConflictError):
        without_stops(pinned, ["S1"])
    assert [s.order_id for s in without_stops(pinned, ["S2"]).stops] == ["S1"]
