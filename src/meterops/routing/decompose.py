"""Split a large day into territories that can be solved one by one.

:func:`partition` clusters the orders geographically (seeded k-means on a local metric
projection, weighted by time on site) and hands each territory technicians in proportion to
its work, nearest start first. It then makes sure each territory has a technician for every
skill its orders need (borrowing the nearest holder from a territory that has several) and
sends orders fixed to a technician to that technician's territory. Orders that no territory
can serve are repaired across borders afterwards by :mod:`meterops.routing.solve`.

Orders whose skill is held by fewer technicians than there are territories go to the territory
of the nearest holder, so every order has a qualified technician in its territory.

Pure module: standard library, numpy and other pure ``meterops.routing`` modules; it must not
import ``pyvrp``, ``httpx``, ``meterops.db``, ``models``, ``web``, ``cli`` or ``config``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from meterops.routing.problem import RoutingProblem
from meterops.routing.schedule import TechnicianState

__all__ = ["Territory", "follow_owners", "partition", "regroup"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Territory:
    """One part of the day.

    Attributes:
        technicians: Technician indices.
        stops: Stop indices.
    """

    technicians: tuple[int, ...]
    stops: tuple[int, ...]


def _project_km(problem: RoutingProblem, location_indices: Sequence[int]) -> FloatArray:
    """Points on a local plane [km] (equirectangular; planar instances pass through)."""
    xy = np.array([[problem.locations[i].x, problem.locations[i].y] for i in location_indices])
    if xy.size == 0:
        return np.zeros((0, 2))
    lat0 = float(np.mean(xy[:, 1]))
    if abs(lat0) <= 90 and np.all(np.abs(xy[:, 0]) <= 180):
        return np.column_stack(
            (xy[:, 0] * 111.32 * math.cos(math.radians(lat0)), xy[:, 1] * 110.57)
        )
    return xy.astype(np.float64)


def _kmeans(
    points: FloatArray, weights: FloatArray, k: int, rng: np.random.Generator, rounds: int = 30
) -> npt.NDArray[np.int64]:
    """Weighted k-means with k-means++ seeding; returns a label per point."""
    n = len(points)
    centres = [points[int(rng.integers(n))]]
    for _ in range(1, k):
        gap = np.min(((points[:, None, :] - np.array(centres)[None]) ** 2).sum(-1), axis=1)
        total = float(gap.sum())
        pick = int(rng.choice(n, p=gap / total)) if total > 0 else int(rng.integers(n))
        centres.append(points[pick])
    centre = np.array(centres)
    labels = np.zeros(n, dtype=np.int64)
    for _ in range(rounds):
        labels = np.argmin(((points[:, None, :] - centre[None]) ** 2).sum(-1), axis=1)
        moved = False
        for c in range(k):
            member = labels == c
            if member.any():
                new = np.average(points[member], axis=0, weights=weights[member])
                moved |= not np.allclose(new, centre[c])
                centre[c] = new
        if not moved:
            break
    return labels


def partition(
    problem: RoutingProblem,
    states: Sequence[TechnicianState],
    *,
    stops: Sequence[int],
    technicians: Sequence[int],
    parts: int,
    seed: int,
) -> list[Territory]:
    """Split stops and technicians into geographic territories.

    Args:
        problem: The problem.
        states: Start state of every technician.
        stops: Stop indices to split.
        technicians: Technician indices to split.
        parts: Number of territories wanted (fewer when there are fewer technicians).
        seed: Random seed of the clustering.

    Returns:
        Territories, each with at least one technician.
    """
    parts = max(1, min(parts, len(technicians), max(1, len(stops))))
    if parts == 1:
        return [Territory(tuple(technicians), tuple(stops))]
    rng = np.random.default_rng(seed)
    stop_points = _project_km(problem, [problem.stop_locations[s] for s in stops])
    work = np.array([problem.stops[s].service_s + 600.0 for s in stops])
    labels = _kmeans(stop_points, work, parts, rng)
    centres = np.array(
        [
            np.average(stop_points[labels == c], axis=0, weights=work[labels == c])
            if np.any(labels == c)
            else stop_points[int(rng.integers(len(stops)))]
            for c in range(parts)
        ]
    )
    share = np.array([work[labels == c].sum() for c in range(parts)]) / work.sum()
    quota = np.maximum(1, np.floor(share * len(technicians))).astype(int)
    while quota.sum() < len(technicians):
        quota[int(np.argmax(share * len(technicians) - quota))] += 1
    while quota.sum() > len(technicians):
        quota[int(np.argmax(quota))] -= 1

    tech_points = _project_km(problem, [states[t].location_index for t in technicians])
    gap = np.sqrt(((tech_points[:, None, :] - centres[None]) ** 2).sum(-1))
    owner: dict[int, int] = {}
    for flat in np.argsort(gap, axis=None):
        i, c = divmod(int(flat), parts)
        t = technicians[i]
        if t not in owner and quota[c] > 0:
            owner[t] = c
            quota[c] -= 1
    members: list[list[int]] = [[t for t in technicians if owner[t] == c] for c in range(parts)]
    part_stops: list[list[int]] = [
        [s for s, label in zip(stops, labels, strict=True) if label == c] for c in range(parts)
    ]

    # Every territory needs a holder of each skill its orders require.
    position = {t: i for i, t in enumerate(technicians)}
    for c in range(parts):
        needed = set().union(*(problem.stops[s].skills for s in part_stops[c]))
        for skill in sorted(needed):
            if any(skill in problem.technicians[t].skills for t in members[c]):
                continue
            donors = [
                (float(gap[position[t], c]), t, d)
                for d in range(parts)
                if d != c and len(members[d]) > 1
                for t in members[d]
                if skill in problem.technicians[t].skills
                and sum(skill in problem.technicians[u].skills for u in members[d]) > 1
            ]
            if donors:
                _, t, d = min(donors)
                members[d].remove(t)
                members[c].append(t)

    # Orders fixed to a technician follow that technician; orders needing a skill still
    # missing in their territory (fewer holders than territories) go to the nearest holder's.
    territory_of = {t: c for c in range(parts) for t in members[c]}
    for c in range(parts):
        held = set().union(*(problem.technicians[t].skills for t in members[c]))
        for s in list(part_stops[c]):
            stop = problem.stops[s]
            if stop.technician_id is not None:
                target = territory_of.get(problem.technician_index(stop.technician_id))
            elif not stop.skills <= held:
                holders = [t for t in technicians if stop.skills <= problem.technicians[t].skills]
                nearest = min(
                    holders,
                    key=lambda t: float(
                        problem.duration_s[states[t].location_index, problem.stop_locations[s]]
                    ),
                    default=None,
                )
                target = territory_of.get(nearest) if nearest is not None else None
            else:
                continue
            if target is not None and target != c:
                part_stops[c].remove(s)
                part_stops[target].append(s)
    return [
        Territory(tuple(sorted(members[c])), tuple(sorted(part_stops[c])))
        for c in range(parts)
        if members[c]
    ]


def follow_owners(
    territories: Sequence[Territory], owners: Mapping[int, Sequence[int]]
) -> list[Territory]:
    """Move stops already given to a technician into that technician's territory.

    Args:
        territories: The split.
        owners: Steps per technician index (stops ``>= 0``) from an earlier stage.

    Returns:
        The territories, each stop where its technician is.
    """
    home = {t: i for i, territory in enumerate(territories) for t in territory.technicians}
    moved = {s: home[t] for t, steps in owners.items() if t in home for s in steps if s >= 0}
    stops: list[list[int]] = [
        [s for s in territory.stops if moved.get(s, i) == i]
        for i, territory in enumerate(territories)
    ]
    present = {s for territory in territories for s in territory.stops}
    for s, i in moved.items():
        if s in present and s not in territories[i].stops:
            stops[i].append(s)
    return [
        Territory(territory.technicians, tuple(sorted(stops[i])))
        for i, territory in enumerate(territories)
    ]


def regroup(
    problem: RoutingProblem,
    states: Sequence[TechnicianState],
    routes: Mapping[int, Sequence[int]],
    *,
    unserved: Sequence[int],
    technicians: Sequence[int],
    parts: int,
    seed: int,
) -> list[Territory]:
    """New territories around the current routes, so work can cross the old borders.

    Technicians are clustered by where their routes are (the centroid of their stops, or their
    position when idle); each territory takes its technicians' stops plus the unserved stops
    nearest to it that one of its technicians can do.

    Args:
        problem: The problem.
        states: Start state of every technician.
        routes: Current steps per technician index.
        unserved: Stops not on any route, to offer again.
        technicians: Technician indices to regroup.
        parts: Number of territories wanted.
        seed: Random seed of the clustering.

    Returns:
        Territories, each with at least one technician.
    """
    parts = max(1, min(parts, len(technicians)))
    rng = np.random.default_rng(seed)
    centres = []
    for t in technicians:
        own = [problem.stop_locations[s] for s in routes.get(t, ()) if s >= 0]
        points = _project_km(problem, own or [states[t].location_index])
        centres.append(points.mean(axis=0))
    where = np.array(centres)
    weight = np.array([1.0 + sum(s >= 0 for s in routes.get(t, ())) for t in technicians])
    labels = _kmeans(where, weight, parts, rng) if parts > 1 else np.zeros(len(technicians), int)
    groups = [
        [t for t, label in zip(technicians, labels, strict=True) if label == c]
        for c in range(parts)
    ]
    groups = [g for g in groups if g]
    stops: list[list[int]] = [[s for t in g for s in routes.get(t, ()) if s >= 0] for g in groups]
    if unserved:
        pending = _project_km(problem, [problem.stop_locations[s] for s in unserved])
        hubs = np.array([where[[technicians.index(t) for t in g]].mean(axis=0) for g in groups])
        gap = np.sqrt(((pending[:, None, :] - hubs[None]) ** 2).sum(-1))
        for i, s in enumerate(unserved):
            stop = problem.stops[s]
            for c in np.argsort(gap[i]):
                able = [
                    t
                    for t in groups[int(c)]
                    if stop.skills <= problem.technicians[t].skills
                    and stop.technician_id in (None, problem.technicians[t].technician_id)
                ]
                if able:
                    stops[int(c)].append(s)
                    break
    return [Territory(tuple(sorted(g)), tuple(sorted(stops[c]))) for c, g in enumerate(groups)]
