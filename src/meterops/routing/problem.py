"""The immutable routing problem: stops, technicians, pinned work and travel matrices.

A :class:`RoutingProblem` is built from plain values (ids, coordinates, seconds), never from
ORM objects, and is validated once on construction: every error names the stop or technician
and the field (:class:`~meterops.errors.InvalidInputError`). Times are seconds from the plan's
day start (``0`` = local midnight of the planned day, or whatever origin the caller uses
consistently). The solver, the feasibility checker and the re-optimisation all read this one
description.

Pure module: standard library, numpy and :mod:`meterops.errors` only; it must not import
``pyvrp``, ``httpx``, ``meterops.db``, ``models``, ``web``, ``cli`` or ``config``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from meterops.errors import InvalidInputError, NotFoundError

if TYPE_CHECKING:
    from meterops.routing.travel import TravelTimeSource

__all__ = [
    "Break",
    "LeaveOutPenalty",
    "Location",
    "Objective",
    "PinnedBreak",
    "PinnedVisit",
    "RoutingProblem",
    "Stop",
    "Technician",
    "TimeWindow",
    "VisitStatus",
    "build_problem",
]

FloatMatrix = npt.NDArray[np.float64]

#: Tolerance used when comparing times and distances given as floats. [s] or [m]
EPSILON = 1e-6

#: Stops and technicians of the problem being copied by :meth:`RoutingProblem.replace`,
#: already validated (identity, not equality, is what counts).
_TRUSTED: ContextVar[tuple[tuple[Stop, ...], tuple[Technician, ...]] | None] = ContextVar(
    "routing_trusted_stops", default=None
)


def _invalid(what: str, field_name: str, message: str, **details: Any) -> InvalidInputError:
    return InvalidInputError(
        f"{what}: field '{field_name}' {message}",
        code="routing.invalid_problem",
        details={"object": what, "field": field_name, **details},
    )


@dataclass(frozen=True, slots=True)
class Location:
    """A point on the map.

    Attributes:
        x: Longitude [deg] for real days; a planar coordinate for benchmark instances
            (Solomon), whose travel matrices come from the instance's own convention.
        y: Latitude [deg] for real days; a planar coordinate for benchmark instances.
    """

    x: float
    y: float

    @classmethod
    def from_lat_lon(cls, lat: float, lon: float) -> Location:
        """A geographic point from latitude and longitude [deg]."""
        return cls(x=lon, y=lat)

    @property
    def lat(self) -> float:
        """Latitude [deg] (the ``y`` coordinate)."""
        return self.y

    @property
    def lon(self) -> float:
        """Longitude [deg] (the ``x`` coordinate)."""
        return self.x


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """When a visit may start.

    Attributes:
        start_s: Earliest service start [s from day start].
        end_s: Latest service start [s from day start] (an appointment "arrive by").
    """

    start_s: float
    end_s: float


@dataclass(frozen=True, slots=True)
class Stop:
    """One order to visit.

    Attributes:
        order_id: The work order's id; unique in the problem.
        location: Where the meter is.
        service_s: Time on site [s].
        windows: Allowed service start windows; empty means any time in the technician's shift.
        skills: Skills the technician must all have (e.g. ``"ct_rated"``).
        priority: 1 (most urgent) to 5; leaving the order out costs more the lower this is.
        technician_id: When set, only this technician may do the order.
        demand: Load the order takes from the vehicle's capacity [units] (benchmarks).
        mandatory: When true the order may not be left out (benchmarks; pinned work).
    """

    order_id: str
    location: Location
    service_s: float
    windows: tuple[TimeWindow, ...] = ()
    skills: frozenset[str] = frozenset()
    priority: int = 3
    technician_id: str | None = None
    demand: int = 0
    mandatory: bool = False


@dataclass(frozen=True, slots=True)
class Break:
    """A break a technician must take when their route spans it.

    The break is owed when the technician's route is not empty, leaves no later than
    ``latest_start_s`` and returns after it (the technician is out when the break is due).

    Attributes:
        earliest_start_s: Earliest start [s from day start].
        latest_start_s: Latest start [s from day start].
        duration_s: Length [s].
    """

    earliest_start_s: float
    latest_start_s: float
    duration_s: float


@dataclass(frozen=True, slots=True)
class Technician:
    """One technician (and their vehicle) for the day.

    Attributes:
        technician_id: Unique id.
        start: Where the day starts (home or shop).
        end: Where the day ends.
        shift_start_s: Earliest departure [s from day start].
        shift_end_s: Latest return [s from day start].
        skills: Skills held.
        breaks: Breaks owed during the shift, in order of their windows.
        max_stops: Most orders in the day (pinned ones included), or ``None``.
        capacity: Load capacity [units] for orders with a ``demand``, or ``None`` (unlimited).
    """

    technician_id: str
    start: Location
    end: Location
    shift_start_s: float
    shift_end_s: float
    skills: frozenset[str] = frozenset()
    breaks: tuple[Break, ...] = ()
    max_stops: int | None = None
    capacity: int | None = None


class VisitStatus(StrEnum):
    """The state of a visit that re-optimisation must not move."""

    COMPLETED = "completed"
    IN_PROGRESS = "in_progress"


@dataclass(frozen=True, slots=True)
class PinnedVisit:
    """A visit already done or under way: it stays on its technician at its times.

    Attributes:
        order_id: The order (a stop of the problem).
        technician_id: Who did or does it.
        start_s: Service start [s from day start].
        end_s: Service end (expected end while in progress) [s from day start].
        status: Completed or in progress.
    """

    order_id: str
    technician_id: str
    start_s: float
    end_s: float
    status: VisitStatus


@dataclass(frozen=True, slots=True)
class PinnedBreak:
    """A break already started: it stays at its time.

    Attributes:
        technician_id: Who took it.
        break_index: Index into the technician's ``breaks``.
        start_s: Start [s from day start].
        location_index: Index into the problem's locations where it is taken.
    """

    technician_id: str
    break_index: int
    start_s: float
    location_index: int


class Objective(StrEnum):
    """What the solver minimises (plus the penalties of orders left out)."""

    DRIVE_TIME = "drive_time"
    DISTANCE = "distance"


@dataclass(frozen=True, slots=True)
class LeaveOutPenalty:
    """The cost of leaving an order out, growing with its urgency.

    ``penalty(priority) = base * growth ** (5 - priority)`` in objective units ([s] of driving
    for :attr:`Objective.DRIVE_TIME`, [m] for :attr:`Objective.DISTANCE`). With the defaults a
    priority-5 order is left out only when serving it costs more than an hour of extra driving,
    a priority-1 order only when it cannot be served at all (81 h).

    Attributes:
        base: Penalty of a priority-5 order [objective units].
        growth: Factor per priority step (> 1).
    """

    base: float = 3600.0
    growth: float = 3.0

    def penalty(self, priority: int) -> float:
        """Penalty for leaving out an order of this priority [objective units]."""
        return self.base * self.growth ** (5 - priority)


@dataclass(frozen=True, slots=True, eq=False)
class RoutingProblem:
    """One day of field work to plan. Build it with :func:`build_problem`.

    Attributes:
        stops: Orders, unique ``order_id``.
        technicians: Technicians, unique ``technician_id``.
        locations: Distinct points; the matrices are indexed by position in this tuple.
        stop_locations: Location index of each stop.
        start_locations: Location index of each technician's start.
        end_locations: Location index of each technician's end.
        duration_s: Travel time between locations [s], shape (n, n), read-only.
        distance_m: Travel distance between locations [m], shape (n, n), read-only.
        pinned_visits: Completed and in-progress visits that must stay as they are.
        pinned_breaks: Breaks already started.
        now_s: The re-planning instant [s from day start]: no unpinned activity starts earlier.
        objective: What is minimised.
        leave_out: Penalty of leaving an order out by priority.
        time_resolution_s: Smallest time step the solver distinguishes [s]; durations are
            rounded up to it, so a plan feasible for the solver is feasible here.
        distance_resolution_m: Smallest distance step of the objective [m].
    """

    stops: tuple[Stop, ...]
    technicians: tuple[Technician, ...]
    locations: tuple[Location, ...]
    stop_locations: tuple[int, ...]
    start_locations: tuple[int, ...]
    end_locations: tuple[int, ...]
    duration_s: FloatMatrix
    distance_m: FloatMatrix
    pinned_visits: tuple[PinnedVisit, ...] = ()
    pinned_breaks: tuple[PinnedBreak, ...] = ()
    now_s: float | None = None
    objective: Objective = Objective.DRIVE_TIME
    leave_out: LeaveOutPenalty = LeaveOutPenalty()
    time_resolution_s: float = 1.0
    distance_resolution_m: float = 1.0
    _stop_index: Mapping[str, int] = field(init=False, repr=False)
    _technician_index: Mapping[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        shared = _is_frozen(self.duration_s) and _is_frozen(self.distance_m)
        object.__setattr__(self, "duration_s", _read_only(self.duration_s))
        object.__setattr__(self, "distance_m", _read_only(self.distance_m))
        stop_index: dict[str, int] = {}
        for i, stop in enumerate(self.stops):
            if stop.order_id in stop_index:
                raise _invalid(f"stop {stop.order_id}", "order_id", "is not unique")
            stop_index[stop.order_id] = i
        technician_index: dict[str, int] = {}
        for i, technician in enumerate(self.technicians):
            if technician.technician_id in technician_index:
                what = f"technician {technician.technician_id}"
                raise _invalid(what, "technician_id", "is not unique")
            technician_index[technician.technician_id] = i
        object.__setattr__(self, "_stop_index", stop_index)
        object.__setattr__(self, "_technician_index", technician_index)
        _validate(self, matrices_checked=shared)

    def stop_index(self, order_id: str) -> int:
        """Position of an order in :attr:`stops`.

        Raises:
            NotFoundError: No stop has this order id.
        """
        try:
            return self._stop_index[order_id]
        except KeyError:
            raise NotFoundError(
                f"order {order_id} is not a stop of this routing problem",
                code="routing.order_not_found",
                details={"order_id": order_id},
            ) from None

    def technician_index(self, technician_id: str) -> int:
        """Position of a technician in :attr:`technicians`.

        Raises:
            NotFoundError: No technician has this id.
        """
        try:
            return self._technician_index[technician_id]
        except KeyError:
            raise NotFoundError(
                f"technician {technician_id} is not part of this routing problem",
                code="routing.technician_not_found",
                details={"technician_id": technician_id},
            ) from None

    def has_order(self, order_id: str) -> bool:
        """Whether an order is a stop of this problem."""
        return order_id in self._stop_index

    def has_technician(self, technician_id: str) -> bool:
        """Whether a technician is part of this problem."""
        return technician_id in self._technician_index

    def penalty(self, stop_index: int) -> float:
        """Cost of leaving a stop out [objective units]."""
        return self.leave_out.penalty(self.stops[stop_index].priority)

    def arc_cost(self) -> FloatMatrix:
        """The objective's cost of each arc [objective units]."""
        if self.objective is Objective.DISTANCE:
            return self.distance_m
        return self.duration_s

    def replace(self, **changes: Any) -> RoutingProblem:
        """A copy with some fields changed (validated again).

        Stops are not checked one by one again when neither they nor the technicians change
        (re-planning during the day replaces pins and matrices of large days often).
        """
        trusted = None
        if "stops" not in changes and "technicians" not in changes:
            trusted = (self.stops, self.technicians)
        token = _TRUSTED.set(trusted)
        try:
            return replace(self, **changes)
        finally:
            _TRUSTED.reset(token)


