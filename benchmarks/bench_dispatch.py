"""Dispatch through its services: planning a territory's day and changing it, database included.

Run: ``.venv/bin/python -m benchmarks dispatch`` (``--quick`` for a smoke run); ``make bench
AREAS=dispatch``.

The territory is the simulator's Prairie Junction grown to 3,000 service points with 12
technicians, imported with the real fleet import into a fresh SQLite database; 300 work
orders (exchanges, non-comm investigations, tamper and high-bill visits, a few with
appointments) are created through the work-order service. Routing's own figures (Solomon
gaps, the 60-technician day, change costs against re-solves) are ``bench_routing``; this
module measures what dispatchers wait for:

1. **Optimize the day** through ``dispatch.service.plan_day`` (build the problem from the
   database, solve, check truck stock, store routes and move every order): wall time against
   ``routing.solve`` alone on the same problem with the same budget (the baseline), so the
   ratio is the service's overhead. KPIs of the stored plan are reported.
2. **Changes during the day** at 11:00 through ``dispatch.changes`` (load the stored plan,
   re-plan with ``routing.reoptimize``, store, move orders, audit, commit): median answer
   time of inserting an emergency, cancelling an order and reassigning one by hand, each
   against the same routing call on the already loaded day (the baseline).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import statistics
import time
from pathlib import Path

import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from benchmarks.harness import BenchContext, Figure, timed
from meterops.db import migrate
from meterops.db.engine import make_engine, make_session_factory, session_scope
from meterops.dispatch import changes, views
from meterops.dispatch import service as dispatch_service
from meterops.dispatch.plans import load_day, order_input
from meterops.dispatch.problem import seconds_from, stops_from_orders
from meterops.dispatch.service import Planner
from meterops.errors import ConflictError
from meterops.fleet import service as fleet_service
from meterops.fleet.parse import parse_fleet_csv
from meterops.fleet.programs import parse_programs_file
from meterops.fleet.spec import IMPORT_ORDER
from meterops.routing import GreatCircleTravel, MaxRuntime, solve
from meterops.routing import reoptimize as routing_reoptimize
from meterops.simulator import World, small_town
from meterops.simulator.fleetfiles import write_fleet_files
from meterops.timeutil import local_day_bounds_utc
from meterops.workorders import service as workorders_service
from meterops.workorders.schemas import OrderRequest
from meterops.workorders.service import WorkOrderPolicy
from meterops.workorders.types import WorkOrderType

ZONE = "America/Chicago"
DAY = dt.date(2026, 7, 10)  # a Friday
EVE = dt.datetime(2026, 7, 9, 22, 0, tzinfo=dt.UTC)  # 17:00 the evening before
ELEVEN = dt.datetime(2026, 7, 10, 16, 0, tzinfo=dt.UTC)  # 11:00 CDT
AREA = "dispatch"
MIX = (
    (WorkOrderType.EXCHANGE, 0.55),
    (WorkOrderType.NON_COMM_INVESTIGATION, 0.2),
    (WorkOrderType.TAMPER_INVESTIGATION, 0.1),
    (WorkOrderType.HIGH_BILL_INVESTIGATION, 0.1),
    (WorkOrderType.FIELD_DISCONNECT, 0.05),
)


def _territory(folder: Path, *, service_points: int, technicians: int) -> tuple[str, World]:
    scenario = small_town(seed=11, start=dt.date(2026, 7, 6), service_points=service_points)
    scenario = dataclasses.replace(
        scenario, territory=dataclasses.replace(scenario.territory, technicians=technicians)
    )
    world = World(scenario, keep_days=1)
    write_fleet_files(world, folder / "fleet", as_of=scenario.start)
    url = f"sqlite:///{folder / 'dispatch.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    factory = make_session_factory(engine)
    for kind in IMPORT_ORDER:
        name = "programs.yaml" if kind == "meter_programs" else f"{kind}.csv"
        data = (folder / "fleet" / name).read_bytes()
        with session_scope(factory) as session:
            if kind == "meter_programs":
                fleet_service.import_programs(
                    session, parse_programs_file(data, file=name), actor="bench", now=EVE
                )
            else:
                fleet_service.import_file(
                    session,
                    parse_fleet_csv(data, file=name),
                    actor="bench",
                    default_timezone=ZONE,
                    now=EVE,
                )
    engine.dispose()
    return url, world


def _orders(url: str, world: World, count: int, rng: np.random.Generator) -> list[str]:
    sites = world.territory.sites.count
    picks = rng.choice(sites, size=min(count, sites), replace=False)
    kinds = rng.choice(len(MIX), size=len(picks), p=[share for _, share in MIX])
    requests = []
    for k, meter in zip(kinds, picks, strict=True):
        fields: dict[str, object] = {
            "order_type": MIX[int(k)][0],
            "meter_serial": str(world.reported_serial[int(meter)]),
        }
        if rng.random() < 0.1:  # a customer appointment, two hours, between 08:00 and 14:00
            start = dt.datetime(2026, 7, 10, 13, 0, tzinfo=dt.UTC) + dt.timedelta(
                hours=int(rng.integers(0, 7))
            )
            fields["appointment_start_utc"] = start
            fields["appointment_end_utc"] = start + dt.timedelta(hours=2)
        requests.append(OrderRequest.model_validate(fields))
    policy = WorkOrderPolicy(utility_timezone=ZONE)
    engine = make_engine(url)
    with session_scope(make_session_factory(engine)) as session:
        result = workorders_service.create_from_verdicts(
            session, requests, actor="bench", now=EVE, policy=policy
        )
    engine.dispose()
    return result.created


def _planner(seconds: float) -> Planner:
    return Planner(travel=GreatCircleTravel(), utility_timezone=ZONE, stop=MaxRuntime(seconds))


def run(ctx: BenchContext) -> list[Figure]:
    """Plan a day and change it through the dispatch services on SQLite."""
    service_points = ctx.scale(3000, 600)
    technicians = ctx.scale(12, 4)
    n_orders = ctx.scale(300, 60)
    budget = ctx.scale(20, 3)
    changes_each = ctx.scale(5, 2)
    rng = np.random.default_rng(7)
    url, world = _territory(ctx.workdir, service_points=service_points, technicians=technicians)
    numbers = _orders(url, world, n_orders, rng)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    planner = _planner(budget)
    note = f"{technicians} technicians, {len(numbers)} orders, SQLite, solver budget {budget} s"

    with session_scope(factory) as session, timed() as elapsed:
        [row] = dispatch_service.plan_day(
            session, day=DAY, territory_code=None, planner=planner, actor="bench", now=EVE
        )
    plan_s = elapsed()
    with session_scope(factory) as session:
        [row] = dispatch_service.plan_rows(session, day=DAY, territory_code=None)
        day_end = local_day_bounds_utc(DAY, planner.zone)[1]
        loaded = load_day(session, row, travel=planner.travel, day_end_utc=day_end)
        [read] = views.day_plans(session, day=DAY, territory_code=None, utility_timezone=ZONE)
    with timed() as elapsed:
        solve(loaded.problem, stop=MaxRuntime(budget), seed=0)
    solve_s = elapsed()
    k = read.kpis
    figures = [
        Figure(
            AREA,
            "optimize the day (plan_day: build, solve, stock, store)",
            plan_s,
            "s",
            baseline=solve_s,
            baseline_name="routing.solve alone, same budget",
            note=note,
        ),
        Figure(
            AREA,
            "plan: orders served / stops per technician / drive-time share",
            100.0 * k.work_orders_served / max(k.work_orders, 1),
            "% served",
            note=(
                f"{k.work_orders_served}/{k.work_orders} orders in {k.orders_served} stops; "
                f"{k.stops_per_technician:.1f} stops/technician (max "
                f"{k.max_stops_per_technician}); drive-time share {k.drive_time_share:.1%}; "
                f"on-time share {k.on_time_share:.1%}; left out by reason "
                f"{k.left_out_by_reason}"
            ),
        ),
    ]
    with session_scope(factory) as session:
        dispatch_service.dispatch_day(session, day=DAY, territory_code=None, actor="bench", now=EVE)
    figures += _changes(factory, planner, world, numbers, rng, changes_each, note)
    engine.dispose()
    return figures


def _later_stops(factory: sessionmaker[Session], planner: Planner) -> list[tuple[str, str]]:
    """(order number, technician) of single-order stops that start after 12:00."""
    with session_scope(factory) as session:
        [read] = views.day_plans(session, day=DAY, territory_code=None, utility_timezone=ZONE)
    return [
        (v.orders[0].order_number, r.technician)
        for r in read.routes
        for v in r.visits
        if len(v.orders) == 1 and v.start_utc > ELEVEN + dt.timedelta(hours=1)
    ]


def _changes(
    factory: sessionmaker[Session],
    planner: Planner,
    world: World,
    numbers: list[str],
    rng: np.random.Generator,
    each: int,
    note: str,
) -> list[Figure]:
    sessions = factory
    service_ms: dict[str, list[float]] = {"insert": [], "cancel": [], "reassign": []}
    routing_ms: dict[str, list[float]] = {"insert": [], "cancel": [], "reassign": []}
    used = set()
    for i in range(each):
        candidates = _later_stops(factory, planner)
        number, holder = candidates[int(rng.integers(len(candidates)))]
        others = sorted({t for _, t in candidates if t != holder})
        # Routing alone on the loaded day (baseline), then the same change through dispatch.
        with session_scope(sessions) as session:
            [row] = dispatch_service.plan_rows(session, day=DAY, territory_code=None)
            day_end = local_day_bounds_utc(DAY, planner.zone)[1]
            loaded = load_day(session, row, travel=planner.travel, day_end_utc=day_end)
            now_s = seconds_from(row.day_start_utc, ELEVEN)
            key = next(
                k for k, m in loaded.orders.items() if any(o.order_number == number for o in m)
            )
            started = time.perf_counter()
            routing_reoptimize.cancel_order(
                loaded.problem,
                loaded.plan,
                order_id=key,
                now_s=now_s,
                seed=0,
                params=planner.replan,
            )
            routing_ms["cancel"].append(1000 * (time.perf_counter() - started))
            if others:
                started = time.perf_counter()
                with contextlib.suppress(ConflictError):  # a refused move is timed too
                    routing_reoptimize.move_order(
                        loaded.problem,
                        loaded.plan,
                        order_id=key,
                        technician_id=others[0],
                        now_s=now_s,
                        seed=0,
                        params=planner.replan,
                    )
                routing_ms["reassign"].append(1000 * (time.perf_counter() - started))
        if others:
            with session_scope(sessions) as session:
                started = time.perf_counter()
                try:
                    changes.reassign_order(
                        session,
                        number,
                        technician=others[0],
                        planner=planner,
                        actor="bench",
                        now=ELEVEN,
                    )
                except ConflictError:  # a refused move is timed too
                    session.rollback()
                service_ms["reassign"].append(1000 * (time.perf_counter() - started))
        candidates = [c for c in _later_stops(factory, planner) if c[0] not in used]
        gone = candidates[int(rng.integers(len(candidates)))][0]
        used.add(gone)
        with session_scope(sessions) as session:
            started = time.perf_counter()
            changes.cancel_order(
                session, gone, reason="bench", planner=planner, actor="bench", now=ELEVEN
            )
            service_ms["cancel"].append(1000 * (time.perf_counter() - started))
        serial = str(world.reported_serial[int(rng.integers(world.territory.sites.count))])
        with session_scope(sessions) as session:
            request = OrderRequest(
                order_type=WorkOrderType.FIELD_RECONNECT,
                meter_serial=serial,
                problem_code=f"bench-reconnect-{i}",
                priority=1,
            )
            emergency = workorders_service.create_order(
                session,
                request,
                actor="bench",
                now=ELEVEN,
                policy=WorkOrderPolicy(utility_timezone=ZONE),
            ).order_number
        with session_scope(sessions) as session:
            [row] = dispatch_service.plan_rows(session, day=DAY, territory_code=None)
            day_end = local_day_bounds_utc(DAY, planner.zone)[1]
            loaded = load_day(session, row, travel=planner.travel, day_end_utc=day_end)
            order = workorders_service.get_order(session, emergency)
            stop = stops_from_orders(
                [
                    order_input(
                        order,
                        stop_key=emergency,
                        day_start_utc=row.day_start_utc,
                        day_end_utc=day_end,
                        fixed_to=None,
                    )
                ]
            )[0]
            started = time.perf_counter()
            routing_reoptimize.insert_order(
                loaded.problem,
                loaded.plan,
                stop=stop,
                now_s=seconds_from(row.day_start_utc, ELEVEN),
                travel=planner.travel,
                seed=0,
                params=planner.replan,
            )
            routing_ms["insert"].append(1000 * (time.perf_counter() - started))
        with session_scope(sessions) as session:
            started = time.perf_counter()
            changes.insert_order(
                session, emergency, day=DAY, planner=planner, actor="bench", now=ELEVEN
            )
            service_ms["insert"].append(1000 * (time.perf_counter() - started))
    figures = []
    for what, label in (
        ("insert", "insert an emergency reconnect at 11:00"),
        ("cancel", "cancel an order at 11:00"),
        ("reassign", "reassign an order by hand at 11:00"),
    ):
        if not service_ms[what]:
            continue
        value = statistics.median(service_ms[what])
        figures.append(
            Figure(
                AREA,
                f"{label} (dispatch service, median of {len(service_ms[what])})",
                value,
                "ms",
                baseline=statistics.median(routing_ms[what]) if routing_ms[what] else None,
                baseline_name="routing.reoptimize alone on the loaded day",
                goal="<= 200 ms",
                met=value <= 200,
                note=note,
            )
        )
    return figures
