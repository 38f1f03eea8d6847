"""Step-up: a signed-in person gives a code from their authenticator app (second factor).

``GET /step-up?next=…`` shows the code form; ``POST /step-up`` checks the code
(:func:`meterops.auth.service.step_up`) and records ``stepped_up_at_utc`` on the session, then
goes back to ``next`` (same-site paths only). Sensitive actions (approving held remote
commands) need a step-up from the last 5 minutes (``SessionPolicy.step_up_s``) and send the
person here when theirs is missing or too old.

The form carries the session's CSRF token; wrong codes are throttled like sign-ins (429 with
``Retry-After``); a code is accepted once. Messages are plain language.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from meterops.auth import service as auth_service
from meterops.errors import MeterOpsError, TooManyAttemptsError
from meterops.timeutil import utc_now
from meterops.web.auth import SESSION_COOKIE, UserDep, policy_of, require_csrf
from meterops.web.deps import SessionDep, SettingsDep
from meterops.web.errors import ERROR_RESPONSES, status_for

__all__ = ["router", "safe_next", "step_up", "step_up_form", "step_up_location"]

router = APIRouter(responses=ERROR_RESPONSES)


def safe_next(target: str | None) -> str:
    r"""Only same-site paths to go back to (no open redirect); ``/`` otherwise.

    Examples:
        >>> safe_next("/remote"), safe_next("//evil.example"), safe_next("https://x.example/")
        ('/remote', '/', '/')
        >>> safe_next("/\\evil.example"), safe_next(None)
        ('/', '/')
    """
    if not target or not target.startswith("/") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or target.startswith("//"):
        return "/"
    return target


def step_up_location(next_path: str) -> str:
    """Where to send a person who must step up before going on to ``next_path``.

    Examples:
        >>> step_up_location("/remote#held")
        '/step-up?next=/remote%23held'
    """
    return f"/step-up?next={quote(safe_next(next_path), safe='/')}"


def _page(
    request: Request,
    session: SessionDep,
    *,
    next_path: str,
    message: str = "",
    status: int = 200,
) -> HTMLResponse:
    user = request.state.user
    page: HTMLResponse = request.app.state.templates.TemplateResponse(
        request,
        "auth/step_up.html",
        {
            "next_path": next_path,
            "message": message,
            "enrolled": auth_service.has_second_factor(session, user.username),
            "enroll_command": f"meterops users mfa-enroll {user.username}",
        },
        status_code=status,
    )
    return page


@router.get("/step-up", response_class=HTMLResponse, include_in_schema=False)
def step_up_form(
    request: Request,
    session: SessionDep,
    user: UserDep,
    next: str = "/",  # noqa: A002
) -> HTMLResponse:
    """The code form (or, without a second factor, how to get one)."""
    del user  # the access matrix and the dependency make sure someone is signed in
    return _page(request, session, next_path=safe_next(next))


@router.post("/step-up", include_in_schema=False, dependencies=[Depends(require_csrf)])
def step_up(  # noqa: PLR0917 (FastAPI passes the form fields by keyword)
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: UserDep,
    code: Annotated[str, Form(max_length=16)],
    next: Annotated[str, Form(max_length=500)] = "/",  # noqa: A002
) -> Response:
    """Check the code; on success record the step-up and go back to ``next``."""
    del user
    target = safe_next(next)
    client = request.client.host if request.client else "unknown"
    try:
        auth_service.step_up(
            session,
            request.cookies.get(SESSION_COOKIE),
            code=code,
            client_address=client,
            now=utc_now(),
            policy=policy_of(settings),
        )
    except MeterOpsError as refused:
        session.commit()  # a wrong code counts towards throttling
        page = _page(
            request, session, next_path=target, message=refused.message, status=status_for(refused)
        )
        if isinstance(refused, TooManyAttemptsError):
            page.headers["Retry-After"] = str(refused.details["retry_after_s"])
        return page
    return RedirectResponse(target, status_code=303)
