"""HTML pages of the commands capability: the remote-operations console (a thin view).

``/remote`` shows the kill switch, the requests awaiting a second person's approval, and the
latest requests and commands with their guard results and head-end answers (the same service
as ``GET /api/v1/remote/overview``), and a form to command one meter or a pasted list:

* ``POST /remote/check`` runs the request's guards and thresholds without storing anything
  (:func:`meterops.commands.service.evaluate`, the service's own preview) and shows them per
  meter, with a fresh idempotency key so that sending the checked request twice sends it once;
* ``POST /remote/send`` stores the request through :func:`meterops.commands.service.request`
  (what ``POST /api/v1/remote/requests`` does) and shows what became of each meter;
* ``POST /remote/requests/{request_id}/approve`` approves a held request (the service refuses
  the requester themself and shows why); an approver without a step-up in the last 5 minutes
  is sent to ``/step-up`` first and comes back to the console;
* ``POST /remote/kill-switch`` halts or resumes all dispatching, with a confirmation and a reason.

Every form carries the session's CSRF token; the access matrix checks role and territory.
Program pushes go through staged rollouts (``meterops remote rollout``), not this form.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from meterops.assets import service as assets_service
from meterops.auth import service as auth_service
from meterops.auth.service import CurrentUser
from meterops.commands import schemas
from meterops.commands import service as commands_service
from meterops.commands.policy import CommandPolicy
from meterops.errors import InvalidInputError, MeterOpsError
from meterops.models.commands import CommandType
from meterops.outages import service as outages_service
from meterops.web.auth import UserDep, policy_of
from meterops.web.deps import SessionDep, SettingsDep
from meterops.web.errors import status_for
from meterops.web.stepup import step_up_location

__all__ = [
    "CONSOLE_KINDS",
    "QUERY_LIMIT",
    "approve_page",
    "check_page",
    "console_page",
    "kill_switch_page",
    "parse_serials",
    "router",
    "send_page",
]

router = APIRouter(include_in_schema=False)

CONSOLE_KINDS: dict[CommandType, str] = {
    CommandType.PING: "Ping",
    CommandType.ON_DEMAND_READ: "Read now",
    CommandType.TIME_SYNC: "Time sync",
    CommandType.DEMAND_RESET: "Demand reset",
    CommandType.DISCONNECT: "Disconnect",
    CommandType.RECONNECT: "Reconnect",
    CommandType.ARM_RECONNECT: "Arm reconnect (customer closes)",
}
"""Kinds the console offers, with their labels (program pushes go through rollouts)."""

QUERY_LIMIT = 1000
"""A query picks at most this many meters."""

_SEPARATORS = re.compile(r"[\s,;]+")


def parse_serials(text: str) -> list[str]:
    r"""Serial numbers pasted one a line (or separated by commas, semicolons, spaces).

    Duplicates are dropped, the first occurrence's order kept.

    >>> parse_serials("M1, M2\nM1\n\n M3;")
    ['M1', 'M2', 'M3']
    """
    return list(dict.fromkeys(s for s in _SEPARATORS.split(text) if s))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _render(
    request: Request,
    session: Session,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> HTMLResponse:
    page: dict[str, Any] = {
        "overview": commands_service.overview(
            session, territory_ids=request.state.user.territory_ids
        ),
        "kinds": CONSOLE_KINDS,
        "form": {
            "kind": CommandType.PING.value,
            "serials": "",
            "reason": "",
            "source": "list",
            "query": "",
        },
        "preview": None,
        "sent": None,
        "error": None,
        "notice": None,
    }
    page.update(context or {})
    return request.app.state.templates.TemplateResponse(  # type: ignore[no-any-return]
        request, "commands/console.html", page, status_code=status_code
    )


def _failure(
    request: Request, session: Session, error: MeterOpsError, context: dict[str, Any]
) -> HTMLResponse:
    """Undo whatever the service flushed, then show the console with the refusal."""
    session.rollback()
    context["error"] = {"code": error.code, "message": error.message}
    return _render(request, session, context, status_code=status_for(error))


def _kind(value: str) -> CommandType | None:
    try:
        kind = CommandType(value)
    except ValueError:
        return None
    return kind if kind in CONSOLE_KINDS else None


def _invalid(message: str) -> dict[str, str]:
    return {"code": "invalid_input", "message": message}


def _query_serials(session: Session, user: CurrentUser, source: str, query: str) -> list[str]:
    """Meters picked by a query, within the user's territories.

    Raises:
        InvalidInputError: Unknown source, empty query, or an outage not among the user's.
    """
    query = query.strip()
    if not query:
        raise InvalidInputError(f"query: give a {source} to pick meters by")
    if source == "prefix":
        found = assets_service.search_meters(
            session, query, limit=QUERY_LIMIT, territory_ids=user.territory_ids
        )
        return [m.serial_number for m in found]
    if source == "outage":
        if not query.isdigit():
            raise InvalidInputError(f"query: an outage incident number, not {query!r}")
        visible = outages_service.list_incidents(
            session, territory_ids=user.territory_ids, limit=10_000
        )
        if int(query) not in {i.id for i in visible}:
            raise InvalidInputError(f"query: no outage incident {query} in your territories")
        members = outages_service.get_incident(session, int(query)).meters
        return [m.serial_number for m in members[:QUERY_LIMIT]]
    raise InvalidInputError(f"source: pick meters by list, prefix or outage, not {source!r}")


@router.get("/remote", response_class=HTMLResponse)
def console_page(request: Request, session: SessionDep) -> HTMLResponse:
    """The remote-operations console."""
    return _render(request, session)


@router.post("/remote/check", response_class=HTMLResponse)
def check_page(
    request: Request,
    session: SessionDep,
    *,
    user: UserDep,
    kind: Annotated[str, Form()],
    serials: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    source: Annotated[str, Form()] = "list",
    query: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """Show every meter's guard results and the threshold verdict before anything is sent.

    Meters come from the pasted list (``source=list``) or a query: serial numbers starting
    with ``query`` (``source=prefix``) or the meters of outage incident ``query``
    (``source=outage``), resolved now into the list that Send sends.
    """
    form = {"kind": kind, "serials": serials, "reason": reason, "source": source, "query": query}
    context: dict[str, Any] = {"form": form}
    command_kind = _kind(kind)
    if source != "list":
        try:
            picked = _query_serials(session, user, source, query)
        except InvalidInputError as error:
            context["error"] = {"code": error.code, "message": error.message}
            return _render(request, session, context, status_code=422)
        if not picked:
            context["error"] = _invalid(f"query: no meter of yours matches {query!r}")
            return _render(request, session, context, status_code=422)
        serials = "\n".join(picked)
        form["serials"] = serials
    serial_list = parse_serials(serials)
    if command_kind is None:
        context["error"] = _invalid(f"kind: choose one of the listed kinds, not {kind!r}")
        return _render(request, session, context, status_code=422)
    if not serial_list:
        context["error"] = _invalid("meters: paste at least one serial number")
        return _render(request, session, context, status_code=422)
    try:
        actor = commands_service.resolve_actor(session, user.username)
        evaluation = commands_service.evaluate(
            session, command_kind, serial_list, actor=actor, now=_now(), policy=CommandPolicy()
        )
    except MeterOpsError as error:
        return _failure(request, session, error, context)
    context["preview"] = {
        "kind": command_kind,
        "meters": [
            {
                "serial": serial,
                "territory": (
                    evaluation.rows[serial].territory_code if serial in evaluation.rows else None
                ),
                "passed": all(g.passed for g in evaluation.guards[serial]),
                "blocked": [g for g in evaluation.guards[serial] if not g.passed],
                "checked": len(evaluation.guards[serial]),
            }
            for serial in serial_list
        ],
        "eligible": len(evaluation.eligible),
        "approval_reasons": list(evaluation.approval_reasons),
        "over_ceiling": evaluation.over_ceiling,
        "idempotency_key": str(uuid.uuid4()),
    }
    return _render(request, session, context)


@router.post("/remote/send", response_class=HTMLResponse)
def send_page(
    request: Request,
    session: SessionDep,
    *,
    user: UserDep,
    kind: Annotated[str, Form()],
    idempotency_key: Annotated[str, Form()],
    serials: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """Store the checked request (queued, held for approval, or refused) and show it."""
    form = {"kind": kind, "serials": serials, "reason": reason, "source": "list", "query": ""}
    context: dict[str, Any] = {"form": form}
    command_kind = _kind(kind)
    if command_kind is None:
        context["error"] = _invalid(f"kind: choose one of the listed kinds, not {kind!r}")
        return _render(request, session, context, status_code=422)
    try:
        payload = schemas.CommandRequestCreate(
            kind=command_kind,
            serial_numbers=parse_serials(serials),
            reason=reason.strip(),
            idempotency_key=idempotency_key,
        )
    except ValidationError as error:
        context["error"] = _invalid(_validation_text(error))
        return _render(request, session, context, status_code=422)
    try:
        actor = commands_service.resolve_actor(session, user.username)
        sent = commands_service.request(
            session, payload, actor=actor, now=_now(), policy=CommandPolicy()
        )
    except MeterOpsError as error:
        return _failure(request, session, error, context)
    context["sent"] = sent
    context["form"] = {"kind": kind, "serials": "", "reason": "", "source": "list", "query": ""}
    return _render(request, session, context, status_code=201)


def _validation_text(error: ValidationError) -> str:
    names = {"serial_numbers": "meters", "reason": "reason", "kind": "kind"}
    parts = []
    for item in error.errors():
        field = str(item["loc"][0]) if item["loc"] else "form"
        parts.append(f"{names.get(field, field)}: {item['msg']}")
    return "; ".join(parts)


@router.post("/remote/requests/{request_id}/approve", response_class=HTMLResponse)
def approve_page(
    request: Request, session: SessionDep, settings: SettingsDep, user: UserDep, request_id: int
) -> Response:
    """Approve a held request as the second person; refusals (e.g. one's own) are shown.

    An approver with a second factor but no step-up in the last 5 minutes goes to
    ``/step-up?next=/remote`` first (and comes back to the console to approve).
    """
    now, limits = _now(), policy_of(settings)
    if auth_service.has_second_factor(session, user.username) and not (
        auth_service.step_up_is_fresh(user.stepped_up_at_utc, now, limits)
    ):
        return RedirectResponse(step_up_location(f"/remote#request-{request_id}"), 303)
    try:
        actor = commands_service.resolve_actor(session, user.username)
        approved = commands_service.approve(
            session,
            request_id,
            actor=actor,
            now=now,
            policy=CommandPolicy(),
            stepped_up_at_utc=user.stepped_up_at_utc,
            session_policy=limits,
        )
    except MeterOpsError as error:
        return _failure(request, session, error, {})
    notice = f"Request {approved.id} approved: {approved.state.value}."
    return _render(request, session, {"notice": notice, "sent": approved})


@router.post("/remote/kill-switch", response_class=HTMLResponse)
def kill_switch_page(
    request: Request,
    session: SessionDep,
    *,
    user: UserDep,
    active: Annotated[str, Form()],
    reason: Annotated[str, Form()] = "",
    confirm: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """Engage (``active=on``) or release (``active=off``) the kill switch, once confirmed."""
    if active not in {"on", "off"} or confirm != "yes":
        error = _invalid("kill switch: tick the confirmation box to change it")
        return _render(request, session, {"error": error}, status_code=422)
    if len(reason.strip()) < 3:
        error = _invalid("kill switch: give a reason (at least 3 characters)")
        return _render(request, session, {"error": error}, status_code=422)
    try:
        actor = commands_service.resolve_actor(session, user.username)
        state = commands_service.set_kill_switch(
            session, active=active == "on", actor=actor, now=_now(), reason=reason.strip()
        )
    except MeterOpsError as error:
        return _failure(request, session, error, {})
    notice = (
        "Kill switch engaged: nothing is sent until it is released."
        if state.active
        else "Kill switch released: queued commands are sent again."
    )
    return _render(request, session, {"notice": notice})
