"""Remote commands end to end on the simulated head-end: guards, approval, outbox, dispatch."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from meterops.commands import schemas
from meterops.commands import service as commands_service
from meterops.commands.dispatcher import Dispatcher
from meterops.commands.errors import IdempotencyKeyReusedError, NotApprovableError
from meterops.commands.policy import CommandPolicy
from meterops.errors import PermissionDeniedError
from meterops.headend.protocol import CommandKind, HeadEndUnavailableError
from meterops.models import Account, Installation, Meter, Territory, WorkOrder
from meterops.models.commands import CommandRequest, CommandType
from meterops.models.org import Role
from tests.commands.world import Loaded, add_user

POLICY = CommandPolicy(jitter_max_s=0.0)
TERMINAL = {"confirmed", "failed", "expired", "cancelled"}


class CountingHeadEnd:
    """The simulated head-end, recording every submit (and optionally down)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.submits: list[tuple[str, str, dt.datetime]] = []
        self.down = False

    def now_utc(self) -> dt.datetime:
        return self.inner.now_utc()  # type: ignore[no-any-return]

    def submit(self, kind: CommandKind, serial_number: str, **kw: Any) -> str:
        if self.down:
            raise HeadEndUnavailableError("head-end down (test outage)")
        self.submits.append((kind.value, serial_number, self.inner.now_utc()))
        return self.inner.submit(kind, serial_number, **kw)  # type: ignore[no-any-return]

    def command_status(self, command_id: str) -> Any:
        if self.down:
            raise HeadEndUnavailableError("head-end down (test outage)")
        return self.inner.command_status(command_id)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _req(
    kind: CommandType, serials: list[str], key: str, **kw: Any
) -> schemas.CommandRequestCreate:
    return schemas.CommandRequestCreate(
        kind=kind, serial_numbers=serials, reason="non-payment", idempotency_key=key, **kw
    )


def _run(dispatcher: Dispatcher, loaded: Loaded, *, cycles: int, step_s: float = 30.0) -> None:
    for _ in range(cycles):
        dispatcher.cycle()
        loaded.clock.advance(dt.timedelta(seconds=step_s))


def test_shipped_defaults_match_the_reliability_plan() -> None:
    p = CommandPolicy()
    assert (p.request_meter_limit, p.user_limit, p.user_window_s) == (10, 25, 900)
    assert (p.territory_limit, p.territory_window_s) == (100, 3600)
    assert (p.system_limit, p.system_window_s, p.hard_ceiling) == (250, 3600, 1000)
    assert (p.dispatch_rate_per_s, p.jitter_max_s) == (10.0, 60.0)
    assert (p.reconnects_per_feeder, p.feeder_window_s) == (20, 300)
    assert p.approval_timeout_s == 1800
    assert p.rollout_max_failure_share == 0.02


def test_a_disconnect_goes_through_confirmation_and_reconciliation(
    session: Session, loaded: Loaded, sessions: sessionmaker[Session]
) -> None:
    ann = add_user(session, "ann", Role.DISPATCHER, [loaded.territory])
    serial = loaded.switch_serials[0]
    now = loaded.clock.now()
    read = commands_service.request(
        session,
        _req(CommandType.DISCONNECT, [serial], "key-0001"),
        actor=ann,
        now=now,
        policy=POLICY,
    )
    assert read.state == "released"
    assert read.commands[0].state == "queued"
    headend = CountingHeadEnd(loaded.headend)
    dispatcher = Dispatcher(sessions, headend, policy=POLICY)  # type: ignore[arg-type]
    _run(dispatcher, loaded, cycles=30)
    after = commands_service.get_request(session, read.id)
    command = after.commands[0]
    assert command.state == "confirmed"
    assert command.reconciliation == "matched"
    assert loaded.world.switch_open(loaded.world.meter_index(serial), 10**18)
    assert [k for k, _, _ in headend.submits] == ["disconnect", "on_demand_read"]


def test_same_idempotency_key_returns_the_same_request_and_other_payload_is_refused(
    session: Session, loaded: Loaded
) -> None:
    ann = add_user(session, "ann", Role.DISPATCHER, [loaded.territory])
    now = loaded.clock.now()
    serial = loaded.switch_serials[0]
    first = commands_service.request(
        session, _req(CommandType.PING, [serial], "key-ping-1"), actor=ann, now=now, policy=POLICY
    )
    for _ in range(20):
        again = commands_service.request(
            session,
            _req(CommandType.PING, [serial], "key-ping-1"),
            actor=ann,
            now=now,
            policy=POLICY,
        )
        assert again.id == first.id
    with pytest.raises(IdempotencyKeyReusedError):
        commands_service.request(
            session,
            _req(CommandType.PING, [loaded.switch_serials[1]], "key-ping-1"),
            actor=ann,
            now=now,
            policy=POLICY,
        )
    assert len(session.scalars(select(CommandRequest)).all()) == 1


