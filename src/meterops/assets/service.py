"""Asset operations: create meters, move them through their lifecycle, install, remove, exchange.

Every operation checks all its rules before it changes anything, records an audit event and
only flushes: the caller's transaction commits or rolls back the whole operation, so an
exchange closes the old installation and opens the new one together or not at all.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from sqlalchemy.orm import Session

from meterops.assets import schemas
from meterops.assets.errors import (
    IncompatibleFormError,
    MeterNotFoundError,
    SerialAlreadyInstalledError,
    ServicePointNotFoundError,
    ServicePointOccupiedError,
)
from meterops.assets.lifecycle import AssetStatus, check_transition
from meterops.assets.registers import register_advance
from meterops.assets.repository import (
    FleetSummaryRepository,
    InstallationRepository,
    MeterRepository,
    ServicePointRepository,
)
from meterops.audit import service as audit_service
from meterops.errors import ConflictError, InvalidInputError, NotFoundError
from meterops.models import Installation, Meter, ServicePoint

__all__ = [
    "create_meter",
    "exchange_meter",
    "fleet_summary",
    "get_meter",
    "install_meter",
    "meter_detail",
    "remove_meter",
    "search_meters",
    "set_meter_status",
]


def _require_aware(at: dt.datetime, name: str) -> dt.datetime:
    if at.tzinfo is None:
        msg = f"{name} must carry a time zone (UTC preferred); got {at.isoformat()}"
        raise InvalidInputError(msg, code="time.naive")
    return at.astimezone(dt.UTC)


def get_meter(session: Session, serial_number: str) -> Meter:
    """The meter with this serial number.

    Raises:
        MeterNotFoundError: No such meter.
    """
    meter = MeterRepository(session).get_by_serial(serial_number)
    if meter is None:
        raise MeterNotFoundError(serial_number)
    return meter


def _get_service_point(session: Session, number: str) -> ServicePoint:
    service_point = ServicePointRepository(session).get_by_number(number)
    if service_point is None:
        raise ServicePointNotFoundError(number)
    return service_point


def create_meter(session: Session, data: schemas.MeterCreate, *, actor: str) -> Meter:
    """Register a meter received from the manufacturer.

    Raises:
        ConflictError: The serial number exists already.
        NotFoundError: The program code is unknown.
    """
    repository = MeterRepository(session)
    if repository.get_by_serial(data.serial_number) is not None:
        msg = f"A meter with serial number '{data.serial_number}' exists already."
        raise ConflictError(
            msg, code="meter.duplicate_serial", details={"serial_number": data.serial_number}
        )
    program_id = None
    if data.program_code is not None:
        program = repository.program_by_code(data.program_code)
        if program is None:
            msg = f"Unknown meter program '{data.program_code}'."
            raise NotFoundError(msg, code="program.not_found")
        program_id = program.id
    fields = data.model_dump(exclude={"program_code"})
    meter = repository.add(Meter(**fields, program_id=program_id))
    audit_service.record(
        session,
        actor=actor,
        action="meter.create",
        entity_type="meter",
        entity_id=meter.serial_number,
        data={"status": meter.lifecycle_status.value},
    )
    return meter


def set_meter_status(
    session: Session, serial_number: str, target: AssetStatus, *, actor: str, reason: str
) -> Meter:
    """Move a meter along its lifecycle (not for installing or removing: use those).

    Raises:
        IllegalTransitionError: The move is not allowed from the current state.
        InvalidInputError: ``target`` is installed/removed, which need an installation record.
    """
    if target in (AssetStatus.INSTALLED, AssetStatus.REMOVED):
        msg = (
            f"A meter becomes '{target.value}' through an installation, removal or exchange "
            "(with its read), not by a status change."
        )
        raise InvalidInputError(msg, code="meter.status_needs_installation")
    meter = get_meter(session, serial_number)
    before = meter.lifecycle_status
    check_transition(f"meter {serial_number}", before, target)
    meter.lifecycle_status = target
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action="meter.status",
        entity_type="meter",
        entity_id=serial_number,
        reason=reason,
        data={"from": before.value, "to": target.value},
    )
    return meter


def _check_installable(
    session: Session, meter: Meter, service_point: ServicePoint, *, replacing: Meter | None
) -> None:
    installations = InstallationRepository(session)
    existing = installations.open_for_meter(meter.id)
    if existing is not None:
        raise SerialAlreadyInstalledError(
            serial_number=meter.serial_number,
            service_point_number=existing.service_point.service_point_number,
        )
    check_transition(f"meter {meter.serial_number}", meter.lifecycle_status, AssetStatus.INSTALLED)
    if meter.form not in service_point.compatible_forms:
        raise IncompatibleFormError(
            serial_number=meter.serial_number,
            form=meter.form,
            service_point_number=service_point.service_point_number,
            service_type=service_point.service_type.value,
            compatible=list(service_point.compatible_forms),
        )
    occupant = installations.open_for_service_point(service_point.id)
    if occupant is not None and (replacing is None or occupant.meter_id != replacing.id):
        raise ServicePointOccupiedError(
            service_point_number=service_point.service_point_number,
            serial_number=occupant.meter.serial_number,
        )


def _check_read_fits(meter: Meter, read_kwh: float | None, what: str) -> None:
    if read_kwh is None:
        return
    register_advance(
        previous=0,
        current=read_kwh,
        digits=meter.register_digits,
        decimals=meter.register_decimals,
        label=f"{what} of meter {meter.serial_number}",
    )


def install_meter(
    session: Session,
    *,
    serial_number: str,
    service_point_number: str,
    installed_at: dt.datetime,
    install_read_kwh: float | None,
    actor: str,
    work_order_ref: str | None = None,
) -> Installation:
    """Install an in-stock meter at an empty service point.

    Raises:
        MeterNotFoundError, ServicePointNotFoundError: Unknown serial or service point.
        SerialAlreadyInstalledError: The meter is installed elsewhere.
        IllegalTransitionError: The meter is not in stock.
        IncompatibleFormError: The socket does not take the meter's form.
        ServicePointOccupiedError: Another meter is installed there.
    """
    at = _require_aware(installed_at, "installed_at")
    meter = get_meter(session, serial_number)
    service_point = _get_service_point(session, service_point_number)
    _check_installable(session, meter, service_point, replacing=None)
    _check_read_fits(meter, install_read_kwh, "install read")
    installation = _open_installation(
        session,
        meter,
        service_point,
        at=at,
        read_kwh=install_read_kwh,
        actor=actor,
        work_order_ref=work_order_ref,
    )
    audit_service.record(
        session,
        actor=actor,
        action="meter.install",
        entity_type="meter",
        entity_id=serial_number,
        data={
            "service_point": service_point_number,
            "at": at.isoformat(),
            "install_read_kwh": install_read_kwh,
            "work_order": work_order_ref,
        },
    )
    return installation


def _open_installation(
    session: Session,
    meter: Meter,
    service_point: ServicePoint,
    *,
    at: dt.datetime,
    read_kwh: float | None,
    actor: str,
    work_order_ref: str | None,
) -> Installation:
    meter.lifecycle_status = AssetStatus.INSTALLED
    return InstallationRepository(session).add(
        Installation(
            meter_id=meter.id,
            service_point_id=service_point.id,
            installed_at_utc=at,
            installed_by=actor,
            install_read_kwh=read_kwh,
            work_order_ref=work_order_ref,
        )
    )


def _check_removal(
    meter: Meter, installation: Installation | None, *, at: dt.datetime, read_kwh: float
) -> Installation:
    if installation is None:
        check_transition(
            f"meter {meter.serial_number}", meter.lifecycle_status, AssetStatus.REMOVED
        )
        msg = f"Meter {meter.serial_number} has no open installation to remove."
        raise ConflictError(msg, code="meter.not_installed")
    if at < installation.installed_at_utc:
        msg = (
            f"Removal time {at.isoformat()} is before meter {meter.serial_number} was installed "
            f"({installation.installed_at_utc.isoformat()})."
        )
        raise InvalidInputError(msg, code="meter.removal_before_install")
    register_advance(
        previous=installation.install_read_kwh or 0.0,
        current=read_kwh,
        digits=meter.register_digits,
        decimals=meter.register_decimals,
        label=f"final read of meter {meter.serial_number}",
    )
    return installation


def _close_installation(
    meter: Meter,
    installation: Installation,
    *,
    at: dt.datetime,
    read_kwh: float,
    reason: str,
    actor: str,
) -> None:
    installation.removed_at_utc = at
    installation.removal_read_kwh = read_kwh
    installation.removal_reason = reason
    installation.removed_by = actor
    meter.lifecycle_status = AssetStatus.REMOVED


def remove_meter(
    session: Session,
    *,
    serial_number: str,
    removed_at: dt.datetime,
    removal_read_kwh: float,
    reason: str,
    actor: str,
) -> Installation:
    """Remove an installed meter with its final read.

    Raises:
        ConflictError: The meter is not installed.
        ReadBelowPreviousError: The final read is lower than the install read and is not a
            rollover.
    """
    at = _require_aware(removed_at, "removed_at")
    meter = get_meter(session, serial_number)
    installation = _check_removal(
        meter,
        InstallationRepository(session).open_for_meter(meter.id),
        at=at,
        read_kwh=removal_read_kwh,
    )
    _close_installation(
        meter, installation, at=at, read_kwh=removal_read_kwh, reason=reason, actor=actor
    )
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action="meter.remove",
        entity_type="meter",
        entity_id=serial_number,
        reason=reason,
        data={
            "service_point": installation.service_point.service_point_number,
            "at": at.isoformat(),
            "removal_read_kwh": removal_read_kwh,
        },
    )
    return installation


def exchange_meter(
    session: Session, request: schemas.ExchangeRequest, *, actor: str
) -> schemas.ExchangeResult:
    """Replace an installed meter with an in-stock one, atomically.

    The old meter's final read and the new meter's initial read are both required. All checks
    run before anything changes: old meter installed and read not below its previous read;
    new meter in stock, not installed anywhere, of a form the socket takes.

    Raises:
        Any error of :func:`remove_meter` or :func:`install_meter`.
    """
    at = _require_aware(request.at, "at")
    if request.old_serial == request.new_serial:
        msg = "An exchange needs two different meters."
        raise InvalidInputError(msg, code="meter.exchange_same_serial")
    old = get_meter(session, request.old_serial)
    new = get_meter(session, request.new_serial)
    installations = InstallationRepository(session)
    removal = _check_removal(
        old, installations.open_for_meter(old.id), at=at, read_kwh=request.old_final_read_kwh
    )
    service_point = removal.service_point
    _check_installable(session, new, service_point, replacing=old)
    _check_read_fits(new, request.new_initial_read_kwh, "initial read")

    _close_installation(
        old, removal, at=at, read_kwh=request.old_final_read_kwh, reason=request.reason, actor=actor
    )
    session.flush()  # the open-installation index must see the old one closed first
    installed = _open_installation(
        session,
        new,
        service_point,
        at=at,
        read_kwh=request.new_initial_read_kwh,
        actor=actor,
        work_order_ref=request.work_order_ref,
    )
    audit_service.record(
        session,
        actor=actor,
        action="meter.exchange",
        entity_type="service_point",
        entity_id=service_point.service_point_number,
        reason=request.reason,
        data={
            "old_serial": old.serial_number,
            "new_serial": new.serial_number,
            "at": at.isoformat(),
            "old_final_read_kwh": request.old_final_read_kwh,
            "new_initial_read_kwh": request.new_initial_read_kwh,
            "work_order": request.work_order_ref,
        },
    )
    return schemas.ExchangeResult(
        service_point_number=service_point.service_point_number,
        removed=_installation_read(removal, service_point.service_point_number),
        installed=_installation_read(installed, service_point.service_point_number),
    )


def _installation_read(installation: Installation, number: str) -> schemas.InstallationRead:
    return schemas.InstallationRead(
        service_point_number=number,
        installed_at_utc=installation.installed_at_utc,
        installed_by=installation.installed_by,
        install_read_kwh=installation.install_read_kwh,
        removed_at_utc=installation.removed_at_utc,
        removed_by=installation.removed_by,
        removal_read_kwh=installation.removal_read_kwh,
        removal_reason=installation.removal_reason,
        work_order_ref=installation.work_order_ref,
    )


def meter_detail(session: Session, serial_number: str) -> schemas.MeterDetail:
    """The meter with its service point, communication module and installation history."""
    meter = get_meter(session, serial_number)
    installations = InstallationRepository(session)
    history = installations.history_for_meter(meter.id)
    service_point_read = None
    current = next((i for i in history if i.removed_at_utc is None), None)
    if current is not None:
        service_points = ServicePointRepository(session)
        sp = current.service_point
        premise = service_points.premise(sp)
        grid = service_points.transformer_and_feeder(sp)
        service_point_read = schemas.ServicePointRead(
            service_point_number=sp.service_point_number,
            service_type=sp.service_type.value,
            voltage_v=sp.voltage_v,
            phases=sp.phases,
            wires=sp.wires,
            transformer_rated=sp.transformer_rated,
            compatible_forms=list(sp.compatible_forms),
            premise_number=premise.premise_number,
            address_line=premise.address_line,
            city=premise.city,
            latitude=premise.latitude,
            longitude=premise.longitude,
            transformer_code=grid[0] if grid else None,
            feeder_code=grid[1] if grid else None,
        )
    module = MeterRepository(session).current_comm_module(meter.id)
    module_read = None
    if module is not None:
        comm, link = module
        module_read = schemas.CommModuleRead(
            module_serial=comm.module_serial,
            vendor=comm.vendor,
            model=comm.model,
            technology=comm.technology,
            firmware_revision=comm.firmware_revision,
            linked_at_utc=link.linked_at_utc,
        )
    return schemas.MeterDetail(
        meter=schemas.MeterRead.model_validate(meter),
        program_code=meter.program.program_code if meter.program else None,
        service_point=service_point_read,
        comm_module=module_read,
        installations=[
            _installation_read(i, i.service_point.service_point_number) for i in history
        ],
    )


def fleet_summary(session: Session) -> schemas.FleetSummary:
    """Meter counts by lifecycle status and by form."""
    repository = FleetSummaryRepository(session)
    by_status = repository.meters_by_status()
    return schemas.FleetSummary(
        meters=sum(by_status.values()), by_status=by_status, by_form=repository.meters_by_form()
    )


def search_meters(
    session: Session,
    prefix: str,
    *,
    limit: int = 50,
    territory_ids: Collection[int] | None = None,
) -> list[schemas.MeterRead]:
    """Meters whose serial number starts with ``prefix`` (at most ``limit``).

    Args:
        session: Database session.
        prefix: Serial number prefix.
        limit: At most this many.
        territory_ids: Only meters of these territories (and meters in stock, which are in
            none); None: every meter.
    """
    meters = FleetSummaryRepository(session).search(
        prefix.strip(), limit=limit, territory_ids=territory_ids
    )
    return [schemas.MeterRead.model_validate(m) for m in meters]
