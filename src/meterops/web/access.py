"""The access matrix: who may use which route, for which territory; loaded from data, enforced once.

Every web route has one row in an ``access*.toml`` file of the capability that owns it (see
``docs/access.md``). This module

* loads and validates every ``src/meterops/**/access*.toml`` (:func:`load_matrix`); a bad row
  is refused naming the file, the row's line and the field;
* decides, as a pure function, whether a role's cell lets a user at a resource
  (:func:`decide`);
* finds the territories of the resource a request acts on, and whether it is the user's own
  (:func:`resolve_target`);
* enforces the matrix on every request of the app (:func:`enforce_access`, installed as an
  app-wide dependency, and :func:`install_access`): sign-in, role, the CSRF token on every
  POST/PUT/PATCH/DELETE, then territory. A route without a row is refused (fail closed).

Refusals: 401 ``not_signed_in``; 403 ``permission_denied.role``, ``permission_denied.csrf``,
``permission_denied.territory`` (the same answer whether the resource is in another territory
or does not exist, so ids cannot be probed) and ``permission_denied.unlisted``.
"""

from __future__ import annotations

import inspect
import re
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any, Final
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.routing import BaseRoute, Mount

from meterops.auth.service import CurrentUser
from meterops.db.engine import session_scope
from meterops.errors import (
    Issue,
    MeterOpsError,
    NotSignedInError,
    PermissionDeniedError,
    ValidationReportError,
)
from meterops.models.accounts import Account
from meterops.models.commands import CommandRequest, OutageIncident, OutageMember, RemoteCommand
from meterops.models.diagnostics import DiagnosticException
from meterops.models.grid import Feeder
from meterops.models.meters import Installation, Meter
from meterops.models.org import Role, Territory
from meterops.models.premises import Premise, ServicePoint
from meterops.models.workforce import Technician
from meterops.models.workorders import WorkOrder
from meterops.web.auth import require_csrf
from meterops.web.deps import UNSAFE_METHODS
from meterops.workorders.lifecycle import OPEN_STATES
from meterops.workorders.repository import parse_order_number

__all__ = [
    "ACCESS_CODES",
    "CELLS",
    "DOC_BEGIN",
    "DOC_END",
    "ROLES",
    "SCOPES",
    "TERRITORIAL_SCOPES",
    "AccessMatrix",
    "AccessRow",
    "Refusal",
    "RouteInfo",
    "Target",
    "app_routes",
    "decide",
    "enforce_access",
    "install_access",
    "load_matrix",
    "parse_matrix_file",
    "render_markdown",
    "resolve_target",
]

ROLES: Final[tuple[str, ...]] = tuple(role.value for role in Role)
"""The roles, in the order the matrix shows them."""

CELLS: Final[frozenset[str]] = frozenset({"any", "territory", "own", "deny"})
"""What a role's cell may say."""

TERRITORIAL_SCOPES: Final[frozenset[str]] = frozenset(
    {
        "order",
        "meter",
        "technician",
        "territory",
        "dayplan",
        "remote_request",
        "outage",
        "exception",
        "account",
    }
)
"""Scopes whose resource lies in territories (cells may be ``territory`` or ``own``)."""

SCOPES: Final[frozenset[str]] = TERRITORIAL_SCOPES | {"public", "user", "fleet"}
"""Every scope a row may name."""

ACCESS_CODES: Final[frozenset[str]] = frozenset(
    {
        "not_signed_in",
        "permission_denied.role",
        "permission_denied.territory",
        "permission_denied.csrf",
        "permission_denied.unlisted",
    }
)
"""Error codes of the refusals the enforcement gives (and only it)."""

DOC_BEGIN: Final = "<!-- access-matrix:begin -->"
DOC_END: Final = "<!-- access-matrix:end -->"

_METHODS: Final = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
_FIELDS: Final = frozenset({"method", "path", "scope", "why", *ROLES})
_PATH: Final = re.compile(r"^/[A-Za-z0-9_\-./{}:]*$")


@dataclass(frozen=True, slots=True)
class AccessRow:
    """One route's row.

    Attributes:
        method: HTTP method (one per row).
        path: The route's path template, as FastAPI has it (``/api/v1/orders/{order_number}``).
        scope: What the route acts on (one of :data:`SCOPES`).
        cells: Role → ``any`` | ``territory`` | ``own`` | ``deny``.
        why: One plain line: why the roles get what they get.
        source: The file the row came from (relative to the package).
        line: The line of the row's ``[[routes]]`` header in that file.
    """

    method: str
    path: str
    scope: str
    cells: Mapping[str, str]
    why: str
    source: str
    line: int


