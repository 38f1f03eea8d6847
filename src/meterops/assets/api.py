"""JSON API of the assets capability."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from meterops.assets import schemas
from meterops.assets import service as assets_service
from meterops.web.auth import UserDep
from meterops.web.deps import SessionDep
from meterops.web.errors import ERROR_RESPONSES

router = APIRouter(tags=["meters"], responses=ERROR_RESPONSES)


@router.get("/meters", response_model=list[schemas.MeterRead])
def list_meters(
    session: SessionDep,
    user: UserDep,
    prefix: Annotated[str, Query(max_length=32, description="Serial number prefix.")] = "",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[schemas.MeterRead]:
    """Meters whose serial number starts with a prefix, in the user's territories."""
    return assets_service.search_meters(
        session, prefix, limit=limit, territory_ids=user.territory_ids
    )


@router.get("/meters/{serial_number}", response_model=schemas.MeterDetail)
def get_meter(serial_number: str, session: SessionDep) -> schemas.MeterDetail:
    """A meter with its service point, communication module and installation history."""
    return assets_service.meter_detail(session, serial_number)


@router.get("/fleet/summary", response_model=schemas.FleetSummary)
def fleet_summary(session: SessionDep) -> schemas.FleetSummary:
    """Meter counts by lifecycle status and form."""
    return assets_service.fleet_summary(session)
