"""``meterops demo``: build a simulated utility through the real import paths and serve it.

The demo lives in its own folder (``<data dir>/demo``) with its own SQLite database and read
store, so it never touches a configured production database. It simulates the ``small_town``
scenario for the last ``--days`` days (inside the late-data horizon), imports the fleet files
with ``fleet import`` and the head-end files with ``ingest`` — the same code a utility's real
files go through — then starts the web app.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from meterops.cli import context

if TYPE_CHECKING:
    from fastapi import FastAPI
    from sqlalchemy.orm import Session, sessionmaker

    from meterops.commands.dispatcher import Dispatcher
    from meterops.headend.simulated import Clock, SimulatedHeadEnd
from meterops.config import Settings

_LOG = logging.getLogger(__name__)

_MARKER = "demo.json"
_CREDENTIALS = "credentials.json"
_SECOND_FACTORS = "second_factors.json"
_APPROVERS = ("super", "admin")
_DEMO_USERS = (
    ("tech", "Terry Tech", "technician"),
    ("dispatch", "Dana Dispatch", "dispatcher"),
    ("analyst", "Alex Analyst", "analyst"),
    ("super", "Sam Supervisor", "supervisor"),
    ("admin", "Ada Admin", "admin"),
)


def _create_users(settings: Settings, folder: Path) -> None:
    """One user per role with access to every territory; passwords generated, kept 0600."""
    import secrets

    from sqlalchemy import select

    from meterops.auth import service as auth_service
    from meterops.db.engine import make_engine, make_session_factory, session_scope
    from meterops.models.org import Role, Territory

    engine = make_engine(settings.database_url)
    credentials: dict[str, str] = {}
    with session_scope(make_session_factory(engine)) as session:
        codes = list(session.scalars(select(Territory.code)))
        for username, name, role in _DEMO_USERS:
            password = secrets.token_urlsafe(12)
            auth_service.create_user(
                session,
                username=username,
                display_name=name,
                role=Role(role),
                password=password,
                territory_codes=codes,
                actor="demo",
            )
            credentials[username] = password
        factors = {name: _enrol(session, name) for name in _APPROVERS}
    engine.dispose()
    path = folder / _CREDENTIALS
    path.write_text(json.dumps(credentials, indent=2))
    path.chmod(0o600)
    path = folder / _SECOND_FACTORS
    path.write_text(json.dumps(factors, indent=2))
    path.chmod(0o600)


def _enrol(session: Session, username: str) -> dict[str, str]:
    """Give a demo approver a TOTP second factor, confirmed with the previous step's code.

    (A real enrolment asks the person for a code, ``meterops users mfa-enroll``; the demo
    confirms it itself so the current code from an authenticator app still works once.)
    """
    from meterops.auth import service as auth_service
    from meterops.auth import totp
    from meterops.timeutil import utc_now

    now = utc_now()
    enrolment = auth_service.begin_mfa_enrolment(session, username=username, actor="demo", now=now)
    auth_service.confirm_mfa_enrolment(
        session,
        username=username,
        code=totp.code_at(enrolment.secret, now - dt.timedelta(seconds=totp.STEP_S)),
        actor="demo",
        now=now,
        policy=auth_service.SessionPolicy(),
        client_address="demo",
    )
    return {"secret": enrolment.secret, "uri": enrolment.uri}


def _print_credentials(folder: Path) -> None:
    path = folder / _CREDENTIALS
    if not path.exists():
        return
    credentials = json.loads(path.read_text())
    roles = {username: role for username, _, role in _DEMO_USERS}
    context.console.print("Sign in as (user name / password, kept in " + str(path) + "):")
    for username, password in credentials.items():
        context.console.print(f"    {roles.get(username, ''):<11} {username:<9} {password}")
    path = folder / _SECOND_FACTORS
    if not path.exists():
        return
    context.console.print(
        "Approving held remote commands needs a code from an authenticator app: add these "
        "(otpauth URI or secret) to one, then confirm a code at /step-up when asked:"
    )
    for username, factor in json.loads(path.read_text()).items():
        context.console.print(f"    {username:<9} secret {factor['secret']}", soft_wrap=True)
        context.console.print(f"    {'':<9} {factor['uri']}", soft_wrap=True, markup=False)


def _build(settings: Settings, files: Path, *, seed: int, days: int) -> None:
    from meterops.db import migrate
    from meterops.db.engine import make_engine, make_session_factory, session_scope
    from meterops.fleet import service as fleet_service
    from meterops.fleet.parse import parse_fleet_csv
    from meterops.fleet.programs import parse_programs_file
    from meterops.fleet.spec import IMPORT_ORDER
    from meterops.ingest import service as ingest_service
    from meterops.reads.store import ReadStore
    from meterops.simulator.output import write_simulation
    from meterops.simulator.scenarios import small_town
    from meterops.simulator.world import World
    from meterops.timeutil import utc_now

    today = dt.datetime.now(settings.zone).date()
    scenario = small_town(seed=seed, start=today - dt.timedelta(days=days))
    console = context.console
    console.print(
        f"[bold]1/6[/] simulating {scenario.territory.utility_name}, "
        f"{days} days from {scenario.start} (seed {seed}) …"
    )
    world = World(scenario, keep_days=1)
    with context.progress() as bar:
        task = bar.add_task("simulating days", total=days)
        summary = write_simulation(world, files, days=days, on_day=lambda _: bar.advance(task))
    console.print(
        f"    {summary.interval_reads:,} interval reads, {summary.events:,} events in "
        f"{len(summary.files):,} files"
    )

    engine = make_engine(settings.database_url)
    migrate.upgrade(engine)
    sessions = make_session_factory(engine)
    console.print("[bold]2/6[/] importing the fleet files (meterops fleet import) …")
    fleet_dir = files / "fleet"
    for kind in IMPORT_ORDER:
        name = "programs.yaml" if kind == "meter_programs" else f"{kind}.csv"
        data = (fleet_dir / name).read_bytes()
        with session_scope(sessions) as session:
            if kind == "meter_programs":
                report = fleet_service.import_programs(
                    session, parse_programs_file(data, file=name), actor="demo", now=utc_now()
                )
            else:
                report = fleet_service.import_file(
                    session,
                    parse_fleet_csv(data, file=name),
                    actor="demo",
                    default_timezone=settings.utility_timezone,
                    now=utc_now(),
                )
        console.print(f"    {name}: {report.created:,} created")

    console.print("[bold]3/6[/] ingesting the head-end files (meterops ingest) …")
    headend = sorted(p for p in (files / "headend").rglob("*") if p.is_file())
    options = ingest_service.IngestOptions(
        zone=settings.zone,
        late_data_horizon_days=settings.late_data_horizon_days,
        future_tolerance_s=settings.future_tolerance_s,
        actor="demo",
    )
    with context.progress() as bar:
        task = bar.add_task("ingesting files", total=len(headend))
        reports = ingest_service.ingest_files(
            sessions,
            ReadStore(settings.reads_uri),
            headend,
            options=options,
            clock=utc_now,
            on_file=lambda _: bar.advance(task),
        )
    accepted = sum(r.counts.accepted for r in reports)
    held = sum(r.counts.quarantined for r in reports)
    refused = [r.file_name for r in reports if r.refused]
    console.print(
        f"    {len(reports):,} files: {accepted:,} rows stored, {held:,} held in "
        f"quarantine (e.g. a meter the back office does not know)"
        + (f"; refused: {refused}" if refused else "")
    )
    _decide(settings, sessions, first_day=scenario.start, last_day=today - dt.timedelta(days=1))
    engine.dispose()


def _decide(
    settings: Settings,
    sessions: sessionmaker[Session],
    *,
    first_day: dt.date,
    last_day: dt.date,
) -> None:
    """VEE over the simulated days, diagnostics with work orders, tomorrow's routes planned."""
    from meterops.db.engine import session_scope
    from meterops.diagnostics import service as diagnostics_service
    from meterops.dispatch import service as dispatch_service
    from meterops.dispatch import wiring
    from meterops.reads.store import ReadStore
    from meterops.timeutil import utc_now
    from meterops.vee.service import run_vee

    console = context.console
    store = ReadStore(settings.reads_uri)
    console.print("[bold]4/6[/] validating and estimating the reads (meterops vee run) …")
    with context.progress() as bar, session_scope(sessions) as session:
        task = bar.add_task("validating meters", total=None)
        vee = run_vee(
            session,
            store,
            first_day=first_day,
            last_day=last_day,
            zone=settings.zone,
            now=utc_now(),
            actor="demo",
            on_group=lambda done, total: bar.update(task, completed=done, total=total),
        )
    estimated = sum(count for _, count in vee.report.estimates)
    console.print(
        f"    {vee.reads_validated:,} reads validated, {vee.flag_rows_written:,} flagged, "
        f"{estimated:,} intervals estimated"
    )
    console.print("[bold]5/6[/] diagnosing exceptions (meterops diagnose run --work-orders) …")
    options = diagnostics_service.RunOptions(
        zone=settings.utility_timezone,
        create_work_orders=True,
        workorder_policy=wiring.policy(settings),
    )
    with session_scope(sessions) as session:
        found = diagnostics_service.run(
            session, store, as_of_utc=utc_now(), options=options, actor="demo", now=utc_now()
        )
    console.print(
        f"    {found.opened:,} exceptions with verdicts; {found.orders_created:,} work orders"
    )
    tomorrow = dt.datetime.now(settings.zone).date() + dt.timedelta(days=1)
    console.print(f"[bold]6/6[/] planning the technicians' routes for {tomorrow} …")
    with session_scope(sessions) as session:
        plans = dispatch_service.plan_day(
            session,
            day=tomorrow,
            territory_code=None,
            planner=wiring.planner(settings, seconds=10),
            actor="demo",
            now=utc_now(),
        )
    console.print(f"    {len(plans)} day plan(s); open /dispatch?date={tomorrow} to see them")


