"""HTML pages of the dispatch capability: the dispatcher's day, thin views over its services.

``/dispatch`` shows a day: KPIs, each technician's timeline (arrival times, breaks,
appointments, skills), the orders left out and why, and a map of the routes. "Optimize the
day", "Dispatch" and reassigning an order by hand are HTMX posts that answer with the day's
fragment; without JavaScript the same forms post and are redirected back to the page.

The map is drawn on the server as SVG (routes and stops on a plain background, works
offline); ``static/dispatch/map.js`` replaces it with a Leaflet map when Leaflet is vendored,
with tiles from ``map_tile_url`` when one is configured.
"""

from __future__ import annotations

import datetime as dt
import math
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from meterops.config import Settings
from meterops.dispatch import api as dispatch_api
from meterops.dispatch import changes, flows, schemas, views, wiring
from meterops.dispatch import service as dispatch_service
from meterops.errors import MeterOpsError
from meterops.timeutil import utc_now
from meterops.web.deps import SessionDep, SettingsDep

__all__ = [
    "MAP_HEIGHT",
    "MAP_WIDTH",
    "ROUTE_COLOURS",
    "day_page",
    "dispatch_action",
    "optimize_action",
    "reassign_action",
    "router",
    "svg_map",
    "timeline",
]

ACTOR = "web"
MAP_WIDTH = 800
MAP_HEIGHT = 480
ROUTE_COLOURS = 8
"""Routes are coloured by CSS classes ``route-0`` … ``route-7`` (``static/dispatch``)."""

router = APIRouter(include_in_schema=False)

TerritoryQuery = Annotated[str | None, Query(max_length=32)]


def _leaflet_vendored() -> bool:
    static = Path(str(resources.files("meterops.web.ui"))) / "static"
    return (static / "vendor" / "leaflet" / "leaflet.js").is_file()


def timeline(route: schemas.RouteRead) -> list[dict[str, Any]]:
    """A technician's day as one list in time order: visits and breaks."""
    entries: list[dict[str, Any]] = [
        {"kind": "visit", "start": v.start_local, "visit": v} for v in route.visits
    ]
    entries += [{"kind": "break", "start": b.start_local, "break": b} for b in route.breaks]
    return sorted(entries, key=lambda e: (e["start"], e["kind"] == "visit"))


def svg_map(geojson: dict[str, Any]) -> dict[str, Any]:
    """Routes and stops projected onto a plain ``MAP_WIDTH`` × ``MAP_HEIGHT`` canvas.

    An equirectangular projection around the plan's mean latitude (distances within a
    territory are true to a few per cent) with a margin; each route gets a colour class.

    Returns:
        ``lines`` (technician, colour, SVG points), ``stops`` (x, y, colour, label, title),
        ``left_out`` (x, y, title) and ``colours`` (technician → colour index); empty when
        the plan has no features.
    """
    coords: list[tuple[float, float]] = []
    for feature in geojson["features"]:
        geometry = feature["geometry"]
        points = geometry["coordinates"]
        coords += [tuple(p) for p in points] if geometry["type"] == "LineString" else [points]
    if not coords:
        return {"lines": [], "stops": [], "left_out": [], "colours": {}}
    lons = [c[0] for c in coords]
    lats = [c[1] for c in coords]
    shrink = math.cos(math.radians(sum(lats) / len(lats)))
    width = max((max(lons) - min(lons)) * shrink, 1e-6)
    height = max(max(lats) - min(lats), 1e-6)
    margin = 24.0
    scale = min((MAP_WIDTH - 2 * margin) / width, (MAP_HEIGHT - 2 * margin) / height)

    def xy(lon: float, lat: float) -> tuple[float, float]:
        x = margin + (lon - min(lons)) * shrink * scale
        y = MAP_HEIGHT - margin - (lat - min(lats)) * scale
        return round(x, 1), round(y, 1)

    colours: dict[str, int] = {}
    lines: list[dict[str, Any]] = []
    stops: list[dict[str, Any]] = []
    left_out: list[dict[str, Any]] = []
    for feature in geojson["features"]:
        props = feature["properties"]
        technician = props.get("technician_id")
        colour = colours.setdefault(technician, len(colours) % ROUTE_COLOURS) if technician else 0
        if feature["geometry"]["type"] == "LineString":
            points = " ".join(
                f"{x},{y}" for x, y in (xy(*p) for p in feature["geometry"]["coordinates"])
            )
            lines.append({"technician": technician, "colour": colour, "points": points})
            continue
        x, y = xy(*feature["geometry"]["coordinates"])
        orders = ", ".join(props.get("orders", []))
        if props["kind"] == "left_out":
            left_out.append({"x": x, "y": y, "title": f"left out: {orders}"})
        elif props["kind"] == "stop":
            stops.append(
                {
                    "x": x,
                    "y": y,
                    "colour": colour,
                    "label": props.get("sequence", ""),
                    "title": f"{technician} #{props.get('sequence', '')}: {orders}",
                }
            )
    return {"lines": lines, "stops": stops, "left_out": left_out, "colours": colours}


