"""JSON API of the commands capability (mounted under ``/api/v1``).

The acting user is the signed-in user (session cookie); their role and territories come from
the users table. Every state change also needs the session's CSRF token (``X-CSRF-Token``).
"""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Depends

from meterops.commands import schemas
from meterops.commands import service as commands_service
from meterops.commands.policy import CommandPolicy
from meterops.web.auth import UserDep, policy_of, require_csrf
from meterops.web.deps import SessionDep, SettingsDep
from meterops.web.errors import ERROR_RESPONSES

__all__ = ["approve_request", "create_request", "get_request", "kill_switch", "overview", "router"]

router = APIRouter(tags=["remote operations"], responses=ERROR_RESPONSES)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@router.post(
    "/remote/requests",
    response_model=schemas.CommandRequestRead,
    status_code=201,
    dependencies=[Depends(require_csrf)],
)
def create_request(
    payload: schemas.CommandRequestCreate, session: SessionDep, user: UserDep
) -> schemas.CommandRequestRead:
    """Request a command on meters; the same idempotency key returns the same request."""
    actor = commands_service.resolve_actor(session, user.username)
    return commands_service.request(
        session, payload, actor=actor, now=_now(), policy=CommandPolicy()
    )


@router.get("/remote/requests/{request_id}", response_model=schemas.CommandRequestRead)
def get_request(request_id: int, session: SessionDep) -> schemas.CommandRequestRead:
    """A request with its commands, guard results and head-end answers."""
    return commands_service.get_request(session, request_id)


@router.post(
    "/remote/requests/{request_id}/approve",
    response_model=schemas.CommandRequestRead,
    dependencies=[Depends(require_csrf)],
)
def approve_request(
    request_id: int, session: SessionDep, user: UserDep, settings: SettingsDep
) -> schemas.CommandRequestRead:
    """Approve a held request (a second, different supervisor or admin, in time).

    The approver must have stepped up (``POST /step-up`` with a code from their authenticator
    app) in this session within the last 5 minutes.
    """
    actor = commands_service.resolve_actor(session, user.username)
    return commands_service.approve(
        session,
        request_id,
        actor=actor,
        now=_now(),
        policy=CommandPolicy(),
        stepped_up_at_utc=user.stepped_up_at_utc,
        session_policy=policy_of(settings),
    )


@router.get("/remote/overview", response_model=schemas.CommandsOverview)
def overview(session: SessionDep, user: UserDep) -> schemas.CommandsOverview:
    """Held requests, recent requests and commands of the user's territories; the kill switch."""
    return commands_service.overview(session, territory_ids=user.territory_ids)


@router.put(
    "/remote/kill-switch",
    response_model=schemas.KillSwitchRead,
    dependencies=[Depends(require_csrf)],
)
def kill_switch(
    payload: schemas.KillSwitchUpdate, session: SessionDep, user: UserDep
) -> schemas.KillSwitchRead:
    """Halt or resume all dispatching (queued commands stay queued)."""
    actor = commands_service.resolve_actor(session, user.username)
    return commands_service.set_kill_switch(
        session, active=payload.active, actor=actor, now=_now(), reason=payload.reason
    )
