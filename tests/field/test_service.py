"""The field service over a real database: stops, access, idempotent actions, exchange, hold."""

from __future__ import annotations

import datetime as dt
import io
import uuid
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import func, select

from meterops.errors import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError
from meterops.field import service
from meterops.field.photos import PhotoRefusedError
from meterops.field.schemas import ActionKind, ActionRequest, ActionResult
from meterops.models import AuditEvent, Installation, Transformer, TruckStock, WorkOrder
from meterops.workorders import service as workorders_service
from meterops.workorders.lifecycle import WorkOrderStatus
from meterops.workorders.repository import WorkOrderRepository
from meterops.workorders.schemas import OrderRequest
from meterops.workorders.types import WorkOrderType
from tests.field.conftest import DAY, ON_DAY, POLICY, FieldDay
from tests.fixtures.builders import create_service_point

SAFE = {
    "socket_condition": "pass",
    "jaws_and_lugs": "pass",
    "no_heat_damage": "pass",
    "voltage_line_to_line": 241.0,
    "voltage_line_to_neutral": 120.5,
}


def act(
    day: FieldDay,
    number: str,
    kind: ActionKind,
    payload: dict[str, Any] | None = None,
    *,
    key: str | None = None,
) -> ActionResult:
    return service.record_action(
        day.session,
        day.tech_user,
        number,
        ActionRequest(
            idempotency_key=key or str(uuid.uuid4()),
            kind=kind,
            recorded_at=ON_DAY,
            payload=payload or {},
        ),
        now=ON_DAY,
        head_end=None,
    )


def order(day: FieldDay, number: str) -> WorkOrder:
    found = WorkOrderRepository(day.session).get_by_number(number)
    assert found is not None
    return found


def audits(day: FieldDay, action: str) -> int:
    return (
        day.session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)
        )
        or 0
    )


def test_today_lists_the_route_in_order_with_the_next_stop_first(field_day: FieldDay) -> None:
    today = service.today(field_day.session, field_day.tech_user, day=DAY, now=ON_DAY)
    assert today.technician.employee_number == "E1"
    assert sorted(s.order_number for s in today.stops) == sorted(field_day.orders)
    assert [s.sequence for s in today.stops] == [1, 2]
    assert today.stops[0].next
    assert not today.stops[1].next
    first = today.stops[0]
    assert first.customer is not None
    assert first.customer.account.startswith("A")
    assert first.verdict is not None
    assert "Register stopped" in first.verdict.summary
    assert first.eta is not None
    assert first.address is not None
    # Once the first stop is done, the second comes first.
    act(field_day, first.order_number, ActionKind.ARRIVE)
    act(field_day, first.order_number, ActionKind.UNABLE, {"reason": "dog in the yard"})
    again = service.today(field_day.session, field_day.tech_user, day=DAY, now=ON_DAY)
    assert again.stops[0].order_number == today.stops[1].order_number
    assert again.stops[0].next
    done = next(s for s in again.stops if s.order_number == first.order_number)
    assert done.done
    assert done.customer is None


def test_default_day_is_today_in_the_territory_zone(field_day: FieldDay) -> None:
    late_evening = dt.datetime(2026, 7, 7, 3, 0, tzinfo=dt.UTC)  # 22:00 on DAY in Chicago
    assert (
        service.today(field_day.session, field_day.tech_user, day=None, now=late_evening).day == DAY
    )


def test_a_user_without_a_technician_has_no_day(field_day: FieldDay) -> None:
    with pytest.raises(NotFoundError, match="No technician"):
        service.today(field_day.session, field_day.dispatcher, day=DAY, now=ON_DAY)


def test_other_technicians_and_analysts_cannot_open_the_order(field_day: FieldDay) -> None:
    number = field_day.orders[0]
    for user in (field_day.other_tech_user, field_day.analyst):
        with pytest.raises(PermissionDeniedError):
            service.order_detail(field_day.session, user, number, now=ON_DAY)
    with pytest.raises(PermissionDeniedError) as unknown:
        service.order_detail(field_day.session, field_day.other_tech_user, "WO-999999", now=ON_DAY)
    assert unknown.value.code == "permission_denied.territory"  # same answer: no probing
    desk = service.order_detail(field_day.session, field_day.dispatcher, number, now=ON_DAY)
    assert desk.customer is not None


def test_order_detail_has_the_checklist_causes_and_expected_serial(field_day: FieldDay) -> None:
    detail = service.order_detail(
        field_day.session, field_day.tech_user, field_day.orders[0], now=ON_DAY
    )
    assert [c.code for c in detail.checklist][-2:] == [
        "voltage_line_to_line",
        "voltage_line_to_neutral",
    ]
    assert detail.expected_serial == field_day.meters[0].serial_number
    assert any(c.code == "no_fault_found" for c in detail.found_cause_codes)
    assert detail.verification is None
    assert detail.actions == []


