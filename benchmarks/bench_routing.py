"""Routing quality and speed: Solomon VRPTW, a 60-technician day, changes during the day.

Run: ``.venv/bin/python -m benchmarks routing`` (``--quick`` for a one-minute smoke run).

1. **Solomon** (56 instances, 100 customers): ``solve`` with a 9.3 s budget per instance, two
   instances at a time on the two cores (each in its own process, one core each). Every plan
   is checked and priced by this module's own matrices built from the coordinates, not the
   solver's. The best-known costs use the DIMACS convention (each arc's Euclidean distance
   truncated to one decimal; the ``*.sol`` routes cost exactly their figure that way and 0.2-
   0.6 % more with exact distances), so the gap is measured in that convention; the exact
   Euclidean price of the same routes is printed too. Baseline: plain cheapest insertion.
2. **Technician day**: a seeded synthetic day of 60 technicians and 1,500 orders with skills,
   appointment windows, lunch breaks and priorities over a territory 50 km across, solved in
   55 s on two processes (territories). Baselines: cheapest insertion, and one PyVRP search
   over the whole day with the same budget (why the day is split).
3. **Changes during the day** at 11:00 on that plan: insert an emergency reconnect, cancel an
   order, move an order to a nearby technician (timed over several changes each), and the
   cost of the changed plan against a full re-solve of the changed day (55 s, from scratch).
   Costs leave out the penalties of orders no plan can serve. Two solves of one day differ by
   themselves, so the same comparison is made with no change at all (the spread the change
   figures include), and a technician is sent home (answer time, orders taken over).
"""

from __future__ import annotations

import math
import os
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from benchmarks.harness import BenchContext, Figure
from meterops.errors import ConflictError
from meterops.routing import (
    GreatCircleTravel,
    LeaveOutReason,
    Location,
    MaxRuntime,
    RoutePlan,
    RoutingProblem,
    Stop,
    TimeWindow,
    check_plan,
    construct,
    plan_distance,
    plan_kpis,
    solve,
)
from meterops.routing.reoptimize import (
    Replan,
    cancel_order,
    insert_order,
    move_order,
    pin_progress,
    remove_technician,
)
from meterops.routing.solomon import read_solomon, read_solomon_solution
from meterops.routing.solve import SolveParams
from meterops.routing.synthetic import technician_day

AREA = "routing"
console = Console(width=150)


# ---------------------------------------------------------------------------------------
# 1. Solomon
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _SolomonRun:
    name: str
    bks: float
    bks_vehicles: int
    plan: RoutePlan
    seconds: float
    baseline: RoutePlan
    baseline_seconds: float


def _solomon_job(job: tuple[str, float, int]) -> _SolomonRun:
    path, budget, seed = job
    problem = read_solomon(path)
    best = read_solomon_solution(Path(path).with_suffix(".sol"))
    started = time.perf_counter()
    plan = solve(problem, stop=MaxRuntime(budget), seed=seed)
    seconds = time.perf_counter() - started
    started = time.perf_counter()
    baseline = construct(problem)
    baseline_seconds = time.perf_counter() - started
    return _SolomonRun(
        Path(path).stem,
        best.cost,
        len(best.routes),
        plan,
        seconds,
        baseline,
        baseline_seconds,
    )


def _own_matrices(problem: RoutingProblem) -> tuple[np.ndarray, np.ndarray]:
    """DIMACS (truncated to 0.1) and exact Euclidean matrices from the coordinates."""
    xy = np.array([[p.x, p.y] for p in problem.locations])
    exact = np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(-1))
    return np.floor(exact * 10 + 1e-9) / 10, exact


def _timed(
    problem: RoutingProblem, routes: tuple[tuple[str, ...], ...], matrix: np.ndarray
) -> tuple[float, bool]:
    """Cost and punctuality of routes of customer ids (the best-known ones), timed here."""
    depot = problem.start_locations[0]
    cost, on_time = 0.0, True
    for sequence in routes:
        here, clock = depot, 0.0
        for order_id in sequence:
            index = problem.stop_index(order_id)
            stop, there = problem.stops[index], problem.stop_locations[index]
            cost += float(matrix[here, there])
            start = max(clock + float(matrix[here, there]), stop.windows[0].start_s)
            on_time &= start <= stop.windows[0].end_s + 1e-9
            here, clock = there, start + stop.service_s
        cost += float(matrix[here, depot])
        on_time &= clock + float(matrix[here, depot]) <= problem.technicians[0].shift_end_s + 1e-9
    return cost, on_time


