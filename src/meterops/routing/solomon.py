"""Reader for Solomon VRPTW instances and their best-known solutions.

An instance is text: a name, ``VEHICLE`` (number, capacity), then ``CUSTOMER`` rows of id, x,
y, demand, ready time, due date and service time; row 0 is the depot, whose due date ends
every shift. Each customer becomes a mandatory :class:`~meterops.routing.problem.Stop` with its
demand; each vehicle a :class:`~meterops.routing.problem.Technician` at the depot with the
instance's capacity. Travel time equals Euclidean distance.

Distance convention: the published best-known solutions (``*.sol``, last line ``Cost N``)
use the DIMACS convention, each arc's Euclidean distance truncated to one decimal: the
best-known routes cost exactly ``N`` that way, while under exact Euclidean distances they cost
0.2-0.6 % more and some of them arrive late. :data:`DIMACS` reproduces it (solver resolution
0.1); :data:`EXACT` keeps full Euclidean distances (resolution 0.001, durations rounded up).

Pure module: standard library and other pure ``meterops.routing`` modules; it must not import
``pyvrp``, ``httpx``, ``meterops.db``, ``models``, ``web``, ``cli`` or ``config``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from meterops.errors import InvalidInputError
from meterops.routing.problem import (
    Location,
    Objective,
    RoutingProblem,
    Stop,
    Technician,
    TimeWindow,
    build_problem,
)
from meterops.routing.travel import EuclideanTravel

__all__ = [
    "DistanceConvention",
    "SolomonSolution",
    "parse_solomon",
    "parse_solomon_solution",
    "read_solomon",
    "read_solomon_solution",
]


class DistanceConvention(StrEnum):
    """How arc lengths of a Solomon instance are computed."""

    DIMACS = "dimacs"
    """Euclidean distance truncated to one decimal (the best-known solutions' convention)."""
    EXACT = "exact"
    """Full-precision Euclidean distance."""


DIMACS = DistanceConvention.DIMACS
EXACT = DistanceConvention.EXACT


@dataclass(frozen=True, slots=True)
class SolomonSolution:
    """A solution file: routes of customer numbers and the reported cost.

    Attributes:
        routes: Customer ids per route, in visiting order.
        cost: The ``Cost`` line [distance units].
    """

    routes: tuple[tuple[str, ...], ...]
    cost: float


def _error(name: str, line: int, field: str, message: str) -> InvalidInputError:
    return InvalidInputError(
        f"{name}, line {line}, field '{field}': {message}",
        code="routing.solomon.malformed",
        details={"file": name, "line": line, "field": field},
    )


_CUSTOMER_FIELDS = ("id", "x", "y", "demand", "ready_time", "due_date", "service_time")


def parse_solomon(
    text: str, *, name: str = "<text>", convention: DistanceConvention = DIMACS
) -> RoutingProblem:
    """Parse a Solomon instance into a routing problem (distance objective).

    Args:
        text: The instance text.
        name: File name for error messages.
        convention: Arc length convention.

    Returns:
        The problem: one mandatory stop per customer, one technician per vehicle.

    Raises:
        InvalidInputError: The text is not a Solomon instance (line and field named).
    """
    lines = text.splitlines()
    vehicle_line = next((i for i, line in enumerate(lines) if line.strip() == "VEHICLE"), None)
    customer_line = next((i for i, line in enumerate(lines) if line.strip() == "CUSTOMER"), None)
    if vehicle_line is None or customer_line is None:
        raise _error(name, 1, "VEHICLE/CUSTOMER", "section headers not found")
    vehicles_at = next(
        (
            i
            for i in range(vehicle_line + 1, customer_line)
            if lines[i].split()[:1] != [] and lines[i].split()[0].isdigit()
        ),
        None,
    )
    if vehicles_at is None:
        raise _error(name, vehicle_line + 1, "NUMBER/CAPACITY", "vehicle numbers not found")
    try:
        number, capacity = (int(v) for v in lines[vehicles_at].split()[:2])
    except ValueError:
        raise _error(name, vehicles_at + 1, "NUMBER/CAPACITY", "expects two integers") from None
    rows: list[tuple[int, list[float]]] = []
    for i in range(customer_line + 1, len(lines)):
        parts = lines[i].split()
        if not parts or not parts[0].lstrip("-").isdigit():
            continue
        if len(parts) < len(_CUSTOMER_FIELDS):
            raise _error(name, i + 1, _CUSTOMER_FIELDS[len(parts)], "is missing")
        values: list[float] = []
        for field, raw in zip(_CUSTOMER_FIELDS, parts, strict=False):
            try:
                values.append(float(raw))
            except ValueError:
                raise _error(name, i + 1, field, f"'{raw}' is not a number") from None
        rows.append((i + 1, values))
    if len(rows) < 2:
        raise _error(name, customer_line + 1, "CUSTOMER", "needs the depot and a customer")
    _, depot = rows[0]
    depot_location = Location(depot[1], depot[2])
    technicians = [
        Technician(
            technician_id=f"v{k + 1}",
            start=depot_location,
            end=depot_location,
            shift_start_s=depot[4],
            shift_end_s=depot[5],
            capacity=capacity,
        )
        for k in range(number)
    ]
    stops = []
    for line_number, values in rows[1:]:
        if values[5] < values[4]:
            raise _error(name, line_number, "due_date", "is before the ready time")
        stops.append(
            Stop(
                order_id=str(int(values[0])),
                location=Location(values[1], values[2]),
                service_s=values[6],
                windows=(TimeWindow(values[4], values[5]),),
                demand=int(values[3]),
                mandatory=True,
            )
        )
    decimals = 1 if convention is DIMACS else None
    problem = build_problem(
        stops=stops,
        technicians=technicians,
        travel=EuclideanTravel(speed=1.0, decimals=decimals),
        objective=Objective.DISTANCE,
    )
    resolution = 0.1 if convention is DIMACS else 0.001
    return problem.replace(time_resolution_s=resolution, distance_resolution_m=resolution)


def read_solomon(path: Path | str, *, convention: DistanceConvention = DIMACS) -> RoutingProblem:
    """Read a Solomon instance file (see :func:`parse_solomon`)."""
    path = Path(path)
    return parse_solomon(path.read_text(), name=path.name, convention=convention)


def parse_solomon_solution(text: str, *, name: str = "<text>") -> SolomonSolution:
    """Parse a solution: ``Route #k: c1 c2 ...`` lines and a ``Cost N`` line.

    Raises:
        InvalidInputError: A line is malformed or the cost is missing.
    """
    routes: list[tuple[str, ...]] = []
    cost: float | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("Route"):
            _, _, body = stripped.partition(":")
            if not all(part.isdigit() for part in body.split()):
                raise _error(name, number, "route", "customers must be integers")
            routes.append(tuple(body.split()))
        elif stripped.startswith("Cost"):
            try:
                cost = float(stripped.split()[1])
            except (IndexError, ValueError):
                raise _error(name, number, "Cost", "expects a number") from None
    if cost is None:
        raise _error(name, len(text.splitlines()), "Cost", "line not found")
    return SolomonSolution(routes=tuple(routes), cost=cost)


def read_solomon_solution(path: Path | str) -> SolomonSolution:
    """Read a solution file (see :func:`parse_solomon_solution`)."""
    path = Path(path)
    return parse_solomon_solution(path.read_text(), name=path.name)
