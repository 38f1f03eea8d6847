"""The technician API under load: 200 simulated technicians over loopback HTTP.

Run: ``.venv/bin/python -m benchmarks field`` (``--quick`` for a smoke run); ``make bench
AREAS=field``. Set ``METEROPS_BENCH_DATABASE_URL`` to a PostgreSQL URL (e.g. the one
``bash .ci/postgres.sh`` prints) to measure on PostgreSQL too; the run then makes and drops
a schema of its own in that database.

For each database: a simulated utility of 23 districts with 230 technicians, each with a user
account linked to them, and about 25 work orders per technician (created by the work-order
service, planned and dispatched by the dispatch service; the planner leaves about one
technician in ten without stops); the first 200 with a dispatched route are the simulated
technicians (see ``benchmarks/field_world.py``). The web app runs as ``meterops serve`` runs it
(one uvicorn process) on 127.0.0.1; every technician signs in through the sign-in form with a
client of their own and then repeats a visit loop with think time (``benchmarks/loadtest.py``;
drawn from 1-3 s, 2 s on average, as PERF-01 of ``reliability-tests.md`` models the field app,
so 200 technicians ask about 70 requests/s): the day's route, the next stop's order, a note
action with a fresh idempotency key and the CSRF header, and now and then a resend of an old
action, which must answer ``duplicate``.

The baseline, measured with the same signed-in clients in the same run just before, is
``GET /health`` under the same load (the same think time): what any signed-in request costs
(session lookup included), so the ratio is what the technician API adds. Every answer is
checked; an error is any unexpected status or body, a transport error or a timeout.

The server's CPU time per request (from ``/proc``) is printed too: unlike latency it does
not depend on what else the machine runs.
"""

from __future__ import annotations

import os
from pathlib import Path

from rich.console import Console

from benchmarks.field_world import FieldWorld, build_world, fresh_database
from benchmarks.harness import BenchContext, Figure
from benchmarks.loadtest import (
    FIELD_TODAY,
    LoadResult,
    Phase,
    Profile,
    Server,
    SimulatedTechnician,
    run_load,
)

AREA = "field"
GOAL_P99_MS = 300.0
GOAL_P50_MS = 50.0
THINK_S = (1.0, 3.0)
"""Think time between a technician's requests, drawn uniformly (PERF-01: 2 s). [s]"""
POSTGRES_ENV = "METEROPS_BENCH_DATABASE_URL"


def measure(
    folder: Path,
    *,
    technicians: int,
    duration_s: float,
    clients: int | None = None,
    postgres_url: str | None = None,
    think_s: tuple[float, float] = THINK_S,
    solve_seconds: float = 2.0,
) -> tuple[FieldWorld, LoadResult, LoadResult]:
    """Build a world, serve it and run the baseline and the technician loop on it.

    Args:
        folder: Scratch folder (database file, fleet files, server log).
        technicians: Technicians of the simulated utility.
        clients: How many of those with a route sign in and load the app (None: all).
        duration_s: Length of each measured phase. [s]
        postgres_url: Measure on PostgreSQL (a schema of its own) instead of SQLite.
        think_s: Think time between requests. [s]
        solve_seconds: Solver budget per district when planning the day. [s]

    Returns:
        The world, the baseline (``/health``) result and the technician API result.
    """
    with fresh_database(folder, postgres_url) as url:
        world = build_world(url, folder, technicians=technicians, solve_seconds=solve_seconds)
        logins = [SimulatedTechnician(t.username, t.password, t.orders) for t in world.technicians]
        logins = logins[:clients]
        with Server(url, folder / "data", log_file=folder / "server.log") as server:
            profile: Profile = "field" if server.has_route(FIELD_TODAY) else "interim"
            baseline, loaded = run_load(
                server.base_url,
                logins,
                phases=[Phase("health", duration_s), Phase(profile, duration_s)],
                day=world.day.isoformat(),
                think_s=think_s,
                server_pid=server.pid,
            )
    return world, baseline, loaded


