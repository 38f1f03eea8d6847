"""Sign-in for the web app: the session cookie, the signed-in user, CSRF checks, pages.

* Every request gets ``request.state.user``: the :class:`~meterops.auth.service.CurrentUser`
  of its session cookie, or None (:func:`install_session_resolver`).
* :data:`UserDep` requires a signed-in user (401 otherwise); :func:`require_csrf` requires the
  session's CSRF token on a state-changing request, as the ``X-CSRF-Token`` header (HTMX sends
  it, see ``static/auth/csrf.js``) or the ``csrf_token`` form field.
* The session cookie is HttpOnly, SameSite=Lax, Secure unless ``METEROPS_COOKIE_SECURE=false``,
  and carries a random token; the database keeps its digest. Signing in always issues a new
  token. The sign-in form itself carries a one-time token (double-submit cookie) against
  login CSRF.
"""

from __future__ import annotations

import asyncio
import time
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel
from sqlalchemy.exc import OperationalError
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from meterops.auth import service as auth_service
from meterops.auth.service import CurrentUser, SessionPolicy
from meterops.auth.tokens import new_token, tokens_match
from meterops.config import Settings
from meterops.db.engine import WRITE_INTENT, session_scope
from meterops.errors import NotSignedInError, PermissionDeniedError, TooManyAttemptsError
from meterops.timeutil import utc_now
from meterops.web.deps import UNSAFE_METHODS, SessionDep, SettingsDep
from meterops.web.errors import ERROR_RESPONSES

__all__ = [
    "SESSION_COOKIE",
    "SIGN_IN_COOKIE",
    "MeRead",
    "SessionResolver",
    "UserDep",
    "install_session_resolver",
    "me",
    "policy_of",
    "require_csrf",
    "require_user",
    "router",
    "sign_in",
    "sign_in_form",
    "sign_out",
]

SESSION_COOKIE = "meterops_session"
SIGN_IN_COOKIE = "meterops_sign_in"
_RECORD_EVERY_S = 60.0
"""How often a process records a session's last-seen time from a read (auth.service records
it at most once a minute in the database)."""
_RECORDED_MAX = 10_000
"""Sessions remembered before the stale ones are forgotten."""

router = APIRouter(responses=ERROR_RESPONSES)


def policy_of(settings: Settings) -> SessionPolicy:
    """The session policy the settings ask for."""
    return SessionPolicy(
        idle_s=settings.session_idle_minutes * 60,
        absolute_s=settings.session_absolute_hours * 3600,
    )


