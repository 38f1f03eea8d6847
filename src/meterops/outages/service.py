"""Outage incidents: infer them from stored events, keep them, and answer who is out when.

:func:`detect` reads last gasps and restores from the read store, maps meters to their
transformer and feeder through the fleet, runs :func:`meterops.outages.inference.infer_outages`
and stores new incidents (an incident already stored for the same device and start is kept).
:func:`meters_in_outage` is what other capabilities ask (diagnostics: do not send a non-comm
order for a meter inside an outage). Services only flush.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from meterops.errors import NotFoundError
from meterops.models import Feeder, Installation, Meter, ServicePoint, Transformer
from meterops.models.commands import OutageIncident, OutageLevel, OutageMember
from meterops.nomenclature import EVENT_BY_NAME
from meterops.outages import schemas
from meterops.outages.inference import OutageParams, infer_outages
from meterops.reads.store import ReadStore, Table

__all__ = ["detect", "detect_from_events", "get_incident", "list_incidents", "meters_in_outage"]

_EVENT_NAMES = {
    EVENT_BY_NAME["last_gasp"].code: "last_gasp",
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


def list_incidents(
    session: Session, *, since: dt.datetime | None = None, limit: int = 200
) -> list[schemas.OutageRead]:
    """Incidents, latest first."""
    query = select(OutageIncident).order_by(OutageIncident.started_at_utc.desc()).limit(limit)
    if since is not None:
        query = query.where(OutageIncident.started_at_utc >= since)
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
