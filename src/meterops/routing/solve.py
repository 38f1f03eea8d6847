"""``solve(problem, *, stop, seed) -> RoutePlan``: plan a day of field work.

Steps: (1) orders no technician could ever serve are left out with their reason (no one has
the skills; no one can reach the window and get home within the shift); (2) the rest goes to
PyVRP (:mod:`meterops.routing._pyvrp`), in one piece or, for large days, one territory at a
time (:mod:`meterops.routing.decompose`), territories running in parallel processes when
``workers > 1``; (3) every route is re-timed exactly and repaired if needed
(:mod:`meterops.routing.schedule`); (4) orders left out inside one territory are offered to
every route across the borders by cheapest feasible insertion, when serving them costs less
than their penalty.

Decomposition is a measured choice, not a fallback for errors: one PyVRP search over 1,500
orders (3,000 clients with break variants) converges too slowly for a 60 s budget on two
cores, while territories of a few hundred orders are solved well in that time (see
``benchmarks/bench_routing.py``).

Pure module: standard library, numpy and other ``meterops.routing`` modules (the solver
through ``_pyvrp``); it must not import ``meterops.db``, ``models``, ``web``, ``cli`` or
``config``.
"""

from __future__ import annotations

import math
import multiprocessing
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np

from meterops.routing.decompose import Territory, follow_owners, partition, regroup
from meterops.routing.insertion import best_insertion, can_serve, construct_steps, repair_route
from meterops.routing.plan import LeaveOutReason, LeftOut, Route, RoutePlan
from meterops.routing.problem import EPSILON, RoutingProblem
from meterops.routing.schedule import TechnicianState, simulate, technician_states, to_route
from meterops.routing.stop import StoppingCriterion, runtime_budget_s

__all__ = ["SolveParams", "build_plan", "construct", "prefilter", "solve", "unservable"]


@dataclass(frozen=True, slots=True)
class SolveParams:
    """How :func:`solve` splits and repairs.

    Attributes:
        max_part_stops: Solve in one piece up to this many orders; split above.
        part_stops: Target orders per territory when splitting.
        border_repair: Offer orders left out in one territory to the others.
        overhead_share: Share of a runtime budget kept for preparation and repair.
        specialist_share: Share of a runtime budget for planning skill-restricted orders
            first.
        specialist_max_orders: Skip that first stage when restricted orders are more than
            this share of the day (it would not be smaller than the whole).
        regroup_share: Share of the territory search spent on a second round over new
            territories drawn around the first round's routes (0 = one round).
        keep_specialist_work: Orders the first stage placed on specialists stay served in
            the later rounds (they may move, not drop), so common work cannot crowd them out.
    """

    max_part_stops: int = 400
    part_stops: int = 250
    border_repair: bool = True
    overhead_share: float = 0.05
    specialist_share: float = 0.12
    specialist_max_orders: float = 0.5
    regroup_share: float = 0.4
    keep_specialist_work: bool = True


def unservable(
    problem: RoutingProblem, states: Sequence[TechnicianState], stop_index: int
) -> LeftOut | None:
    """Why no technician could ever serve a stop, or ``None`` when someone might.

    A stop is unservable when nobody holds its skills (or its fixed technician does not), or
    when no qualified technician, leaving from where they stand when they are free, can start
    it inside a window and be back before the shift ends (breaks ignored, so this never
    rejects a servable stop).
    """
    stop = problem.stops[stop_index]
    able = [t for t in range(len(problem.technicians)) if can_serve(problem, t, stop_index)]
    if not able:
        who = f"technician {stop.technician_id}" if stop.technician_id else "no technician"
        return LeftOut(
            stop.order_id,
            LeaveOutReason.NO_SKILL,
            f"needs skills {sorted(stop.skills)}; {who} can take it",
        )
    target = problem.stop_locations[stop_index]
    here = np.array([states[t].location_index for t in able], dtype=np.int64)
    home = np.array([problem.end_locations[t] for t in able], dtype=np.int64)
    arrival = np.array([states[t].available_s for t in able]) + problem.duration_s[here, target]
    shift_end = np.array([problem.technicians[t].shift_end_s for t in able])
    start = arrival if not stop.windows else np.full(len(able), math.inf)
    for window in reversed(stop.windows):
        open_yet = arrival <= window.end_s + EPSILON
        start = np.where(open_yet, np.maximum(arrival, window.start_s), start)
    back = start + stop.service_s + problem.duration_s[target, home]
    if np.any(back <= shift_end + EPSILON):
        return None
    return LeftOut(
        stop.order_id,
        LeaveOutReason.WINDOW_UNREACHABLE,
        "no qualified technician can be there within its window and back in shift",
    )


def prefilter(
    problem: RoutingProblem, states: Sequence[TechnicianState]
) -> tuple[list[int], list[LeftOut]]:
    """Split unpinned stops into those worth giving the solver and those nobody can serve.

    Returns:
        Stop indices to plan, and the orders left out with their reason.
    """
    pinned = {p.order_id for p in problem.pinned_visits}
    keep: list[int] = []
    left: list[LeftOut] = []
    for s, stop in enumerate(problem.stops):
        if stop.order_id in pinned:
            continue
        reason = unservable(problem, states, s)
        if reason is None:
            keep.append(s)
        else:
            left.append(reason)
    return keep, left