@dataclass(frozen=True, slots=True)
class AccessMatrix:
    """Every row, by (method, path)."""

    rows: Mapping[tuple[str, str], AccessRow]

    def row_for(self, method: str, path: str) -> AccessRow | None:
        """The row of a route (``HEAD`` is answered as ``GET``), or None when unlisted."""
        return self.rows.get(("GET" if method == "HEAD" else method, path))

    def __iter__(self) -> Iterator[AccessRow]:
        return iter(sorted(self.rows.values(), key=lambda r: (r.path, r.method)))

    def __len__(self) -> int:
        return len(self.rows)


@dataclass(frozen=True, slots=True)
class Target:
    """The resource a request acts on, as access decisions need it.

    Attributes:
        territory_ids: Territories it lies in (empty: in none, e.g. a meter still in stock).
        own: Whether it is the user's own (their order, a meter on their open order …).
    """

    territory_ids: frozenset[int]
    own: bool = False


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why access is refused: a stable code and a sentence for a person."""

    code: str
    message: str


# --------------------------------------------------------------------------- loading


def _row_lines(text: str) -> list[int]:
    return [i for i, line in enumerate(text.splitlines(), 1) if line.strip() == "[[routes]]"]


def parse_matrix_file(text: str, *, file: str) -> list[AccessRow]:
    """Parse and validate one ``access*.toml`` file.

    Args:
        text: The file's content.
        file: Its name, for error messages.

    Returns:
        Its rows, in file order.

    Raises:
        ValidationReportError: Naming the file, the row's line and the field of every problem.

    >>> rows = parse_matrix_file('''
    ... [[routes]]
    ... method = "GET"
    ... path = "/health"
    ... scope = "public"
    ... technician = "any"
    ... dispatcher = "any"
    ... analyst = "any"
    ... supervisor = "any"
    ... admin = "any"
    ... why = "Monitoring asks whether the app is up."
    ... ''', file="access.toml")
    >>> rows[0].cells["analyst"]
    'any'
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ValidationReportError(
            f"{file} is not valid TOML.",
            [Issue(file, None, None, "toml.syntax", str(err))],
        ) from err
    issues: list[Issue] = []
    unknown_top = sorted(set(data) - {"routes"})
    if unknown_top:
        issues.append(
            Issue(file, None, unknown_top[0], "access.unknown_table", "only [[routes]] rows")
        )
    entries = data.get("routes", [])
    if not isinstance(entries, list):
        entries = []
        issues.append(Issue(file, None, "routes", "access.not_rows", "write [[routes]] rows"))
    lines = _row_lines(text)
    rows: list[AccessRow] = []
    for index, entry in enumerate(entries):
        line = lines[index] if index < len(lines) else None
        row, row_issues = _check_row(entry, file=file, line=line, number=index + 1)
        issues.extend(row_issues)
        if row is not None:
            rows.append(row)
    if issues:
        raise ValidationReportError(f"{file}: the access matrix has bad rows.", issues)
    return rows


def _check_row(
    entry: Any, *, file: str, line: int | None, number: int
) -> tuple[AccessRow | None, list[Issue]]:
    where = f"row {number}"
    if not isinstance(entry, dict):
        return None, [Issue(file, line, None, "access.row", f"{where} is not a table")]
    issues: list[Issue] = []

    def bad(field: str, code: str, message: str) -> None:
        issues.append(Issue(file, line, field, code, f"{where}: {message}"))

    for name in sorted(set(entry) - _FIELDS):
        bad(name, "access.unknown_field", f"unknown field '{name}'")
    for name in ("method", "path", "scope", "why", *ROLES):
        if not isinstance(entry.get(name), str) or not entry.get(name, "").strip():
            bad(name, "access.missing", f"'{name}' is missing or not text")
    if issues:
        return None, issues
    method, path, scope, why = entry["method"], entry["path"], entry["scope"], entry["why"]
    if method not in _METHODS:
        bad("method", "access.method", f"method '{method}' is not one of {sorted(_METHODS)}")
    if not _PATH.match(path):
        bad("path", "access.path", f"path '{path}' is not a route path template")
    if scope not in SCOPES:
        bad("scope", "access.scope", f"scope '{scope}' is not one of {sorted(SCOPES)}")
    cells = {role: entry[role] for role in ROLES}
    for role, cell in cells.items():
        if cell not in CELLS:
            bad(role, "access.cell", f"'{cell}' is not one of {sorted(CELLS)}")
        elif scope == "public" and cell != "any":
            bad(role, "access.cell", f"a public route is open to all: '{cell}' must be 'any'")
        elif scope in {"user", "fleet"} and cell not in {"any", "deny"}:
            bad(role, "access.cell", f"scope '{scope}' has no territory: use 'any' or 'deny'")
    if "\n" in why:
        bad("why", "access.why", "'why' is one line")
    if issues:
        return None, issues
    row = AccessRow(method, path, scope, cells, why.strip(), file, line or 0)
    return row, issues