def test_a_mass_disconnect_is_held_and_nothing_reaches_the_headend_without_a_second_person(
    session: Session, loaded: Loaded, sessions: sessionmaker[Session]
) -> None:
    ann = add_user(session, "ann", Role.DISPATCHER, [loaded.territory])
    bob = add_user(session, "bob", Role.SUPERVISOR, [loaded.territory])
    serials = loaded.switch_serials[: POLICY.request_meter_limit + 1]
    now = loaded.clock.now()
    held = commands_service.request(
        session,
        _req(CommandType.DISCONNECT, serials, "key-mass-1"),
        actor=ann,
        now=now,
        policy=POLICY,
    )
    assert held.state == "awaiting_approval"
    assert "request_size" in held.approval_reasons
    headend = CountingHeadEnd(loaded.headend)
    dispatcher = Dispatcher(sessions, headend, policy=POLICY)  # type: ignore[arg-type]
    _run(dispatcher, loaded, cycles=3, step_s=1.0)
    assert headend.submits == []
    # The requester cannot approve; neither can a dispatcher.
    with pytest.raises(NotApprovableError):
        commands_service.approve(
            session,
            held.id,
            actor=ann,
            now=loaded.clock.now(),
            policy=POLICY,
            stepped_up_at_utc=loaded.clock.now(),
        )
    approved = commands_service.approve(
        session,
        held.id,
        actor=bob,
        now=loaded.clock.now(),
        policy=POLICY,
        stepped_up_at_utc=loaded.clock.now(),
    )
    assert approved.approved_by == "bob"
    _run(dispatcher, loaded, cycles=40)
    assert sorted(s for k, s, _ in headend.submits if k == "disconnect") == sorted(serials)


def test_the_database_refuses_an_approver_equal_to_the_requester(
    session: Session, loaded: Loaded
) -> None:
    ann = add_user(session, "ann", Role.SUPERVISOR, [loaded.territory])
    held = commands_service.request(
        session,
        _req(CommandType.DISCONNECT, loaded.switch_serials[:11], "key-mass-2"),
        actor=ann,
        now=loaded.clock.now(),
        policy=POLICY,
    )
    with pytest.raises(IntegrityError), session.begin_nested():
        session.execute(
            update(CommandRequest).where(CommandRequest.id == held.id).values(approved_by="ann")
        )


def test_an_approval_after_the_time_limit_is_refused_and_the_request_expires(
    session: Session, loaded: Loaded, sessions: sessionmaker[Session]
) -> None:
    ann = add_user(session, "ann", Role.DISPATCHER, [loaded.territory])
    bob = add_user(session, "bob", Role.SUPERVISOR, [loaded.territory])
    now = loaded.clock.now()
    held = commands_service.request(
        session,
        _req(CommandType.DISCONNECT, loaded.switch_serials[:11], "key-mass-3"),
        actor=ann,
        now=now,
        policy=POLICY,
    )
    late = now + dt.timedelta(seconds=POLICY.approval_timeout_s + 1)
    with pytest.raises(NotApprovableError):
        commands_service.approve(
            session, held.id, actor=bob, now=late, policy=POLICY, stepped_up_at_utc=late
        )
    assert commands_service.expire_overdue_requests(session, now=late) == 1
    after = commands_service.get_request(session, held.id)
    assert after.state == "expired"
    assert {c.state for c in after.commands} == {"expired"}


def test_per_user_window_holds_the_request_that_would_pass_it(
    session: Session, loaded: Loaded
) -> None:
    policy = dataclasses.replace(POLICY, user_limit=5)
    ann = add_user(session, "ann", Role.DISPATCHER, [loaded.territory])
    now = loaded.clock.now()
    states = [
        commands_service.request(
            session,
            _req(CommandType.DISCONNECT, [serial], f"key-user-{i:03d}"),
            actor=ann,
            now=now + dt.timedelta(seconds=i),
            policy=policy,
        ).state
        for i, serial in enumerate(loaded.switch_serials[:7])
    ]
    assert states == ["released"] * 5 + ["awaiting_approval"] * 2
    # Outside the rolling window the user may act alone again.
    later = now + dt.timedelta(seconds=policy.user_window_s + 60)
    again = commands_service.request(
        session,
        _req(CommandType.DISCONNECT, [loaded.switch_serials[8]], "key-user-late"),
        actor=ann,
        now=later,
        policy=policy,
    )
    assert again.state == "released"