def _bench_solomon(ctx: BenchContext) -> list[Figure]:
    if ctx.shared_data is None:
        console.print("[yellow]shared data not found: Solomon figures skipped[/]")
        return []
    folder = ctx.shared_data / "solomon"
    paths = sorted(folder.glob("*.txt"))
    budget = 9.3
    if ctx.quick:
        paths = [p for p in paths if p.stem in {"C101", "R101", "RC105", "R211"}]
        budget = 2.0
    jobs = [(str(p), budget, 1) for p in paths]
    with ProcessPoolExecutor(max_workers=2, mp_context=get_context("fork")) as pool:
        runs = list(pool.map(_solomon_job, jobs))

    table = Table(title=f"Solomon VRPTW, {budget:g} s per instance (gap vs best known, DIMACS)")
    for column in (
        "instance",
        "vehicles (BKS)",
        "cost",
        "BKS",
        "gap %",
        "exact-Euclidean cost",
        "seconds",
        "feasible",
        "insertion cost",
        "insertion gap %",
    ):
        table.add_column(column, justify="right")
    gaps, base_gaps, exact_gaps, seconds, base_seconds = [], [], [], [], []
    feasible = base_feasible = exact_feasible = bks_late = 0
    bks_exact_gaps: list[float] = []
    for run in runs:
        problem = read_solomon(folder / f"{run.name}.txt")
        dimacs, exact = _own_matrices(problem)
        violations = check_plan(problem, run.plan, duration_s=dimacs)
        base_violations = check_plan(problem, run.baseline, duration_s=dimacs)
        cost = plan_distance(problem, run.plan, dimacs)
        exact_cost = plan_distance(problem, run.plan, exact)
        base_cost = plan_distance(problem, run.baseline, dimacs)
        gap = 100 * (cost - run.bks) / run.bks
        base_gap = 100 * (base_cost - run.bks) / run.bks
        gaps.append(gap)
        base_gaps.append(base_gap)
        exact_gaps.append(100 * (exact_cost - run.bks) / run.bks)
        seconds.append(run.seconds)
        base_seconds.append(run.baseline_seconds)
        feasible += not violations
        base_feasible += not base_violations
        exact_feasible += not check_plan(problem, run.plan, duration_s=exact)
        bks_routes = read_solomon_solution(folder / f"{run.name}.sol").routes
        bks_exact, bks_on_time = _timed(problem, bks_routes, exact)
        bks_exact_gaps.append(100 * (bks_exact - run.bks) / run.bks)
        bks_late += not bks_on_time
        table.add_row(
            run.name,
            f"{len(run.plan.routes)} ({run.bks_vehicles})",
            f"{cost:.1f}",
            f"{run.bks:.1f}",
            f"{gap:+.2f}",
            f"{exact_cost:.1f}",
            f"{run.seconds:.1f}",
            "yes" if not violations else f"NO ({len(violations)})",
            f"{base_cost:.1f}",
            f"{base_gap:+.1f}",
        )
    console.print(table)
    n = len(runs)
    note = (
        f"{n} instances, {budget:g} s budget, 2 at a time on 2 cores; PyVRP 0.14 ILS; "
        f"load average {os.getloadavg()[0]:.1f} at the end"
    )
    return [
        Figure(
            AREA,
            "Solomon mean gap to best known (DIMACS distances)",
            statistics.fmean(gaps),
            "%",
            statistics.fmean(base_gaps),
            "cheapest insertion",
            "<= 0.5 %",
            statistics.fmean(gaps) <= 0.5,
            note,
        ),
        Figure(
            AREA,
            "Solomon worst gap to best known",
            max(gaps),
            "%",
            max(base_gaps),
            "cheapest insertion",
            "<= 2 %",
            max(gaps) <= 2.0,
            note,
        ),
        Figure(
            AREA,
            "Solomon slowest instance (solve + checks of the plan)",
            max(seconds),
            "s",
            max(base_seconds),
            "cheapest insertion",
            "<= 10 s",
            max(seconds) <= 10.0,
            note,
        ),
        Figure(
            AREA,
            "Solomon plans passing the independent checker",
            feasible,
            f"of {n}",
            base_feasible,
            "cheapest insertion",
            f"{n} of {n}",
            feasible == n,
            "time windows, capacity, shift (depot due date), each customer once",
        ),
        Figure(
            AREA,
            "Solomon mean gap, same routes priced with exact Euclidean distances",
            statistics.fmean(exact_gaps),
            "%",
            statistics.fmean(base_gaps),
            "cheapest insertion (DIMACS)",
            None,
            None,
            f"not the BKS convention; {exact_feasible} of {n} plans also keep every window "
            f"with exact distances; the best-known routes priced the same way cost "
            f"{statistics.fmean(bks_exact_gaps):.2f} % more and {bks_late} of {n} arrive late",
        ),
    ]


