"""Asset services against the database (SQLite, and PostgreSQL in CI)."""

import datetime as dt

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from meterops.assets import schemas
from meterops.assets import service as assets_service
from meterops.assets.errors import (
    IncompatibleFormError,
    MeterNotFoundError,
    ReadBelowPreviousError,
    SerialAlreadyInstalledError,
    ServicePointOccupiedError,
)
from meterops.assets.lifecycle import AssetStatus
from meterops.audit.service import verify_chain
from meterops.errors import ConflictError, IllegalTransitionError, InvalidInputError
from meterops.models import AuditEvent, Installation, Meter
from meterops.nomenclature import ServiceType
from tests.fixtures.builders import (
    create_installed_meter,
    create_meter,
    create_service_point,
)

AT = dt.datetime(2024, 6, 3, 14, 30, tzinfo=dt.UTC)


def _snapshot(session: Session) -> tuple:
    installations = session.execute(
        select(
            Installation.meter_id,
            Installation.service_point_id,
            Installation.removed_at_utc,
            Installation.removal_read_kwh,
        ).order_by(Installation.id)
    ).all()
    statuses = session.execute(
        select(Meter.serial_number, Meter.lifecycle_status).order_by(Meter.id)
    ).all()
    audits = session.scalar(select(func.count()).select_from(AuditEvent))
    return installations, statuses, audits


def test_create_meter_refuses_a_duplicate_serial_and_changes_nothing(session: Session) -> None:
    meter = create_meter(session)
    before = _snapshot(session)
    data = schemas.MeterCreate(
        serial_number=meter.serial_number,
        vendor="L+G",
        model="Focus",
        form="2S",
        meter_class="CL200",
    )
    with pytest.raises(ConflictError, match="exists already") as caught:
        assets_service.create_meter(session, data, actor="alice")
    assert caught.value.code == "meter.duplicate_serial"
    assert _snapshot(session) == before


def test_create_meter_is_audited(session: Session) -> None:
    data = schemas.MeterCreate(
        serial_number="NEW0001", vendor="L+G", model="Focus", form="2S", meter_class="CL200"
    )
    meter = assets_service.create_meter(session, data, actor="alice")
    assert meter.lifecycle_status is AssetStatus.RECEIVED
    event = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert event is not None
    assert (event.actor, event.action, event.entity_id) == ("alice", "meter.create", "NEW0001")


@pytest.mark.parametrize(
    ("start", "target"),
    [
        (AssetStatus.RETIRED, AssetStatus.IN_STOCK),
        (AssetStatus.IN_SHOP, AssetStatus.RECEIVED),
        (AssetStatus.RECEIVED, AssetStatus.RECEIVED),
        (AssetStatus.IN_STOCK, AssetStatus.RECEIVED),
    ],
)
def test_illegal_status_changes_are_refused_and_change_nothing(
    session: Session, start: AssetStatus, target: AssetStatus
) -> None:
    meter = create_meter(session, lifecycle_status=start)
    before = _snapshot(session)
    with pytest.raises(IllegalTransitionError) as caught:
        assets_service.set_meter_status(
            session, meter.serial_number, target, actor="bob", reason="test"
        )
    assert caught.value.details["current"] == start.value
    assert _snapshot(session) == before


def test_install_and_removal_cannot_be_done_by_a_status_change(session: Session) -> None:
    meter = create_meter(session)
    with pytest.raises(InvalidInputError, match="installation, removal or exchange"):
        assets_service.set_meter_status(
            session, meter.serial_number, AssetStatus.INSTALLED, actor="bob", reason="test"
        )


def test_installing_a_meter_opens_its_history_and_marks_it_installed(session: Session) -> None:
    meter = create_meter(session)
    service_point = create_service_point(session)
    installation = assets_service.install_meter(
        session,
        serial_number=meter.serial_number,
        service_point_number=service_point.service_point_number,
        installed_at=AT,
        install_read_kwh=0.0,
        actor="tech7",
        work_order_ref="WO-1",
    )
    assert meter.lifecycle_status is AssetStatus.INSTALLED
    assert installation.removed_at_utc is None
    detail = assets_service.meter_detail(session, meter.serial_number)
    assert detail.service_point is not None
    assert detail.service_point.service_point_number == service_point.service_point_number
    assert detail.installations[0].installed_by == "tech7"