def _is_frozen(matrix: object) -> bool:
    """Whether a matrix is a read-only copy made (and checked) by another problem."""
    return (
        isinstance(matrix, np.ndarray)
        and matrix.dtype == np.float64
        and not matrix.flags.writeable
        and matrix.base is None
    )


def _read_only(matrix: npt.ArrayLike) -> FloatMatrix:
    if _is_frozen(matrix):
        assert isinstance(matrix, np.ndarray)
        return matrix  # already a frozen copy owned by a problem: share it
    array = np.array(matrix, dtype=np.float64, copy=True)
    array.flags.writeable = False
    return array


def _check_window(what: str, field_name: str, start: float, end: float) -> None:
    if not (math.isfinite(start) and math.isfinite(end)):
        raise _invalid(what, field_name, f"must be finite, got [{start}, {end}]")
    if end < start:
        raise _invalid(what, field_name, f"ends ({end}) before it starts ({start})")


def _validate(problem: RoutingProblem, *, matrices_checked: bool = False) -> None:
    n = len(problem.locations)
    for name in ("duration_s", "distance_m"):
        matrix: FloatMatrix = getattr(problem, name)
        if matrix.shape != (n, n):
            raise _invalid(
                "travel matrices", name, f"has shape {matrix.shape}, expected ({n}, {n})"
            )
        if matrices_checked:
            continue  # values were checked when the shared frozen copy was made
        if not np.all(np.isfinite(matrix)) or np.any(matrix < 0):
            raise _invalid("travel matrices", name, "must be finite and non-negative")
    for name, indices in (
        ("stop_locations", problem.stop_locations),
        ("start_locations", problem.start_locations),
        ("end_locations", problem.end_locations),
    ):
        expected = len(problem.stops) if name == "stop_locations" else len(problem.technicians)
        if len(indices) != expected:
            raise _invalid("locations", name, f"has {len(indices)} entries, expected {expected}")
        if any(not 0 <= i < n for i in indices):
            raise _invalid("locations", name, f"refers to a location outside 0..{n - 1}")
    if problem.time_resolution_s <= 0 or problem.distance_resolution_m <= 0:
        raise _invalid("problem", "time_resolution_s", "and distance_resolution_m must be > 0")
    if problem.leave_out.base <= 0 or problem.leave_out.growth < 1:
        raise _invalid("problem", "leave_out", "needs base > 0 and growth >= 1")
    trusted = _TRUSTED.get()
    if trusted is None or trusted[0] is not problem.stops or trusted[1] is not problem.technicians:
        for stop in problem.stops:
            _validate_stop(problem, stop)
    for technician in problem.technicians:
        _validate_technician(technician)
    _validate_pins(problem)


