"""Outage incidents: infer them from stored events, keep them, and answer who is out when.

:func:`detect` reads last gasps and restores from the read store, maps meters to their
transformer and feeder through the fleet, runs :func:`meterops.outages.inference.infer_outages`
and stores new incidents (an incident already stored for the same device and start is kept).
:func:`meters_in_outage` is what other capabilities ask (diagnostics: do not send a non-comm
order for a meter inside an outage). Services only flush.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Collection

import polars as pl
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from meterops.commands import service as commands_service
from meterops.commands.policy import CommandPolicy
from meterops.errors import InvalidInputError, NotFoundError
from meterops.ingest.formats.cim import write_cim_end_device_events
from meterops.models import Feeder, Installation, Meter, Premise, ServicePoint, Transformer
from meterops.models.commands import (
    CommandRequest,
    OutageIncident,
    OutageLevel,
    OutageMember,
    RemoteCommand,
    RemoteCommandState,
)
from meterops.nomenclature import EVENT_BY_NAME
from meterops.outages import schemas
from meterops.outages.inference import OutageParams, infer_outages
from meterops.reads.store import ReadStore, Table

__all__ = [
    "collect_pings",
    "detect",
    "detect_from_events",
    "export_cim",
    "get_incident",
    "list_incidents",
    "meters_in_outage",
    "outage_periods",
    "request_pings",
]

_EVENT_NAMES = {
    EVENT_BY_NAME["last_gasp"].code: "last_gasp",
    EVENT_BY_NAME["power_loss"].code: "power_loss",
    EVENT_BY_NAME["power_restored"].code: "power_restored",
}


def _grid(session: Session) -> pl.DataFrame:
    rows = session.execute(
        select(Meter.id, Meter.serial_number, Transformer.code, Feeder.code)
        .join(
            Installation,
            and_(Installation.meter_id == Meter.id, Installation.removed_at_utc.is_(None)),
        )
        .join(ServicePoint, ServicePoint.id == Installation.service_point_id)
        .join(Transformer, Transformer.id == ServicePoint.transformer_id)
        .join(Feeder, Feeder.id == Transformer.feeder_id)
    ).all()
    return pl.DataFrame(
        rows,
        schema={
            "meter_id": pl.Int64,
            "meter_key": pl.String,
            "transformer_code": pl.String,
            "feeder_code": pl.String,
        },
        orient="row",
    )


def detect_from_events(
    session: Session, events: pl.DataFrame, *, now: dt.datetime, params: OutageParams
) -> list[schemas.OutageRead]:
    """Infer and store incidents from events keyed by ``meter_id``.

    Args:
        session: Database session.
        events: ``meter_id``, ``event_time_utc``, ``cim_event_type`` (the store's events).
        now: Detection time. [UTC]
        params: Inference thresholds.

    Returns:
        The incidents found (stored ones included).
    """
    grid = _grid(session)
    keyed = (
        events.filter(pl.col("cim_event_type").is_in(list(_EVENT_NAMES)))
        .join(grid.select("meter_id", "meter_key"), on="meter_id", how="inner")
        .select(
            "meter_key",
            "event_time_utc",
            pl.col("cim_event_type").replace_strict(_EVENT_NAMES).alias("event"),
        )
    )
    incidents, members = infer_outages(keyed, grid.drop("meter_id"), params=params)
    ids = dict(zip(grid["meter_key"].to_list(), grid["meter_id"].to_list(), strict=True))
    stored: list[OutageIncident] = []
    for row in incidents.iter_rows(named=True):
        existing = session.execute(
            select(OutageIncident)
            .where(OutageIncident.level == OutageLevel(row["level"]))
            .where(OutageIncident.device_code == row["device_code"])
            .where(OutageIncident.started_at_utc == row["started_at_utc"])
        ).scalar_one_or_none()
        if existing is not None:
            if existing.restored_at_utc is None and row["restored_at_utc"] is not None:
                existing.restored_at_utc = row["restored_at_utc"]
            stored.append(existing)
            continue
        incident = OutageIncident(
            level=OutageLevel(row["level"]),
            device_code=row["device_code"],
            feeder_code=row["feeder_code"],
            started_at_utc=row["started_at_utc"],
            restored_at_utc=row["restored_at_utc"],
            affected_meters=row["affected_meters"],
            last_gasps=row["last_gasps"],
            confidence=row["confidence"],
            detected_at_utc=now,
        )
        session.add(incident)
        session.flush()
        for member in members.filter(pl.col("incident") == row["incident"]).iter_rows(named=True):
            session.add(
                OutageMember(
                    incident_id=incident.id,
                    meter_id=ids[member["meter_key"]],
                    serial_number=member["meter_key"],
                    last_gasp=member["last_gasp"],
                    restored_at_utc=member["restored_at_utc"],
                )
            )
        stored.append(incident)
    session.flush()
    return [schemas.OutageRead.model_validate(i) for i in stored]


def detect(
    session: Session,
    store: ReadStore,
    *,
    start_utc: dt.datetime,
    end_utc: dt.datetime,
    now: dt.datetime,
    params: OutageParams,
) -> list[schemas.OutageRead]:
    """Infer and store incidents from the events stored for ``[start_utc, end_utc)``."""
    events = store.records(Table.EVENTS, start_utc=start_utc, end_utc=end_utc)
    return detect_from_events(session, events, now=now, params=params)


def meters_in_outage(
    session: Session, at: dt.datetime, *, levels: tuple[str, ...] = ("transformer", "feeder")
) -> set[str]:
    """Serials of meters inside a grid outage at ``at`` (transformer or feeder by default).

    Args:
        session: Database session.
        at: The moment. [UTC]
        levels: Incident levels to count (add ``"meter"`` for single-meter losses).

    Returns:
        Meter serials.
    """
    rows = session.scalars(
        select(OutageMember.serial_number)
        .join(OutageIncident, OutageIncident.id == OutageMember.incident_id)
        .where(OutageIncident.level.in_([OutageLevel(v) for v in levels]))
        .where(OutageIncident.started_at_utc <= at)
        .where(or_(OutageIncident.restored_at_utc.is_(None), OutageIncident.restored_at_utc > at))
    ).all()
    return set(rows)


def outage_periods(
    session: Session,
    *,
    start_utc: dt.datetime,
    end_utc: dt.datetime,
    levels: tuple[str, ...] = ("transformer", "feeder"),
) -> pl.DataFrame:
    """Per meter, the outage periods overlapping ``[start_utc, end_utc)`` (for VEE masks).

    Args:
        session: Database session.
        start_utc: Window start. [UTC]
        end_utc: Window end. [UTC]
        levels: Incident levels to include.

    Returns:
        Frame ``meter_id``, ``serial_number``, ``outage_start_utc``, ``outage_end_utc`` (null
        while ongoing), ``incident_id``.
    """
    rows = session.execute(
        select(
            OutageMember.meter_id,
            OutageMember.serial_number,
            OutageIncident.started_at_utc,
            func.coalesce(OutageMember.restored_at_utc, OutageIncident.restored_at_utc),
            OutageIncident.id,
        )
        .join(OutageIncident, OutageIncident.id == OutageMember.incident_id)
        .where(OutageIncident.level.in_([OutageLevel(v) for v in levels]))
        .where(OutageIncident.started_at_utc < end_utc)
        .where(
            or_(
                OutageIncident.restored_at_utc.is_(None),
                OutageIncident.restored_at_utc > start_utc,
            )
        )
        .order_by(OutageMember.meter_id, OutageIncident.started_at_utc)
    ).all()
    return pl.DataFrame(
        [
            (m, s, a, b if b is None or b.tzinfo else b.replace(tzinfo=dt.UTC), i)
            for m, s, a, b, i in rows
        ],
        schema={
            "meter_id": pl.Int64,
            "serial_number": pl.String,
            "outage_start_utc": pl.Datetime("us", "UTC"),
            "outage_end_utc": pl.Datetime("us", "UTC"),
            "incident_id": pl.Int64,
        },
        orient="row",
    )


def list_incidents(
    session: Session,
    *,
    since: dt.datetime | None = None,
    limit: int = 200,
    territory_ids: Collection[int] | None = None,
) -> list[schemas.OutageRead]:
    """Incidents, latest first.

    Args:
        session: Database session.
        since: Only incidents that started at or after this time [UTC].
        limit: At most this many.
        territory_ids: Only incidents wholly inside these territories (feeder and meters);
            None: every incident.
    """
    query = select(OutageIncident).order_by(OutageIncident.started_at_utc.desc()).limit(limit)
    if since is not None:
        query = query.where(OutageIncident.started_at_utc >= since)
    if territory_ids is not None:
        ids = list(territory_ids)
        foreign_feeder = select(Feeder.id).where(
            Feeder.code == OutageIncident.feeder_code, Feeder.territory_id.not_in(ids)
        )
        foreign_meter = (
            select(OutageMember.meter_id)
            .join(Installation, Installation.meter_id == OutageMember.meter_id)
            .join(ServicePoint, ServicePoint.id == Installation.service_point_id)
            .join(Premise, Premise.id == ServicePoint.premise_id)
            .where(
                OutageMember.incident_id == OutageIncident.id,
                Installation.removed_at_utc.is_(None),
                Premise.territory_id.not_in(ids),
            )
        )
        query = query.where(~foreign_feeder.exists(), ~foreign_meter.exists())
    return [schemas.OutageRead.model_validate(i) for i in session.scalars(query).all()]


def get_incident(session: Session, incident_id: int) -> schemas.OutageDetail:
    """An incident with its meters.

    Raises:
        NotFoundError: No such incident.
    """
    incident = session.get(OutageIncident, incident_id)
    if incident is None:
        raise NotFoundError(f"no outage incident {incident_id}", code="outages.not_found")
    members = session.scalars(
        select(OutageMember)
        .where(OutageMember.incident_id == incident_id)
        .order_by(OutageMember.serial_number)
    ).all()
    return schemas.OutageDetail(
        incident=schemas.OutageRead.model_validate(incident),
        meters=[schemas.OutageMemberRead.model_validate(m) for m in members],
    )


_ROUNDS = ("confirm", "restore")
_NO_ANSWER = frozenset({"no_response", "collector_unreachable"})


def _ping_key(incident_id: int, round_: str) -> str:
    return f"outage-{incident_id}-{round_}-pings"


def request_pings(
    session: Session,
    incident_id: int,
    *,
    round_: str,
    sample: int,
    now: dt.datetime,
    policy: CommandPolicy,
) -> int:
    """Queue pings to a sample of an incident's meters (through the command outbox).

    ``confirm`` pings meters that sent no last gasp (an unanswered ping confirms they are out
    too); ``restore`` pings any members after the restore (answers verify restoration).

    Args:
        session: Database session.
        incident_id: The incident.
        round_: ``confirm`` or ``restore``.
        sample: At most this many meters, spread evenly over the sorted members.
        now: Request time. [UTC]
        policy: The command policy (time to live).

    Returns:
        The ping request's id (the same on a repeated call).
    """
    if round_ not in _ROUNDS:
        raise InvalidInputError(f"round_: expected one of {_ROUNDS}, found {round_!r}")
    members = session.scalars(
        select(OutageMember)
        .where(OutageMember.incident_id == incident_id)
        .order_by(OutageMember.serial_number)
    ).all()
    if not members:
        raise NotFoundError(f"no outage incident {incident_id}", code="outages.not_found")
    pool = [m.serial_number for m in members if round_ == "restore" or not m.last_gasp]
    if not pool:
        pool = [m.serial_number for m in members]
    step = max(1, len(pool) // max(1, sample))
    chosen = pool[::step][:sample]
    return commands_service.request_system_pings(
        session,
        chosen,
        purpose="outage_check",
        reason=f"outage {incident_id}: {round_} pings",
        idempotency_key=_ping_key(incident_id, round_),
        now=now,
        policy=policy,
    )


def collect_pings(session: Session, incident_id: int) -> schemas.OutageRead:
    """Fold the answers of an incident's pings into it.

    Confirmation round: an unanswered ping is evidence the meter is out, an answer that it is
    not; ``confidence`` becomes (meters with a last gasp or an unanswered ping) over (those plus
    meters that answered). Restoration round: when at least 80 % of the pings were answered
    after the restore, the incident's restoration is verified (``restored_at_utc`` is set to
    the last answer when no restore events had set it).

    Returns:
        The updated incident.
    """
    incident = session.get(OutageIncident, incident_id)
    if incident is None:
        raise NotFoundError(f"no outage incident {incident_id}", code="outages.not_found")
    members = session.scalars(
        select(OutageMember).where(OutageMember.incident_id == incident_id)
    ).all()
    gasped = {m.serial_number for m in members if m.last_gasp}
    rounds: dict[str, list[RemoteCommand]] = {}
    for round_ in _ROUNDS:
        request_id = session.execute(
            select(CommandRequest.id).where(
                CommandRequest.idempotency_key == _ping_key(incident_id, round_)
            )
        ).scalar_one_or_none()
        rounds[round_] = (
            list(
                session.scalars(
                    select(RemoteCommand).where(RemoteCommand.request_id == request_id)
                ).all()
            )
            if request_id is not None
            else []
        )
    confirm = [
        c
        for c in rounds["confirm"]
        if c.state in (RemoteCommandState.CONFIRMED, RemoteCommandState.FAILED)
    ]
    unanswered = {c.serial_number for c in confirm if c.failure_reason in _NO_ANSWER}
    answered = {c.serial_number for c in confirm if c.state is RemoteCommandState.CONFIRMED}
    incident.pings_sent = len(confirm)
    incident.pings_unanswered = len(unanswered)
    out = gasped | unanswered
    if out or answered:
        incident.confidence = round(len(out) / len(out | answered), 3)
    restore = [c for c in rounds["restore"] if c.state is RemoteCommandState.CONFIRMED]
    verified = bool(rounds["restore"]) and len(restore) >= 0.8 * len(rounds["restore"])
    if verified and incident.restored_at_utc is None:
        times = [c.completed_at_utc for c in restore if c.completed_at_utc is not None]
        incident.restored_at_utc = max(times) if times else None
    session.flush()
    return schemas.OutageRead.model_validate(incident)


def export_cim(session: Session, *, since: dt.datetime | None = None) -> bytes:
    """Outage incidents as IEC 61968-9 ``EndDeviceEvents``.

    Per affected meter, a power loss at the start and a restore at the end, with the incident
    in the event details.

    Args:
        session: Database session.
        since: Only incidents that started at or after this. [UTC]

    Returns:
        UTF-8 XML bytes.
    """
    query = select(OutageIncident).order_by(OutageIncident.started_at_utc, OutageIncident.id)
    if since is not None:
        query = query.where(OutageIncident.started_at_utc >= since)
    rows: list[dict[str, object]] = []
    loss, restored = EVENT_BY_NAME["power_loss"], EVENT_BY_NAME["power_restored"]
    for incident in session.scalars(query).all():
        members = session.scalars(
            select(OutageMember)
            .where(OutageMember.incident_id == incident.id)
            .order_by(OutageMember.serial_number)
        ).all()
        detail = {
            "outage_incident": incident.id,
            "outage_level": incident.level.value,
            "outage_device": incident.device_code,
        }
        for member in members:
            rows.append(
                {
                    "serial_number": member.serial_number,
                    "event_time_utc": incident.started_at_utc,
                    "cim_event_type": loss.code,
                    "vendor_code": "Outage inferred",
                    "severity": loss.severity.value,
                    "details": json.dumps(detail),
                }
            )
            end = member.restored_at_utc or incident.restored_at_utc
            if end is not None:
                rows.append(
                    {
                        "serial_number": member.serial_number,
                        "event_time_utc": end,
                        "cim_event_type": restored.code,
                        "vendor_code": "Restoration inferred",
                        "severity": restored.severity.value,
                        "details": json.dumps(detail),
                    }
                )
    frame = pl.DataFrame(
        rows,
        schema={
            "serial_number": pl.String,
            "event_time_utc": pl.Datetime("us", "UTC"),
            "cim_event_type": pl.String,
            "vendor_code": pl.String,
            "severity": pl.String,
            "details": pl.String,
        },
    )
    return write_cim_end_device_events(frame)