def _access_files(root: Traversable, prefix: str = "") -> Iterator[tuple[str, Traversable]]:
    for child in sorted(root.iterdir(), key=lambda c: c.name):
        name = f"{prefix}{child.name}"
        if child.is_dir():
            if child.name != "__pycache__" and not child.name.startswith("."):
                yield from _access_files(child, f"{name}/")
        elif child.name.startswith("access") and child.name.endswith(".toml"):
            yield name, child


def load_matrix(package: str = "meterops") -> AccessMatrix:
    """Load every ``access*.toml`` under ``package`` into one matrix.

    Raises:
        ValidationReportError: A bad row, or two rows for the same method and path (both
            places named).
    """
    rows: dict[tuple[str, str], AccessRow] = {}
    issues: list[Issue] = []
    for name, file in _access_files(resources.files(package)):
        for row in parse_matrix_file(file.read_text(encoding="utf-8"), file=name):
            key = (row.method, row.path)
            if key in rows:
                first = rows[key]
                issues.append(
                    Issue(
                        name,
                        row.line,
                        "path",
                        "access.duplicate",
                        f"{row.method} {row.path} already has a row "
                        f"({first.source}, line {first.line})",
                    )
                )
            else:
                rows[key] = row
    if issues:
        raise ValidationReportError("The access matrix has duplicate rows.", issues)
    return AccessMatrix(rows)


# --------------------------------------------------------------------------- deciding


def decide(
    row: AccessRow, role: str, target: Target | None, user_territory_ids: Iterable[int]
) -> Refusal | None:
    """Whether a role's cell lets a user at a resource (pure).

    Args:
        row: The route's row.
        role: The user's role.
        target: The resource (None: it does not exist); only asked for territorial cells.
        user_territory_ids: The territories the user has access to.

    Returns:
        None when allowed, else the refusal.

    >>> row = AccessRow("GET", "/x/{order_number}", "order",
    ...     {"technician": "own", "dispatcher": "territory", "analyst": "deny",
    ...      "supervisor": "territory", "admin": "any"}, "w", "a.toml", 1)
    >>> decide(row, "dispatcher", Target(frozenset({1})), {1}) is None
    True
    >>> decide(row, "dispatcher", Target(frozenset({2})), {1}).code
    'permission_denied.territory'
    >>> decide(row, "analyst", None, {1}).code
    'permission_denied.role'
    >>> decide(row, "technician", Target(frozenset({1}), own=True), set()) is None
    True
    """
    cell = row.cells.get(role, "deny")
    if cell == "deny":
        return Refusal(
            "permission_denied.role", f"Your role ({role}) may not do this. {row.why}".strip()
        )
    if cell == "any":
        return None
    wrong = Refusal(
        "permission_denied.territory",
        f"This {row.scope.replace('_', ' ')} is not one of yours (or does not exist).",
    )
    if target is None:
        return wrong
    if cell == "own":
        return None if target.own else wrong
    return None if target.territory_ids <= frozenset(user_territory_ids) else wrong


# --------------------------------------------------------------------------- resolving