def test_a_9s_meter_is_refused_on_a_2s_socket_and_nothing_changes(session: Session) -> None:
    meter = create_meter(session, form="9S", meter_class="CL20", ct_ratio=80.0)
    service_point = create_service_point(session)
    before = _snapshot(session)
    with pytest.raises(IncompatibleFormError) as caught:
        assets_service.install_meter(
            session,
            serial_number=meter.serial_number,
            service_point_number=service_point.service_point_number,
            installed_at=AT,
            install_read_kwh=0.0,
            actor="tech7",
        )
    assert "form 9S" in caught.value.message
    assert caught.value.details["compatible_forms"] == ["2S"]
    assert _snapshot(session) == before


def test_a_9s_meter_fits_a_ct_rated_wye_socket(session: Session) -> None:
    meter = create_meter(session, form="9S", meter_class="CL20", ct_ratio=80.0)
    service_point = create_service_point(
        session, service_type=ServiceType.THREE_PHASE_4W_WYE, transformer_rated=True
    )
    assets_service.install_meter(
        session,
        serial_number=meter.serial_number,
        service_point_number=service_point.service_point_number,
        installed_at=AT,
        install_read_kwh=0.0,
        actor="tech7",
    )
    assert meter.multiplier == 80.0


def test_a_serial_installed_twice_is_refused_naming_where_it_is(session: Session) -> None:
    meter, installed_at = create_installed_meter(session)
    other = create_service_point(session)
    before = _snapshot(session)
    with pytest.raises(SerialAlreadyInstalledError) as caught:
        assets_service.install_meter(
            session,
            serial_number=meter.serial_number,
            service_point_number=other.service_point_number,
            installed_at=AT,
            install_read_kwh=0.0,
            actor="tech7",
        )
    assert caught.value.details["installed_at"] == installed_at.service_point_number
    assert _snapshot(session) == before


def test_an_occupied_service_point_needs_an_exchange(session: Session) -> None:
    _, service_point = create_installed_meter(session)
    meter = create_meter(session)
    with pytest.raises(ServicePointOccupiedError, match="use an exchange"):
        assets_service.install_meter(
            session,
            serial_number=meter.serial_number,
            service_point_number=service_point.service_point_number,
            installed_at=AT,
            install_read_kwh=0.0,
            actor="tech7",
        )


def test_a_final_read_below_the_install_read_is_refused(session: Session) -> None:
    meter, _ = create_installed_meter(session, install_read_kwh=40_000)
    before = _snapshot(session)
    with pytest.raises(ReadBelowPreviousError) as caught:
        assets_service.remove_meter(
            session,
            serial_number=meter.serial_number,
            removed_at=AT,
            removal_read_kwh=39_000,
            reason="test",
            actor="tech7",
        )
    assert caught.value.details["previous"] == 40_000
    assert _snapshot(session) == before


def test_a_final_read_after_rollover_is_accepted(session: Session) -> None:
    meter, _ = create_installed_meter(session, install_read_kwh=99_950)
    installation = assets_service.remove_meter(
        session,
        serial_number=meter.serial_number,
        removed_at=AT,
        removal_read_kwh=120,
        reason="failed display",
        actor="tech7",
    )
    assert installation.removal_read_kwh == 120
    assert meter.lifecycle_status is AssetStatus.REMOVED


def test_removing_a_meter_that_is_not_installed_is_refused(session: Session) -> None:
    meter = create_meter(session)
    with pytest.raises(IllegalTransitionError):
        assets_service.remove_meter(
            session,
            serial_number=meter.serial_number,
            removed_at=AT,
            removal_read_kwh=1,
            reason="x",
            actor="tech7",
        )


