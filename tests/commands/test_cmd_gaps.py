"""Reliability rows CMD-01 … CMD-14 that no other test showed in full.

Each test names its row. They run through the real services, the outbox dispatcher and the
simulated head-end (recorded, never replaced), on the ``session`` fixture (PostgreSQL when
``METEROPS_TEST_DATABASE_URL`` is set); the concurrent one commits for real in a module
database on the same backend. The table in ``docs/remote-operations.md`` maps every row to
its tests.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import random
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from meterops.commands import schemas
from meterops.commands import service as commands_service
from meterops.commands.dispatcher import Dispatcher
from meterops.commands.errors import HardCeilingError
from meterops.commands.policy import Actor, CommandPolicy
from meterops.db.engine import make_engine, make_session_factory, session_scope
from meterops.headend.protocol import CommandKind, HeadEndUnavailableError
from meterops.models import Account, Installation, Meter, WorkOrder
from meterops.models.audit import AuditEvent
from meterops.models.commands import CommandRequest, CommandType, RemoteCommand
from meterops.models.org import Role
from meterops.nomenclature import EVENT_BY_NAME
from meterops.reads.schema import EVENTS
from meterops.reads.store import FileCommit, ReadStore, Table
from meterops.simulator.world import to_us
from tests.commands.world import MONDAY_10, Loaded, add_user, load_world

POLICY = CommandPolicy(jitter_max_s=0.0)
TERMINAL = {"confirmed", "failed", "expired", "cancelled"}


class RecordingHeadEnd:
    """The simulated head-end, recording every submit with its simulated time; can go down."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.lock = threading.Lock()
        self.submits: list[tuple[str, str, dt.datetime]] = []
        self.down = False
        self.close_before_read: set[str] = set()

    def now_utc(self) -> dt.datetime:
        return self.inner.now_utc()  # type: ignore[no-any-return]

    def submit(self, kind: CommandKind, serial_number: str, **kw: Any) -> str:
        if self.down:
            raise HeadEndUnavailableError("head-end down (test outage)")
        with self.lock:
            if (
                CommandKind(kind) is CommandKind.ON_DEMAND_READ
                and serial_number in self.close_before_read
            ):
                # Someone closes the switch in the simulated world (a bypass, a stuck relay)
                # after the head-end confirmed the disconnect and before the state read.
                world = self.inner.world
                moment = to_us(self.inner.now_utc())
                world.set_switch(world.meter_index(serial_number), open_=False, moment_us=moment)
            self.submits.append((CommandKind(kind).value, serial_number, self.inner.now_utc()))
            return self.inner.submit(kind, serial_number, **kw)  # type: ignore[no-any-return]

    def command_status(self, command_id: str) -> Any:
        if self.down:
            raise HeadEndUnavailableError("head-end down (test outage)")
        with self.lock:
            return self.inner.command_status(command_id)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _req(
    kind: CommandType, serials: list[str], key: str, reason: str = "non-payment"
) -> schemas.CommandRequestCreate:
    return schemas.CommandRequestCreate(
        kind=kind, serial_numbers=serials, reason=reason, idempotency_key=key
    )


def _run(dispatcher: Dispatcher, loaded: Loaded, *, cycles: int, step_s: float = 30.0) -> None:
    for _ in range(cycles):
        dispatcher.cycle()
        loaded.clock.advance(dt.timedelta(seconds=step_s))


def _account_of(session: Session, serial: str) -> Account:
    account = session.scalars(
        select(Account)
        .join(Installation, Installation.service_point_id == Account.service_point_id)
        .join(Meter, Meter.id == Installation.meter_id)
        .where(Meter.serial_number == serial)
        .where(Account.move_out_date.is_(None))
    ).first()
    assert account is not None, f"meter {serial} has no open account in the simulated town"
    return account


# --- CMD-01: every threshold, not only the request size, holds with 0 sends -----------------


