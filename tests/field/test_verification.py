"""End to end through the simulated head-end: an exchange is told to it and followed."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from meterops.auth.service import CurrentUser
from meterops.commands.dispatcher import Dispatcher
from meterops.commands.policy import CommandPolicy
from meterops.errors import ConflictError, NotFoundError
from meterops.field import service
from meterops.field.schemas import ActionKind, ActionRequest
from meterops.headend.simulated import SimClock, SimulatedHeadEnd
from meterops.models import Installation, Meter, ServicePoint, Technician, Territory, User
from meterops.models.org import Role
from meterops.simulator.params import FaultRates
from meterops.workorders import service as workorders_service
from meterops.workorders.lifecycle import WorkOrderStatus
from meterops.workorders.schemas import OrderRequest
from meterops.workorders.service import WorkOrderPolicy
from meterops.workorders.types import WorkOrderType
from tests.commands.world import MONDAY_10, add_user, load_world
from tests.field.conftest import current
from tests.fixtures.builders import create_meter

QUIET = FaultRates(
    radio_failure_per_meter_year=0.0,
    weak_path_per_meter_year=0.0,
    collector_down_per_collector_year=0.0,
    transformer_outage_per_transformer_year=0.0,
    feeder_outage_per_feeder_year=0.0,
    meter_removed_per_meter_year=0.0,
    hot_socket_per_meter_year=0.0,
)
"""No outages nor radio faults: whether the new meter registers is up to its own radio."""


@dataclass
class Visit:
    session: Session
    user: CurrentUser
    number: str
    head_end: SimulatedHeadEnd
    clock: SimClock
    point: ServicePoint

    def act(self, kind: ActionKind, payload: dict[str, Any]) -> dict[str, Any]:
        return service.record_action(
            self.session,
            self.user,
            self.number,
            ActionRequest(idempotency_key=str(uuid.uuid4()), kind=kind, payload=payload),
            now=MONDAY_10,
            head_end=self.head_end,
        ).outcome

    def verification(self, now: dt.datetime = MONDAY_10) -> Any:
        return service.verification(
            self.session, self.user, self.number, head_end=self.head_end, now=now
        )


def assigned(
    session: Session,
    folder: Path,
    *,
    dead_on_arrival: float,
    order_type: WorkOrderType = WorkOrderType.EXCHANGE,
) -> tuple[Visit, str, Installation, Meter]:
    """Load a simulated town and give a technician an exchange order (and a spare meter)."""
    loaded = load_world(session, folder, service_points=60, faults=QUIET)
    head_end = SimulatedHeadEnd(loaded.world, clock=loaded.clock, dead_on_arrival=dead_on_arrival)
    # The meter with the strongest radio path to a working collector.
    links = {s: head_end.link(s, MONDAY_10) for s in loaded.all_serials}
    serial = max((s for s in links if links[s].collector_up), key=lambda s: links[s].margin_db)
    add_user(session, "tess", Role.TECHNICIAN, [loaded.territory])
    user = session.scalars(select(User).where(User.username == "tess")).one()
    territory = session.scalars(select(Territory).where(Territory.code == loaded.territory)).one()
    technician = Technician(
        employee_number="T-1",
        name="Tess",
        skills=["residential", "ct_rated"],
        certifications=[],
        territory_id=territory.id,
        depot_latitude=0.0,
        depot_longitude=0.0,
        shift_start=dt.time(7),
        shift_end=dt.time(16),
        user_id=user.id,
    )
    session.add(technician)
    session.flush()
    created = workorders_service.create_order(
        session,
        OrderRequest(order_type=order_type, meter_serial=serial),
        actor="test",
        now=MONDAY_10,
        policy=WorkOrderPolicy(),
    )
    order = workorders_service.get_order(session, created.order_number)
    order.technician_id = technician.id
    for target in (WorkOrderStatus.SCHEDULED, WorkOrderStatus.ASSIGNED):
        workorders_service.move(session, order, target, actor="test", now=MONDAY_10)
    old = session.scalars(select(Meter).where(Meter.serial_number == serial)).one()
    installed = session.scalars(
        select(Installation).where(
            Installation.meter_id == old.id, Installation.removed_at_utc.is_(None)
        )
    ).one()
    point = session.get_one(ServicePoint, installed.service_point_id)
    new = create_meter(session, form=old.form, serial_number=f"NEW{uuid.uuid4().hex[:8]}")
    visit = Visit(
        session, current(user, {territory.id}), created.order_number, head_end, loaded.clock, point
    )
    return visit, serial, installed, new


def exchange(session: Session, folder: Path, *, dead_on_arrival: float) -> Visit:
    """An assigned exchange order, worked: arrived, safety passed, meter exchanged."""
    visit, serial, installed, new = assigned(session, folder, dead_on_arrival=dead_on_arrival)
    point = visit.point
    detail = service.order_detail(session, visit.user, visit.number, now=MONDAY_10)
    answers = {i.code: i.nominal_v if i.kind == "volts" else "pass" for i in detail.checklist}
    visit.act(ActionKind.ARRIVE, {})
    visit.act(ActionKind.SAFETY, {"items": answers})
    outcome = visit.act(
        ActionKind.EXCHANGE,
        {
            "old_serial": serial,
            "old_final_read_kwh": (installed.install_read_kwh or 0.0) + 10.0,
            "new_serial": new.serial_number,
            "new_initial_read_kwh": 0.0,
        },
    )
    assert outcome["service_point"] == point.service_point_number
    return visit


def test_the_order_is_verified_when_the_new_meter_registers(
    session: Session, tmp_path: Path
) -> None:
    visit = exchange(session, tmp_path, dead_on_arrival=0.0)
    first = visit.verification()
    assert (first.state, first.command_id is not None) == ("pending", True)
    visit.clock.advance(dt.timedelta(hours=5))
    later = visit.verification()
    assert later.state == "verified", later.reason
    assert later.registered_at is not None
    assert later.first_read is not None
    assert later.first_read["service_point"] == visit.point.service_point_number
    done = visit.act(ActionKind.COMPLETE, {"found_cause_code": "meter_failed"})
    assert done["verified"] is True
    final = workorders_service.get_order(session, visit.number)
    assert final.status is WorkOrderStatus.VERIFIED


def test_a_dead_radio_fails_verification_and_completion_needs_a_reason(
    session: Session, tmp_path: Path
) -> None:
    visit = exchange(session, tmp_path, dead_on_arrival=1.0)
    visit.clock.advance(dt.timedelta(hours=5))
    failed = visit.verification()
    assert (failed.state, failed.reason) == ("failed", "not_registered")
    with pytest.raises(ConflictError) as refused:
        visit.act(ActionKind.COMPLETE, {"found_cause_code": "meter_failed"})
    assert refused.value.code == "field.verification_pending"
    done = visit.act(
        ActionKind.COMPLETE,
        {"found_cause_code": "meter_failed", "unverified_reason": "radio dead; ticket opened"},
    )
    assert done["verified"] is False
    assert workorders_service.get_order(session, visit.number).status is WorkOrderStatus.COMPLETED


def test_a_verification_still_pending_after_the_window_times_out(
    session: Session, tmp_path: Path
) -> None:
    visit = exchange(session, tmp_path, dead_on_arrival=0.0)
    late = MONDAY_10 + dt.timedelta(hours=6)  # the head-end's clock has not moved: still pending
    assert visit.verification(now=late).state == "timed_out"


def test_a_ping_from_the_phone_goes_through_remote_commands_and_is_kept_on_the_order(
    session: Session, tmp_path: Path
) -> None:
    visit, _, _, _ = assigned(session, tmp_path, dead_on_arrival=0.0)
    asked = service.ask_meter(
        session, visit.user, visit.number, kind="ping", idempotency_key="ping-key-1", now=MONDAY_10
    )
    assert (asked.kind, asked.state) == ("ping", "queued")
    again = service.ask_meter(
        session, visit.user, visit.number, kind="ping", idempotency_key="ping-key-1", now=MONDAY_10
    )
    assert again.request_id == asked.request_id  # the same key asks once
    sessions = sessionmaker(
        bind=session.connection(), join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    dispatcher = Dispatcher(sessions, visit.head_end, policy=CommandPolicy())
    for _ in range(10):
        dispatcher.cycle()
        visit.clock.advance(dt.timedelta(seconds=30))
    followed = service.follow_command(
        session, visit.user, visit.number, asked.request_id, now=MONDAY_10
    )
    assert followed.state == "confirmed", followed.failure_reason
    assert "rssi_dbm" in followed.result
    order = workorders_service.get_order(session, visit.number)
    assert order.last_ping is not None
    assert (order.last_ping["request_id"], order.last_ping["state"]) == (
        asked.request_id,
        "confirmed",
    )
    with pytest.raises(NotFoundError):
        service.follow_command(session, visit.user, visit.number, 999_999, now=MONDAY_10)


def test_a_radio_replacement_is_verified_by_a_ping_on_site(
    session: Session, tmp_path: Path
) -> None:
    visit, _, _, _ = assigned(
        session, tmp_path, dead_on_arrival=0.0, order_type=WorkOrderType.RADIO_MODULE_REPLACEMENT
    )
    visit.act(ActionKind.ARRIVE, {})
    before = visit.verification()
    assert before.state == "pending"
    with pytest.raises(ConflictError):
        visit.act(ActionKind.COMPLETE, {"found_cause_code": "radio_module_failed"})
    asked = service.ask_meter(
        session, visit.user, visit.number, kind="ping", idempotency_key=None, now=MONDAY_10
    )
    sessions = sessionmaker(
        bind=session.connection(), join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    dispatcher = Dispatcher(sessions, visit.head_end, policy=CommandPolicy())
    for _ in range(10):
        dispatcher.cycle()
        visit.clock.advance(dt.timedelta(seconds=30))
    after = visit.verification()
    assert (after.state, after.command_id) == ("verified", str(asked.request_id))
    assert after.first_read is not None
    assert "rssi_dbm" in after.first_read
    done = visit.act(ActionKind.COMPLETE, {"found_cause_code": "radio_module_failed"})
    assert done["verified"] is True
    final = workorders_service.get_order(session, visit.number)
    assert final.status is WorkOrderStatus.VERIFIED