# ---------------------------------------------------------------------------------------
# 2. A technician day
# ---------------------------------------------------------------------------------------


def _describe(problem: RoutingProblem, plan: RoutePlan) -> str:
    k = plan_kpis(problem, plan)
    reasons = ", ".join(f"{n} {r}" for r, n in k.left_out_by_reason.items()) or "none"
    return (
        f"left out {k.orders_left_out} ({100 * k.left_out_share:.1f} %: {reasons}); "
        f"drive {k.drive_s / 3600:.1f} h = {100 * k.drive_time_share:.1f} % of shifts; "
        f"{k.stops_per_technician:.1f} stops per technician ({k.technicians_used} used)"
    )


def _bench_day(ctx: BenchContext) -> tuple[list[Figure], RoutingProblem, RoutePlan, float]:
    technicians = ctx.scale(60, 12)
    orders = ctx.scale(1500, 300)
    budget = 55.0 if not ctx.quick else 6.0
    problem = technician_day(seed=2024, technicians=technicians, orders=orders)
    started = time.perf_counter()
    plan = solve(problem, stop=MaxRuntime(budget), seed=7, workers=2)
    seconds = time.perf_counter() - started
    started = time.perf_counter()
    baseline = construct(problem)
    baseline_seconds = time.perf_counter() - started
    violations = check_plan(problem, plan)
    base_violations = check_plan(problem, baseline)
    kpis, base = plan_kpis(problem, plan), plan_kpis(problem, baseline)
    console.print(f"day, solver:     {_describe(problem, plan)}; {plan.notes}")
    console.print(f"day, insertion:  {_describe(problem, baseline)}")
    size = f"{technicians} technicians, {orders} orders"
    figures = [
        Figure(
            AREA,
            f"Day of {size}: plan time (2 processes)",
            seconds,
            "s",
            baseline_seconds,
            "cheapest insertion",
            "<= 60 s",
            seconds <= 60.0,
            f"{budget:g} s search budget; {'; '.join(plan.notes)}; "
            f"load average {os.getloadavg()[0]:.1f}",
        ),
        Figure(
            AREA,
            f"Day of {size}: rule violations (independent checker)",
            len(violations),
            "violations",
            len(base_violations),
            "cheapest insertion",
            "0",
            not violations,
            "skills, windows, breaks, shifts, max stops, each order once",
        ),
        Figure(
            AREA,
            f"Day of {size}: cost (drive time + leave-out penalties)",
            kpis.cost,
            "s",
            base.cost,
            "cheapest insertion",
            None,
            None,
            _describe(problem, plan),
        ),
        Figure(
            AREA,
            f"Day of {size}: drive time",
            kpis.drive_s / 3600,
            "h",
            base.drive_s / 3600,
            "cheapest insertion",
            None,
            None,
            f"{100 * kpis.drive_time_share:.1f} % of shift time vs "
            f"{100 * base.drive_time_share:.1f} % for insertion",
        ),
        Figure(
            AREA,
            f"Day of {size}: orders left out",
            100 * kpis.left_out_share,
            "%",
            100 * base.left_out_share,
            "cheapest insertion",
            None,
            None,
            f"by reason: {kpis.left_out_by_reason}",
        ),
        Figure(
            AREA,
            f"Day of {size}: stops per technician",
            kpis.stops_per_technician,
            "stops",
            base.stops_per_technician,
            "cheapest insertion",
            None,
            None,
            f"max {kpis.max_stops_per_technician}; on-time share {kpis.on_time_share:.3f}",
        ),
    ]
    if not ctx.quick:
        started = time.perf_counter()
        whole = solve(
            problem,
            stop=MaxRuntime(budget),
            seed=7,
            params=SolveParams(max_part_stops=10**6),
        )
        whole_seconds = time.perf_counter() - started
        whole_kpis = plan_kpis(problem, whole)
        figures.append(
            Figure(
                AREA,
                f"Day of {size}: cost with territories vs one search",
                kpis.cost,
                "s",
                whole_kpis.cost,
                "one PyVRP search, same budget",
                None,
                None,
                f"one search: {whole_seconds:.0f} s, {_describe(problem, whole)}",
            )
        )
    return figures, problem, plan, budget


