"""JSON API of the vee capability (mounted under ``/api/v1``)."""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated

import polars as pl
from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from meterops.reads.store import ReadStore
from meterops.vee import service
from meterops.vee.flags import flag_names
from meterops.web.deps import SessionDep, SettingsDep
from meterops.web.errors import ERROR_RESPONSES

__all__ = [
    "IntervalRead",
    "MeterIntervals",
    "interval_history",
    "meter_intervals",
    "router",
]

router = APIRouter(tags=["vee"], responses=ERROR_RESPONSES)


class IntervalRead(BaseModel):
    """One interval read (a current row, or a stored version in a history)."""

    channel: str
    interval_start_utc: dt.datetime = Field(description="Beginning of the interval. [UTC]")
    local_time: str = Field(description="Beginning in the utility's zone, with its abbreviation.")
    interval_s: int = Field(description="Interval length. [s]")
    value: float | None = Field(description="Value in the channel's unit (kWh, V …).")
    quality_flags: int = Field(description="Flag bits (see docs/vee.md).")
    flags: list[str] = Field(description="Names of the flags set.")
    version: int = Field(description="0 = the raw read; 1, 2 … estimates and edits.")
    version_kind: str = Field(description="raw | estimate | edit | substitute")
    method: str | None = None
    reason_code: str | None = None
    actor: str | None = None
    parent_version: int | None = None
    received_at_utc: dt.datetime = Field(description="When meterops stored the row. [UTC]")
    is_current: bool = True


class MeterIntervals(BaseModel):
    """A meter's current interval reads over a range of local days."""

    serial_number: str
    first_day: dt.date
    last_day: dt.date
    zone: str
    intervals: list[IntervalRead]


def _reads(rows: pl.DataFrame, zone: dt.tzinfo) -> list[IntervalRead]:
    out = []
    for row in rows.iter_rows(named=True):
        value = row["value"]
        start: dt.datetime = row["interval_start_utc"]
        out.append(
            IntervalRead(
                channel=row["channel"],
                interval_start_utc=start,
                local_time=start.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z"),
                interval_s=row["interval_s"],
                value=value if value is not None and math.isfinite(value) else None,
                quality_flags=row["quality_flags"],
                flags=flag_names(row["quality_flags"]),
                version=row["version"],
                version_kind=row["version_kind"],
                method=row["method"],
                reason_code=row["reason_code"],
                actor=row["actor"],
                parent_version=row["parent_version"],
                received_at_utc=row["received_at_utc"],
                is_current=row.get("is_current", True),
            )
        )
    return out


@router.get("/meters/{serial_number}/intervals", response_model=MeterIntervals)
def meter_intervals(
    serial_number: str,
    *,
    session: SessionDep,
    settings: SettingsDep,
    first_day: Annotated[dt.date, Query(alias="from", description="First local day.")],
    last_day: Annotated[dt.date, Query(alias="to", description="Last local day, included.")],
    channel: Annotated[str | None, Query(max_length=64, description="Only this channel.")] = None,
) -> MeterIntervals:
    """Current interval reads of a meter with flags, estimates and edits (at most 31 days)."""
    rows = service.meter_intervals(
        session,
        ReadStore(settings.reads_uri),
        serial=serial_number,
        first_day=first_day,
        last_day=last_day,
        zone=settings.zone,
        channel=channel,
    )
    return MeterIntervals(
        serial_number=serial_number,
        first_day=first_day,
        last_day=last_day,
        zone=settings.zone.key,
        intervals=_reads(rows, settings.zone),
    )


@router.get("/meters/{serial_number}/intervals/history", response_model=list[IntervalRead])
def interval_history(
    serial_number: str,
    *,
    session: SessionDep,
    settings: SettingsDep,
    channel: Annotated[str, Query(max_length=64, description="Channel.")],
    at: Annotated[dt.datetime, Query(description="Interval start (ISO with offset). [UTC]")],
) -> list[IntervalRead]:
    """Every stored version of one interval, oldest first (``is_current`` marks the current)."""
    moment = at if at.tzinfo is not None else at.replace(tzinfo=dt.UTC)
    rows = service.interval_versions(
        session,
        ReadStore(settings.reads_uri),
        serial=serial_number,
        channel=channel,
        at_utc=moment,
    )
    return _reads(rows, settings.zone)
