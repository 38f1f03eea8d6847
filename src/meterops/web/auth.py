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
from meterops.web.deps import SessionDep, SettingsDep
from meterops.web.errors import ERROR_RESPONSES

__all__ = [
    "SESSION_COOKIE",
    "SIGN_IN_COOKIE",
    "WRITERS_AT_ONCE",
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
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_RECORD_EVERY_S = 60.0
"""How often a process records a session's last-seen time from a read (auth.service records
it at most once a minute in the database)."""
WRITERS_AT_ONCE = 8
"""Writing requests admitted at once on PostgreSQL: well under the 40 worker threads."""
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

    The resolver is also the writers' gate (:class:`SessionResolver`): one writer at a time on
    SQLite, :data:`WRITERS_AT_ONCE` on PostgreSQL.
    """
    sqlite = app.state.engine.dialect.name == "sqlite"
    app.add_middleware(SessionResolver, writers_at_once=1 if sqlite else WRITERS_AT_ONCE)


class SessionResolver:
    """Pure ASGI middleware: the signed-in user of each request, and the writers' gate.

    * ``request.state.user`` is the :class:`~meterops.auth.service.CurrentUser` of the
      session cookie, or None. A read (GET, HEAD) resolves it without writing; the session's
      last-seen time is recorded at most once a minute (``auth.service``), and only then does
      a read write.
    * :data:`~meterops.db.engine.WRITE_INTENT` is set for the request: reads begin deferred
      and never queue for SQLite's write lock.
    * Requests that write pass ``writers_at_once`` at a time, waiting in the event loop. A
      writer waits for locks inside a worker thread (SQLite's write lock in ``BEGIN
      IMMEDIATE``; the audit chain's advisory lock on PostgreSQL) while the writer holding the
      lock needs a worker thread for its next step: FastAPI runs the handler and the commit in
      separate thread-pool calls. Without the gate, enough concurrent writers take every
      thread and the app stalls (until SQLite's busy timeout, or for good on PostgreSQL). With
      fewer writers than threads, the lock holder always finds one. Reads never wait for
      locks (WAL, MVCC).
    """

    def __init__(self, app: ASGIApp, *, writers_at_once: int) -> None:
        """Wrap ``app``, letting ``writers_at_once`` writing requests through at a time."""
        self.app = app
        self.gate = asyncio.Semaphore(writers_at_once)
        self._recorded: dict[str, float] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Resolve the user, then pass the request on (through the gate when it writes)."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        writes = scope["method"] in _UNSAFE
        WRITE_INTENT.set(writes)
        if writes:
            async with self.gate:
                await self._serve(scope, receive, send, writes=True)
        else:
            await self._serve(scope, receive, send, writes=writes)

    async def _serve(self, scope: Scope, receive: Receive, send: Send, *, writes: bool) -> None:
        request = Request(scope)
        user = None
        token = request.cookies.get(SESSION_COOKIE)
        if token and not scope["path"].startswith("/static"):
            user = await self._resolve(request, token, writes=writes)
        scope.setdefault("state", {})["user"] = user
        await self.app(scope, receive, send)

    async def _resolve(self, request: Request, token: str, *, writes: bool) -> CurrentUser | None:
        if writes:
            return await run_in_threadpool(_resolve_token, request, token, record=True)
        user = await run_in_threadpool(_resolve_token, request, token, record=False)
        if user is None or not self._due(token):
            return user
        # The last-seen time is due: record it as a writer would.
        async with self.gate:
            reset = WRITE_INTENT.set(True)
            try:
                return await run_in_threadpool(_resolve_token, request, token, record=True)
            finally:
                WRITE_INTENT.reset(reset)

    def _due(self, token: str) -> bool:
        """Whether this process has not recorded the session's last-seen time lately."""
        now = time.monotonic()
        if now - self._recorded.get(token, -_RECORD_EVERY_S) < _RECORD_EVERY_S:
            return False
        if len(self._recorded) > _RECORDED_MAX:
            self._recorded = {k: t for k, t in self._recorded.items() if now - t < _RECORD_EVERY_S}
        self._recorded[token] = now
        return True


def _resolve_token(request: Request, token: str, *, record: bool) -> CurrentUser | None:
    settings: Settings = request.app.state.settings
    now, policy = utc_now(), policy_of(settings)
    try:
        with session_scope(request.app.state.session_factory) as session:
            return auth_service.resolve_session(
                session, token, now=now, policy=policy, record=record
            )
    except OperationalError:
        if not record:
            raise
        # SQLite refused the write that records the request (another connection wrote since
        # this one read): recording it is best-effort, the next request records it.
        with session_scope(request.app.state.session_factory) as session:
            return auth_service.resolve_session(
                session, token, now=now, policy=policy, record=False
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
    if request.method not in _UNSAFE:
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