# ---------------------------------------------------------------------------------------
# 3. Changes during the day
# ---------------------------------------------------------------------------------------


def _emergency(problem: RoutingProblem, rng: np.random.Generator, now: float, k: int) -> Stop:
    anchor = problem.stops[int(rng.integers(len(problem.stops)))].location
    where = Location(anchor.x + float(rng.normal(0, 0.01)), anchor.y + float(rng.normal(0, 0.01)))
    return Stop(
        order_id=f"RECONNECT-{k}",
        location=where,
        service_s=900.0,
        windows=(TimeWindow(now, now + 3 * 3600),),
        skills=frozenset({"residential"}),
        priority=1,
    )


def _bench_changes(
    ctx: BenchContext, problem: RoutingProblem, plan: RoutePlan, budget: float
) -> list[Figure]:
    now = 11 * 3600.0
    rng = np.random.default_rng(11)
    repeats = ctx.scale(12, 4)
    unstarted = [
        (r.technician_id, v.order_id) for r in plan.routes for v in r.visits if v.start_s > now
    ]
    # Warm-up: the first change imports the solver and fills caches.
    insert_order(
        problem,
        plan,
        stop=_emergency(problem, rng, now, 0),
        now_s=now,
        travel=GreatCircleTravel(),
        seed=0,
    )
    results: dict[str, list[Replan]] = {"insert": [], "cancel": [], "move": []}
    for k in range(repeats):
        stop = _emergency(problem, rng, now, k + 1)
        results["insert"].append(
            insert_order(problem, plan, stop=stop, now_s=now, travel=GreatCircleTravel(), seed=k)
        )
        _, order_id = unstarted[int(rng.integers(len(unstarted)))]
        results["cancel"].append(cancel_order(problem, plan, order_id=order_id, now_s=now, seed=k))
        for _attempt in range(20):
            holder, order_id = unstarted[int(rng.integers(len(unstarted)))]
            target = _nearby_colleague(problem, plan, holder, order_id)
            if target is None:
                continue
            try:
                moved = move_order(
                    problem, plan, order_id=order_id, technician_id=target, now_s=now, seed=k
                )
            except ConflictError:  # the colleague has no room for it: try another order
                continue
            results["move"].append(moved)
            break
    figures: list[Figure] = [_noise_floor(problem, plan, now=now, budget=budget)]
    figures.append(_send_home(problem, plan, now=now))
    for kind, replans in results.items():
        if not replans:
            continue
        millis = sorted(1000 * r.seconds for r in replans)
        bad = sum(bool(check_plan(r.problem, r.plan)) for r in replans)
        first = replans[0]
        started = time.perf_counter()
        fresh = solve(first.problem, stop=MaxRuntime(budget), seed=5, workers=2)
        fresh_seconds = time.perf_counter() - started
        changed, resolved = plan_kpis(first.problem, first.plan), plan_kpis(first.problem, fresh)
        # Orders nobody can serve cost the same in every plan; leave them out of the ratio.
        fixed = resolved.cost - _controllable(first.problem, fresh)
        excess = 100 * (changed.cost - resolved.cost) / (resolved.cost - fixed)
        p90 = millis[min(len(millis) - 1, math.ceil(0.9 * len(millis)) - 1)]
        figures.append(
            Figure(
                AREA,
                f"Change during the day ({kind} one order): answer time, 90th percentile",
                p90,
                "ms",
                1000 * fresh_seconds,
                "full re-solve",
                "<= 200 ms",
                p90 <= 200.0,
                f"{len(millis)} changes at 11:00; median {statistics.median(millis):.0f} ms, "
                f"max {millis[-1]:.0f} ms; {bad} changed plans with violations",
            )
        )
        figures.append(
            Figure(
                AREA,
                f"Change during the day ({kind} one order): cost vs full re-solve",
                excess,
                "%",
                0.0,
                "full re-solve of the changed day",
                "<= 1 %",
                excess <= 1.0,
                f"cost {changed.cost:,.0f} vs {resolved.cost:,.0f} s, without {fixed:,.0f} s of "
                f"penalties no plan avoids; drive {changed.drive_s / 3600:.1f} vs "
                f"{resolved.drive_s / 3600:.1f} h; left out {changed.orders_left_out} vs "
                f"{resolved.orders_left_out}; re-solve {budget:g} s from scratch, pins kept",
            )
        )
    return figures