def test_an_unknown_serial_is_reported_with_a_hint(session: Session) -> None:
    with pytest.raises(MeterNotFoundError, match="fleet import"):
        assets_service.meter_detail(session, "NOPE")


def test_a_naive_time_is_refused(session: Session) -> None:
    meter = create_meter(session)
    service_point = create_service_point(session)
    with pytest.raises(InvalidInputError, match="time zone"):
        assets_service.install_meter(
            session,
            serial_number=meter.serial_number,
            service_point_number=service_point.service_point_number,
            installed_at=dt.datetime(2024, 1, 1),
            install_read_kwh=0.0,
            actor="t",
        )


def _exchange(old: str, new: str, **overrides: object) -> schemas.ExchangeRequest:
    values: dict[str, object] = {
        "old_serial": old,
        "new_serial": new,
        "at": AT,
        "old_final_read_kwh": 150.0,
        "new_initial_read_kwh": 0.0,
        "reason": "failed radio",
        "work_order_ref": "WO-9",
    }
    values.update(overrides)
    return schemas.ExchangeRequest.model_validate(values)


def test_an_exchange_closes_and_opens_history_with_both_reads(session: Session) -> None:
    old, service_point = create_installed_meter(session, install_read_kwh=100.0)
    new = create_meter(session)
    result = assets_service.exchange_meter(
        session, _exchange(old.serial_number, new.serial_number), actor="tech7"
    )
    assert result.service_point_number == service_point.service_point_number
    assert result.removed.removal_read_kwh == 150.0
    assert result.installed.install_read_kwh == 0.0
    assert (old.lifecycle_status, new.lifecycle_status) == (
        AssetStatus.REMOVED,
        AssetStatus.INSTALLED,
    )
    detail = assets_service.meter_detail(session, new.serial_number)
    assert detail.installations[0].work_order_ref == "WO-9"
    assert verify_chain(session) == []


@pytest.mark.parametrize(
    ("new_overrides", "request_overrides", "error"),
    [
        ({"form": "9S", "meter_class": "CL20"}, {}, IncompatibleFormError),
        ({"lifecycle_status": AssetStatus.RECEIVED}, {}, IllegalTransitionError),
        ({}, {"old_final_read_kwh": 50.0}, ReadBelowPreviousError),
    ],
)
def test_a_failing_exchange_changes_nothing(
    session: Session, new_overrides: dict, request_overrides: dict, error: type[Exception]
) -> None:
    old, _ = create_installed_meter(session, install_read_kwh=100.0)
    new = create_meter(session, **new_overrides)
    before = _snapshot(session)
    with pytest.raises(error):
        assets_service.exchange_meter(
            session,
            _exchange(old.serial_number, new.serial_number, **request_overrides),
            actor="tech7",
        )
    assert _snapshot(session) == before


def test_an_exchange_with_a_meter_installed_elsewhere_is_refused(session: Session) -> None:
    old, _ = create_installed_meter(session)
    elsewhere, _ = create_installed_meter(session)
    with pytest.raises(SerialAlreadyInstalledError):
        assets_service.exchange_meter(
            session, _exchange(old.serial_number, elsewhere.serial_number), actor="tech7"
        )


def test_an_exchange_needs_two_meters(session: Session) -> None:
    old, _ = create_installed_meter(session)
    with pytest.raises(InvalidInputError, match="two different meters"):
        assets_service.exchange_meter(
            session, _exchange(old.serial_number, old.serial_number), actor="tech7"
        )


def test_the_database_refuses_two_open_installations_of_one_meter(session: Session) -> None:
    from sqlalchemy.exc import IntegrityError

    meter, _ = create_installed_meter(session)
    other = create_service_point(session)
    session.add(
        Installation(
            meter_id=meter.id,
            service_point_id=other.id,
            installed_at_utc=AT,
            installed_by="direct-sql",
        )
    )
    with pytest.raises(IntegrityError):
        session.flush()