@pytest.mark.parametrize("flag", ["medical_life_support", "critical_facility"])
def test_flagged_accounts_are_blocked_at_request_and_again_at_dispatch(
    session: Session, loaded: Loaded, sessions: sessionmaker[Session], flag: str
) -> None:
    ann = add_user(session, "ann", Role.DISPATCHER, [loaded.territory])
    first, second = loaded.switch_serials[:2]

    def account_of(serial: str) -> Account | None:
        return session.scalars(
            select(Account)
            .join(Installation, Installation.service_point_id == Account.service_point_id)
            .join(Meter, Meter.id == Installation.meter_id)
            .where(Meter.serial_number == serial)
            .where(Account.move_out_date.is_(None))
        ).first()

    a1, a2 = account_of(first), account_of(second)
    if a1 is None or a2 is None:
        pytest.skip("meters without open accounts")
    setattr(a1, flag, True)
    session.flush()
    now = loaded.clock.now()
    blocked = commands_service.request(
        session,
        _req(CommandType.DISCONNECT, [first], "key-flag-1"),
        actor=ann,
        now=now,
        policy=POLICY,
    )
    assert blocked.commands[0].state == "cancelled"
    assert blocked.commands[0].failure_reason == f"guard.{flag}"
    queued = commands_service.request(
        session,
        _req(CommandType.DISCONNECT, [second], "key-flag-2"),
        actor=ann,
        now=now,
        policy=POLICY,
    )
    assert queued.commands[0].state == "queued"
    setattr(a2, flag, True)  # set after the request was released
    session.flush()
    headend = CountingHeadEnd(loaded.headend)
    _run(Dispatcher(sessions, headend, policy=POLICY), loaded, cycles=3)  # type: ignore[arg-type]
    assert headend.submits == []
    assert commands_service.get_request(session, queued.id).commands[0].failure_reason == (
        f"guard.{flag}"
    )


def test_calendar_hours_and_weather_rules_block_disconnects(
    session: Session, loaded: Loaded
) -> None:
    ann = add_user(session, "ann", Role.DISPATCHER, [loaded.territory])
    serial = loaded.switch_serials[0]
    friday = dt.datetime(2026, 1, 16, 16, 0, tzinfo=dt.UTC)
    night = dt.datetime(2026, 1, 13, 4, 0, tzinfo=dt.UTC)
    monday = loaded.clock.now()
    holiday_eve = dataclasses.replace(POLICY, holidays=frozenset({dt.date(2026, 1, 13)}))

    def reason(now: dt.datetime, key: str, policy: CommandPolicy = POLICY) -> str | None:
        read = commands_service.request(
            session,
            _req(CommandType.PING if False else CommandType.DISCONNECT, [serial], key),
            actor=ann,
            now=now,
            policy=policy,
        )
        return read.commands[0].failure_reason

    assert reason(friday, "key-cal-fri") == "guard.calendar"
    assert reason(night, "key-cal-night") == "guard.hours"
    assert reason(monday, "key-cal-hol", holiday_eve) == "guard.calendar"
    commands_service.record_temperature(
        session,
        territory_code=loaded.territory,
        temperature_c=-12.0,
        valid_at_utc=monday,
        actor="ann",
    )
    assert reason(monday, "key-cal-cold") == "guard.weather"


def test_roles_and_territories_are_enforced(session: Session, loaded: Loaded) -> None:
    tech = add_user(session, "tom", Role.TECHNICIAN, [loaded.territory])
    other = add_user(session, "olga", Role.DISPATCHER, [])
    serial = loaded.switch_serials[0]
    now = loaded.clock.now()
    with pytest.raises(PermissionDeniedError):
        commands_service.request(
            session,
            _req(CommandType.DISCONNECT, [serial], "key-role-1"),
            actor=tech,
            now=now,
            policy=POLICY,
        )
    outside = commands_service.request(
        session,
        _req(CommandType.DISCONNECT, [serial], "key-terr-1"),
        actor=other,
        now=now,
        policy=POLICY,
    )
    assert outside.commands[0].failure_reason == "guard.territory"
    forged = dataclasses.replace(tech, role="admin")
    with pytest.raises(PermissionDeniedError):
        commands_service.request(
            session,
            _req(CommandType.PING, [serial], "key-forge-1"),
            actor=forged,
            now=now,
            policy=POLICY,
        )


