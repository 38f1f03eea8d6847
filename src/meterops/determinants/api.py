"""JSON API of the determinants capability (mounted under ``/api/v1``)."""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from meterops.determinants import service
from meterops.reads.store import ReadStore
from meterops.web.deps import SessionDep, SettingsDep
from meterops.web.errors import ERROR_RESPONSES

__all__ = ["MeterDeterminants", "meter_determinants", "router"]

router = APIRouter(tags=["determinants"], responses=ERROR_RESPONSES)


class MeterDeterminants(BaseModel):
    """Billing determinants of one meter over a range of local days.

    Rows carry the columns of ``determinants.frames.BY_PERIOD`` and ``BY_TOU`` (billed values:
    energy in kWh, demand in kW, instants in UTC).
    """

    serial_number: str
    first_day: dt.date
    last_day: dt.date
    zone: str
    by_period: list[dict[str, Any]] = Field(description="One row per billing period.")
    by_tou: list[dict[str, Any]] = Field(description="One row per billing and TOU period.")


def _clean(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in r.items()}
        for r in rows
    ]


@router.get("/meters/{serial_number}/determinants", response_model=MeterDeterminants)
def meter_determinants(
    serial_number: str,
    session: SessionDep,
    settings: SettingsDep,
    first_day: Annotated[dt.date, Query(alias="from", description="First local day.")],
    last_day: Annotated[dt.date, Query(alias="to", description="Last local day, included.")],
) -> MeterDeterminants:
    """TOU energy, demand and net metering of a meter per billing period and TOU period."""
    run = service.run_determinants(
        session,
        lambda: ReadStore(settings.reads_uri),
        first_day=first_day,
        last_day=last_day,
        zone=settings.zone,
        serial=serial_number,
    )
    return MeterDeterminants(
        serial_number=serial_number,
        first_day=first_day,
        last_day=last_day,
        zone=settings.zone.key,
        by_period=_clean(run.by_period.drop("serial_number").to_dicts()),
        by_tou=_clean(run.by_tou.drop("serial_number").to_dicts()),
    )
