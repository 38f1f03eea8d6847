"""Edits of a routing problem during the day: add new orders, drop cancelled ones.

A problem is immutable; these return a new, validated one. Adding asks the travel source
only for travel to and from the new points (the known block of the matrices is shared), which
keeps an emergency insertion quick on a day of 1,500 orders.

Pure module: standard library, numpy and other pure ``meterops.routing`` modules; it must not
import ``pyvrp``, ``httpx``, ``meterops.db``, ``models``, ``web``, ``cli`` or ``config``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from meterops.errors import ConflictError, InvalidInputError
from meterops.routing.problem import Location, RoutingProblem, Stop
from meterops.routing.travel import TravelTimeSource

__all__ = ["with_stops", "without_stops"]


def with_stops(
    problem: RoutingProblem, stops: Sequence[Stop], travel: TravelTimeSource
) -> RoutingProblem:
    """The problem with more stops; only travel to and from new points is asked for.

    Args:
        problem: The problem.
        stops: Stops to add (new order ids).
        travel: Travel source for the new points.

    Returns:
        The extended problem.

    Raises:
        InvalidInputError: An order id already exists (or another stop rule is broken).
    """
    known = {point: i for i, point in enumerate(problem.locations)}
    added: list[Location] = []
    stop_locations = list(problem.stop_locations)
    for stop in stops:
        if stop.location not in known:
            known[stop.location] = len(problem.locations) + len(added)
            added.append(stop.location)
        stop_locations.append(known[stop.location])
    duration = problem.duration_s
    distance = problem.distance_m
    if added:
        everything = [*problem.locations, *added]
        outgoing = travel.matrices(added, everything)
        incoming = travel.matrices(problem.locations, added)
        n, m = len(problem.locations), len(added)
        duration = np.zeros((n + m, n + m))
        distance = np.zeros((n + m, n + m))
        duration[:n, :n] = problem.duration_s
        distance[:n, :n] = problem.distance_m
        duration[n:, :] = outgoing.duration_s
        distance[n:, :] = outgoing.distance_m
        duration[:n, n:] = incoming.duration_s
        distance[:n, n:] = incoming.distance_m
        for name, matrix in (("duration_s", duration), ("distance_m", distance)):
            fresh = np.concatenate((matrix[n:, :].ravel(), matrix[:n, n:].ravel()))
            if not np.all(np.isfinite(fresh)) or np.any(fresh < 0):
                raise InvalidInputError(
                    f"travel to new stops: field '{name}' must be finite and non-negative",
                    code="routing.invalid_problem",
                    details={"object": "travel to new stops", "field": name},
                )
            # The old block was checked when it was frozen; freezing the whole now lets the
            # new problem share it without copying or checking it again.
            matrix.flags.writeable = False
    return problem.replace(
        stops=(*problem.stops, *stops),
        locations=(*problem.locations, *added),
        stop_locations=tuple(stop_locations),
        duration_s=duration,
        distance_m=distance,
    )


def without_stops(problem: RoutingProblem, order_ids: Sequence[str]) -> RoutingProblem:
    """The problem without some (unpinned) orders; locations and matrices are kept.

    Raises:
        NotFoundError: An order is not in the problem.
        ConflictError: An order is pinned (completed or in progress).
    """
    drop = {problem.stop_index(order_id) for order_id in order_ids}
    pinned = {p.order_id for p in problem.pinned_visits}
    for order_id in order_ids:
        if order_id in pinned:
            raise ConflictError(
                f"order {order_id} is completed or in progress and cannot be removed",
                code="routing.order_pinned",
                details={"order_id": order_id},
            )
    keep = [i for i in range(len(problem.stops)) if i not in drop]
    return problem.replace(
        stops=tuple(problem.stops[i] for i in keep),
        stop_locations=tuple(problem.stop_locations[i] for i in keep),
    )