def test_kill_switch_halts_dispatch_and_keeps_queued_commands(
    session: Session, loaded: Loaded, sessions: sessionmaker[Session]
) -> None:
    ann = add_user(session, "ann", Role.SUPERVISOR, [loaded.territory])
    serials = loaded.switch_serials[:8]
    now = loaded.clock.now()
    read = commands_service.request(
        session, _req(CommandType.PING, serials, "key-kill-1"), actor=ann, now=now, policy=POLICY
    )
    commands_service.set_kill_switch(session, active=True, actor=ann, now=now, reason="drill")
    headend = CountingHeadEnd(loaded.headend)
    dispatcher = Dispatcher(sessions, headend, policy=POLICY)  # type: ignore[arg-type]
    _run(dispatcher, loaded, cycles=5)
    assert headend.submits == []
    assert {c.state for c in commands_service.get_request(session, read.id).commands} == {"queued"}
    commands_service.set_kill_switch(
        session, active=False, actor=ann, now=loaded.clock.now(), reason="drill over"
    )
    _run(dispatcher, loaded, cycles=10)
    assert sorted(s for _, s, _ in headend.submits) == sorted(serials)


def test_dispatch_throttle_holds_in_every_one_second_window(
    session: Session, loaded: Loaded, sessions: sessionmaker[Session]
) -> None:
    ann = add_user(session, "ann", Role.SUPERVISOR, [loaded.territory])
    serials = loaded.all_serials
    commands_service.request(
        session,
        _req(CommandType.PING, serials, "key-thr-1"),
        actor=ann,
        now=loaded.clock.now(),
        policy=POLICY,
    )
    headend = CountingHeadEnd(loaded.headend)
    dispatcher = Dispatcher(sessions, headend, policy=POLICY)  # type: ignore[arg-type]
    for _ in range(200):
        dispatcher.cycle()
        loaded.clock.advance(dt.timedelta(milliseconds=250))
    times = sorted(t for _, _, t in headend.submits)
    assert len(times) == len(serials)
    worst = max(sum(1 for u in times if t <= u < t + dt.timedelta(seconds=1)) for t in times)
    assert worst <= POLICY.dispatch_rate_per_s


def test_reconnects_are_staggered_per_feeder(
    session: Session, loaded: Loaded, sessions: sessionmaker[Session]
) -> None:
    policy = dataclasses.replace(POLICY, reconnects_per_feeder=3, feeder_window_s=60)
    ann = add_user(session, "ann", Role.SUPERVISOR, [loaded.territory])
    bob = add_user(session, "bob", Role.ADMIN, [loaded.territory])
    serials = loaded.switch_serials
    read = commands_service.request(
        session,
        _req(CommandType.RECONNECT, serials, "key-rc-1"),
        actor=ann,
        now=loaded.clock.now(),
        policy=policy,
    )
    headend = CountingHeadEnd(loaded.headend)
    dispatcher = Dispatcher(sessions, headend, policy=policy)  # type: ignore[arg-type]
    for _ in range(400):
        dispatcher.cycle()
        loaded.clock.advance(dt.timedelta(seconds=5))
    feeder_of = {
        c.serial_number: c.feeder_code
        for c in commands_service.get_request(session, read.id).commands
    }
    sends = [(feeder_of[s], t) for k, s, t in headend.submits if k == "reconnect"]
    assert len(sends) == len(serials)
    window = dt.timedelta(seconds=policy.feeder_window_s)
    for feeder, t in sends:
        inside = sum(1 for f, u in sends if f == feeder and t <= u < t + window)
        assert inside <= policy.reconnects_per_feeder
    del bob


def test_a_reconnect_refused_for_load_side_voltage_creates_a_field_order(
    session: Session, loaded: Loaded, sessions: sessionmaker[Session]
) -> None:
    ann = add_user(session, "ann", Role.DISPATCHER, [loaded.territory])
    serial = loaded.switch_serials[0]
    world = loaded.world
    meter = world.meter_index(serial)
    from meterops.simulator.world import to_us

    site = world.installation_of(meter, to_us(loaded.clock.now()))
    assert site is not None
    world.set_backfeed(site, present=True, moment_us=to_us(loaded.clock.now()))
    read = commands_service.request(
        session,
        _req(CommandType.RECONNECT, [serial], "key-lsv-1"),
        actor=ann,
        now=loaded.clock.now(),
        policy=POLICY,
    )
    headend = CountingHeadEnd(loaded.headend)
    _run(Dispatcher(sessions, headend, policy=POLICY), loaded, cycles=20)  # type: ignore[arg-type]
    command = commands_service.get_request(session, read.id).commands[0]
    assert command.state == "failed"
    assert command.failure_reason == "load_side_voltage"
    orders = session.scalars(
        select(WorkOrder).where(WorkOrder.problem_code == "load_side_voltage")
    ).all()
    assert len(orders) == 1