@pytest.mark.parametrize("window", ["user", "territory", "system"])
def test_cmd01_each_rolling_window_holds_and_nothing_reaches_the_headend(
    session: Session, loaded: Loaded, sessions: sessionmaker[Session], window: str
) -> None:
    def limit(name: str) -> int:
        return 3 if name == window else 10**6

    policy = dataclasses.replace(
        POLICY,
        user_limit=limit("user"),
        territory_limit=limit("territory"),
        system_limit=limit("system"),
    )
    users = [add_user(session, f"disp{i}", Role.DISPATCHER, [loaded.territory]) for i in range(4)]
    now = loaded.clock.now()
    serials = loaded.switch_serials[:4]
    reads = [
        commands_service.request(
            session,
            _req(CommandType.DISCONNECT, [serial], f"cmd01-{window}-{i}"),
            # The per-user window needs one user; the others are crossed by several.
            actor=users[0] if window == "user" else users[i],
            now=now + dt.timedelta(seconds=i),
            policy=policy,
        )
        for i, serial in enumerate(serials)
    ]
    assert [r.state for r in reads] == ["released"] * 3 + ["awaiting_approval"]
    assert f"{window}_window" in reads[-1].approval_reasons
    headend = RecordingHeadEnd(loaded.headend)
    _run(Dispatcher(sessions, headend, policy=policy), loaded, cycles=20)
    sent = sorted(s for k, s, _ in headend.submits if k == "disconnect")
    assert sent == sorted(serials[:3])
    assert commands_service.get_request(session, reads[-1].id).state == "awaiting_approval"


# --- CMD-05: the throttle holds across two dispatchers --------------------------------------


def test_cmd05_two_interleaved_dispatchers_share_one_throttle(
    session: Session, loaded: Loaded, sessions: sessionmaker[Session]
) -> None:
    ann = add_user(session, "ann", Role.SUPERVISOR, [loaded.territory])
    serials = loaded.all_serials
    commands_service.request(
        session,
        _req(CommandType.PING, serials, "cmd05-two", reason="throttle"),
        actor=ann,
        now=loaded.clock.now(),
        policy=POLICY,
    )
    headend = RecordingHeadEnd(loaded.headend)
    first = Dispatcher(sessions, headend, policy=POLICY, worker="a")
    second = Dispatcher(sessions, headend, policy=POLICY, worker="b")
    for _ in range(400):
        # The first claims, the second runs a whole cycle before the first sends its claims.
        report = schemas.DispatchReport()
        first.expire(report)
        first.poll(report)
        claimed = first.claim(max_claims=1000, report=report)
        second.cycle()
        first.send(claimed, report)
        loaded.clock.advance(dt.timedelta(milliseconds=200))
    times = sorted(t for k, _, t in headend.submits if k == "ping")
    assert len(times) == len(serials)
    worst = max(sum(1 for u in times if t <= u < t + dt.timedelta(seconds=1)) for t in times)
    assert worst <= POLICY.dispatch_rate_per_s


def test_cmd05_bulk_commands_start_after_a_random_delay_of_at_most_the_jitter(
    session: Session, loaded: Loaded, sessions: sessionmaker[Session]
) -> None:
    policy = CommandPolicy()  # the shipped 0-60 s jitter
    ann = add_user(session, "ann", Role.SUPERVISOR, [loaded.territory])
    now = loaded.clock.now()
    bulk = commands_service.request(
        session,
        _req(CommandType.PING, loaded.all_serials[:40], "cmd05-jitter", "jitter"),
        actor=ann,
        now=now,
        policy=policy,
    )
    single = commands_service.request(
        session,
        _req(CommandType.PING, [loaded.all_serials[40]], "cmd05-single", "jitter"),
        actor=ann,
        now=now,
        policy=policy,
    )
    headend = RecordingHeadEnd(loaded.headend)
    dispatcher = Dispatcher(sessions, headend, policy=policy)
    dispatcher.cycle()
    # A single command goes at once; of the bulk request at most those whose delay is 0.
    assert [s for _, s, _ in headend.submits] == [loaded.all_serials[40]]
    for _ in range(80):
        loaded.clock.advance(dt.timedelta(seconds=1))
        dispatcher.cycle()
    rows = session.scalars(select(RemoteCommand).where(RemoteCommand.request_id == bulk.id)).all()
    delays = [(r.not_before_utc - now).total_seconds() for r in rows]
    assert all(0.0 <= d <= policy.jitter_max_s for d in delays)
    assert len(set(delays)) == len(delays), "each command draws its own delay"
    assert max(delays) - min(delays) > policy.jitter_max_s / 2
    for row in rows:
        assert row.sent_at_utc is not None
        assert row.sent_at_utc >= row.not_before_utc
    assert single.commands[0].serial_number == loaded.all_serials[40]


