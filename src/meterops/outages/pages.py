"""HTML pages of the outages capability: the live outage map and list (a thin view).

``/outages`` lists the incidents of the user's territories and draws the open ones on a
Leaflet map (vendored; a blank background, no internet tiles). The map fetches
``/outages/map.geojson`` and again every :data:`REFRESH_S` seconds.

Placement: no service exposes a grid device's coordinates, so an incident is drawn at the
mean position of its meters' premises (a meter-level incident at its meter's premise), taken
from :func:`meterops.assets.service.meter_detail` for at most :data:`PLACEMENT_METERS` of its
meters. Its size is the number of affected meters (one meter serves one customer account).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy.orm import Session

from meterops.assets import service as assets_service
from meterops.errors import NotFoundError
from meterops.outages import schemas
from meterops.outages import service as outages_service
from meterops.web.auth import UserDep
from meterops.web.deps import SessionDep

__all__ = [
    "PLACEMENT_METERS",
    "REFRESH_S",
    "incident_feature",
    "outage_map_geojson",
    "outages_page",
    "router",
]

router = APIRouter(include_in_schema=False)

REFRESH_S = 30
"""How often the map asks again for open incidents. [s]"""

PLACEMENT_METERS = 25
"""At most this many of an incident's meters place it on the map."""


@router.get("/outages", response_class=HTMLResponse)
def outages_page(request: Request, session: SessionDep, user: UserDep) -> HTMLResponse:
    """Outage incidents of the user's territories, latest first, with the live map."""
    incidents = outages_service.list_incidents(session, territory_ids=user.territory_ids)
    return request.app.state.templates.TemplateResponse(  # type: ignore[no-any-return]
        request,
        "outages/list.html",
        {
            "incidents": incidents,
            "open_count": sum(1 for i in incidents if i.restored_at_utc is None),
            "refresh_s": REFRESH_S,
        },
    )


def _position(session: Session, serial: str) -> tuple[float, float] | None:
    try:
        detail = assets_service.meter_detail(session, serial)
    except NotFoundError:
        return None
    point = detail.service_point
    return (point.latitude, point.longitude) if point is not None else None


def incident_feature(session: Session, incident: schemas.OutageRead) -> dict[str, Any] | None:
    """A GeoJSON point feature for an incident, or None when none of its meters is placed.

    The point is the mean latitude and longitude [degrees] of the premises of (at most
    :data:`PLACEMENT_METERS` of) its meters.
    """
    detail = outages_service.get_incident(session, incident.id)
    serials = [m.serial_number for m in detail.meters[:PLACEMENT_METERS]]
    if not serials and incident.level.value == "meter":
        serials = [incident.device_code]
    points = [p for p in (_position(session, s) for s in serials) if p is not None]
    if not points:
        return None
    latitude = sum(p[0] for p in points) / len(points)
    longitude = sum(p[1] for p in points) / len(points)
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [longitude, latitude]},
        "properties": {
            "id": incident.id,
            "level": incident.level.value,
            "device_code": incident.device_code,
            "feeder_code": incident.feeder_code,
            "affected_meters": incident.affected_meters,
            "last_gasps": incident.last_gasps,
            "confidence": incident.confidence,
            "started_at_utc": incident.started_at_utc.isoformat(),
        },
    }


@router.get("/outages/map.geojson")
def outage_map_geojson(session: SessionDep, user: UserDep) -> JSONResponse:
    """Open incidents of the user's territories as GeoJSON points (the map's data)."""
    incidents = outages_service.list_incidents(session, territory_ids=user.territory_ids)
    features = [
        feature
        for incident in incidents
        if incident.restored_at_utc is None
        for feature in [incident_feature(session, incident)]
        if feature is not None
    ]
    unplaced = sum(1 for i in incidents if i.restored_at_utc is None) - len(features)
    return JSONResponse(
        {"type": "FeatureCollection", "features": features, "unplaced": unplaced},
        media_type="application/geo+json",
    )