def _validate_stop(problem: RoutingProblem, stop: Stop) -> None:
    what = f"stop {stop.order_id}"
    if not stop.order_id:
        raise _invalid("stop", "order_id", "must not be empty")
    if not (math.isfinite(stop.service_s) and stop.service_s >= 0):
        raise _invalid(what, "service_s", f"must be a finite number >= 0, got {stop.service_s}")
    if not 1 <= stop.priority <= 5:
        raise _invalid(what, "priority", f"must be 1..5 (1 = most urgent), got {stop.priority}")
    if stop.demand < 0:
        raise _invalid(what, "demand", f"must be >= 0, got {stop.demand}")
    previous_end = -math.inf
    for window in stop.windows:
        _check_window(what, "windows", window.start_s, window.end_s)
        if window.start_s <= previous_end:
            raise _invalid(what, "windows", "must be sorted and must not overlap")
        previous_end = window.end_s
    if stop.technician_id is not None and stop.technician_id not in problem._technician_index:
        raise _invalid(what, "technician_id", f"names unknown technician {stop.technician_id}")


def _validate_technician(technician: Technician) -> None:
    what = f"technician {technician.technician_id}"
    if not technician.technician_id:
        raise _invalid("technician", "technician_id", "must not be empty")
    _check_window(what, "shift", technician.shift_start_s, technician.shift_end_s)
    if technician.max_stops is not None and technician.max_stops < 0:
        raise _invalid(what, "max_stops", f"must be >= 0, got {technician.max_stops}")
    if technician.capacity is not None and technician.capacity < 0:
        raise _invalid(what, "capacity", f"must be >= 0, got {technician.capacity}")
    for k, brk in enumerate(technician.breaks):
        name = f"breaks[{k}]"
        _check_window(what, name, brk.earliest_start_s, brk.latest_start_s)
        if not (math.isfinite(brk.duration_s) and brk.duration_s > 0):
            raise _invalid(what, name, f"duration must be > 0, got {brk.duration_s}")
        if (
            brk.earliest_start_s < technician.shift_start_s
            or brk.latest_start_s + brk.duration_s > technician.shift_end_s
        ):
            raise _invalid(what, name, "must lie within the shift")
        if k and brk.earliest_start_s < technician.breaks[k - 1].earliest_start_s:
            raise _invalid(what, name, "breaks must be ordered by earliest start")