# --- CMD-06: quarantine never releases itself -----------------------------------------------


def test_cmd06_a_held_request_is_never_released_without_a_second_person(
    session: Session, loaded: Loaded, sessions: sessionmaker[Session]
) -> None:
    ann = add_user(session, "ann", Role.DISPATCHER, [loaded.territory])
    now = loaded.clock.now()
    serials = loaded.switch_serials[: POLICY.request_meter_limit + 1]
    held = commands_service.request(
        session,
        _req(CommandType.DISCONNECT, serials, "cmd06-held"),
        actor=ann,
        now=now,
        policy=POLICY,
    )
    assert held.state == "awaiting_approval"
    headend = RecordingHeadEnd(loaded.headend)
    dispatcher = Dispatcher(sessions, headend, policy=POLICY)
    # The windows empty out and time passes up to (and beyond) the approval limit: nothing
    # releases it; it ends as expired, every meter with it, and nothing was sent.
    step = 60.0
    for _ in range(int(POLICY.approval_timeout_s / step) + 5):
        dispatcher.cycle()
        state = commands_service.get_request(session, held.id).state
        assert state in {"awaiting_approval", "expired"}
        loaded.clock.advance(dt.timedelta(seconds=step))
    after = commands_service.get_request(session, held.id)
    assert after.state == "expired"
    assert after.approved_by is None
    assert {c.state for c in after.commands} == {"expired"}
    assert headend.submits == []


def test_cmd06_the_hard_ceiling_refuses_even_an_approved_request(
    session: Session, loaded: Loaded, sessions: sessionmaker[Session]
) -> None:
    policy = dataclasses.replace(POLICY, hard_ceiling=15)
    ann = add_user(session, "ann", Role.DISPATCHER, [loaded.territory])
    bob = add_user(session, "bob", Role.SUPERVISOR, [loaded.territory])
    now = loaded.clock.now()
    first, second = loaded.switch_serials[:11], loaded.switch_serials[11:22]
    held = [
        commands_service.request(
            session,
            _req(CommandType.DISCONNECT, serials, key),
            actor=ann,
            now=now,
            policy=policy,
        )
        for serials, key in ((first, "cmd06-ceiling-1"), (second, "cmd06-ceiling-2"))
    ]
    assert [r.state for r in held] == ["awaiting_approval"] * 2
    approved = commands_service.approve(
        session, held[0].id, actor=bob, now=now, policy=policy, stepped_up_at_utc=now
    )
    assert approved.state == "released"
    with pytest.raises(HardCeilingError):  # 11 released + 11 more > 15, approval or not
        commands_service.approve(
            session, held[1].id, actor=bob, now=now, policy=policy, stepped_up_at_utc=now
        )
    with pytest.raises(HardCeilingError):
        commands_service.request(
            session,
            _req(CommandType.DISCONNECT, loaded.switch_serials[22:27], "cmd06-ceiling-3"),
            actor=ann,
            now=now,
            policy=policy,
        )
    headend = RecordingHeadEnd(loaded.headend)
    _run(Dispatcher(sessions, headend, policy=policy), loaded, cycles=20)
    assert sorted(s for k, s, _ in headend.submits if k == "disconnect") == sorted(first)
    assert commands_service.get_request(session, held[1].id).state == "awaiting_approval"