def test_every_command_ends_after_a_headend_outage(
    session: Session, loaded: Loaded, sessions: sessionmaker[Session]
) -> None:
    policy = dataclasses.replace(POLICY, command_ttl_s=900, status_timeout_s=600)
    ann = add_user(session, "ann", Role.SUPERVISOR, [loaded.territory])
    read = commands_service.request(
        session,
        _req(CommandType.PING, loaded.all_serials[:30], "key-out-1"),
        actor=ann,
        now=loaded.clock.now(),
        policy=policy,
    )
    headend = CountingHeadEnd(loaded.headend)
    dispatcher = Dispatcher(sessions, headend, policy=policy)  # type: ignore[arg-type]
    dispatcher.cycle()  # some go out before the outage
    headend.down = True
    _run(dispatcher, loaded, cycles=20, step_s=30.0)  # ten minutes down
    headend.down = False
    _run(dispatcher, loaded, cycles=60, step_s=30.0)
    states = {c.state for c in commands_service.get_request(session, read.id).commands}
    assert states <= TERMINAL
    assert len({s for _, s, _ in headend.submits}) == len(headend.submits)


def test_a_rollout_halts_on_failures_and_rolls_back(
    session: Session, loaded: Loaded, sessions: sessionmaker[Session]
) -> None:
    from meterops.commands import rollout
    from tests.fixtures.builders import create_installed_meter

    ghost, _ = create_installed_meter(session)  # known to the back office, not to the head-end
    codes = list(session.scalars(select(Territory.code)).all())
    admin = add_user(session, "ada", Role.ADMIN, codes)
    serials = [*loaded.all_serials[:4], ghost.serial_number, *loaded.all_serials[4:40]]
    before = {
        m.serial_number: m.program_id
        for m in session.scalars(select(Meter).where(Meter.serial_number.in_(serials))).all()
    }
    started = rollout.start(
        session,
        schemas.RolloutCreate(
            program_code="RES-TOU-2024",
            serial_numbers=serials,
            reason="TOU fix",
            idempotency_key="key-roll-1",
        ),
        actor=admin,
        now=loaded.clock.now(),
        policy=POLICY,
    )
    assert started.stages["sizes"][0] == POLICY.rollout_first_stage
    dispatcher = Dispatcher(sessions, CountingHeadEnd(loaded.headend), policy=POLICY)  # type: ignore[arg-type]
    for _ in range(40):
        dispatcher.cycle()
        rollout.advance(session, started.id, now=loaded.clock.now(), policy=POLICY)
        session.flush()
        loaded.clock.advance(dt.timedelta(seconds=120))
    state = rollout.get(session, started.id)
    assert state.state == "halted"
    assert state.current_stage == 0
    # Later stages were never requested; rolled-back meters carry their old program again.
    after = {
        m.serial_number: m.program_id
        for m in session.scalars(select(Meter).where(Meter.serial_number.in_(serials))).all()
    }
    assert after == before


def test_a_stored_load_side_voltage_event_keeps_the_close_from_being_sent(
    session: Session, loaded: Loaded, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    from meterops.nomenclature import EVENT_BY_NAME
    from meterops.reads.schema import EVENTS
    from meterops.reads.store import FileCommit, ReadStore, Table

    ann = add_user(session, "ann", Role.DISPATCHER, [loaded.territory])
    serial = loaded.switch_serials[0]
    meter_id = session.scalars(select(Meter.id).where(Meter.serial_number == serial)).one()
    now = loaded.clock.now()
    read = commands_service.request(
        session,
        _req(CommandType.RECONNECT, [serial], "key-lsv-2"),
        actor=ann,
        now=now,
        policy=POLICY,
    )
    assert read.commands[0].state == "queued"
    # The meter reports load-side voltage after the request was released.
    store = ReadStore(str(tmp_path / "reads"))
    seen = now + dt.timedelta(seconds=5)
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
    loaded.clock.advance(dt.timedelta(seconds=10))
    headend = CountingHeadEnd(loaded.headend)
    _run(Dispatcher(sessions, headend, policy=POLICY, store=store), loaded, cycles=3)  # type: ignore[arg-type]
    assert headend.submits == []  # no close was sent
    command = commands_service.get_request(session, read.id).commands[0]
    assert (command.state, command.failure_reason) == ("failed", "load_side_voltage")
    orders = session.scalars(
        select(WorkOrder).where(WorkOrder.problem_code == "load_side_voltage")
    ).all()
    assert len(orders) == 1