def _validate_pins(problem: RoutingProblem) -> None:
    seen: set[str] = set()
    by_technician: dict[str, list[PinnedVisit]] = {}
    for pin in problem.pinned_visits:
        what = f"pinned visit of order {pin.order_id}"
        if pin.order_id not in problem._stop_index:
            raise _invalid(what, "order_id", "is not a stop of the problem")
        if pin.technician_id not in problem._technician_index:
            raise _invalid(what, "technician_id", f"names unknown {pin.technician_id}")
        if pin.order_id in seen:
            raise _invalid(what, "order_id", "is pinned twice")
        seen.add(pin.order_id)
        _check_window(what, "start_s/end_s", pin.start_s, pin.end_s)
        by_technician.setdefault(pin.technician_id, []).append(pin)
    for technician_id, pins in by_technician.items():
        pins.sort(key=lambda p: p.start_s)
        if sum(p.status is VisitStatus.IN_PROGRESS for p in pins) > 1:
            raise _invalid(
                f"technician {technician_id}", "pinned_visits", "has two visits in progress"
            )
        for before, after in itertools.pairwise(pins):
            if after.start_s < before.end_s - EPSILON:
                raise _invalid(
                    f"pinned visit of order {after.order_id}",
                    "start_s",
                    f"overlaps the pinned visit of order {before.order_id}",
                )
    taken: set[tuple[str, int]] = set()
    for pinned_break in problem.pinned_breaks:
        what = f"pinned break of technician {pinned_break.technician_id}"
        index = problem._technician_index.get(pinned_break.technician_id)
        if index is None:
            raise _invalid(what, "technician_id", "names an unknown technician")
        if not 0 <= pinned_break.break_index < len(problem.technicians[index].breaks):
            raise _invalid(what, "break_index", f"is out of range: {pinned_break.break_index}")
        if not 0 <= pinned_break.location_index < len(problem.locations):
            raise _invalid(what, "location_index", "is out of range")
        key = (pinned_break.technician_id, pinned_break.break_index)
        if key in taken:
            raise _invalid(what, "break_index", "is pinned twice")
        taken.add(key)