def _controllable(problem: RoutingProblem, plan: RoutePlan) -> float:
    """Cost without the penalties of orders no plan can serve (the same in every plan)."""
    fixed = sum(
        problem.penalty(problem.stop_index(o.order_id))
        for o in plan.left_out
        if o.reason is not LeaveOutReason.NOT_WORTH_SERVING
    )
    return plan_kpis(problem, plan).cost - fixed


def _noise_floor(problem: RoutingProblem, plan: RoutePlan, *, now: float, budget: float) -> Figure:
    """How far the current plan is from a full re-solve of the same day, with no change."""
    pinned = pin_progress(problem, plan, now_s=now)
    assert check_plan(pinned, plan) == []
    fresh = solve(pinned, stop=MaxRuntime(budget), seed=5, workers=2)
    current, resolved = _controllable(pinned, plan), _controllable(pinned, fresh)
    return Figure(
        AREA,
        "Day at 11:00 with no change: current plan vs full re-solve",
        100 * (current - resolved) / resolved,
        "%",
        0.0,
        "full re-solve of the same day",
        None,
        None,
        "two solves of one day with different seeds: the spread that the change figures "
        f"below include; drive {plan_kpis(pinned, plan).drive_s / 3600:.1f} vs "
        f"{plan_kpis(pinned, fresh).drive_s / 3600:.1f} h, left out {len(plan.left_out)} vs "
        f"{len(fresh.left_out)}",
    )


def _send_home(problem: RoutingProblem, plan: RoutePlan, *, now: float) -> Figure:
    """The busiest technician goes home at 11:00: their remaining orders are spread."""
    leaver = max(plan.routes, key=lambda r: sum(v.start_s > now for v in r.visits))
    handed = [v.order_id for v in leaver.visits if v.start_s > now]
    started = time.perf_counter()
    result = remove_technician(problem, plan, technician_id=leaver.technician_id, now_s=now, seed=3)
    seconds = time.perf_counter() - started
    baseline_started = time.perf_counter()
    construct(result.problem)
    baseline_seconds = time.perf_counter() - baseline_started
    served = result.plan.served_order_ids()
    taken = sum(order_id in served for order_id in handed)
    violations = len(check_plan(result.problem, result.plan))
    return Figure(
        AREA,
        "A technician goes home at 11:00: answer time",
        1000 * seconds,
        "ms",
        1000 * baseline_seconds,
        "cheapest insertion of the whole day",
        None,
        None,
        f"{taken} of {len(handed)} unstarted orders taken over by "
        f"{len(result.changed_technicians) - 1} colleagues; {violations} violations",
    )


def _nearby_colleague(
    problem: RoutingProblem, plan: RoutePlan, holder: str, order_id: str
) -> str | None:
    stop_index = problem.stop_index(order_id)
    here = problem.stop_locations[stop_index]
    best: tuple[float, str] | None = None
    for route in plan.routes:
        technician = problem.technicians[problem.technician_index(route.technician_id)]
        if (
            route.technician_id == holder
            or not problem.stops[stop_index].skills <= technician.skills
        ):
            continue
        gap = min(
            (float(problem.duration_s[v.location_index, here]) for v in route.visits),
            default=math.inf,
        )
        if best is None or gap < best[0]:
            best = (gap, route.technician_id)
    return best[1] if best else None


def run(ctx: BenchContext) -> list[Figure]:
    figures = _bench_solomon(ctx)
    day_figures, problem, plan, budget = _bench_day(ctx)
    figures += day_figures
    figures += _bench_changes(ctx, problem, plan, budget)
    return figures
