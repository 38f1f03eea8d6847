"""Translation of a routing problem to PyVRP and of PyVRP's answer back to route steps.

The only module that imports ``pyvrp`` (the optional ``routing`` extra). How each rule maps:

* **Shifts**: one vehicle type per group of interchangeable technicians, with the shift as
  the vehicle time window; a technician with pinned work starts where and when it ends.
* **Skills and fixed technicians**: one routing profile per distinct skill set (a fixed
  technician is a pseudo-skill only they hold); in a profile, every arc *into* a stop needing
  a skill the profile lacks is prohibitively long and slow, so no feasible route uses it.
* **Priorities**: every order is an optional client whose prize is its leave-out penalty
  (:class:`~meterops.routing.problem.LeaveOutPenalty`); mandatory orders are required.
* **Several time windows**: one client per window in a mutually exclusive client group.
* **Breaks**: PyVRP 0.14 has no breaks. A break is taken where the technician is, so each
  stop gets, per break rule, a variant "serve this stop, then take the break here": same
  location, service time plus break, window shifted so the break starts in its window. The
  variants of a stop form a mutually exclusive group (the stop is served at most once). A
  load dimension per break rule, with capacity 1 for technicians owing that break and 0 for
  the others, allows at most one such variant per route and only on the right routes; the
  variant's prize exceeds any order's, so the search takes the break when it can. A start
  location variant covers a break taken before the first stop. This keeps travel exact
  (no virtual zero-distance node that would let a route skip a leg) and puts no extra
  location in the matrices.
* **Max stops and capacity**: load dimensions.
* **Integers**: times are rounded *up* to ``time_resolution_s`` (windows' ends down), so
  every schedule PyVRP finds feasible is feasible in real numbers; costs are rounded to the
  problem's resolution (0.1 for Solomon, whose best-known costs have one decimal).

The exact scheduler (:mod:`~meterops.routing.schedule`) re-times every route afterwards.

Role: the solver adapter behind the optional ``routing`` extra (it fails with an install hint
when PyVRP is missing). Besides ``pyvrp`` it imports only the standard library, numpy and pure
``meterops.routing`` modules; never ``httpx``, ``meterops.db``, ``models``, ``web``, ``cli`` or
``config``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from meterops.routing.problem import Objective, RoutingProblem, TimeWindow
from meterops.routing.schedule import TechnicianState, break_step, simulate
from meterops.routing.stop import StoppingCriterion

try:
    from pyvrp import (
        Activity,
        ActivityType,
        Client,
        ClientGroup,
        Depot,
        IteratedLocalSearch,
        PenaltyManager,
        ProblemData,
        RandomNumberGenerator,
        Solution,
        SolveParams,
        VehicleType,
    )
    from pyvrp import Location as PyvrpLocation
    from pyvrp import Route as PyvrpRoute
    from pyvrp.exceptions import PenaltyBoundWarning
    from pyvrp.search import LocalSearch, PerturbationManager, compute_neighbours
except ImportError as error:  # pragma: no cover - exercised only without the extra
    raise ModuleNotFoundError(
        "routing needs the PyVRP solver; install it with: pip install 'meterops[routing]'"
    ) from error

__all__ = ["Translation", "run_pyvrp", "translate"]

IntMatrix = npt.NDArray[np.int64]

#: Capacity standing for "unlimited" in a load dimension.
_UNLIMITED = 10**12

#: Load units per counted item (a stop, a break) in the counting dimensions. PyVRP's penalty
#: per unit of excess load tops out at 1e5; an extra break or stop can win a prize larger
#: than that, so one item counts as many units and an overfull route never pays off, while
#: the time-warp penalty keeps its usual scale (one ceiling is shared by all penalties).
_COUNT_UNIT = 1_000


@dataclass(frozen=True, slots=True)
class _Role:
    """What a PyVRP client stands for."""

    stop: int | None
    """Stop index, or ``None`` for a break taken at a start location."""
    break_class: int | None
    """Break rule taken right after this client, or ``None``."""
    window: tuple[float, float]
    """Window of the service start [s] (for warm starts)."""


class _Signature(NamedTuple):
    """What makes technicians interchangeable for the solver."""

    start_depot: int
    end_depot: int
    tw_early: int
    tw_late: int
    profile: int
    capacity: tuple[int, ...]


@dataclass(frozen=True, slots=True, eq=False)
class Translation:
    """A PyVRP instance and how to read its solutions.

    Attributes:
        data: The PyVRP problem data.
        roles: What each PyVRP client stands for.
        vehicle_technicians: Technician indices behind each vehicle type.
        break_of_class: Per technician index, break rule -> index of their break.
        stop_clients: Per stop index, the PyVRP clients standing for it.
        start_break_clients: Per (location index, break rule), the start-location client.
        largest_prize: The largest client prize.
        extra_neighbours: Per client, clients to add to its search neighbourhood.
    """

    data: ProblemData
    roles: tuple[_Role, ...]
    vehicle_technicians: tuple[tuple[int, ...], ...]
    break_of_class: Mapping[int, Mapping[int, int]]
    stop_clients: Mapping[int, tuple[int, ...]]
    start_break_clients: Mapping[tuple[int, int], int]
    largest_prize: int
    extra_neighbours: Mapping[int, tuple[int, ...]]


def _up(value: float, resolution: float) -> int:
    return math.ceil(value / resolution - 1e-6)


def _down(value: float, resolution: float) -> int:
    return math.floor(value / resolution + 1e-6)


def translate(
    problem: RoutingProblem,
    states: Sequence[TechnicianState],
    *,
    technicians: Sequence[int],
    stops: Sequence[int],
    required: Collection[int] = frozenset(),
) -> Translation:
    """Build the PyVRP instance for some technicians and stops.

    Args:
        problem: The problem.
        states: Start state of every technician of the problem.
        technicians: Technician indices to plan.
        stops: Stop indices to plan (unpinned ones).
        required: Stops that must be served here although the problem lets them be left
            out (a commitment of an earlier stage).

    Returns:
        The translation.
    """
    res_t = problem.time_resolution_s
    res_c = problem.distance_resolution_m if problem.objective is Objective.DISTANCE else res_t
    technicians = list(technicians)
    stops = list(stops)

    # Break rules (earliest, latest, duration) of the breaks still open.
    classes: dict[tuple[float, float, float], int] = {}
    break_of_class: dict[int, dict[int, int]] = {}
    for t in technicians:
        break_of_class[t] = {}
        for k in states[t].open_breaks:
            brk = problem.technicians[t].breaks[k]
            key = (brk.earliest_start_s, brk.latest_start_s, brk.duration_s)
            c = classes.setdefault(key, len(classes))
            break_of_class[t][c] = k
    class_rules = list(classes)

    has_demand = any(problem.technicians[t].capacity is not None for t in technicians)
    has_stop_limit = any(problem.technicians[t].max_stops is not None for t in technicians)
    n_dims = int(has_demand) + int(has_stop_limit) + len(class_rules)
    class_dim0 = int(has_demand) + int(has_stop_limit)

    def load(demand: int, is_stop: bool, break_class: int | None) -> list[int]:
        vector = [0] * n_dims
        if has_demand:
            vector[0] = demand
        if has_stop_limit:
            vector[int(has_demand)] = _COUNT_UNIT * int(is_stop)
        if break_class is not None:
            vector[class_dim0 + break_class] = _COUNT_UNIT
        return vector

    # Locations: depots (start and end points), then one per stop, then start-break points.
    loc_map: list[int] = []
    depot_of: dict[int, int] = {}
    for t in technicians:
        for point in (states[t].location_index, problem.end_locations[t]):
            if point not in depot_of:
                depot_of[point] = len(loc_map)
                loc_map.append(point)
    n_depots = len(loc_map)
    stop_loc: dict[int, int] = {}
    for s in stops:
        stop_loc[s] = len(loc_map)
        loc_map.append(problem.stop_locations[s])
    start_break_loc: dict[int, int] = {}
    for t in technicians:
        point = states[t].location_index
        if break_of_class[t] and point not in start_break_loc:
            start_break_loc[point] = len(loc_map)
            loc_map.append(point)

    index = np.asarray(loc_map, dtype=np.int64)
    duration = np.ceil(problem.duration_s[np.ix_(index, index)] / res_t - 1e-6).astype(np.int64)
    cost = np.rint(problem.arc_cost()[np.ix_(index, index)] / res_c).astype(np.int64)
    np.fill_diagonal(duration, 0)
    np.fill_diagonal(cost, 0)

    # Prizes and time horizon.
    prizes = {s: max(1, round(problem.penalty(s) / res_c)) for s in stops}
    horizon_end = max((problem.technicians[t].shift_end_s for t in technicians), default=0.0)
    horizon = _down(horizon_end, res_t)
    break_prize = 10 * max(max(prizes.values(), default=0), int(cost.max(initial=0)) + 1)

    # Clients and groups.
    clients: list[Client] = []
    roles: list[_Role] = []
    groups: list[ClientGroup] = []
    stop_clients: dict[int, tuple[int, ...]] = {}
    for s in stops:
        stop = problem.stops[s]
        windows = stop.windows or (TimeWindow(0.0, horizon_end),)
        variants: list[tuple[int, int, int, int, int | None, tuple[float, float]]] = []
        for window in windows:
            variants.append(
                (
                    _up(window.start_s, res_t),
                    _down(window.end_s, res_t),
                    _up(stop.service_s, res_t),
                    0,
                    None,
                    (window.start_s, window.end_s),
                )
            )
            for c, (earliest, latest, length) in enumerate(class_rules):
                low = max(window.start_s, earliest - stop.service_s)
                high = min(window.end_s, latest - stop.service_s)
                if low > high:
                    continue
                variants.append(
                    (
                        _up(low, res_t),
                        _down(high, res_t),
                        _up(stop.service_s + length, res_t),
                        break_prize,
                        c,
                        (low, high),
                    )
                )
        variants = [v for v in variants if v[0] <= v[1]]
        if not variants:
            continue
        group_id = len(groups) if len(variants) > 1 else None
        must = stop.mandatory or s in required
        members: list[int] = []
        for early, late, service, bonus, rule, window_s in variants:
            members.append(len(clients))
            prize = (0 if must else prizes[s]) + bonus
            clients.append(
                Client(
                    location=stop_loc[s],
                    delivery=load(stop.demand, True, rule),
                    service_duration=service,
                    tw_early=early,
                    tw_late=late,
                    prize=prize,
                    required=must and group_id is None,
                    group=group_id,
                    name=stop.order_id,
                )
            )
            roles.append(_Role(stop=s, break_class=rule, window=window_s))
        if group_id is not None:
            groups.append(ClientGroup(members, required=must))
        stop_clients[s] = tuple(members)

    start_break_clients: dict[tuple[int, int], int] = {}
    for t in technicians:
        point = states[t].location_index
        for c in break_of_class[t]:
            if (point, c) in start_break_clients:
                continue
            earliest, latest, length = class_rules[c]
            start_break_clients[(point, c)] = len(clients)
            clients.append(
                Client(
                    location=start_break_loc[point],
                    delivery=load(0, False, c),
                    service_duration=_up(length, res_t),
                    tw_early=_up(earliest, res_t),
                    tw_late=_down(latest, res_t),
                    prize=break_prize,
                    required=False,
                    name=f"break@{point}",
                )
            )
            roles.append(_Role(stop=None, break_class=c, window=(earliest, latest)))

    # Skill profiles.
    def skills_needed(s: int) -> frozenset[str]:
        stop = problem.stops[s]
        fixed = {f"@technician:{stop.technician_id}"} if stop.technician_id else set()
        return stop.skills | fixed

    needed = {s: skills_needed(s) for s in stops}
    relevant = frozenset().union(*needed.values()) if needed else frozenset()

    def skill_key(t: int) -> frozenset[str]:
        technician = problem.technicians[t]
        held = technician.skills | {f"@technician:{technician.technician_id}"}
        return held & relevant

    profile_keys: dict[frozenset[str], int] = {}
    for t in technicians:
        profile_keys.setdefault(skill_key(t), len(profile_keys))
    prohibitive_cost = 4 * (break_prize + max(prizes.values(), default=0)) + 10 * int(
        cost.max(initial=0)
    )
    prohibitive_time = 2 * max(horizon, int(duration.max(initial=0))) + 1
    distances: list[IntMatrix] = []
    durations: list[IntMatrix] = []
    for held in profile_keys:
        blocked = [stop_loc[s] for s in stops if not needed[s] <= held]
        if not blocked:
            distances.append(cost)
            durations.append(duration)
            continue
        profile_cost = cost.copy()
        profile_duration = duration.copy()
        profile_cost[:, blocked] = prohibitive_cost
        profile_duration[:, blocked] = prohibitive_time
        profile_cost[blocked, blocked] = 0
        profile_duration[blocked, blocked] = 0
        distances.append(profile_cost)
        durations.append(profile_duration)

    extra_neighbours = _restricted_neighbours(
        stops=[s for s in stops if s in stop_clients],
        able={s: frozenset(p for k, p in profile_keys.items() if needed[s] <= k) for s in stops},
        n_profiles=len(profile_keys),
        stop_clients=stop_clients,
        stop_loc=stop_loc,
        duration=duration,
    )

    # Vehicle types: technicians with identical data share one.
    signature_of: dict[_Signature, list[int]] = {}
    for t in technicians:
        technician = problem.technicians[t]
        state = states[t]
        capacity = [0] * n_dims
        if has_demand:
            capacity[0] = (
                _UNLIMITED
                if technician.capacity is None
                else max(0, technician.capacity - state.pinned_demand)
            )
        if has_stop_limit:
            capacity[int(has_demand)] = (
                _UNLIMITED
                if technician.max_stops is None
                else _COUNT_UNIT * max(0, technician.max_stops - state.pinned_stops)
            )
        for c in break_of_class[t]:
            capacity[class_dim0 + c] = _COUNT_UNIT
        signature = _Signature(
            start_depot=depot_of[state.location_index],
            end_depot=depot_of[problem.end_locations[t]],
            tw_early=_up(state.available_s, res_t),
            tw_late=_down(technician.shift_end_s, res_t),
            profile=profile_keys[skill_key(t)],
            capacity=tuple(capacity),
        )
        signature_of.setdefault(signature, []).append(t)
    vehicle_types = [
        VehicleType(
            num_available=len(members),
            capacity=list(signature.capacity),
            start_depot=signature.start_depot,
            end_depot=signature.end_depot,
            tw_early=signature.tw_early,
            tw_late=signature.tw_late,
            profile=signature.profile,
            name=problem.technicians[members[0]].technician_id,
        )
        for signature, members in signature_of.items()
    ]

    locations = [PyvrpLocation(x=problem.locations[i].x, y=problem.locations[i].y) for i in loc_map]
    depots = [Depot(location=i) for i in range(n_depots)]
    data = ProblemData(
        locations=locations,
        clients=clients,
        depots=depots,
        vehicle_types=vehicle_types,
        distance_matrices=list[Any](distances),
        duration_matrices=list[Any](durations),
        groups=groups,
    )
    return Translation(
        data=data,
        roles=tuple(roles),
        vehicle_technicians=tuple(tuple(m) for m in signature_of.values()),
        break_of_class=break_of_class,
        stop_clients=stop_clients,
        start_break_clients=start_break_clients,
        largest_prize=max((c.prize for c in clients), default=0),
        extra_neighbours=extra_neighbours,
    )


def _restricted_neighbours(
    *,
    stops: Sequence[int],
    able: Mapping[int, frozenset[int]],
    n_profiles: int,
    stop_clients: Mapping[int, tuple[int, ...]],
    stop_loc: Mapping[int, int],
    duration: IntMatrix,
    count: int = 20,
) -> dict[int, tuple[int, ...]]:
    """Neighbours that let skill-restricted stops reach the few routes that can take them.

    PyVRP's granular neighbourhood links each client to its nearest clients. A stop that only
    a few specialists may serve is mostly near stops on other technicians' routes, so moves
    placing it on a specialist's route are never tried. Linking it to the nearest stops that
    share one of its possible technicians (which tend to be on those routes) fixes that.
    """
    restricted = [s for s in stops if len(able[s]) < n_profiles]
    extra: dict[int, tuple[int, ...]] = {}
    if not restricted:
        return extra
    locations = np.array([stop_loc[s] for s in restricted], dtype=np.int64)
    gap = duration[np.ix_(locations, locations)].astype(np.float64)
    for i, s in enumerate(restricted):
        shared = np.array([bool(able[s] & able[u]) for u in restricted], dtype=bool)
        shared[i] = False
        candidates = np.flatnonzero(shared)
        nearest = candidates[np.argsort(gap[i, candidates], kind="stable")[:count]]
        linked = tuple(c for j in nearest for c in stop_clients[restricted[int(j)]])
        for client in stop_clients[s]:
            extra[client] = linked
    return extra


def _initial_solution(
    translation: Translation,
    problem: RoutingProblem,
    states: Sequence[TechnicianState],
    steps_by_technician: Mapping[int, Sequence[int]],
) -> Solution | None:
    """A PyVRP solution standing for given routes (a warm start), or ``None`` if empty."""
    vehicle_of = {t: v for v, ts in enumerate(translation.vehicle_technicians) for t in ts}
    routes: list[PyvrpRoute] = []
    for t, steps in steps_by_technician.items():
        if t not in vehicle_of or not steps:
            continue
        timeline = simulate(problem, states[t], steps)
        classes = {k: c for c, k in translation.break_of_class[t].items()}
        visits: list[int] = []
        k = 0
        while k < len(steps):
            step = steps[k]
            if step < 0:
                c = classes.get(-1 - step)
                key = (states[t].location_index, c if c is not None else -1)
                if k == 0 and key in translation.start_break_clients:
                    visits.append(translation.start_break_clients[key])
                k += 1
                continue
            start = timeline.start_s[k] if timeline is not None else None
            following = steps[k + 1] if k + 1 < len(steps) else 0
            wanted = classes.get(-1 - following) if following < 0 else None
            chosen = _pick_variant(translation, step, wanted, start)
            if chosen is not None:
                visits.append(chosen)
                if wanted is not None and translation.roles[chosen].break_class == wanted:
                    k += 1  # the variant includes the break
            k += 1
        if visits:
            routes.append(PyvrpRoute(translation.data, visits, vehicle_of[t]))
    return Solution(translation.data, routes) if routes else None


def _search(
    translation: Translation, *, stop: StoppingCriterion, seed: int, initial: Solution | None
) -> Solution:
    """PyVRP's ``solve`` with the neighbourhood extended by :func:`_restricted_neighbours`."""
    data = translation.data
    params = SolveParams()
    rng = RandomNumberGenerator(seed=seed)
    neighbours = compute_neighbours(data, params.neighbourhood)
    if translation.extra_neighbours:
        for activity, near in list(neighbours.items()):
            extra = translation.extra_neighbours.get(activity.idx)
            if not extra or not activity.is_client():
                continue
            known = {a.idx for a in near if a.is_client()}
            added = [Activity(ActivityType.CLIENT, c) for c in extra if c not in known]
            neighbours[activity] = [*near, *added]
    local_search = LocalSearch(data, rng, neighbours, PerturbationManager(params.perturbation))
    for operator in params.operators:
        if operator.supports(data):
            local_search.add_operator(operator(data))
    penalties = PenaltyManager(params.penalty.midpoint_penalties(data), params.penalty)
    if initial is None:
        random = Solution.make_random(data, rng)
        initial = local_search(random, penalties.max_cost_evaluator(), exhaustive=True)
    algorithm = IteratedLocalSearch(data, penalties, local_search, initial, params.ils)
    with warnings.catch_warnings():
        # Optional clients behind prohibitive skill arcs often keep one penalty at its
        # ceiling; PyVRP warns, but the exact re-timing afterwards is what counts.
        warnings.simplefilter("ignore", PenaltyBoundWarning)
        result = algorithm.run(stop, collect_stats=False, display=False)
    return result.best


