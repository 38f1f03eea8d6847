"""Outage incidents stored from events keyed by the fleet's meter ids; who is out when."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from meterops.models import Installation, Meter, ServicePoint, Transformer
from meterops.nomenclature import EVENT_BY_NAME
from meterops.outages import service as outages_service
from meterops.outages.inference import OutageParams
from tests.commands.world import MONDAY_10, load_world


def test_a_transformer_outage_is_stored_and_answers_meters_in_outage(
    session: Session, tmp_path: Path
) -> None:
    load_world(session, tmp_path)
    transformer_id = (
        session.execute(
            select(ServicePoint.transformer_id)
            .join(Installation, Installation.service_point_id == ServicePoint.id)
            .where(Installation.removed_at_utc.is_(None))
            .group_by(ServicePoint.transformer_id)
            .having(func.count() >= 4)
        )
        .scalars()
        .first()
    )
    assert transformer_id is not None
    meters = session.execute(
        select(Meter.id, Meter.serial_number)
        .join(Installation, Installation.meter_id == Meter.id)
        .join(ServicePoint, ServicePoint.id == Installation.service_point_id)
        .where(ServicePoint.transformer_id == transformer_id)
        .where(Installation.removed_at_utc.is_(None))
    ).all()
    start, end = MONDAY_10, MONDAY_10 + dt.timedelta(hours=2)
    gasping = meters[:-1]  # one last gasp does not get through
    events = pl.DataFrame(
        {
            "meter_id": [m for m, _ in gasping] + [m for m, _ in meters],
            "event_time_utc": [start] * len(gasping) + [end] * len(meters),
            "cim_event_type": [EVENT_BY_NAME["last_gasp"].code] * len(gasping)
            + [EVENT_BY_NAME["power_restored"].code] * len(meters),
        }
    )
    found = outages_service.detect_from_events(
        session, events, now=end, params=OutageParams(feeder_share=0.9)
    )
    code = session.get(Transformer, transformer_id)
    assert code is not None
    assert [(i.level, i.device_code, i.affected_meters) for i in found] == [
        ("transformer", code.code, len(meters))
    ]
    inside = outages_service.meters_in_outage(session, start + dt.timedelta(hours=1))
    assert inside == {s for _, s in meters}
    assert outages_service.meters_in_outage(session, end + dt.timedelta(minutes=1)) == set()
    # Detecting again keeps one incident.
    again = outages_service.detect_from_events(
        session, events, now=end, params=OutageParams(feeder_share=0.9)
    )
    assert [i.id for i in again] == [i.id for i in found]
    detail = outages_service.get_incident(session, found[0].id)
    assert sum(m.last_gasp for m in detail.meters) == len(gasping)
    periods = outages_service.outage_periods(
        session, start_utc=start - dt.timedelta(hours=1), end_utc=end + dt.timedelta(hours=1)
    )
    assert periods.height == len(meters)
    assert periods["outage_end_utc"].to_list() == [end] * len(meters)
