"""Arm-for-customer-press reconnects, time syncs and demand resets through the whole flow.

Request -> guards -> outbox -> dispatcher -> simulated head-end -> confirmation (and, for the
arm, the reconciliation read), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from meterops.commands import schemas
from meterops.commands import service as commands_service
from meterops.commands.dispatcher import Dispatcher
from meterops.commands.policy import CommandPolicy
from meterops.errors import PermissionDeniedError
from meterops.models import Meter, MeterProgram
from meterops.models.commands import CommandType
from meterops.models.org import Role
from meterops.simulator import FaultKind, FaultRates
from meterops.simulator.world import to_us
from tests.commands.world import Loaded, add_user, load_world

POLICY = CommandPolicy(jitter_max_s=0.0)


def _req(
    kind: CommandType, serials: list[str], key: str, **kw: Any
) -> schemas.CommandRequestCreate:
    return schemas.CommandRequestCreate(
        kind=kind, serial_numbers=serials, reason="customer paid", idempotency_key=key, **kw
    )


def _run(dispatcher: Dispatcher, loaded: Loaded, *, cycles: int, step_s: float = 30.0) -> None:
    for _ in range(cycles):
        dispatcher.cycle()
        loaded.clock.advance(dt.timedelta(seconds=step_s))


def test_an_armed_reconnect_is_confirmed_reconciled_and_closed_by_the_customers_press(
    session: Session, loaded: Loaded, sessions: sessionmaker[Session]
) -> None:
    ann = add_user(session, "ann", Role.DISPATCHER, [loaded.territory])
    serial = loaded.switch_serials[0]
    dispatcher = Dispatcher(sessions, loaded.headend, policy=POLICY)
    off = commands_service.request(
        session,
        _req(CommandType.DISCONNECT, [serial], "key-off-1"),
        actor=ann,
        now=loaded.clock.now(),
        policy=POLICY,
    )
    _run(dispatcher, loaded, cycles=20)
    assert commands_service.get_request(session, off.id).commands[0].state == "confirmed"
    arm = commands_service.request(
        session,
        _req(CommandType.ARM_RECONNECT, [serial], "key-arm-1"),
        actor=ann,
        now=loaded.clock.now(),
        policy=POLICY,
    )
    assert [g["code"] for g in arm.commands[0].guard_results["request"]] == [
        "guard.role",
        "guard.meter_known",
        "guard.territory",
        "guard.installed",
        "guard.switch",
        "guard.load_side_voltage",
    ]
    # Two cycles: sent, then confirmed (the arm answers within a minute).
    _run(dispatcher, loaded, cycles=2, step_s=60)
    command = commands_service.get_request(session, arm.id).commands[0]
    assert command.state == "confirmed"
    assert command.result["switch"] == "armed"
    meter = loaded.world.meter_index(serial)
    if loaded.headend.armed(serial):
        assert loaded.headend.press_button(serial)
    assert not loaded.world.switch_open(meter, to_us(loaded.clock.now()))
    _run(dispatcher, loaded, cycles=10)
    command = commands_service.get_request(session, arm.id).commands[0]
    assert command.reconciliation == "matched"


def test_a_policy_without_direct_closes_refuses_a_reconnect_and_allows_the_arm(
    session: Session, loaded: Loaded
) -> None:
    ann = add_user(session, "ann", Role.DISPATCHER, [loaded.territory])
    serial = loaded.switch_serials[1]
    policy = CommandPolicy(jitter_max_s=0.0, direct_reconnect=False)
    close = commands_service.request(
        session,
        _req(CommandType.RECONNECT, [serial], "key-close-1"),
        actor=ann,
        now=loaded.clock.now(),
        policy=policy,
    )
    assert close.commands[0].state == "cancelled"
    assert close.commands[0].failure_reason == "guard.reconnect_mode"
    arm = commands_service.request(
        session,
        _req(CommandType.ARM_RECONNECT, [serial], "key-arm-2"),
        actor=ann,
        now=loaded.clock.now(),
        policy=policy,
    )
    assert arm.commands[0].state == "queued"


def test_a_time_sync_fixes_a_drifting_clock_through_the_outbox(
    session: Session, tmp_path: Path, sessions: sessionmaker[Session]
) -> None:
    loaded = load_world(session, tmp_path, faults=FaultRates(clock_drift_share=0.2))
    world = loaded.world
    now = to_us(loaded.clock.now())
    faults = world.faults
    drifting = {
        world.reported_serial[int(faults.meter[r])]
        for r in faults.rows(FaultKind.CLOCK_DRIFT)
        if faults.start_us[r] < now and faults.end_us[r] > now
    }
    serial = next(s for s in loaded.all_serials if s in drifting)
    tom = add_user(session, "tom", Role.TECHNICIAN, [loaded.territory])
    read = commands_service.request(
        session,
        _req(CommandType.TIME_SYNC, [serial], "key-sync-1"),
        actor=tom,
        now=loaded.clock.now(),
        policy=POLICY,
    )
    _run(Dispatcher(sessions, loaded.headend, policy=POLICY), loaded, cycles=10)
    command = commands_service.get_request(session, read.id).commands[0]
    assert command.state == "confirmed"
    assert command.result["offset_before_s"] != 0.0
    assert command.result["offset_after_s"] == 0.0
    assert not world.live_faults(
        FaultKind.CLOCK_DRIFT, to_us(loaded.clock.now()), meter=world.meter_index(serial)
    )
    analyst = add_user(session, "ali", Role.ANALYST, [loaded.territory])
    with pytest.raises(PermissionDeniedError):
        commands_service.request(
            session,
            _req(CommandType.TIME_SYNC, [serial], "key-sync-2"),
            actor=analyst,
            now=loaded.clock.now(),
            policy=POLICY,
        )


def test_a_demand_reset_is_for_supervisors_and_demand_meters(
    session: Session, loaded: Loaded, sessions: sessionmaker[Session]
) -> None:
    ann = add_user(session, "ann", Role.DISPATCHER, [loaded.territory])
    sue = add_user(session, "sue", Role.SUPERVISOR, [loaded.territory])
    programs = dict(
        session.execute(
            select(Meter.serial_number, MeterProgram.program_code).join(
                MeterProgram, MeterProgram.id == Meter.program_id
            )
        ).all()
    )
    world = loaded.world
    now = to_us(loaded.clock.now())

    def carries(serial: str, prefixes: tuple[str, ...]) -> bool:
        return world.program_of(world.meter_index(serial), now).startswith(prefixes) and str(
            programs.get(serial, "")
        ).startswith(prefixes)

    demand = next(s for s in loaded.all_serials if carries(s, ("GS-", "LGS-")))
    home = next(s for s in loaded.all_serials if carries(s, ("RES-",)))
    with pytest.raises(PermissionDeniedError):
        commands_service.request(
            session,
            _req(CommandType.DEMAND_RESET, [demand], "key-reset-0"),
            actor=ann,
            now=loaded.clock.now(),
            policy=POLICY,
        )
    reads = [
        commands_service.request(
            session,
            _req(CommandType.DEMAND_RESET, [serial], f"key-reset-{i}"),
            actor=sue,
            now=loaded.clock.now(),
            policy=POLICY,
        )
        for i, serial in enumerate((demand, home), start=1)
    ]
    _run(Dispatcher(sessions, loaded.headend, policy=POLICY), loaded, cycles=10)
    done = [commands_service.get_request(session, r.id).commands[0] for r in reads]
    assert done[0].state == "confirmed"
    assert done[0].result["program_code"].startswith(("GS-", "LGS-"))
    assert (done[1].state, done[1].failure_reason) == ("failed", "not_supported")