def demo_head_end(
    *, seed: int, days: int, built_on: dt.date, clock: Clock | None = None, speed: float = 10.0
) -> SimulatedHeadEnd:
    """The simulated head-end of the demo's world (the world the demo's files came from).

    Args:
        seed: The demo's seed.
        days: Days of history the demo simulated.
        built_on: Local day the demo was built (its world starts ``days`` before).
        clock: Source of simulated "now" (default: the wall clock from now, times ``speed``).
        speed: Simulated seconds per real second of the default clock.

    Returns:
        The head-end (meters answer pings and reads as the world's mesh and faults allow).
    """
    from meterops.headend.simulated import SimulatedHeadEnd, WallClock
    from meterops.simulator.scenarios import small_town
    from meterops.simulator.world import World

    scenario = small_town(seed=seed, start=built_on - dt.timedelta(days=days))
    world = World(scenario, keep_days=2)
    return SimulatedHeadEnd(world, clock=clock or WallClock(dt.datetime.now(dt.UTC), speed=speed))


class DemoDispatcher:
    """Runs the remote-commands outbox dispatcher in a background thread of the demo.

    Args:
        dispatcher: The dispatcher (its session factory, head-end and policy).
        interval_s: Pause between cycles. [s]
    """

    def __init__(self, dispatcher: Dispatcher, *, interval_s: float = 0.5) -> None:
        self.dispatcher = dispatcher
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-dispatcher", daemon=True)

    def cycle(self) -> None:
        """One dispatch cycle (errors are logged; the next cycle retries)."""
        try:
            self.dispatcher.cycle()
        except Exception:  # noqa: BLE001 - the background loop must outlive one bad cycle
            _LOG.exception("demo dispatcher cycle failed; retrying")

    def _run(self) -> None:
        while not self._stop.is_set():
            self.cycle()
            self._stop.wait(self.interval_s)

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread (waits for the cycle under way)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)


