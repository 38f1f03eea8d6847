"""HTML pages of the commands capability: the remote-operations console (a thin view).

``/remote`` shows the kill switch, the requests awaiting a second person's approval, and the
latest requests and commands with their guard results and head-end answers; it reads the same
service as ``GET /api/v1/remote/overview``. Actions (request, approve, kill switch) go through
the JSON API and the CLI until sign-in and CSRF protect forms here.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from meterops.commands import service as commands_service
from meterops.web.deps import SessionDep

__all__ = ["console_page", "router"]

router = APIRouter(include_in_schema=False)


@router.get("/remote", response_class=HTMLResponse)
def console_page(request: Request, session: SessionDep) -> HTMLResponse:
    """The remote-operations console."""
    overview = commands_service.overview(session)
    return request.app.state.templates.TemplateResponse(  # type: ignore[no-any-return]
        request, "commands/console.html", {"overview": overview}
    )