# --- CMD-08: flags and weather turned after approval block at dispatch ----------------------


def test_cmd08_a_medical_flag_set_after_approval_blocks_at_dispatch(
    session: Session, loaded: Loaded, sessions: sessionmaker[Session]
) -> None:
    ann = add_user(session, "ann", Role.DISPATCHER, [loaded.territory])
    bob = add_user(session, "bob", Role.SUPERVISOR, [loaded.territory])
    serials = loaded.switch_serials[: POLICY.request_meter_limit + 1]
    now = loaded.clock.now()
    held = commands_service.request(
        session,
        _req(CommandType.DISCONNECT, serials, "cmd08-med"),
        actor=ann,
        now=now,
        policy=POLICY,
    )
    approved = commands_service.approve(
        session, held.id, actor=bob, now=now, policy=POLICY, stepped_up_at_utc=now
    )
    assert approved.state == "released"
    flagged = serials[0]
    _account_of(session, flagged).medical_life_support = True
    session.flush()
    headend = RecordingHeadEnd(loaded.headend)
    _run(Dispatcher(sessions, headend, policy=POLICY), loaded, cycles=20)
    disconnected = {s for k, s, _ in headend.submits if k == "disconnect"}
    assert flagged not in disconnected
    assert disconnected == set(serials[1:])
    blocked = next(
        c
        for c in commands_service.get_request(session, held.id).commands
        if c.serial_number == flagged
    )
    assert blocked.failure_reason == "guard.medical_life_support"


def test_cmd08_cold_weather_recorded_after_approval_blocks_at_dispatch(
    session: Session, loaded: Loaded, sessions: sessionmaker[Session]
) -> None:
    ann = add_user(session, "ann", Role.DISPATCHER, [loaded.territory])
    bob = add_user(session, "bob", Role.SUPERVISOR, [loaded.territory])
    serials = loaded.switch_serials[: POLICY.request_meter_limit + 1]
    now = loaded.clock.now()
    held = commands_service.request(
        session,
        _req(CommandType.DISCONNECT, serials, "cmd08-cold"),
        actor=ann,
        now=now,
        policy=POLICY,
    )
    commands_service.approve(
        session, held.id, actor=bob, now=now, policy=POLICY, stepped_up_at_utc=now
    )
    commands_service.record_temperature(
        session,
        territory_code=loaded.territory,
        temperature_c=-15.0,
        valid_at_utc=now,
        actor="bob",
    )
    headend = RecordingHeadEnd(loaded.headend)
    _run(Dispatcher(sessions, headend, policy=POLICY), loaded, cycles=10)
    assert headend.submits == []
    reasons = {c.failure_reason for c in commands_service.get_request(session, held.id).commands}
    assert reasons == {"guard.weather"}


# --- CMD-09: load-side voltage known before the request -----------------------------------


def _store_load_side_voltage(
    session: Session, folder: Path, serial: str, seen: dt.datetime
) -> ReadStore:
    """A read store holding one load-side voltage event of the meter (as ingestion writes it)."""
    meter_id = session.scalars(select(Meter.id).where(Meter.serial_number == serial)).one()
    store = ReadStore(str(folder / "reads"))
    events = pl.DataFrame(
        {
            "meter_id": [meter_id],
            "event_time_utc": [seen],
            "cim_event_type": [EVENT_BY_NAME["load_side_voltage"].code],
            "vendor_code": ["Load Side Voltage Detected"],
            "severity": ["critical"],
            "details": [None],
            "source_file_id": [1],
            "received_at_utc": [seen],
        },
        schema=EVENTS.schema,
    )
    store.append_rows(Table.EVENTS, events, source_file_id=1)
    store.commit_file(FileCommit(1, "sha1", "events.xml", "cim", seen, {}))
    return store