def demo_app(
    settings: Settings,
    *,
    seed: int,
    days: int,
    built_on: dt.date,
    clock: Clock | None = None,
    speed: float = 10.0,
) -> tuple[FastAPI, DemoDispatcher]:
    """The demo's web app wired to its simulated head-end, and its (unstarted) dispatcher.

    Args:
        settings: The demo's settings.
        seed: The demo's seed.
        days: Days of history the demo simulated.
        built_on: Local day the demo was built.
        clock: Head-end clock (default: wall clock times ``speed``).
        speed: Simulated seconds per real second.

    Returns:
        The app (``app.state.head_end`` set) and a dispatcher to start.
    """
    from meterops.commands.dispatcher import Dispatcher
    from meterops.commands.policy import CommandPolicy
    from meterops.dispatch import wiring
    from meterops.reads.store import ReadStore
    from meterops.web.app import create_app

    app = create_app(settings)
    head_end = demo_head_end(seed=seed, days=days, built_on=built_on, clock=clock, speed=speed)
    app.state.head_end = head_end
    dispatcher = Dispatcher(
        app.state.session_factory,
        head_end,
        policy=CommandPolicy(),
        worker="demo-dispatcher",
        clock=lambda: dt.datetime.now(dt.UTC),
        store=ReadStore(settings.reads_uri),
        workorder_policy=wiring.policy(settings),
    )
    return app, DemoDispatcher(dispatcher)