def _today(settings: Settings) -> dt.date:
    return utc_now().astimezone(settings.zone).date()


def _context(
    session: Session, settings: Settings, day: dt.date, territory: str | None
) -> dict[str, Any]:
    plans = views.day_plans(
        session, day=day, territory_code=territory, utility_timezone=settings.utility_timezone
    )
    geojson = views.plan_geojson(
        session, day=day, territory_code=territory, utility_timezone=settings.utility_timezone
    )
    return {
        "day": day,
        "territory": territory or "",
        "plans": plans,
        "timeline": timeline,
        "map": svg_map(geojson),
        "map_width": MAP_WIDTH,
        "map_height": MAP_HEIGHT,
        "tile_url": settings.map_tile_url,
        "leaflet": _leaflet_vendored(),
    }


def _render(request: Request, template: str, context: dict[str, Any]) -> HTMLResponse:
    return request.app.state.templates.TemplateResponse(  # type: ignore[no-any-return]
        request, template, context
    )


def _answer(
    request: Request,
    session: Session,
    settings: Settings,
    *,
    day: dt.date,
    territory: str | None,
    message: str | None = None,
    error: str | None = None,
) -> Response:
    if request.headers.get("HX-Request"):
        context = _context(session, settings, day, territory)
        return _render(
            request, "dispatch/_day.html", {**context, "message": message, "error": error}
        )
    query = f"?date={day.isoformat()}" + (f"&territory={territory}" if territory else "")
    return RedirectResponse(f"/dispatch{query}", status_code=303)


@router.get("/dispatch", response_class=HTMLResponse)
def day_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    date: Annotated[dt.date | None, Query()] = None,
    territory: TerritoryQuery = None,
) -> HTMLResponse:
    """The dispatcher's day: KPIs, timelines per technician, left-out orders, the map."""
    day = date or _today(settings)
    context = _context(session, settings, day, territory or None)
    return _render(request, "dispatch/day.html", {**context, "message": None, "error": None})


@router.post("/dispatch/{day}/optimize")
def optimize_action(
    request: Request,
    day: dt.date,
    session: SessionDep,
    settings: SettingsDep,
    territory: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    """Optimize the day (pinging non-comm meters first when a head-end is configured)."""
    message = error = None
    try:
        _, report = flows.plan_day_with_pings(
            session,
            dispatch_api.get_head_end(request),
            day=day,
            territory_code=territory or None,
            planner=wiring.planner(settings),
            actor=wiring.actor_of(request, ACTOR),
            now=utc_now(),
        )
        message = "The day is optimized."
        if report is not None:
            message += (
                f" Pinged {report.pinged} meter(s); {len(report.recovered)} answered and "
                "their orders were cancelled."
            )
    except MeterOpsError as failure:
        session.rollback()
        error = failure.message
    return _answer(
        request,
        session,
        settings,
        day=day,
        territory=territory or None,
        message=message,
        error=error,
    )


@router.post("/dispatch/{day}/dispatch")
def dispatch_action(
    request: Request,
    day: dt.date,
    session: SessionDep,
    settings: SettingsDep,
    territory: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    """Give the technicians their routes."""
    message = error = None
    try:
        dispatch_service.dispatch_day(
            session,
            day=day,
            territory_code=territory or None,
            actor=wiring.actor_of(request, ACTOR),
            now=utc_now(),
        )
        message = "Dispatched: the technicians have their routes."
    except MeterOpsError as failure:
        session.rollback()
        error = failure.message
    return _answer(
        request,
        session,
        settings,
        day=day,
        territory=territory or None,
        message=message,
        error=error,
    )


@router.post("/dispatch/{day}/reassign")
def reassign_action(  # noqa: PLR0917 (FastAPI passes the form fields by keyword)
    request: Request,
    day: dt.date,
    session: SessionDep,
    settings: SettingsDep,
    order_number: Annotated[str, Form(max_length=20)],
    technician: Annotated[str, Form(max_length=32)],
    territory: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    """Give an order to a technician by hand; re-plans that technician's day."""
    message = error = None
    try:
        changes.reassign_order(
            session,
            order_number,
            technician=technician,
            planner=wiring.planner(settings),
            actor=wiring.actor_of(request, ACTOR),
            now=utc_now(),
            day=day,
        )
        message = f"{order_number} is now with {technician}."
    except MeterOpsError as failure:
        session.rollback()
        error = failure.message
    return _answer(
        request,
        session,
        settings,
        day=day,
        territory=territory or None,
        message=message,
        error=error,
    )