def test_cmd09_a_reconnect_blocked_at_request_by_load_side_voltage_creates_a_field_order(
    session: Session, loaded: Loaded, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    ann = add_user(session, "ann", Role.DISPATCHER, [loaded.territory])
    serial = loaded.switch_serials[0]
    now = loaded.clock.now()
    store = _store_load_side_voltage(session, tmp_path, serial, now - dt.timedelta(hours=1))
    read = commands_service.request(
        session,
        _req(CommandType.RECONNECT, [serial], "cmd09-request", "paid"),
        actor=ann,
        now=now,
        policy=POLICY,
        store=store,
    )
    assert read.commands[0].failure_reason == "guard.load_side_voltage"
    headend = RecordingHeadEnd(loaded.headend)
    _run(Dispatcher(sessions, headend, policy=POLICY, store=store), loaded, cycles=5)
    assert headend.submits == []  # 0 close commands sent
    orders = session.scalars(
        select(WorkOrder).where(WorkOrder.problem_code == "load_side_voltage")
    ).all()
    assert len(orders) == 1


# Thursday 15 January 2026 in Iowa (UTC-6); Friday is a blocked weekday, 16:00 ends the hours.
_THURSDAY_15H = dt.datetime(2026, 1, 15, 21, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("requested", "dispatched", "guard"),
    [
        # Released on Thursday afternoon, the dispatcher only runs on Friday morning.
        (_THURSDAY_15H, dt.datetime(2026, 1, 16, 15, 0, tzinfo=dt.UTC), "guard.calendar"),
        # Released at 15:59 local, sent after 16:00.
        (
            _THURSDAY_15H + dt.timedelta(minutes=59),
            _THURSDAY_15H + dt.timedelta(hours=1, seconds=30),
            "guard.hours",
        ),
    ],
)
def test_cmd08_calendar_and_hours_are_checked_again_at_dispatch(
    session: Session,
    loaded: Loaded,
    sessions: sessionmaker[Session],
    requested: dt.datetime,
    dispatched: dt.datetime,
    guard: str,
) -> None:
    ann = add_user(session, "ann", Role.DISPATCHER, [loaded.territory])
    read = commands_service.request(
        session,
        _req(CommandType.DISCONNECT, loaded.switch_serials[:3], f"cmd08-{guard}"),
        actor=ann,
        now=requested,
        policy=POLICY,
    )
    assert {c.state for c in read.commands} == {"queued"}
    loaded.clock.advance(dispatched - loaded.clock.now())
    headend = RecordingHeadEnd(loaded.headend)
    _run(Dispatcher(sessions, headend, policy=POLICY), loaded, cycles=3)
    assert headend.submits == []
    assert {c.failure_reason for c in commands_service.get_request(session, read.id).commands} == {
        guard
    }


# --- CMD-10: with arm-only policy, every reconnect reaching the head-end is an arm ----------


def test_cmd10_with_arm_policy_no_direct_close_ever_reaches_the_headend(
    session: Session, loaded: Loaded, sessions: sessionmaker[Session]
) -> None:
    policy = dataclasses.replace(POLICY, direct_reconnect=False)
    ann = add_user(session, "ann", Role.DISPATCHER, [loaded.territory])
    serials = loaded.switch_serials[:10]
    now = loaded.clock.now()
    for serial in serials:  # open the switches first, so that an arm has something to arm
        loaded.world.set_switch(loaded.world.meter_index(serial), open_=True, moment_us=to_us(now))
    closes = commands_service.request(
        session,
        _req(CommandType.RECONNECT, serials, "cmd10-close", "paid"),
        actor=ann,
        now=now,
        policy=policy,
    )
    arms = commands_service.request(
        session,
        _req(CommandType.ARM_RECONNECT, serials, "cmd10-arm", "paid"),
        actor=ann,
        now=now,
        policy=policy,
    )
    assert {c.failure_reason for c in closes.commands} == {"guard.reconnect_mode"}
    headend = RecordingHeadEnd(loaded.headend)
    _run(Dispatcher(sessions, headend, policy=policy), loaded, cycles=20)
    switch_kinds = Counter(k for k, _, _ in headend.submits if k != "on_demand_read")
    assert switch_kinds == {"arm_reconnect": len(serials)}
    assert {c.state for c in commands_service.get_request(session, arms.id).commands} <= TERMINAL


# --- CMD-11: the stagger also keeps the total time at or above the computed minimum ---------


def test_cmd11_staggered_reconnects_take_at_least_the_computed_minimum(
    session: Session, loaded: Loaded, sessions: sessionmaker[Session]
) -> None:
    policy = dataclasses.replace(POLICY, reconnects_per_feeder=4, feeder_window_s=120)
    ann = add_user(session, "ann", Role.SUPERVISOR, [loaded.territory])
    read = commands_service.request(
        session,
        _req(CommandType.RECONNECT, loaded.switch_serials, "cmd11-stagger", "paid"),
        actor=ann,
        now=loaded.clock.now(),
        policy=policy,
    )
    headend = RecordingHeadEnd(loaded.headend)
    dispatcher = Dispatcher(sessions, headend, policy=policy)
    for _ in range(600):
        dispatcher.cycle()
        loaded.clock.advance(dt.timedelta(seconds=5))
    feeder_of = {
        c.serial_number: c.feeder_code
        for c in commands_service.get_request(session, read.id).commands
    }
    sends = [(feeder_of[s], t) for k, s, t in headend.submits if k == "reconnect"]
    assert len(sends) == len(loaded.switch_serials)
    per_feeder = Counter(f for f, _ in sends)
    assert None not in per_feeder
    busiest = max(per_feeder.values())
    assert busiest > policy.reconnects_per_feeder, "the town must need more than one window"
    minimum = (math.ceil(busiest / policy.reconnects_per_feeder) - 1) * policy.feeder_window_s
    times = [t for _, t in sends]
    assert (max(times) - min(times)).total_seconds() >= minimum


# --- CMD-13: after recovery every command ends within the configured timeout ----------------


def test_cmd13_every_command_ends_within_the_timeout_after_a_ten_minute_outage(
    session: Session, loaded: Loaded, sessions: sessionmaker[Session]
) -> None:
    policy = dataclasses.replace(POLICY, command_ttl_s=3600, status_timeout_s=600)
    ann = add_user(session, "ann", Role.SUPERVISOR, [loaded.territory])
    read = commands_service.request(
        session,
        _req(CommandType.PING, loaded.all_serials[:40], "cmd13-outage", "outage"),
        actor=ann,
        now=loaded.clock.now(),
        policy=policy,
    )
    headend = RecordingHeadEnd(loaded.headend)
    dispatcher = Dispatcher(sessions, headend, policy=policy)
    dispatcher.cycle()  # some go out before the outage
    sent_before = len(headend.submits)
    assert 0 < sent_before < 40
    headend.down = True
    _run(dispatcher, loaded, cycles=20, step_s=30.0)  # ten minutes down
    headend.down = False
    recovered = loaded.clock.now()
    _run(dispatcher, loaded, cycles=40, step_s=30.0)  # twenty minutes after recovery
    rows = session.scalars(select(RemoteCommand).where(RemoteCommand.request_id == read.id)).all()
    assert len(rows) == 40
    stuck = [r.id for r in rows if r.state.value not in TERMINAL]
    assert stuck == []
    deadline = recovered + dt.timedelta(seconds=policy.status_timeout_s)
    late = [
        (r.id, r.completed_at_utc)
        for r in rows
        if r.completed_at_utc is None or r.completed_at_utc > deadline
    ]
    assert late == []
    assert max(Counter(s for _, s, _ in headend.submits).values()) == 1


def _switch_commands(session: Session, request_id: int) -> dict[str, schemas.RemoteCommandRead]:
    """The request's own commands by serial (not its reconciliation reads)."""
    return {
        c.serial_number: c
        for c in commands_service.get_request(session, request_id).commands
        if c.purpose == "request"
    }


# --- CMD-14: a disconnect whose meter reads closed is a mismatch alert within 5 min ---------


def test_cmd14_a_meter_that_reads_closed_after_a_disconnect_raises_an_alert_within_5_min(
    session: Session, loaded: Loaded, sessions: sessionmaker[Session]
) -> None:
    ann = add_user(session, "ann", Role.DISPATCHER, [loaded.territory])
    good, bad = loaded.switch_serials[:2]
    read = commands_service.request(
        session,
        _req(CommandType.DISCONNECT, [good, bad], "cmd14-mismatch"),
        actor=ann,
        now=loaded.clock.now(),
        policy=POLICY,
    )
    headend = RecordingHeadEnd(loaded.headend)
    dispatcher = Dispatcher(sessions, headend, policy=POLICY)
    headend.close_before_read.add(bad)
    _run(dispatcher, loaded, cycles=60, step_s=10.0)
    commands = _switch_commands(session, read.id)
    assert (commands[good].state, commands[good].reconciliation) == ("confirmed", "matched")
    assert (commands[bad].state, commands[bad].reconciliation) == ("confirmed", "mismatch")
    # Each completed disconnect was followed by exactly one state read.
    reads = Counter(s for k, s, _ in headend.submits if k == "on_demand_read")
    assert reads == {good: 1, bad: 1}
    bad_row = session.scalars(
        select(RemoteCommand)
        .where(RemoteCommand.request_id == read.id)
        .where(RemoteCommand.serial_number == bad)
        .where(RemoteCommand.purpose == "request")
    ).one()
    alerts = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.action == "command.reconcile_mismatch")
        .where(AuditEvent.entity_id == str(bad_row.id))
    ).all()
    assert len(alerts) == 1
    assert "closed" in (alerts[0].reason or "")
    assert bad_row.completed_at_utc is not None
    delay = alerts[0].occurred_at_utc - bad_row.completed_at_utc
    assert dt.timedelta(0) <= delay <= dt.timedelta(minutes=5)
    assert (
        session.scalar(
            select(func.count(AuditEvent.id)).where(
                AuditEvent.action == "command.reconcile_mismatch"
            )
        )
        == 1
    )