def test_the_same_key_returns_the_stored_result_and_another_payload_is_refused(
    field_day: FieldDay,
) -> None:
    number = field_day.orders[0]
    first = act(field_day, number, ActionKind.ARRIVE, key="key-arrive-1")
    assert (first.duplicate, first.order.status) == (False, "on_site")
    moves = audits(field_day, "workorder.status")
    again = act(field_day, number, ActionKind.ARRIVE, key="key-arrive-1")
    assert again.duplicate
    assert again.action_id == first.action_id
    assert audits(field_day, "workorder.status") == moves  # no second effect
    with pytest.raises(ConflictError) as reused:
        act(field_day, number, ActionKind.NOTE, {"text": "hello"}, key="key-arrive-1")
    assert reused.value.code == "field.idempotency_key_reused"


def test_a_failed_safety_item_puts_the_order_on_hold_and_creates_the_follow_up(
    field_day: FieldDay,
) -> None:
    number = field_day.orders[0]
    act(field_day, number, ActionKind.ARRIVE)
    result = act(
        field_day, number, ActionKind.SAFETY, {"items": {**SAFE, "no_heat_damage": "fail"}}
    )
    assert result.outcome["safety"] == "failed"
    assert result.order.status == "unable_to_complete"
    assert (result.order.status_reason or "").startswith("on hold for safety")
    follow_up = order(field_day, result.outcome["follow_up_order"])
    assert follow_up.order_type.value == "hot_socket_inspection"
    assert (follow_up.problem_code, follow_up.priority) == ("meter_base_repair", 1)
    assert follow_up.meter_id == field_day.meters[0].id
    assert audits(field_day, "field.safety") == 1
    with pytest.raises(ConflictError, match="on site"):
        act(field_day, number, ActionKind.EXCHANGE, {"old_serial": "x", "new_serial": "y"})


def exchange_payload(day: FieldDay, **overrides: Any) -> dict[str, Any]:
    return {
        "old_serial": day.meters[0].serial_number,
        "old_final_read_kwh": 4321.0,
        "new_serial": day.spare.serial_number,
        "new_initial_read_kwh": 0.0,
        "found_cause_code": "meter_failed",
        **overrides,
    }


def test_an_exchange_needs_a_passed_safety_check_and_right_serials(field_day: FieldDay) -> None:
    number = field_day.orders[0]
    act(field_day, number, ActionKind.ARRIVE)
    with pytest.raises(ConflictError) as first:
        act(field_day, number, ActionKind.EXCHANGE, exchange_payload(field_day))
    assert first.value.code == "field.safety_first"
    act(field_day, number, ActionKind.SAFETY, {"items": SAFE})
    with pytest.raises(InvalidInputError) as wrong:
        act(
            field_day,
            number,
            ActionKind.EXCHANGE,
            exchange_payload(field_day, old_serial=field_day.meters[1].serial_number),
        )
    assert "payload.old_serial" in wrong.value.message
    with pytest.raises(InvalidInputError) as installed:
        act(
            field_day,
            number,
            ActionKind.EXCHANGE,
            exchange_payload(field_day, new_serial=field_day.meters[1].serial_number),
        )
    assert installed.value.code == "field.meter_installed"
    with pytest.raises(InvalidInputError) as missing:
        act(
            field_day,
            number,
            ActionKind.EXCHANGE,
            exchange_payload(field_day, old_final_read_kwh=None),
        )
    assert missing.value.code == "field.read_required"


def test_an_exchange_changes_the_installation_uses_stock_and_gates_completion(
    field_day: FieldDay,
) -> None:
    number = field_day.orders[0]
    act(field_day, number, ActionKind.ARRIVE)
    act(field_day, number, ActionKind.SAFETY, {"items": SAFE})
    result = act(field_day, number, ActionKind.EXCHANGE, exchange_payload(field_day))
    assert result.outcome["verification"] == "pending"
    open_rows = field_day.session.scalars(
        select(Installation).where(
            Installation.service_point_id == field_day.service_points[0].id,
            Installation.removed_at_utc.is_(None),
        )
    ).all()
    assert [row.meter_id for row in open_rows] == [field_day.spare.id]
    stock = field_day.session.scalars(
        select(TruckStock).where(TruckStock.technician_id == field_day.technician.id)
    ).one()
    assert stock.quantity == 2
    with pytest.raises(ConflictError) as pending:
        act(field_day, number, ActionKind.COMPLETE, {"found_cause_code": "meter_failed"})
    assert pending.value.code == "field.verification_pending"
    done = act(
        field_day,
        number,
        ActionKind.COMPLETE,
        {"found_cause_code": "meter_failed", "unverified_reason": "head-end down, radio lit"},
    )
    assert done.order.status == "completed"
    assert "unverified" in (done.order.status_reason or "")
    detail = service.order_detail(field_day.session, field_day.tech_user, number, now=ON_DAY)
    assert [a.kind for a in detail.actions] == ["arrive", "safety", "exchange", "complete"]
    assert detail.verification is not None
    assert detail.verification.state == "pending"
    assert audits(field_day, "field.exchange") == 1
    assert audits(field_day, "meter.exchange") == 1