def demo(
    seed: Annotated[int, typer.Option(help="Seed of the simulated utility.")] = 7,
    days: Annotated[int, typer.Option(min=1, max=59, help="Days of history to simulate.")] = 30,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Start over from scratch.")] = False,
    serve: Annotated[bool, typer.Option("--serve/--no-serve", help="Start the web app.")] = True,
    headend_speed: Annotated[
        float,
        typer.Option(
            "--headend-speed",
            min=0.1,
            max=3600.0,
            help="Simulated seconds per real second of the simulated head-end.",
        ),
    ] = 10.0,
) -> None:
    """Build a simulated utility (small_town) through the real import paths and serve it."""
    base = context.settings()
    folder = base.data_dir / "demo"
    settings = Settings(
        data_dir=folder,
        utility_timezone="America/Chicago",
        host=base.host,
        port=base.port,
        secret_key=base.secret_key,
        database_url="",
        reads_uri="",
    )
    marker = folder / _MARKER
    wanted = {"seed": seed, "days": days}
    built = json.loads(marker.read_text()) if marker.exists() else None
    if rebuild or built is None or {k: built.get(k) for k in wanted} != wanted:
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        _build(settings, folder / "files", seed=seed, days=days)
        _create_users(settings, folder)
        built_on = dt.datetime.now(settings.zone).date().isoformat()
        built = {**wanted, "built_on": built_on}
        marker.write_text(json.dumps(built))
    else:
        context.console.print(
            f"reusing the demo utility built on {built['built_on']} in "
            f"{folder} (--rebuild to start over)"
        )
    url = f"http://{settings.host}:{settings.port}/"
    context.console.print(
        f"\n[bold green]meterops demo ready:[/] open [bold]{url}[/] — the fleet of Prairie "
        "Junction Municipal Utilities. Stop with Ctrl+C."
    )
    _print_credentials(folder)
    if serve:
        import uvicorn

        from meterops.web.app import freeze_startup_objects

        app, dispatcher = demo_app(
            settings,
            seed=seed,
            days=days,
            built_on=dt.date.fromisoformat(built["built_on"]),
            speed=headend_speed,
        )
        context.console.print(
            f"Remote commands go to a simulated head-end of the same world, running at "
            f"{headend_speed:g}x the wall clock."
        )
        dispatcher.start()
        freeze_startup_objects()
        try:
            uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")
        finally:
            dispatcher.stop()


def register(app: typer.Typer) -> None:
    """Add the top-level ``demo`` command."""
    app.command("demo")(demo)


__all__ = ["DemoDispatcher", "demo", "demo_app", "demo_head_end", "register"]