# --- CMD-12: concurrent retries with one idempotency key ------------------------------------


@pytest.fixture(scope="module")
def committed(
    module_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Engine, Loaded, Actor]]:
    engine = make_engine(module_database_url)
    with session_scope(make_session_factory(engine)) as session:
        loaded = load_world(session, tmp_path_factory.mktemp("fleet-cmd12"))
        ann = add_user(session, "ann", Role.DISPATCHER, [loaded.territory])
    yield engine, loaded, ann
    engine.dispose()


def test_cmd12_concurrent_retries_with_one_key_send_exactly_one_command(
    committed: tuple[Engine, Loaded, Actor],
) -> None:
    engine, loaded, ann = committed
    sessions = make_session_factory(engine)
    payload = _req(CommandType.DISCONNECT, [loaded.switch_serials[0]], "cmd12-retry")
    ids: list[int] = []
    errors: list[BaseException] = []

    def client(retries: int) -> None:
        try:
            for _ in range(retries):
                for attempt in range(10):  # a client retries a lock timeout with the same key
                    try:
                        with session_scope(sessions) as session:
                            got = commands_service.request(
                                session, payload, actor=ann, now=MONDAY_10, policy=POLICY
                            )
                        ids.append(got.id)
                        break
                    except OperationalError:
                        if attempt == 9:
                            raise
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=client, args=(25,)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(ids) == 8 * 25
    assert len(set(ids)) == 1
    headend = RecordingHeadEnd(loaded.headend)
    dispatcher = Dispatcher(sessions, headend, policy=POLICY)
    for _ in range(10):
        dispatcher.cycle()
        loaded.clock.advance(dt.timedelta(seconds=30))
    assert [s for k, s, _ in headend.submits if k == "disconnect"] == [loaded.switch_serials[0]]
    with session_scope(sessions) as session:
        requests = session.scalar(
            select(func.count(CommandRequest.id)).where(
                CommandRequest.idempotency_key == "cmd12-retry"
            )
        )
    assert requests == 1