def _meter_territories(session: Session, meter_ids: Iterable[int]) -> frozenset[int]:
    ids = list(meter_ids)
    if not ids:
        return frozenset()
    found: dict[int, int] = {}
    rows = session.execute(
        select(Installation.meter_id, Premise.territory_id, Installation.removed_at_utc)
        .join(ServicePoint, ServicePoint.id == Installation.service_point_id)
        .join(Premise, Premise.id == ServicePoint.premise_id)
        .where(Installation.meter_id.in_(ids))
        .order_by(Installation.installed_at_utc)
    )
    open_ones: dict[int, int] = {}
    for meter_id, territory_id, removed in rows:
        found[meter_id] = territory_id  # the latest installation wins …
        if removed is None:
            open_ones[meter_id] = territory_id  # … unless one is still open
    found.update(open_ones)
    return frozenset(found.values())


def _technician_of(session: Session, user: CurrentUser) -> Technician | None:
    return session.scalars(select(Technician).where(Technician.user_id == user.id)).first()


def _on_open_order(session: Session, technician: Technician | None, *conditions: Any) -> bool:
    if technician is None:
        return False
    order_id = session.scalars(
        select(WorkOrder.id)
        .where(
            WorkOrder.technician_id == technician.id,
            WorkOrder.status.in_(OPEN_STATES),
            *conditions,
        )
        .limit(1)
    ).first()
    return order_id is not None


def _param(values: Mapping[str, Any], name: str) -> str | None:
    value = values.get(name)
    return value if isinstance(value, str) and value else None


def resolve_target(
    session: Session,
    scope: str,
    params: Mapping[str, Any],
    user: CurrentUser,
) -> Target | None:
    """Find the resource a request acts on: its territories and whether it is the user's own.

    Args:
        session: Database session.
        scope: The row's scope (one of :data:`TERRITORIAL_SCOPES`).
        params: Path parameters, then query parameters and form fields (``territory``).
        user: The signed-in user.

    Returns:
        The target, or None when it does not exist. ``territory`` and ``dayplan`` without a
        ``territory`` parameter act on every territory.
    """
    technician = _technician_of(session, user)
    if scope == "order":
        order_id = parse_order_number(_param(params, "order_number") or "")
        order = session.get(WorkOrder, order_id) if order_id is not None else None
        if order is None:
            return None
        own = technician is not None and order.technician_id == technician.id
        return Target(frozenset({order.territory_id}), own=own)
    if scope in {"meter", "exception"}:
        if scope == "meter":
            meter_id = session.scalars(
                select(Meter.id).where(Meter.serial_number == _param(params, "serial_number"))
            ).first()
        else:
            exception_id = _int(_param(params, "exception_id"))
            meter_id = session.scalars(
                select(DiagnosticException.meter_id).where(DiagnosticException.id == exception_id)
            ).first()
        if meter_id is None:
            return None
        own = _on_open_order(session, technician, WorkOrder.meter_id == meter_id)
        return Target(_meter_territories(session, [meter_id]), own=own)
    if scope == "technician":
        found = session.scalars(
            select(Technician).where(
                Technician.employee_number == _param(params, "employee_number")
            )
        ).first()
        if found is None:
            return None
        return Target(frozenset({found.territory_id}), own=found.user_id == user.id)
    if scope in {"territory", "dayplan"}:
        code = _param(params, "territory")
        query = select(Territory.id)
        if code is not None:
            query = query.where(Territory.code == code)
        ids = frozenset(session.scalars(query))
        if not ids:
            return None
        own = technician is not None and ids == {technician.territory_id}
        if _param(params, "order_number") is not None:  # a form naming an order: it must be in
            named = resolve_target(session, "order", params, user)
            if named is None:
                return None
            ids |= named.territory_ids
        return Target(ids, own=own)
    if scope == "remote_request":
        request_id = _int(_param(params, "request_id"))
        request = session.get(CommandRequest, request_id) if request_id is not None else None
        if request is None:
            return None
        codes = set(
            session.scalars(
                select(RemoteCommand.territory_code).where(RemoteCommand.request_id == request.id)
            )
        )
        codes.discard(None)
        ids = frozenset(session.scalars(select(Territory.id).where(Territory.code.in_(codes))))
        return Target(ids, own=request.requested_by == user.username)
    if scope == "outage":
        incident_id = _int(_param(params, "incident_id"))
        incident = session.get(OutageIncident, incident_id) if incident_id is not None else None
        if incident is None:
            return None
        members = session.scalars(
            select(OutageMember.meter_id).where(OutageMember.incident_id == incident.id)
        )
        outage_ids = set(_meter_territories(session, members))
        if incident.feeder_code:
            outage_ids.update(
                session.scalars(
                    select(Feeder.territory_id).where(Feeder.code == incident.feeder_code)
                )
            )
        return Target(frozenset(outage_ids))
    if scope == "account":
        if _param(params, "account") is None:  # an empty form: acts on no account yet
            return Target(frozenset())
        account = session.scalars(
            select(Account).where(Account.account_number == _param(params, "account"))
        ).first()
        if account is None:
            return None
        premise_id = session.scalars(
            select(ServicePoint.premise_id).where(ServicePoint.id == account.service_point_id)
        ).one()
        territory_id = session.scalars(
            select(Premise.territory_id).where(Premise.id == premise_id)
        ).one()
        own = _on_open_order(
            session,
            technician,
            (WorkOrder.service_point_id == account.service_point_id)
            | (WorkOrder.premise_id == premise_id),
        )
        return Target(frozenset({territory_id}), own=own)
    msg = f"scope '{scope}' has no territory"
    raise ValueError(msg)


