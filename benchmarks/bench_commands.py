"""Remote commands and outages: kill-switch latency, dispatcher throughput, outage inference.

- **Kill switch**: a dispatcher thread sends a large queue of pings to the simulated head-end
  with the throttle lifted; the main thread turns the kill switch on; the figure is the time
  from the halt's commit to the last command that still reached the head-end (goal: < 1 s,
  reliability-tests CMD-07). Baseline: the mean time between two sends before the halt.
- **Throughput**: commands per second through the whole flow (request, guards, outbox claim,
  re-check, send, confirmation poll) against the simulated head-end with the throttle lifted,
  against the raw head-end's submit rate in the same run. The configured throttle (10/s per
  head-end) is far below both: the flow is not the bottleneck.
- **Outage inference**: a storm with about 10,000 last gasps (whole feeders and transformers
  out, 60 % / 85 % of gasps arriving, momentary blips mixed in) over a grid of meters; time to
  infer the incidents and the share placed at the right device, against one Polars group-by of
  the same events (the least any inference must do).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import time
from pathlib import Path

import numpy as np
import polars as pl
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from benchmarks.harness import BenchContext, Figure, timed
from meterops.commands import schemas
from meterops.commands import service as commands_service
from meterops.commands.dispatcher import Dispatcher
from meterops.commands.policy import Actor, CommandPolicy
from meterops.db import migrate
from meterops.db.engine import make_engine, make_session_factory, session_scope
from meterops.fleet import service as fleet_service
from meterops.fleet.parse import parse_fleet_csv
from meterops.fleet.programs import parse_programs_file
from meterops.fleet.spec import IMPORT_ORDER
from meterops.headend.protocol import CommandKind
from meterops.headend.simulated import SimClock, SimulatedHeadEnd, WallClock
from meterops.models import Meter, Territory, User, UserTerritory
from meterops.models.commands import CommandType, RemoteCommand
from meterops.models.org import Role
from meterops.outages.inference import OutageParams, infer_outages
from meterops.simulator.fleetfiles import write_fleet_files
from meterops.simulator.scenarios import small_town
from meterops.simulator.world import World

AREA = "remote commands"
START = dt.datetime(2026, 1, 12, 16, 0, tzinfo=dt.UTC)
FAST = CommandPolicy(jitter_max_s=0.0, dispatch_rate_per_s=1_000_000.0)


class _Recorder:
    """The simulated head-end, recording the wall time of every submit."""

    def __init__(self, inner: SimulatedHeadEnd) -> None:
        self.inner = inner
        self.lock = threading.Lock()
        self.times: list[float] = []

    def now_utc(self) -> dt.datetime:
        return self.inner.now_utc()

    def submit(self, kind: CommandKind, serial_number: str, **kw: str | None) -> str:
        with self.lock:
            self.times.append(time.perf_counter())
            return self.inner.submit(kind, serial_number, **kw)  # type: ignore[arg-type]

    def command_status(self, command_id: str):
        with self.lock:
            return self.inner.command_status(command_id)


def _setup(
    folder: Path, service_points: int
) -> tuple[sessionmaker[Session], World, Actor, list[str]]:
    world = World(small_town(seed=5, service_points=service_points, start=dt.date(2026, 1, 5)))
    write_fleet_files(world, folder / "fleet", as_of=dt.date(2026, 1, 12))
    engine = make_engine(f"sqlite:///{folder / 'bench.db'}")
    migrate.upgrade(engine)
    sessions = make_session_factory(engine)
    for kind in IMPORT_ORDER:
        name = "programs.yaml" if kind == "meter_programs" else f"{kind}.csv"
        data = (folder / "fleet" / name).read_bytes()
        with session_scope(sessions) as session:
            if kind == "meter_programs":
                fleet_service.import_programs(
                    session, parse_programs_file(data, file=name), actor="bench", now=START
                )
            else:
                fleet_service.import_file(
                    session,
                    parse_fleet_csv(data, file=name),
                    actor="bench",
                    default_timezone="America/Chicago",
                    now=START,
                )
    with session_scope(sessions) as session:
        user = User(username="bench", display_name="Bench", role=Role.ADMIN)
        session.add(user)
        session.flush()
        codes = []
        for territory in session.scalars(select(Territory)).all():
            session.add(UserTerritory(user_id=user.id, territory_id=territory.id))
            codes.append(territory.code)
        serials = list(session.scalars(select(Meter.serial_number)).all())
    known = []
    for serial in serials:
        try:
            world.meter_index(serial)
        except Exception:  # noqa: BLE001 - the back office knows meters the head-end does not
            continue
        known.append(serial)
    return sessions, world, Actor("bench", "admin", frozenset(codes)), known


def _queue(
    sessions: sessionmaker[Session], actor: Actor, serials: list[str], key: str, rounds: int
) -> int:
    count = 0
    for r in range(rounds):
        with session_scope(sessions) as session:
            commands_service.request(
                session,
                schemas.CommandRequestCreate(
                    kind=CommandType.PING,
                    serial_numbers=serials,
                    reason="benchmark",
                    idempotency_key=f"{key}-{r:04d}",
                ),
                actor=actor,
                now=START,
                policy=FAST,
            )
        count += len(serials)
    return count


def _kill_switch(ctx: BenchContext) -> list[Figure]:
    folder = ctx.workdir / "kill"
    folder.mkdir()
    sessions, world, actor, serials = _setup(folder, ctx.scale(400, 120))
    _queue(sessions, actor, serials, "kill", ctx.scale(10, 4))
    headend = _Recorder(SimulatedHeadEnd(world, clock=WallClock(START)))
    dispatcher = Dispatcher(sessions, headend, policy=FAST, clock=headend.inner.now_utc)  # type: ignore[arg-type]
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            dispatcher.cycle(max_claims=50)

    thread = threading.Thread(target=loop)
    thread.start()
    while len(headend.times) < 50:
        time.sleep(0.01)
    with session_scope(sessions) as session:
        commands_service.set_kill_switch(
            session, active=True, actor=actor, now=START, reason="benchmark halt"
        )
    halted_at = time.perf_counter()
    time.sleep(1.5)
    stop.set()
    thread.join()
    before = [t for t in headend.times if t <= halted_at]
    after = [t for t in headend.times if t > halted_at]
    latency = (max(after) - halted_at) if after else 0.0
    gaps = np.diff(np.array(before))
    baseline = float(gaps.mean()) if gaps.size else 0.0
    return [
        Figure(
            AREA,
            "kill switch: last send after the halt",
            latency,
            "s",
            baseline=baseline,
            baseline_name="mean time between two sends",
            goal="< 1 s",
            met=latency < 1.0,
            note=f"{len(before)} sent before, {len(after)} after the halt; queue preserved",
        )
    ]


def _throughput(ctx: BenchContext) -> list[Figure]:
    folder = ctx.workdir / "throughput"
    folder.mkdir()
    sessions, world, actor, serials = _setup(folder, ctx.scale(400, 120))
    total = _queue(sessions, actor, serials, "thr", ctx.scale(5, 2))
    clock = SimClock(START)
    headend = SimulatedHeadEnd(world, clock=clock)
    dispatcher = Dispatcher(sessions, headend, policy=FAST, clock=clock.now)
    done = 0
    with timed() as elapsed:
        while done < total:
            report = dispatcher.cycle(max_claims=200)
            clock.advance(dt.timedelta(seconds=120))
            done += report.confirmed + report.failed + report.expired
            if report.claimed == 0 and report.confirmed + report.failed == 0:
                dispatcher.cycle()
                clock.advance(dt.timedelta(seconds=600))
                break
        flow_s = elapsed()
    raw = SimulatedHeadEnd(world, clock=SimClock(START))
    with timed() as elapsed:
        for n in range(total):
            raw.submit(CommandKind.PING, serials[n % len(serials)], request_id=f"raw-{n}")
        raw_s = elapsed()
    rate, raw_rate = total / flow_s, total / raw_s
    return [
        Figure(
            AREA,
            f"full flow: {total:,} pings request → confirmed",
            rate,
            "commands/s",
            baseline=raw_rate,
            baseline_name="raw simulated head-end submits",
            goal=">= 10/s (the configured throttle per head-end)",
            met=rate >= CommandPolicy().dispatch_rate_per_s,
            note="SQLite; guards re-checked and audit recorded per command",
        )
    ]


class _SimRecorder:
    """The simulated head-end, recording the simulated time of every submit."""

    def __init__(self, inner: SimulatedHeadEnd) -> None:
        self.inner = inner
        self.sends: list[tuple[str, str, dt.datetime]] = []

    def now_utc(self) -> dt.datetime:
        return self.inner.now_utc()

    def submit(self, kind: CommandKind, serial_number: str, **kw: str | None) -> str:
        self.sends.append((kind.value, serial_number, self.inner.now_utc()))
        return self.inner.submit(kind, serial_number, **kw)  # type: ignore[arg-type]

    def command_status(self, command_id: str):
        return self.inner.command_status(command_id)


def _pending(sessions: sessionmaker[Session]) -> int:
    """Commands not yet in a terminal state."""
    with session_scope(sessions) as session:
        return int(
            session.execute(
                select(func.count(RemoteCommand.id)).where(
                    RemoteCommand.state.in_(["held", "queued", "dispatching", "sent"])
                )
            ).scalar_one()
        )


def _max_in_window(times: list[dt.datetime], window: dt.timedelta) -> int:
    ordered = sorted(times)
    best, low = 0, 0
    for high, t in enumerate(ordered):
        while ordered[low] <= t - window:
            low += 1
        best = max(best, high - low + 1)
    return best


def _throttled(ctx: BenchContext) -> list[Figure]:
    folder = ctx.workdir / "throttled"
    folder.mkdir()
    sessions, world, actor, serials = _setup(folder, 400)
    policy = CommandPolicy()
    rounds = ctx.scale(25, 2)
    total = _queue(sessions, actor, serials, "job", rounds)
    clock = SimClock(START)
    headend = _SimRecorder(SimulatedHeadEnd(world, clock=clock))
    dispatcher = Dispatcher(sessions, headend, policy=policy, clock=clock.now)  # type: ignore[arg-type]
    with timed() as elapsed:
        while _pending(sessions):
            dispatcher.cycle()
            clock.advance(dt.timedelta(milliseconds=500))
        wall = elapsed()
    times = [t for _, _, t in headend.sends]
    total = len(times)
    span = (max(times) - min(times)).total_seconds() or 1.0
    worst = _max_in_window(times, dt.timedelta(seconds=1))
    return [
        Figure(
            AREA,
            f"throttle: max commands in any 1 s over a {total:,}-command job",
            worst,
            "commands",
            baseline=policy.dispatch_rate_per_s,
            baseline_name="configured rate per head-end",
            goal="<= 10 (CMD-05)",
            met=worst <= policy.dispatch_rate_per_s,
            note=f"{total / span:.2f} commands/s simulated time; {total / wall:.0f}/s wall time",
        )
    ]


def _reconnects(ctx: BenchContext) -> list[Figure]:
    folder = ctx.workdir / "reconnects"
    folder.mkdir()
    sessions, world, actor, serials = _setup(folder, ctx.scale(2000, 400))
    policy = dataclasses.replace(CommandPolicy(), jitter_max_s=0.0)
    with session_scope(sessions) as session:
        rows = commands_service.facts_for(session, serials, now=START, policy=policy)[1]
    switched = [s for s in serials if rows.get(s) and rows[s].has_switch and rows[s].feeder_code]
    target = ctx.scale(5000, 500)
    total = 0
    r = 0
    while total < target:
        batch = switched[: min(len(switched), target - total)]
        with session_scope(sessions) as session:
            commands_service.request(
                session,
                schemas.CommandRequestCreate(
                    kind=CommandType.RECONNECT,
                    serial_numbers=batch,
                    reason="benchmark reconnects",
                    idempotency_key=f"reconnect-{r:04d}",
                ),
                actor=actor,
                now=START,
                policy=dataclasses.replace(policy, thresholded_kinds=frozenset()),
            )
        total += len(batch)
        r += 1
    clock = SimClock(START)
    headend = _SimRecorder(SimulatedHeadEnd(world, clock=clock))
    dispatcher = Dispatcher(sessions, headend, policy=policy, clock=clock.now)  # type: ignore[arg-type]
    with timed() as elapsed:
        while _pending(sessions):
            report = dispatcher.cycle()
            clock.advance(dt.timedelta(seconds=1 if report.claimed else 30))
        wall = elapsed()
    total = sum(1 for k, _, _ in headend.sends if k == "reconnect")
    feeder_of = {s: rows[s].feeder_code for s in switched}
    by_feeder: dict[str, list[dt.datetime]] = {}
    for kind, serial, t in headend.sends:
        if kind == "reconnect":
            by_feeder.setdefault(str(feeder_of[serial]), []).append(t)
    window = dt.timedelta(seconds=policy.feeder_window_s)
    worst = max(_max_in_window(times, window) for times in by_feeder.values())
    taken = max(t for ts in by_feeder.values() for t in ts) - START
    minimum = max(
        (len(ts) - 1) // policy.reconnects_per_feeder * policy.feeder_window_s
        for ts in by_feeder.values()
    )
    return [
        Figure(
            AREA,
            f"{total:,} reconnects on {len(by_feeder)} feeders: max per feeder in any 5 min",
            worst,
            "reconnects",
            baseline=policy.reconnects_per_feeder,
            baseline_name="configured cap",
            goal="<= 20 (CMD-11)",
            met=worst <= policy.reconnects_per_feeder,
            note=(
                f"took {taken.total_seconds() / 3600:.2f} h simulated (computed minimum "
                f"{minimum / 3600:.2f} h); {wall:.0f} s wall"
            ),
        )
    ]


def _storm(ctx: BenchContext) -> list[Figure]:
    rng = np.random.default_rng(42)
    feeders = ctx.scale(200, 40)
    per_feeder_tx = 60
    per_tx = 8
    meters = feeders * per_feeder_tx * per_tx
    tx = np.repeat(np.arange(feeders * per_feeder_tx), per_tx)
    grid = pl.DataFrame(
        {
            "meter_key": [f"m{i}" for i in range(meters)],
            "transformer_code": [f"T{t}" for t in tx],
            "feeder_code": [f"F{t // per_feeder_tx}" for t in tx],
        }
    )
    t0 = dt.datetime(2026, 7, 1, 20, 0, tzinfo=dt.UTC)
    rows: list[tuple[str, dt.datetime, str]] = []
    truth: list[tuple[str, str]] = []
    out_feeders = rng.choice(feeders, size=max(2, feeders // 6), replace=False)
    for f in out_feeders:
        start = t0 + dt.timedelta(minutes=float(rng.uniform(0, 90)))
        keys = np.arange(f * per_feeder_tx * per_tx, (f + 1) * per_feeder_tx * per_tx)
        rows.extend(
            (f"m{k}", start + dt.timedelta(seconds=int(rng.integers(0, 3))), "last_gasp")
            for k in keys[rng.random(keys.size) < 0.6]
        )
        end = start + dt.timedelta(hours=float(rng.uniform(1, 4)))
        rows.extend(
            (f"m{k}", end + dt.timedelta(seconds=int(rng.integers(0, 30))), "power_restored")
            for k in keys
        )
        truth.append(("feeder", f"F{f}"))
    others = np.setdiff1d(np.arange(feeders), out_feeders)
    count = max(5, feeders // 2)
    chosen_tx = rng.choice(others, size=count) * per_feeder_tx + rng.integers(
        0, per_feeder_tx, count
    )
    for t in np.unique(chosen_tx):
        start = t0 + dt.timedelta(minutes=float(rng.uniform(0, 120)))
        keys = np.arange(t * per_tx, (t + 1) * per_tx)
        gasped = keys[rng.random(keys.size) < 0.85]
        if gasped.size < 2:
            continue
        rows.extend((f"m{k}", start, "last_gasp") for k in gasped)
        end = start + dt.timedelta(hours=1)
        rows.extend((f"m{k}", end, "power_restored") for k in keys)
        truth.append(("transformer", f"T{t}"))
    for k in rng.integers(0, meters, size=200):  # momentary blips
        start = t0 + dt.timedelta(minutes=float(rng.uniform(0, 120)))
        rows.append((f"m{k}", start, "last_gasp"))
        rows.append((f"m{k}", start + dt.timedelta(seconds=10), "power_restored"))
    events = pl.DataFrame(rows, schema=["meter_key", "event_time_utc", "event"], orient="row")
    gasps = events.filter(pl.col("event") == "last_gasp").height
    with timed() as elapsed:
        incidents, _ = infer_outages(events, grid, params=OutageParams())
        seconds = elapsed()
    with timed() as elapsed:
        events.join(grid, on="meter_key").group_by("feeder_code", "event").len()
        baseline = elapsed()
    placed = {(r["level"], r["device_code"]) for r in incidents.iter_rows(named=True)}
    right = sum(1 for t in set(truth) if t in placed) / max(1, len(set(truth)))
    return [
        Figure(
            "outages",
            f"storm of {gasps:,} last gasps over {meters:,} meters: inference",
            seconds,
            "s",
            baseline=baseline,
            baseline_name="one join + group-by of the events",
            goal="< 10 s",
            met=seconds < 10,
            note=f"{len(set(truth))} injected outages",
        ),
        Figure(
            "outages",
            "storm: outages placed at the right device",
            100 * right,
            "%",
            goal=">= 95 %",
            met=right >= 0.95,
        ),
    ]


def run(ctx: BenchContext) -> list[Figure]:
    """Kill-switch latency, dispatcher throughput and outage inference in one run."""
    return [
        *_kill_switch(ctx),
        *_throughput(ctx),
        *_throttled(ctx),
        *_reconnects(ctx),
        *_storm(ctx),
    ]