# --- CMD-04: concurrent sessions across rolling-window boundaries ---------------------------


@pytest.mark.parametrize("window", ["system", "territory"])
def test_cmd04_no_rolling_window_passes_its_limit_under_concurrency_and_clock_skew(
    committed: tuple[Engine, Loaded, Actor], window: str
) -> None:
    engine, loaded, _ = committed
    sessions = make_session_factory(engine)
    width_s, limit, runs, threads_n, per_thread = 60, 7, 3, 10, 8
    policy = dataclasses.replace(
        POLICY,
        user_limit=10**6,
        territory_limit=limit if window == "territory" else 10**6,
        territory_window_s=width_s if window == "territory" else 3600,
        system_limit=limit if window == "system" else 10**6,
        system_window_s=width_s if window == "system" else 3600,
        hard_ceiling=10**6,
    )
    with session_scope(sessions) as session:
        actors = [
            add_user(session, f"cmd04-{window}-{i}", Role.DISPATCHER, [loaded.territory])
            for i in range(threads_n)
        ]
    serials = loaded.switch_serials
    rng = random.Random(f"cmd04-{window}")
    # Runs on Monday between 10:00 and 12:00 local, 20 minutes apart (one run's windows never
    # reach another's). Each session's clock is out of order with the others' (its requests
    # cover three windows in a random order), as when a request computed its time and then
    # waited for the lock behind a later one.
    base = MONDAY_10 + dt.timedelta(minutes=5 if window == "system" else 65)
    errors: list[BaseException] = []
    for run in range(runs):
        start = base + dt.timedelta(minutes=20 * run)
        plans = [
            [start + dt.timedelta(seconds=rng.uniform(0, 3 * width_s)) for _ in range(per_thread)]
            for _ in range(threads_n)
        ]

        def work(index: int, plan: list[dt.datetime], run: int = run) -> None:
            try:
                for n, moment in enumerate(plan):
                    payload = _req(
                        CommandType.DISCONNECT,
                        [serials[(index * per_thread + n) % len(serials)]],
                        f"cmd04-{window}-{run}-{index}-{n}",
                        "race across windows",
                    )
                    for attempt in range(10):
                        try:
                            with session_scope(sessions) as session:
                                commands_service.request(
                                    session, payload, actor=actors[index], now=moment, policy=policy
                                )
                            break
                        except OperationalError:
                            if attempt == 9:
                                raise
            except BaseException as error:  # noqa: BLE001 - reported below
                errors.append(error)

        threads = [threading.Thread(target=work, args=(i, p)) for i, p in enumerate(plans)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        with session_scope(sessions) as session:
            rows = session.execute(
                select(
                    RemoteCommand.created_at_utc,
                    CommandRequest.approval_required,
                    RemoteCommand.state,
                )
                .join(CommandRequest, CommandRequest.id == RemoteCommand.request_id)
                .where(CommandRequest.idempotency_key.like(f"cmd04-{window}-{run}-%"))
                .where(RemoteCommand.kind == CommandType.DISCONNECT)
            ).all()
        assert len(rows) == threads_n * per_thread
        # No guard refused a meter: every request was counted against the window.
        assert {state.value for _, _, state in rows} == {"queued", "held"}
        released = sorted(t for t, required, _ in rows if not required)
        held = [t for t, required, _ in rows if required]
        assert held, "the run must go over the limit"
        assert len(released) >= limit, "the run must reach the limit"
        worst = max(
            sum(1 for u in released if t <= u < t + dt.timedelta(seconds=width_s)) for t in released
        )
        assert worst <= limit, f"run {run}: {worst} unapproved disconnects in one window"
