"""HTML pages of the outages capability: the list of outage incidents (a thin view)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from meterops.outages import service as outages_service
from meterops.web.auth import UserDep
from meterops.web.deps import SessionDep

__all__ = ["outages_page", "router"]

router = APIRouter(include_in_schema=False)


@router.get("/outages", response_class=HTMLResponse)
def outages_page(request: Request, session: SessionDep, user: UserDep) -> HTMLResponse:
    """Outage incidents of the user's territories, latest first."""
    incidents = outages_service.list_incidents(session, territory_ids=user.territory_ids)
    return request.app.state.templates.TemplateResponse(  # type: ignore[no-any-return]
        request, "outages/list.html", {"incidents": incidents}
    )