def install_session_resolver(app: FastAPI) -> None:
    """Resolve every request's session cookie into ``request.state.user`` (or None).

    Also sets up the writers' gate (``app.state.write_gate``, see
    :func:`meterops.web.deps.get_session`): one writer at a time on SQLite, half the worker
    threads on PostgreSQL (fewer writers than threads, so a writer holding a lock always
    finds a thread to finish).
    """
    sqlite = app.state.engine.dialect.name == "sqlite"
    settings: Settings = app.state.settings
    writers = 1 if sqlite else max(1, settings.worker_threads // 2)
    app.state.write_gate = asyncio.Semaphore(writers)
    app.add_middleware(SessionResolver)


class SessionResolver:
    """Pure ASGI middleware: the signed-in user of each request, resolved without writing.

    ``request.state.user`` is the :class:`~meterops.auth.service.CurrentUser` of the session
    cookie, or None. Resolving only reads (:data:`~meterops.db.engine.WRITE_INTENT` is off
    until the request's own session says otherwise), so it never waits for a lock. The
    session's last-seen time (for the idle timeout) is recorded at most once a minute, in
    the background through the writers' gate, so no request waits for it.
    """

    def __init__(self, app: ASGIApp) -> None:
        """Wrap ``app``."""
        self.app = app
        self._recorded: dict[str, float] = {}
        self._pending: set[asyncio.Task[None]] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Resolve the user, then pass the request on."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        WRITE_INTENT.set(False)
        request = Request(scope)
        user = None
        token = request.cookies.get(SESSION_COOKIE)
        if token and not scope["path"].startswith("/static"):
            user = await run_in_threadpool(_resolve_token, request.app, token, record=False)
            if user is not None and self._due(token):
                task = asyncio.create_task(_record(request.app, token))
                self._pending.add(task)
                task.add_done_callback(self._pending.discard)
        scope.setdefault("state", {})["user"] = user
        await self.app(scope, receive, send)

    def _due(self, token: str) -> bool:
        """Whether this process has not recorded the session's last-seen time lately."""
        now = time.monotonic()
        if now - self._recorded.get(token, -_RECORD_EVERY_S) < _RECORD_EVERY_S:
            return False
        if len(self._recorded) > _RECORDED_MAX:
            self._recorded = {k: t for k, t in self._recorded.items() if now - t < _RECORD_EVERY_S}
        self._recorded[token] = now
        return True


async def _record(app: FastAPI, token: str) -> None:
    """Record a session's last-seen time (and end it if it timed out), as a writer."""
    async with app.state.write_gate:
        WRITE_INTENT.set(True)
        try:
            await run_in_threadpool(_resolve_token, app, token, record=True)
        except OperationalError:
            # Best effort: SQLite was busy with another process's write; a later request
            # records it.
            return


def _resolve_token(app: FastAPI, token: str, *, record: bool) -> CurrentUser | None:
    settings: Settings = app.state.settings
    with session_scope(app.state.session_factory) as session:
        return auth_service.resolve_session(
            session, token, now=utc_now(), policy=policy_of(settings), record=record
        )


def require_user(request: Request) -> CurrentUser:
    """The signed-in user, or 401."""
    user: CurrentUser | None = getattr(request.state, "user", None)
    if user is None:
        raise NotSignedInError("Please sign in.")
    return user


UserDep = Annotated[CurrentUser, Depends(require_user)]


async def require_csrf(request: Request) -> None:
    """Refuse a state-changing request without the session's CSRF token (403)."""
    if request.method not in UNSAFE_METHODS:
        return
    user: CurrentUser | None = getattr(request.state, "user", None)
    if user is None:
        raise NotSignedInError("Please sign in.")
    given = request.headers.get("x-csrf-token")
    if given is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        value = (await request.form()).get("csrf_token")
        given = value if isinstance(value, str) else None
    if not tokens_match(user.csrf_token, given):
        raise PermissionDeniedError(
            "This form has expired or did not come from meterops. Reload the page and try again.",
            code="permission_denied.csrf",
        )


class MeRead(BaseModel):
    """The signed-in user as the API shows it."""

    username: str
    display_name: str
    role: str
    territory_ids: list[int]


def _safe_next(target: str | None) -> str:
    """Only same-site paths after sign-in (no open redirect)."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def _sign_in_page(
    request: Request, settings: Settings, *, next_path: str, message: str = "", status: int = 200
) -> HTMLResponse:
    form_token = new_token()
    response: HTMLResponse = request.app.state.templates.TemplateResponse(
        request,
        "sign_in.html",
        {"form_token": form_token, "next_path": next_path, "message": message},
        status_code=status,
    )
    response.set_cookie(
        SIGN_IN_COOKIE,
        form_token,
        max_age=3600,
        httponly=True,
        secure=settings.cookie_secure,
        samesite="strict",
        path="/sign-in",
    )
    return response


@router.get("/sign-in", response_class=HTMLResponse, include_in_schema=False)
def sign_in_form(request: Request, settings: SettingsDep, next: str = "/") -> HTMLResponse:  # noqa: A002
    """The sign-in form."""
    return _sign_in_page(request, settings, next_path=_safe_next(next))


@router.post("/sign-in", include_in_schema=False)
def sign_in(  # noqa: PLR0917 (FastAPI passes the form fields by keyword)
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    form_token: Annotated[str, Form(max_length=64)],
    next: Annotated[str, Form(max_length=500)] = "/",  # noqa: A002
) -> Response:
    """Check the user name and password; on success set a new session cookie and go on."""
    target = _safe_next(next)
    if not tokens_match(request.cookies.get(SIGN_IN_COOKIE, ""), form_token):
        return _sign_in_page(
            request,
            settings,
            next_path=target,
            status=403,
            message="The sign-in form expired. Please try again.",
        )
    client = request.client.host if request.client else "unknown"
    try:
        signed_in = auth_service.sign_in(
            session,
            username=username,
            password=password,
            client_address=client,
            now=utc_now(),
            policy=policy_of(settings),
            previous_token=request.cookies.get(SESSION_COOKIE),
        )
    except (NotSignedInError, TooManyAttemptsError) as refused:
        session.commit()  # the failed attempt counts towards throttling
        status = 429 if isinstance(refused, TooManyAttemptsError) else 401
        page = _sign_in_page(
            request, settings, next_path=target, message=refused.message, status=status
        )
        if isinstance(refused, TooManyAttemptsError):
            page.headers["Retry-After"] = str(refused.details["retry_after_s"])
        return page
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        signed_in.token,
        max_age=settings.session_absolute_hours * 3600,
        httponly=True,
        secure=settings.cookie_secure,
        samesite="lax",
        path="/",
    )
    response.delete_cookie(SIGN_IN_COOKIE, path="/sign-in")
    return response


@router.post("/sign-out", include_in_schema=False, dependencies=[Depends(require_csrf)])
def sign_out(request: Request, session: SessionDep) -> Response:
    """End the session and forget the cookie."""
    auth_service.sign_out(session, request.cookies.get(SESSION_COOKIE), now=utc_now())
    response = RedirectResponse("/sign-in", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/api/v1/me", response_model=MeRead, tags=["sign-in"])
def me(user: UserDep) -> MeRead:
    """The signed-in user."""
    return MeRead(
        username=user.username,
        display_name=user.display_name,
        role=user.role.value,
        territory_ids=sorted(user.territory_ids),
    )
