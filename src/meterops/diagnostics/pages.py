"""HTML pages of the diagnostics capability: thin views over its services.

``/diagnostics`` lists exceptions with their verdicts (filter by kind and status; HTMX swaps
the table, no inline script or style); each row's evidence opens in place (``<details>``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from meterops.diagnostics import schemas
from meterops.diagnostics import service as diagnostics_service
from meterops.diagnostics.kinds import ExceptionKind
from meterops.timeutil import utc_now
from meterops.web.auth import UserDep
from meterops.web.deps import SessionDep, SettingsDep

__all__ = ["cohorts_page", "exceptions_page", "router"]

router = APIRouter(include_in_schema=False)


def _render(request: Request, template: str, **context: object) -> HTMLResponse:
    return request.app.state.templates.TemplateResponse(  # type: ignore[no-any-return]
        request, template, context
    )


@router.get("/diagnostics", response_class=HTMLResponse)
def exceptions_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: UserDep,
    *,
    kind: Annotated[str, Query(max_length=32)] = "",
    status: Annotated[str, Query(max_length=8)] = "open",
) -> HTMLResponse:
    """The analyst's exception queue with verdicts and evidence."""
    chosen = ExceptionKind(kind) if kind in {k.value for k in ExceptionKind} else None
    rows = diagnostics_service.list_exceptions(
        session,
        kind=chosen,
        open_only=status == "open",
        limit=500,
        territory_ids=user.territory_ids,
    )
    exceptions = [schemas.exception_read(row, serial) for row, serial in rows]
    template = (
        "diagnostics/_exceptions.html"
        if request.headers.get("HX-Request")
        else "diagnostics/exceptions.html"
    )
    return _render(
        request,
        template,
        exceptions=exceptions,
        kinds=[k.value for k in ExceptionKind],
        kind=chosen.value if chosen else "",
        status=status,
        zone=settings.zone,
    )


@router.get("/diagnostics/cohorts", response_class=HTMLResponse)
def cohorts_page(request: Request, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    """Cohorts over-represented among the open exceptions."""
    frame = diagnostics_service.run_cohorts(
        session, as_of_day=utc_now().astimezone(settings.zone).date()
    )
    rows = [schemas.CohortRead(**row) for row in frame.head(200).iter_rows(named=True)]
    return _render(request, "diagnostics/cohorts.html", cohorts=rows)