def build_plan(
    problem: RoutingProblem,
    states: Sequence[TechnicianState],
    steps_by_technician: Mapping[int, Sequence[int]],
    *,
    planned: Sequence[int],
    left_out: Sequence[LeftOut],
    solver_seconds: float = 0.0,
    notes: Sequence[str] = (),
    border_repair: bool = True,
) -> RoutePlan:
    """Time and repair routes, add back orders left out when worth it, and assemble a plan.

    Args:
        problem: The problem.
        states: Start state of every technician.
        steps_by_technician: Steps per technician index (breaks are hints).
        planned: Stop indices that were given to the solver.
        left_out: Orders already known to be left out, with reasons.
        solver_seconds: Time spent solving [s].
        notes: Remarks to carry.
        border_repair: Try to insert unserved stops into any route.

    Returns:
        The plan.
    """
    routes: dict[int, list[int]] = {}
    unserved: set[int] = set(planned)
    notes = list(notes)
    for t, steps in steps_by_technician.items():
        fixed, dropped = repair_route(problem, states[t], steps)
        if dropped:
            notes.append(
                f"route of {problem.technicians[t].technician_id}: dropped {len(dropped)} "
                "stops to keep it feasible"
            )
        routes[t] = fixed
        unserved -= {s for s in fixed if s >= 0}
    if border_repair and unserved:
        everyone = range(len(problem.technicians))
        for s in sorted(unserved, key=lambda s: (problem.stops[s].priority, s)):
            insertion = best_insertion(
                problem,
                states,
                routes,
                s,
                technicians=everyone,
                max_cost=math.inf if problem.stops[s].mandatory else problem.penalty(s),
            )
            if insertion is not None:
                routes[insertion.technician_index] = list(insertion.steps)
                unserved.discard(s)
    plan_routes: list[Route] = []
    for t, state in enumerate(states):
        steps = routes.get(t, [])
        if not steps and not state.pinned:
            continue
        timeline = simulate(problem, state, steps)
        if timeline is None:  # pragma: no cover - repair_route guarantees feasibility
            raise AssertionError(f"route of technician {t} is infeasible after repair")
        if steps or state.pinned:
            plan_routes.append(to_route(problem, state, steps, timeline))
    extra = [
        LeftOut(
            problem.stops[s].order_id,
            LeaveOutReason.NOT_WORTH_SERVING,
            "no route has room for it at a cost below its leave-out penalty",
        )
        for s in sorted(unserved)
    ]
    return RoutePlan(
        routes=tuple(r for r in plan_routes if r.activities),
        left_out=tuple(sorted([*left_out, *extra], key=lambda o: o.order_id)),
        solver_seconds=solver_seconds,
        notes=tuple(notes),
    )


_SHARED: dict[str, object] = {}


def _solve_part(
    job: tuple[Territory, StoppingCriterion, int, Mapping[int, Sequence[int]] | None],
) -> dict[int, list[int]]:
    from meterops.routing import _pyvrp

    territory, stop, seed, warm = job
    problem = _SHARED["problem"]
    states = _SHARED["states"]
    assert isinstance(problem, RoutingProblem)
    assert isinstance(states, list)
    required = _SHARED.get("required", frozenset())
    assert isinstance(required, frozenset)
    translation = _pyvrp.translate(
        problem,
        states,
        technicians=territory.technicians,
        stops=territory.stops,
        required=required & set(territory.stops),
    )
    return _pyvrp.run_pyvrp(translation, problem, states, stop=stop, seed=seed, warm_start=warm)


def _specialist_stage(
    problem: RoutingProblem,
    states: Sequence[TechnicianState],
    planned: Sequence[int],
    *,
    stop: StoppingCriterion,
    seed: int,
    max_share: float,
) -> dict[int, list[int]]:
    """Plan the skill-restricted orders first, on the technicians who can take them.

    Returns:
        Steps per specialist technician, or nothing when the day has no such orders (or they
        are most of it, so a first stage would not be smaller).
    """
    everyone = range(len(problem.technicians))
    able = {s: [t for t in everyone if can_serve(problem, t, s)] for s in planned}
    restricted = [s for s in planned if len(able[s]) < len(problem.technicians)]
    if not restricted or len(restricted) > max_share * len(planned):
        return {}
    specialists = sorted({t for s in restricted for t in able[s]})
    job = (Territory(tuple(specialists), tuple(restricted)), stop, seed, None)
    return _run_jobs(problem, states, [job], workers=1)