def build_problem(
    *,
    stops: Sequence[Stop],
    technicians: Sequence[Technician],
    travel: TravelTimeSource,
    pinned_visits: Sequence[PinnedVisit] = (),
    pinned_breaks: Sequence[PinnedBreak] = (),
    now_s: float | None = None,
    objective: Objective = Objective.DRIVE_TIME,
    leave_out: LeaveOutPenalty = LeaveOutPenalty(),
) -> RoutingProblem:
    """Build a problem from plain values, asking ``travel`` for the matrices.

    Identical points (technicians sharing a shop, several meters at one address) share one
    location, so the travel source is asked for each distinct point once.

    Args:
        stops: The orders.
        technicians: The technicians.
        travel: Where travel times and distances come from.
        pinned_visits: Completed and in-progress visits.
        pinned_breaks: Breaks already started (their ``location_index`` must refer to the
            locations this function builds, so pass them only when rebuilding from a problem).
        now_s: Re-planning instant [s from day start], or ``None`` before the day starts.
        objective: What to minimise.
        leave_out: Penalty of leaving orders out.

    Returns:
        The validated problem.

    Raises:
        InvalidInputError: A stop, technician or pin breaks a rule (named in the message).
    """
    index: dict[Location, int] = {}
    locations: list[Location] = []

    def locate(point: Location) -> int:
        if point not in index:
            index[point] = len(locations)
            locations.append(point)
        return index[point]

    start_locations = tuple(locate(t.start) for t in technicians)
    end_locations = tuple(locate(t.end) for t in technicians)
    stop_locations = tuple(locate(s.location) for s in stops)
    matrices = travel.matrices(locations, locations)
    return RoutingProblem(
        stops=tuple(stops),
        technicians=tuple(technicians),
        locations=tuple(locations),
        stop_locations=stop_locations,
        start_locations=start_locations,
        end_locations=end_locations,
        duration_s=matrices.duration_s,
        distance_m=matrices.distance_m,
        pinned_visits=tuple(pinned_visits),
        pinned_breaks=tuple(pinned_breaks),
        now_s=now_s,
        objective=objective,
        leave_out=leave_out,
    )