def _int(text: str | None) -> int | None:
    return int(text) if text is not None and text.isdigit() and len(text) < 19 else None


# --------------------------------------------------------------------------- enforcing


@dataclass(frozen=True, slots=True)
class RouteInfo:
    """One method of one route of an app.

    Attributes:
        method: HTTP method.
        path: Path template.
        endpoint: The handler (None for mounts).
        api: Whether FastAPI runs its dependencies (an API route); other routes (the
            OpenAPI pages, mounts) must be public.
        regex: The compiled path pattern.
    """

    method: str
    path: str
    endpoint: Any
    api: bool
    regex: Any


def app_routes(app: FastAPI) -> list[RouteInfo]:
    """Every (method, path) the app serves, in matching order; mounts as ``GET <path>/{path}``."""
    found: list[RouteInfo] = []
    for route in app.routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is not None:
            for context in contexts():
                api = getattr(context, "dependant", None) is not None
                found.extend(
                    RouteInfo(method, context.path, context.endpoint, api, context.path_regex)
                    for method in sorted(context.methods or {"GET"})
                    if method != "HEAD"
                )
        else:
            found.extend(_plain_route(route))
    return found


def _plain_route(route: BaseRoute) -> list[RouteInfo]:
    if isinstance(route, Mount):
        return [RouteInfo("GET", f"{route.path}/{{path}}", None, False, route.path_regex)]
    methods = getattr(route, "methods", None) or {"GET"}
    api = getattr(route, "dependant", None) is not None
    return [
        RouteInfo(m, getattr(route, "path", ""), route.endpoint, api, route.path_regex)  # type: ignore[attr-defined]
        for m in sorted(methods)
        if m != "HEAD"
    ]


@dataclass(frozen=True, slots=True)
class _Guard:
    matrix: AccessMatrix
    by_endpoint: Mapping[int, tuple[RouteInfo, ...]]


def install_access(app: FastAPI, matrix: AccessMatrix | None = None) -> AccessMatrix:
    """Prepare the enforcement for ``app`` (call after every router is included).

    API routes are checked on every request by :func:`enforce_access` (give it to the app as
    a dependency); routes FastAPI runs no dependencies for (the OpenAPI pages, static files)
    must be listed as ``public``, or the app is refused here.

    Raises:
        PermissionDeniedError: A non-API route that is not a public row of the matrix.
    """
    matrix = matrix or load_matrix()
    by_endpoint: dict[int, list[RouteInfo]] = {}
    for info in app_routes(app):
        if info.api:
            by_endpoint.setdefault(id(info.endpoint), []).append(info)
            continue
        row = matrix.row_for(info.method, info.path)
        if row is None or row.scope != "public":
            msg = (
                f"{info.method} {info.path} is not an API route, so only a public row may "
                "list it; add one (or make it an API route)."
            )
            raise PermissionDeniedError(msg, code="permission_denied.unlisted")
    app.state.access = _Guard(matrix, {k: tuple(v) for k, v in by_endpoint.items()})
    _redirect_people_to_sign_in(app)
    return matrix