def _run_jobs(
    problem: RoutingProblem,
    states: Sequence[TechnicianState],
    jobs: Sequence[tuple[Territory, StoppingCriterion, int, Mapping[int, Sequence[int]] | None]],
    workers: int,
    required: frozenset[int] = frozenset(),
) -> dict[int, list[int]]:
    """Solve territories, in parallel processes when asked; steps per technician index."""
    _SHARED["problem"] = problem
    _SHARED["states"] = list(states)
    _SHARED["required"] = required
    steps: dict[int, list[int]] = {}
    try:
        if workers > 1 and len(jobs) > 1:
            context = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
                for answer in pool.map(_solve_part, jobs):
                    steps.update(answer)
        else:
            for job in jobs:
                steps.update(_solve_part(job))
    finally:
        _SHARED.clear()
    for territory, *_ in jobs:
        for t in territory.technicians:
            steps.setdefault(t, [])
    return steps


def solve(
    problem: RoutingProblem,
    *,
    stop: StoppingCriterion,
    seed: int,
    workers: int = 1,
    params: SolveParams = SolveParams(),
) -> RoutePlan:
    """Plan the day: routes per technician, orders left out and why.

    Pinned (completed and in-progress) visits and breaks stay as they are; each technician's
    new work starts where and when their pinned work ends.

    Orders only some technicians can do (a skill, a fixed technician) are planned first on
    those technicians alone; the whole day is then searched starting from that plan, and the
    orders placed in that first stage stay served (they may move between routes and within
    them, not drop out). A local search from scratch tends to fill specialists' days with
    common work nearby and then has no room left for the work only they can do: on the
    benchmark day this took orders left out from 7-17 to 0-1 (besides the unservable ones),
    drive time from 93-101 h to 90 h, and the spread between seeds from 20 % to 1 %.

    Args:
        problem: The day to plan.
        stop: When to stop searching (an unstarted criterion; it is not consumed).
        seed: Random seed (required: every plan states its seed).
        workers: Processes for territories solved in parallel (1 = this process).
        params: Splitting and repair options.

    Returns:
        The plan; check it with :func:`meterops.routing.feasibility.check_plan`.
    """
    started = time.perf_counter()
    states = technician_states(problem)
    planned, left_out = prefilter(problem, states)
    technicians = list(range(len(problem.technicians)))
    budget = runtime_budget_s(stop)
    search_share = 1.0 - params.overhead_share if budget is not None else 1.0
    first = _specialist_stage(
        problem,
        states,
        planned,
        stop=stop.scaled(params.specialist_share),
        seed=seed,
        max_share=params.specialist_max_orders,
    )
    if first and budget is not None:
        search_share -= params.specialist_share
    parts = 1
    if len(planned) > params.max_part_stops:
        parts = math.ceil(len(planned) / params.part_stops)
    territories = partition(
        problem, states, stops=planned, technicians=technicians, parts=parts, seed=seed
    )
    territories = follow_owners(territories, first)
    rounds = 2 if len(territories) > 1 and params.regroup_share > 0 else 1
    waves = math.ceil(len(territories) / max(1, workers))
    share = search_share / waves if budget is not None else 1.0
    if len(territories) == 1 and budget is not None:
        share = search_share + params.overhead_share * 0.75
    if rounds == 2:
        share *= 1.0 - params.regroup_share
    jobs = [
        (t, stop.scaled(share), seed + i, {x: first[x] for x in t.technicians if x in first})
        for i, t in enumerate(territories)
    ]
    committed = frozenset(x for route in first.values() for x in route if x >= 0)
    if not params.keep_specialist_work:
        committed = frozenset()
    steps = _run_jobs(problem, states, jobs, workers, committed)
    if rounds == 2:
        served = {x for route in steps.values() for x in route if x >= 0}
        regrouped = regroup(
            problem,
            states,
            steps,
            unserved=[x for x in planned if x not in served],
            technicians=technicians,
            parts=len(territories),
            seed=seed + 1,
        )
        share = search_share * params.regroup_share / waves if budget is not None else 1.0
        jobs = [
            (
                t,
                stop.scaled(share),
                seed + 100 + i,
                {x: steps[x] for x in t.technicians if x in steps},
            )
            for i, t in enumerate(regrouped)
        ]
        steps.update(_run_jobs(problem, states, jobs, workers, committed))
    solver_seconds = time.perf_counter() - started
    notes = [f"{len(territories)} territories"] if len(territories) > 1 else []
    if first:
        notes.append(f"skill-restricted orders planned first on {len(first)} technicians")
    return build_plan(
        problem,
        states,
        steps,
        planned=planned,
        left_out=left_out,
        solver_seconds=solver_seconds,
        notes=notes,
        border_repair=params.border_repair,
    )


def construct(problem: RoutingProblem) -> RoutePlan:
    """A plan by plain sequential cheapest insertion (the benchmark baseline, no search)."""
    started = time.perf_counter()
    states = technician_states(problem)
    planned, left_out = prefilter(problem, states)
    steps, _ = construct_steps(
        problem, states, planned, technicians=range(len(problem.technicians))
    )
    return build_plan(
        problem,
        states,
        steps,
        planned=planned,
        left_out=left_out,
        solver_seconds=time.perf_counter() - started,
        border_repair=False,
    )