def _pick_variant(
    translation: Translation, stop: int, break_class: int | None, start: float | None
) -> int | None:
    """The client of a stop for a warm start: the wanted break rule first, then the window.

    A break variant whose window misses the planned start is still preferred to losing the
    break: the search then shifts the service a little instead of dropping orders to fit a
    break back in.
    """
    members = translation.stop_clients.get(stop, ())

    def miss(client: int) -> float:
        low, high = translation.roles[client].window
        if start is None:
            return 0.0
        return max(0.0, low - start, start - high)

    wanted = [c for c in members if translation.roles[c].break_class == break_class]
    plain = [c for c in members if translation.roles[c].break_class is None]
    pool = wanted or plain
    return min(pool, key=miss) if pool else None


def run_pyvrp(
    translation: Translation,
    problem: RoutingProblem,
    states: Sequence[TechnicianState],
    *,
    stop: StoppingCriterion,
    seed: int,
    warm_start: Mapping[int, Sequence[int]] | None = None,
) -> dict[int, list[int]]:
    """Solve with PyVRP and read the routes back as steps per technician index.

    A stop followed by its break variant becomes ``[stop, break]``; a start-location break
    becomes a leading break step. The steps are hints: the caller re-times them exactly.

    Args:
        translation: From :func:`translate`.
        problem: The problem.
        states: Start state of every technician.
        stop: Stopping criterion (an unstarted one).
        seed: Random seed.
        warm_start: Current steps per technician index, to start from.

    Returns:
        Steps per technician index (technicians without a route are absent).
    """
    if translation.data.num_clients == 0:
        return {}
    initial = None
    if warm_start:
        initial = _initial_solution(translation, problem, states, warm_start)
    best = _search(translation, stop=stop, seed=seed, initial=initial)
    free: dict[int, list[int]] = {
        v: list(ts) for v, ts in enumerate(translation.vehicle_technicians)
    }
    answer: dict[int, list[int]] = {}
    for route in best.routes():
        technician = free[route.vehicle_type()].pop(0)
        steps: list[int] = []
        for activity in route.schedule():
            if not activity.is_client():
                continue
            role = translation.roles[activity.idx]
            if role.stop is not None:
                steps.append(role.stop)
            if role.break_class is not None:
                k = translation.break_of_class[technician].get(role.break_class)
                if k is not None and break_step(k) not in steps:
                    steps.append(break_step(k))
        answer[technician] = steps
    return answer