def _figures(
    backend: str, world: FieldWorld, baseline: LoadResult, loaded: LoadResult
) -> list[Figure]:
    note = (
        f"{backend}, {loaded.clients} technicians signed in ({loaded.sign_in_errors} failed), "
        f"{world.orders_routed} orders on routes, {loaded.duration_s:.0f} s, profile "
        f"{loaded.profile}, {loaded.requests} requests, {loaded.duplicates_checked} repeated "
        f"idempotency keys; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    base = f"GET /health, same clients and think time ({backend})"
    p99 = loaded.percentile(99)
    figures = [
        Figure(
            AREA,
            f"technician API throughput ({backend})",
            loaded.requests_per_s,
            "requests/s",
            baseline=baseline.requests_per_s,
            baseline_name=base,
            note=note,
        ),
        Figure(
            AREA,
            f"technician API p50 latency ({backend})",
            loaded.percentile(50),
            "ms",
            baseline=baseline.percentile(50),
            baseline_name=base,
            goal=f"< {GOAL_P50_MS:.0f} ms (PERF-01)",
            met=loaded.percentile(50) < GOAL_P50_MS,
        ),
        Figure(
            AREA,
            f"technician API p95 latency ({backend})",
            loaded.percentile(95),
            "ms",
            baseline=baseline.percentile(95),
            baseline_name=base,
        ),
        Figure(
            AREA,
            f"technician API p99 latency ({backend})",
            p99,
            "ms",
            baseline=baseline.percentile(99),
            baseline_name=base,
            goal=f"< {GOAL_P99_MS:.0f} ms",
            met=p99 < GOAL_P99_MS,
        ),
        Figure(
            AREA,
            f"technician API error rate ({backend})",
            100.0 * loaded.error_rate,
            "%",
            baseline=100.0 * baseline.error_rate,
            baseline_name=base,
            goal="0 errors",
            met=loaded.errors == 0 and loaded.sign_in_errors == 0 and loaded.lost_writes == 0,
            note=(
                f"{loaded.errors} of {loaded.requests} requests failed; "
                f"{loaded.lost_writes} of {loaded.writes_checked} acknowledged actions resent "
                "afterwards were not stored"
            ),
        ),
    ]
    return [*figures, *_cpu_figures(backend, baseline, loaded)]


def _cpu_figures(backend: str, baseline: LoadResult, loaded: LoadResult) -> list[Figure]:
    cpu = loaded.server_cpu_ms_per_request
    if cpu is None:
        return []
    return [
        Figure(
            AREA,
            f"server CPU per technician API request ({backend})",
            cpu,
            "ms",
            baseline=baseline.server_cpu_ms_per_request,
            baseline_name=f"GET /health, same clients ({backend})",
            note="user + system CPU of the server process over the phase / requests",
        )
    ]


def run(ctx: BenchContext) -> list[Figure]:
    """The load test on SQLite, and on PostgreSQL when ``METEROPS_BENCH_DATABASE_URL`` is set."""
    clients = ctx.scale(200, 40)
    technicians = ctx.scale(230, 46)
    duration_s = float(ctx.scale(20, 6))
    console = Console()
    backends: list[tuple[str, str | None]] = [("SQLite", None)]
    postgres_url = ctx.extras.get("postgres_url") or os.environ.get(POSTGRES_ENV)
    if postgres_url:
        backends.append(("PostgreSQL", str(postgres_url)))
    else:
        console.print(f"  (PostgreSQL skipped: set {POSTGRES_ENV} to measure it too)")
    figures: list[Figure] = []
    for backend, url in backends:
        folder = ctx.workdir / backend.lower()
        folder.mkdir()
        world, baseline, loaded = measure(
            folder,
            technicians=technicians,
            duration_s=duration_s,
            clients=clients,
            postgres_url=url,
        )
        console.print(
            f"  {backend}: world of {len(world.technicians)} technicians, "
            f"{world.orders_routed} routed orders, built in {world.build_s:.0f} s"
        )
        console.print(baseline.table(), markup=False, highlight=False)
        console.print(loaded.table(), markup=False, highlight=False)
        figures += _figures(backend, world, baseline, loaded)
    return figures
