"""HTML pages: thin views over the same service functions as the JSON API."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse

from meterops.assets import service as assets_service
from meterops.web.auth import UserDep
from meterops.web.deps import SessionDep, SettingsDep
from meterops.web.ui.meter_panels import ChartRangeDep

router = APIRouter(include_in_schema=False)


def _render(request: Request, template: str, **context: object) -> HTMLResponse:
    return request.app.state.templates.TemplateResponse(  # type: ignore[no-any-return]
        request, template, context
    )


@router.get("/", response_class=HTMLResponse)
def home(request: Request, session: SessionDep) -> HTMLResponse:
    """Fleet overview and meter search."""
    return _render(request, "home.html", summary=assets_service.fleet_summary(session))


@router.get("/meters", response_class=HTMLResponse)
def meter_search(
    request: Request,
    session: SessionDep,
    user: UserDep,
    q: Annotated[str, Query(max_length=32)] = "",
) -> HTMLResponse:
    """Meter search results of the user's territories (a fragment when HTMX asks for it)."""
    meters = (
        assets_service.search_meters(session, q, limit=50, territory_ids=user.territory_ids)
        if q.strip()
        else []
    )
    template = "_meter_results.html" if request.headers.get("HX-Request") else "search.html"
    return _render(request, template, meters=meters, q=q)


@router.get("/meters/{serial_number}", response_class=HTMLResponse)
def meter_page(
    request: Request,
    serial_number: str,
    *,
    session: SessionDep,
    settings: SettingsDep,
    charts: ChartRangeDep,
) -> HTMLResponse:
    """A meter: nameplate, customer, interval chart, communication, events, verdicts, orders."""
    from meterops.web.ui.meter_panels import page_panels
    from meterops.web.ui.neighbours import HIDDEN_REASON

    detail = assets_service.meter_detail(session, serial_number)
    reads, panels = page_panels(
        session,
        settings,
        serial=serial_number,
        charts=charts,
        user=getattr(request.state, "user", None),
        every_panel=True,
    )
    return _render(
        request,
        "meter.html",
        detail=detail,
        reads=reads,
        panels=panels,
        neighbours_hidden_reason=HIDDEN_REASON,
    )


@router.get("/meters/{serial_number}/neighbours.geojson")
def meter_neighbours_geojson(
    request: Request,
    serial_number: str,
    *,
    session: SessionDep,
    settings: SettingsDep,
    last_day: Annotated[dt.date | None, Query(alias="to")] = None,
) -> JSONResponse:
    """The meter and the meters on its parent, collector and transformer (the map's data).

    ``to`` is the last local day of the data judged (default: today in the utility's zone).
    Refused (403) to a user who may not see the meter's customer data.
    """
    from meterops.web.ui.neighbours import neighbours_geojson

    day = last_day or dt.datetime.now(settings.zone).date()
    collection = neighbours_geojson(
        session,
        settings,
        serial=serial_number,
        last_day=day,
        user=getattr(request.state, "user", None),
    )
    return JSONResponse(collection, media_type="application/geo+json")
