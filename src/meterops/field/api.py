"""JSON API of the field app (mounted under ``/api/v1``): the technician's phone talks to this.

Thin: each route calls one function of :mod:`meterops.field.service`. The acting user is the
signed-in user (session cookie); every POST needs the session's CSRF token
(``X-CSRF-Token``). Refused uploads answer 413 (too large) or 415 (not a JPEG, PNG or WebP)
with the reason in the usual error body.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Response, UploadFile
from fastapi.responses import FileResponse, JSONResponse

from meterops.dispatch.api import HeadEndDep
from meterops.field import schemas
from meterops.field import service as field_service
from meterops.field.photos import PhotoRefusedError
from meterops.timeutil import utc_now
from meterops.web.auth import UserDep, require_csrf
from meterops.web.deps import SessionDep, SettingsDep, WritingSessionDep
from meterops.web.errors import ERROR_RESPONSES

__all__ = [
    "ask_ping",
    "ask_read",
    "follow_command",
    "get_order",
    "get_photo",
    "get_today",
    "get_verification",
    "post_action",
    "router",
    "upload_photo",
]

router = APIRouter(prefix="/field", tags=["field"], responses=ERROR_RESPONSES)

_CSRF = [Depends(require_csrf)]


@router.get("/today", response_model=schemas.TodayRead)
def get_today(session: SessionDep, user: UserDep, day: dt.date | None = None) -> schemas.TodayRead:
    """The signed-in technician's stops of the day, the next unfinished stop first."""
    return field_service.today(session, user, day=day, now=utc_now())


@router.get("/orders/{order_number}", response_model=schemas.OrderDetail)
def get_order(order_number: str, session: SessionDep, user: UserDep) -> schemas.OrderDetail:
    """An order with its verdict, evidence, checklist, actions, photos and verification."""
    return field_service.order_detail(session, user, order_number, now=utc_now())


@router.post(
    "/orders/{order_number}/actions",
    response_model=schemas.ActionResult,
    status_code=201,
    dependencies=_CSRF,
    responses={200: {"model": schemas.ActionResult, "description": "Seen before (duplicate)."}},
)
def post_action(  # noqa: PLR0917 (FastAPI passes dependencies by keyword)
    order_number: str,
    body: schemas.ActionRequest,
    response: Response,
    session: SessionDep,
    user: UserDep,
    head_end: HeadEndDep,
) -> schemas.ActionResult:
    """Record an action once per idempotency key (the same key again: 200, ``duplicate``)."""
    result = field_service.record_action(
        session, user, order_number, body, now=utc_now(), head_end=head_end
    )
    if result.duplicate:
        response.status_code = 200
    return result


@router.post(
    "/orders/{order_number}/photos",
    response_model=schemas.PhotoUploaded,
    status_code=201,
    dependencies=_CSRF,
    responses={413: {"description": "Too large."}, 415: {"description": "Not a photo."}},
)
def upload_photo(  # noqa: PLR0917 (FastAPI passes form fields and dependencies by keyword)
    order_number: str,
    file: Annotated[UploadFile, File(description="The photo (JPEG, PNG or WebP).")],
    idempotency_key: Annotated[str, Form(min_length=8, max_length=128)],
    kind: Annotated[str, Form(max_length=32)],
    response: Response,
    session: SessionDep,
    user: UserDep,
    settings: SettingsDep,
) -> schemas.PhotoUploaded | JSONResponse:
    """Store a photo: type sniffed from the content, size and pixels bounded, re-encoded."""
    limit = field_service.FieldPolicy().photo_limits.max_bytes
    data = file.file.read(limit + 1)
    try:
        stored = field_service.upload_photo(
            session,
            user,
            order_number,
            data,
            kind=kind,
            idempotency_key=idempotency_key,
            photos_dir=settings.photos_dir,
            now=utc_now(),
        )
    except PhotoRefusedError as error:
        return JSONResponse({"error": error.to_dict()}, status_code=error.status)
    if stored.duplicate:
        response.status_code = 200
    return stored


@router.get(
    "/orders/{order_number}/photos/{photo_id}",
    response_class=FileResponse,
    responses={200: {"content": {"image/jpeg": {}}}},
)
def get_photo(
    order_number: str, photo_id: str, session: SessionDep, user: UserDep, settings: SettingsDep
) -> FileResponse:
    """A stored photo (always a re-encoded JPEG)."""
    path = field_service.photo_file(
        session, user, order_number, photo_id, photos_dir=settings.photos_dir
    )
    return FileResponse(
        path,
        media_type="image/jpeg",
        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "private, max-age=3600"},
    )


@router.post(
    "/orders/{order_number}/ping",
    response_model=schemas.CommandRead,
    status_code=201,
    dependencies=_CSRF,
)
def ask_ping(
    order_number: str,
    session: SessionDep,
    user: UserDep,
    body: schemas.CommandRequestBody | None = None,
) -> schemas.CommandRead:
    """Ping the order's meter through the remote-commands service."""
    return field_service.ask_meter(
        session,
        user,
        order_number,
        kind="ping",
        idempotency_key=None if body is None else body.idempotency_key,
        now=utc_now(),
    )


@router.post(
    "/orders/{order_number}/read",
    response_model=schemas.CommandRead,
    status_code=201,
    dependencies=_CSRF,
)
def ask_read(
    order_number: str,
    session: SessionDep,
    user: UserDep,
    body: schemas.CommandRequestBody | None = None,
) -> schemas.CommandRead:
    """Read the order's meter on demand through the remote-commands service."""
    return field_service.ask_meter(
        session,
        user,
        order_number,
        kind="read",
        idempotency_key=None if body is None else body.idempotency_key,
        now=utc_now(),
    )


@router.get("/orders/{order_number}/commands/{request_id}", response_model=schemas.CommandRead)
def follow_command(
    order_number: str, request_id: int, session: WritingSessionDep, user: UserDep
) -> schemas.CommandRead:
    """A ping or read of the order as it stands (a settled answer is kept on the order)."""
    return field_service.follow_command(session, user, order_number, request_id, now=utc_now())


@router.get("/orders/{order_number}/verification", response_model=schemas.VerificationRead)
def get_verification(
    order_number: str, session: WritingSessionDep, user: UserDep, head_end: HeadEndDep
) -> schemas.VerificationRead:
    """The head-end verification of the meter installed on the order (asks the head-end)."""
    return field_service.verification(session, user, order_number, head_end=head_end, now=utc_now())
