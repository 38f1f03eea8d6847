"""I/O schemas of the outages capability."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict

from meterops.models.commands import OutageLevel

__all__ = ["OutageDetail", "OutageMemberRead", "OutageRead"]


class OutageRead(BaseModel):
    """An outage incident."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    level: OutageLevel
    device_code: str
    feeder_code: str | None
    started_at_utc: dt.datetime
    restored_at_utc: dt.datetime | None
    affected_meters: int
    last_gasps: int
    confidence: float
    pings_sent: int
    pings_unanswered: int
    detected_at_utc: dt.datetime


class OutageMemberRead(BaseModel):
    """A meter inside an incident."""

    model_config = ConfigDict(from_attributes=True)

    serial_number: str
    last_gasp: bool
    restored_at_utc: dt.datetime | None


class OutageDetail(BaseModel):
    """An incident with its meters."""

    incident: OutageRead
    meters: list[OutageMemberRead]
