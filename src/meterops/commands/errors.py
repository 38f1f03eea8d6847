"""Errors of the commands capability."""

from __future__ import annotations

from meterops.errors import ConflictError, NotFoundError, PermissionDeniedError

__all__ = [
    "CommandNotFoundError",
    "HardCeilingError",
    "IdempotencyKeyReusedError",
    "NotApprovableError",
    "RequestNotFoundError",
]


class RequestNotFoundError(NotFoundError):
    """No command request by that id."""

    default_code = "commands.request_not_found"


class CommandNotFoundError(NotFoundError):
    """No remote command by that id."""

    default_code = "commands.command_not_found"


class IdempotencyKeyReusedError(ConflictError):
    """The idempotency key was used for a different request."""

    default_code = "commands.idempotency_key_reused"


class HardCeilingError(ConflictError):
    """The system-wide hard ceiling would be passed, even with approval."""

    default_code = "commands.hard_ceiling"


class NotApprovableError(PermissionDeniedError):
    """This person may not approve this request (own request, role, territory, too late)."""

    default_code = "commands.not_approvable"
