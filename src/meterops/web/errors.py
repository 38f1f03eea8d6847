"""One error shape for the API, one error page for people; mapped from the error tree.

Every API error body is ``{"error": {"code": str, "message": str, "details": {...}}}``
(pinned by ``tests/web/test_error_shape.py``). Core code raises :mod:`meterops.errors`; this
module alone turns them into HTTP statuses. Bodies never carry tracebacks, SQL or paths.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from meterops.errors import (
    ConflictError,
    DataContractError,
    IntegrationError,
    InvalidInputError,
    MeterOpsError,
    NotFoundError,
    NotSignedInError,
    PermissionDeniedError,
    TooManyAttemptsError,
)

__all__ = ["ErrorBody", "ErrorResponse", "install_error_handlers", "status_for"]

logger = logging.getLogger(__name__)

_STATUS: tuple[tuple[type[MeterOpsError], int], ...] = (
    (NotSignedInError, 401),
    (TooManyAttemptsError, 429),
    (NotFoundError, 404),
    (ConflictError, 409),
    (InvalidInputError, 422),
    (PermissionDeniedError, 403),
    (IntegrationError, 502),
    (DataContractError, 500),
)


class ErrorBody(BaseModel):
    """The error itself."""

    code: str
    message: str
    details: dict[str, Any] = {}


class ErrorResponse(BaseModel):
    """Body of every API error response."""

    error: ErrorBody


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse} for status in (401, 403, 404, 409, 422, 429, 502)
}
"""OpenAPI ``responses=`` declaration shared by API routes."""


def status_for(error: MeterOpsError) -> int:
    """HTTP status of an error, by its place in the error tree."""
    for cls, status in _STATUS:
        if isinstance(error, cls):
            return status
    return 500


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api") and "text/html" in request.headers.get(
        "accept", ""
    )


def _render(
    request: Request, status: int, code: str, message: str, details: dict[str, Any]
) -> Response:
    if _wants_html(request):
        templates = request.app.state.templates
        return HTMLResponse(
            templates.get_template("error.html").render(
                request=request, status=status, code=code, message=message
            ),
            status_code=status,
        )
    body = ErrorResponse(error=ErrorBody(code=code, message=message, details=details))
    return JSONResponse(body.model_dump(), status_code=status)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that give every error the same shape."""

    @app.exception_handler(MeterOpsError)
    async def _meterops(request: Request, exc: MeterOpsError) -> Response:
        status = status_for(exc)
        if status >= 500:
            logger.error("server error %s: %s", exc.code, exc.message)
        response = _render(request, status, exc.code, exc.message, exc.details)
        if "retry_after_s" in exc.details:
            response.headers["Retry-After"] = str(exc.details["retry_after_s"])
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        problems = [
            {"field": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg", "")}
            for e in exc.errors()
        ]
        first = problems[0] if problems else {"field": "", "message": "invalid request"}
        message = f"{first['field']}: {first['message']}" if first["field"] else first["message"]
        return _render(request, 422, "invalid_input.request", message, {"problems": problems})

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return _render(request, exc.status_code, code, str(exc.detail), {})

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        logger.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        return _render(
            request,
            500,
            "internal_error",
            "Something went wrong on our side; the error was logged.",
            {},
        )