def _redirect_people_to_sign_in(app: FastAPI) -> None:
    """A person (a browser asking for a page) without a session goes to the sign-in form."""
    answer_error = app.exception_handlers[MeterOpsError]

    async def _not_signed_in(request: Request, exc: Exception) -> Response:
        wants_page = request.method == "GET" and not request.url.path.startswith("/api")
        if wants_page and "text/html" in request.headers.get("accept", ""):
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/sign-in?next={quote(target, safe='')}", status_code=303)
        response = answer_error(request, exc)
        return await response if inspect.isawaitable(response) else response

    app.add_exception_handler(NotSignedInError, _not_signed_in)

    async def _to_territory(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, _PageRedirect)
        return RedirectResponse(exc.location, status_code=303)

    app.add_exception_handler(_PageRedirect, _to_territory)


def _route_path(request: Request, guard: _Guard) -> str | None:
    scope = request.scope
    path = scope.get("path", "")
    root = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    for info in guard.by_endpoint.get(id(scope.get("endpoint")), ()):
        if info.method == ("GET" if request.method == "HEAD" else request.method) and (
            info.regex.match(path)
        ):
            return info.path
    return None


async def enforce_access(request: Request) -> None:
    """The app-wide check of every API route: sign-in, role, CSRF token, territory.

    Raises:
        NotSignedInError: No session (401).
        PermissionDeniedError: Refused by the matrix, with its reason (403).
    """
    guard: _Guard | None = getattr(request.app.state, "access", None)
    path = _route_path(request, guard) if guard is not None else None
    row = guard.matrix.row_for(request.method, path) if guard and path else None
    if row is None:
        raise PermissionDeniedError(
            "This route is not in the access matrix, so nobody may use it.",
            code="permission_denied.unlisted",
            details={"method": request.method, "path": request.url.path},
        )
    if row.scope == "public":
        return
    user: CurrentUser | None = getattr(request.state, "user", None)
    if user is None:
        raise NotSignedInError("Please sign in.")
    if row.cells[user.role.value] == "deny":
        refusal = decide(row, user.role.value, None, user.territory_ids)
        assert refusal is not None
        raise PermissionDeniedError(
            refusal.message, code=refusal.code, details={"role": user.role.value}
        )
    if request.method in UNSAFE_METHODS:
        await require_csrf(request)
    if row.cells[user.role.value] == "any" or row.scope not in TERRITORIAL_SCOPES:
        return
    params: dict[str, Any] = dict(request.query_params)
    if request.method in UNSAFE_METHODS and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        params.update({k: v for k, v in form.items() if isinstance(v, str)})
    params.update({k: str(v) for k, v in request.path_params.items()})
    target = await run_in_threadpool(_resolve, request, row.scope, params, user)
    refusal = decide(row, user.role.value, target, user.territory_ids)
    if refusal is None:
        return
    message = refusal.message
    if row.scope in {"territory", "dayplan"} and _param(params, "territory") is None:
        codes = await run_in_threadpool(_own_codes, request, user)
        if len(codes) == 1 and request.method == "GET" and not request.url.path.startswith("/api"):
            # A page without a territory, for a user of one: that territory's page.
            query = request.url.include_query_params(territory=codes[0]).query
            raise _PageRedirect(f"{request.url.path}?{query}")
        message = (
            "Without a territory this acts on every territory, and not all are yours: "
            "add territory=<code> for one of yours."
        )
    raise PermissionDeniedError(message, code=refusal.code, details={"scope": row.scope})


class _PageRedirect(Exception):  # noqa: N818 - control flow, answered with a 303
    """A page asked without its ``territory``: go to the user's only territory's page."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


def _own_codes(request: Request, user: CurrentUser) -> list[str]:
    with session_scope(request.app.state.session_factory) as session:
        return sorted(
            session.scalars(select(Territory.code).where(Territory.id.in_(user.territory_ids)))
        )


def _resolve(
    request: Request, scope: str, params: Mapping[str, Any], user: CurrentUser
) -> Target | None:
    with session_scope(request.app.state.session_factory) as session:
        return resolve_target(session, scope, params, user)


# --------------------------------------------------------------------------- documenting


def render_markdown(matrix: AccessMatrix) -> str:
    """The matrix as the Markdown table of ``docs/access.md`` (between the markers)."""
    head = "| Method | Path | Scope | " + " | ".join(ROLES) + " | Why |"
    rule = "|---|---|---|" + "---|" * len(ROLES) + "---|"
    lines = [head, rule]
    for row in matrix:
        cells = " | ".join(row.cells[role] for role in ROLES)
        lines.append(
            f"| {row.method} | `{row.path}` | {row.scope} | {cells} | {row.why.replace('|', '/')} |"
        )
    return "\n".join(lines)
