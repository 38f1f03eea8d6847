"""Creating orders from verdicts and by hand: defaults, duplicates, bundles, deadlines."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from meterops.errors import ConflictError, IllegalTransitionError, NotFoundError
from meterops.models import AuditEvent, Meter, WorkOrder
from meterops.models.workorders import OrderSource
from meterops.workorders import service as workorders_service
from meterops.workorders.errors import OrderOnPlanError, ReasonRequiredError
from meterops.workorders.lifecycle import WorkOrderStatus
from meterops.workorders.schemas import OrderFilter, OrderRequest
from meterops.workorders.types import WorkOrderType
from tests.fixtures.builders import create_service_point
from tests.workorders.conftest import NOW, POLICY, MeterAt

S = WorkOrderStatus


def verdict(
    meter: Meter, order_type: WorkOrderType = WorkOrderType.NON_COMM_INVESTIGATION, **fields: object
) -> OrderRequest:
    return OrderRequest.model_validate(
        {"order_type": order_type, "meter_serial": meter.serial_number, **fields}
    )


def create(session: Session, *requests: OrderRequest):
    return workorders_service.create_from_verdicts(
        session, list(requests), actor="system:diagnostics", now=NOW, policy=POLICY
    )


def audit_actions(session: Session, order_number: str) -> list[str]:
    return list(
        session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.entity_id == order_number)
            .order_by(AuditEvent.id)
        )
    )


def test_a_verdict_becomes_an_order_with_the_type_defaults(
    session: Session, meter_at: MeterAt
) -> None:
    meter = meter_at()
    result = create(
        session,
        verdict(
            meter,
            WorkOrderType.RADIO_MODULE_REPLACEMENT,
            problem_code="noncomm.radio_failure",
            evidence_summary="silent for 3 days, last RSSI -97 dBm",
        ),
    )
    [number] = result.created
    order = workorders_service.read_order(session, number)
    assert order.status is S.CREATED
    assert order.source is OrderSource.VERDICT
    assert (order.duration_min, order.required_skill, order.priority) == (30, "residential", 3)
    assert order.parts == ["radio module", "seals"]
    assert order.meter_form == "2S"
    assert order.evidence == {"summary": "silent for 3 days, last RSSI -97 dBm"}
    assert order.subject_key == f"meter:{meter.serial_number}"
    assert audit_actions(session, number) == ["workorder.create"]


def test_a_second_verdict_for_the_same_meter_and_problem_is_a_duplicate(
    session: Session, meter_at: MeterAt
) -> None:
    meter = meter_at()
    first = create(session, verdict(meter, problem_code="noncomm"))
    second = create(session, verdict(meter, problem_code="noncomm"))
    assert second.created == []
    assert second.duplicates[0].order_number == first.created[0]
    assert second.duplicates[0].escalated is False


def test_a_more_urgent_duplicate_raises_the_active_order(
    session: Session, meter_at: MeterAt
) -> None:
    meter = meter_at()
    [number] = create(session, verdict(meter, priority=4)).created
    due = NOW + dt.timedelta(hours=6)
    again = create(session, verdict(meter, priority=2, due_at_utc=due))
    assert again.duplicates[0].escalated is True
    order = workorders_service.read_order(session, number)
    assert (order.priority, order.due_at_utc) == (2, due)
    assert audit_actions(session, number)[-1] == "workorder.escalate"


def test_another_problem_on_the_same_meter_is_a_new_order(
    session: Session, meter_at: MeterAt
) -> None:
    meter = meter_at()
    result = create(
        session,
        verdict(meter, problem_code="noncomm"),
        verdict(meter, WorkOrderType.TAMPER_INVESTIGATION, problem_code="tamper.cover"),
    )
    assert len(result.created) == 2


def test_after_the_order_is_verified_the_same_problem_gets_a_new_order(
    session: Session, meter_at: MeterAt
) -> None:
    meter = meter_at()
    [number] = create(session, verdict(meter)).created
    order = workorders_service.get_order(session, number)
    for target in (S.SCHEDULED, S.ASSIGNED, S.EN_ROUTE, S.ON_SITE, S.COMPLETED):
        workorders_service.move(session, order, target, actor="tech", now=NOW)
    assert create(session, verdict(meter)).duplicates, "completed but not verified: a duplicate"
    workorders_service.transition(session, number, S.VERIFIED, actor="system", now=NOW)
    assert len(create(session, verdict(meter)).created) == 1


def test_the_database_refuses_a_second_active_order_for_a_subject_and_problem(
    session: Session, meter_at: MeterAt
) -> None:
    meter = meter_at()
    [number] = create(session, verdict(meter)).created
    original = workorders_service.get_order(session, number)
    copy = WorkOrder(
        **{
            column.key: getattr(original, column.key)
            for column in WorkOrder.__table__.columns
            if column.key not in {"id", "created_at_utc", "updated_at_utc"}
        }
    )
    session.add(copy)
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()


def test_orders_at_the_same_premise_are_bundled(session: Session, meter_at: MeterAt) -> None:
    first = meter_at(41.60, -93.60)
    second = meter_at(41.61, -93.61, same_premise_as=first)
    result = create(session, verdict(first), verdict(second))
    lead, other = result.created
    assert result.bundled == {other: lead}
    assert workorders_service.read_order(session, lead).bundle_key == lead


def test_orders_a_few_metres_apart_are_bundled_and_farther_ones_are_not(
    session: Session, meter_at: MeterAt
) -> None:
    here = meter_at(41.600000, -93.600000)
    next_door = meter_at(41.600150, -93.600000)  # about 17 m north
    down_the_street = meter_at(41.601000, -93.600000)  # about 111 m
    result = create(session, verdict(here), verdict(next_door), verdict(down_the_street))
    lead, neighbour, far = result.created
    assert result.bundled == {neighbour: lead}
    assert workorders_service.read_order(session, far).bundle_key is None


def test_orders_with_appointments_that_do_not_overlap_are_not_bundled(
    session: Session, meter_at: MeterAt
) -> None:
    first = meter_at(41.6, -93.6)
    second = meter_at(41.6, -93.6, same_premise_as=first)
    morning = {
        "appointment_start_utc": NOW,
        "appointment_end_utc": NOW + dt.timedelta(hours=2),
    }
    afternoon = {
        "appointment_start_utc": NOW + dt.timedelta(hours=4),
        "appointment_end_utc": NOW + dt.timedelta(hours=6),
    }
    result = create(session, verdict(first, **morning), verdict(second, **afternoon))
    assert result.bundled == {}


def test_a_verdict_for_an_unknown_meter_is_refused_and_the_others_go_on(
    session: Session, meter_at: MeterAt
) -> None:
    meter = meter_at()
    ghost = OrderRequest(order_type=WorkOrderType.NON_COMM_INVESTIGATION, meter_serial="NOPE")
    result = create(session, ghost, verdict(meter))
    assert len(result.created) == 1
    assert [(r.index, r.code) for r in result.refused] == [(0, "meter.not_found")]


def test_meter_work_at_a_ct_rated_service_needs_the_ct_skill(
    session: Session, meter_at: MeterAt
) -> None:
    meter = meter_at(transformer_rated=True)
    [number] = create(session, verdict(meter, WorkOrderType.EXCHANGE)).created
    order = workorders_service.read_order(session, number)
    assert order.required_skill == "ct_rated"
    assert order.parts[0] == "meter 9S"


def test_a_hot_socket_is_due_by_the_end_of_the_local_day(
    session: Session, meter_at: MeterAt
) -> None:
    [number] = create(session, verdict(meter_at(), WorkOrderType.HOT_SOCKET_INSPECTION)).created
    order = workorders_service.read_order(session, number)
    # 2026-07-07 00:00 in Chicago (CDT, UTC-5).
    assert order.due_at_utc == dt.datetime(2026, 7, 7, 5, 0, tzinfo=dt.UTC)
    assert (order.priority, order.certifications) == (1, ["nfpa70e"])


def test_a_reconnect_is_due_within_the_regulators_hours(
    session: Session, meter_at: MeterAt
) -> None:
    [number] = create(session, verdict(meter_at(), WorkOrderType.FIELD_RECONNECT)).created
    assert workorders_service.read_order(session, number).due_at_utc == NOW + dt.timedelta(hours=24)


def test_an_install_is_ordered_by_service_point_with_its_socket_form(
    session: Session, transformer: object
) -> None:
    service_point = create_service_point(session)
    order = workorders_service.create_order(
        session,
        OrderRequest(
            order_type=WorkOrderType.INSTALL,
            service_point_number=service_point.service_point_number,
        ),
        actor="dispatcher",
        now=NOW,
        policy=POLICY,
    )
    assert order.source is OrderSource.MANUAL
    assert order.meter_form == service_point.compatible_forms[0]
    assert order.parts[0] == f"meter {service_point.compatible_forms[0]}"


def test_a_request_must_name_the_subject_its_type_is_about() -> None:
    with pytest.raises(ValueError, match="give service_point_number"):
        OrderRequest(order_type=WorkOrderType.INSTALL, meter_serial="M1")


def test_creating_a_duplicate_by_hand_is_a_conflict_naming_the_active_order(
    session: Session, meter_at: MeterAt
) -> None:
    meter = meter_at()
    [number] = create(session, verdict(meter)).created
    with pytest.raises(ConflictError, match=number):
        workorders_service.create_order(
            session, verdict(meter), actor="dispatcher", now=NOW, policy=POLICY
        )


def test_an_illegal_move_is_refused_with_the_moves_that_are_allowed(
    session: Session, meter_at: MeterAt
) -> None:
    [number] = create(session, verdict(meter_at())).created
    with pytest.raises(IllegalTransitionError, match="can move to: cancelled, scheduled"):
        workorders_service.transition(session, number, S.COMPLETED, actor="tech", now=NOW)


def test_cancelling_needs_a_reason_and_records_it(session: Session, meter_at: MeterAt) -> None:
    [number] = create(session, verdict(meter_at())).created
    with pytest.raises(ReasonRequiredError):
        workorders_service.transition(session, number, S.CANCELLED, actor="dispatcher", now=NOW)
    order = workorders_service.transition(
        session, number, S.CANCELLED, actor="dispatcher", now=NOW, reason="duplicate of a call"
    )
    assert (order.status, order.status_reason) == (S.CANCELLED, "duplicate of a call")
    event = session.scalars(
        select(AuditEvent).where(AuditEvent.entity_id == number).order_by(AuditEvent.id.desc())
    ).first()
    assert event is not None
    assert (event.action, event.reason) == ("workorder.status", "duplicate of a call")
    assert event.data == {"from": "created", "to": "cancelled"}


def test_a_planned_order_is_not_cancelled_by_a_plain_status_change(
    session: Session, meter_at: MeterAt
) -> None:
    [number] = create(session, verdict(meter_at())).created
    order = workorders_service.get_order(session, number)
    workorders_service.move(session, order, S.SCHEDULED, actor="planner", now=NOW)
    with pytest.raises(OrderOnPlanError, match="re-plan"):
        workorders_service.transition(
            session, number, S.CANCELLED, actor="dispatcher", now=NOW, reason="no longer needed"
        )


def test_an_appointment_is_booked_before_planning(session: Session, meter_at: MeterAt) -> None:
    [number] = create(session, verdict(meter_at())).created
    start, end = NOW + dt.timedelta(days=1), NOW + dt.timedelta(days=1, hours=2)
    order = workorders_service.book_appointment(
        session, number, start_utc=start, end_utc=end, actor="call centre", now=NOW
    )
    assert (order.appointment_start_utc, order.appointment_end_utc) == (start, end)


def test_the_list_filters_by_status_and_type_most_urgent_first(
    session: Session, meter_at: MeterAt
) -> None:
    result = create(
        session,
        verdict(meter_at(41.0, -93.0), priority=4),
        verdict(meter_at(41.1, -93.1), WorkOrderType.HOT_SOCKET_INSPECTION),
        verdict(meter_at(41.2, -93.2), priority=2),
    )
    orders = workorders_service.list_orders(
        session,
        OrderFilter(
            statuses=[S.CREATED],
            order_type=WorkOrderType.NON_COMM_INVESTIGATION,
            campaign=None,
        ),
    )
    numbers = [o.order_number for o in orders if o.order_number in result.created]
    assert numbers == [result.created[2], result.created[0]]


def test_an_unknown_order_number_is_not_found_with_the_expected_shape(session: Session) -> None:
    with pytest.raises(NotFoundError, match="look like WO-000042"):
        workorders_service.get_order(session, "WO-999999999")