def photo_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (300, 200), "orange").save(buffer, "PNG")
    return buffer.getvalue()


def upload(day: FieldDay, folder: Path, key: str, **options: Any) -> Any:
    return service.upload_photo(
        day.session,
        day.tech_user,
        day.orders[0],
        photo_bytes(),
        kind="base",
        idempotency_key=key,
        photos_dir=folder,
        now=ON_DAY,
        **options,
    )


def test_the_same_photo_sent_three_times_is_stored_once(
    field_day: FieldDay, tmp_path: Path
) -> None:
    first = upload(field_day, tmp_path, "photo-key-1")
    again = upload(field_day, tmp_path, "photo-key-1")  # the same key after a reconnect
    other_key = upload(field_day, tmp_path, "photo-key-2")  # the same picture, a new key
    assert not first.duplicate
    assert again.duplicate
    assert other_key.duplicate
    assert first.id == again.id == other_key.id
    assert len(list(tmp_path.rglob("*.jpg"))) == 1
    assert audits(field_day, "field.photo") == 1


def test_a_user_over_the_photo_quota_is_refused(field_day: FieldDay, tmp_path: Path) -> None:
    with pytest.raises(PhotoRefusedError) as refused:
        upload(field_day, tmp_path, "photo-key-q", policy=service.FieldPolicy(photo_quota_bytes=10))
    assert (refused.value.status, refused.value.code) == (413, "photo.quota")
    assert list(tmp_path.rglob("*")) == []


def test_a_photo_store_that_fails_leaves_no_partial_file(
    field_day: FieldDay, tmp_path: Path
) -> None:
    blocked = tmp_path / "photos"
    blocked.write_bytes(b"a file where the folder should be")
    with pytest.raises(PhotoRefusedError) as refused:
        upload(field_day, blocked, "photo-key-d")
    assert (refused.value.status, refused.value.code) == (507, "photo.storage_failed")
    assert [p.name for p in tmp_path.rglob("*")] == ["photos"]


def test_unknown_payload_fields_are_refused_naming_the_field(field_day: FieldDay) -> None:
    number = field_day.orders[0]
    with pytest.raises(InvalidInputError) as extra:
        act(field_day, number, ActionKind.NOTE, {"text": "hi", "technician_id": 1})
    assert extra.value.details["field"] == "payload.technician_id"
    act(field_day, number, ActionKind.ARRIVE)
    with pytest.raises(InvalidInputError) as cause:
        act(field_day, number, ActionKind.UNABLE, {"reason": "no key", "found_cause_code": "?"})
    assert cause.value.code == "field.unknown_cause"
    assert act(field_day, number, ActionKind.NOTE, {"notes": "dog"}).order.status == "on_site"


def test_an_install_at_an_empty_socket_opens_an_installation(field_day: FieldDay) -> None:
    session = field_day.session
    transformer = session.get_one(Transformer, field_day.service_points[0].transformer_id)
    empty = create_service_point(session, transformer=transformer)
    created = workorders_service.create_order(
        session,
        OrderRequest(
            order_type=WorkOrderType.INSTALL, service_point_number=empty.service_point_number
        ),
        actor="test",
        now=ON_DAY,
        policy=POLICY,
    )
    found = order(field_day, created.order_number)
    found.technician_id = field_day.technician.id
    for target in (WorkOrderStatus.SCHEDULED, WorkOrderStatus.ASSIGNED):
        workorders_service.move(session, found, target, actor="test", now=ON_DAY)
    number = created.order_number
    act(field_day, number, ActionKind.ARRIVE)
    act(field_day, number, ActionKind.SAFETY, {"items": SAFE})
    with pytest.raises(InvalidInputError) as stray:
        act(field_day, number, ActionKind.EXCHANGE, exchange_payload(field_day))
    assert stray.value.code == "field.no_old_meter"
    result = act(
        field_day,
        number,
        ActionKind.EXCHANGE,
        {"new_serial": field_day.spare.serial_number, "new_initial_read_kwh": 3.0},
    )
    assert result.outcome["service_point"] == empty.service_point_number
    installed = session.scalars(
        select(Installation).where(
            Installation.service_point_id == empty.id, Installation.removed_at_utc.is_(None)
        )
    ).one()
    assert (installed.meter_id, installed.install_read_kwh) == (field_day.spare.id, 3.0)
    assert found.territory_id == field_day.territory.id
