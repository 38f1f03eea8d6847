"""JSON API of the outages capability (mounted under ``/api/v1``)."""

from __future__ import annotations

from fastapi import APIRouter

from meterops.outages import schemas
from meterops.outages import service as outages_service
from meterops.web.auth import UserDep
from meterops.web.deps import SessionDep
from meterops.web.errors import ERROR_RESPONSES

__all__ = ["get_outage", "list_outages", "router"]

router = APIRouter(tags=["outages"], responses=ERROR_RESPONSES)


@router.get("/outages", response_model=list[schemas.OutageRead])
def list_outages(session: SessionDep, user: UserDep) -> list[schemas.OutageRead]:
    """Outage incidents of the user's territories, latest first."""
    return outages_service.list_incidents(session, territory_ids=user.territory_ids)


@router.get("/outages/{incident_id}", response_model=schemas.OutageDetail)
def get_outage(incident_id: int, session: SessionDep) -> schemas.OutageDetail:
    """An outage incident with its meters."""
    return outages_service.get_incident(session, incident_id)
