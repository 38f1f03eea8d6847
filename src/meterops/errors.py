"""The meterops error tree.

Every error the platform raises on purpose derives from :class:`MeterOpsError`. Adapters map the
second level to transport codes in one place each (``web/errors.py`` to HTTP statuses,
``cli/main.py`` to exit codes); core code never raises HTTP or CLI exceptions.

::

    MeterOpsError
    ├── NotFoundError            the thing asked for does not exist            → 404, exit 3
    ├── ConflictError            the request contradicts the current state      → 409, exit 4
    │   └── IllegalTransitionError   a lifecycle move that is not allowed
    ├── InvalidInputError        the input is malformed or breaks a rule        → 422, exit 2
    │   └── ValidationReportError    many located issues (file, line, field)
    ├── PermissionDeniedError    the actor may not do this                      → 403, exit 5
    ├── IntegrationError         a head-end/CIS/GIS call failed (``permanent``) → 502, exit 6
    └── DataContractError        a frame lacks columns or has wrong dtypes      → 500, exit 7
        └── MissingColumnsError

Each error carries a stable dotted ``code`` and JSON-able ``details`` so that an API client or
a script can act on it without parsing the message. Messages say what was expected, what was
found and, where there is one, what to do.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

__all__ = [
    "ConflictError",
    "DataContractError",
    "IllegalTransitionError",
    "IntegrationError",
    "InvalidInputError",
    "Issue",
    "MeterOpsError",
    "MissingColumnsError",
    "NotFoundError",
    "NotSignedInError",
    "PermissionDeniedError",
    "TooManyAttemptsError",
    "ValidationReportError",
]


class MeterOpsError(Exception):
    """Base of every deliberate meterops error.

    Args:
        message: Plain-language sentence for a person: what was expected, what was found.
        code: Stable dotted identifier for programs (defaults to the class's ``default_code``).
        details: JSON-able facts needed to act on the error (ids, values, limits).
    """

    default_code: ClassVar[str] = "meterops.error"

    def __init__(
        self, message: str, *, code: str | None = None, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.details: dict[str, Any] = details or {}

    def to_dict(self) -> dict[str, Any]:
        """The error as the one JSON shape the API and CLI ``--json`` emit."""
        return {"code": self.code, "message": self.message, "details": self.details}


class NotFoundError(MeterOpsError):
    """The object asked for does not exist (or is not visible to the actor)."""

    default_code = "not_found"


class ConflictError(MeterOpsError):
    """The request contradicts the current state (duplicate key, object in use)."""

    default_code = "conflict"


class IllegalTransitionError(ConflictError):
    """A lifecycle move that the state machine does not allow.

    Args:
        entity: What moves, e.g. ``"meter 12345678"``.
        current: Its current state.
        target: The state asked for.
        allowed: The states reachable from ``current``.
    """

    default_code = "illegal_transition"

    def __init__(self, *, entity: str, current: str, target: str, allowed: Iterable[str]) -> None:
        allowed_list = sorted(allowed)
        reachable = ", ".join(allowed_list) if allowed_list else "none (final state)"
        super().__init__(
            f"{entity} is '{current}' and cannot move to '{target}'; "
            f"from '{current}' it can move to: {reachable}.",
            details={
                "entity": entity,
                "current": current,
                "target": target,
                "allowed": allowed_list,
            },
        )


class InvalidInputError(MeterOpsError):
    """The input is malformed or breaks a business rule."""

    default_code = "invalid_input"


@dataclass(frozen=True, slots=True)
class Issue:
    """One located problem in an input file or payload.

    Attributes:
        file: File name (or ``"<payload>"``).
        line: 1-based physical line number in the file, or ``None`` for whole-file issues.
        field: Column or element name, or ``None``.
        code: Stable dotted code, e.g. ``"value.not_a_number"``.
        message: Plain-language description with the offending value.
    """

    file: str
    line: int | None
    field: str | None
    code: str
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f", line {self.line}"
        if self.field is not None:
            where += f", field '{self.field}'"
        return f"{where}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return asdict(self)


class ValidationReportError(InvalidInputError):
    """Input refused with one or more located issues; nothing was stored.

    Args:
        summary: One sentence about what was refused.
        issues: Every issue found (not only the first).
    """

    default_code = "invalid_input.report"

    def __init__(self, summary: str, issues: Sequence[Issue]) -> None:
        self.issues = list(issues)
        shown = "\n".join(f"  {issue}" for issue in self.issues[:20])
        more = len(self.issues) - 20
        tail = f"\n  … and {more} more" if more > 0 else ""
        super().__init__(
            f"{summary}\n{shown}{tail}" if self.issues else summary,
            details={"issues": [issue.to_dict() for issue in self.issues]},
        )


class PermissionDeniedError(MeterOpsError):
    """The actor is not allowed to perform this operation."""

    default_code = "permission_denied"


class NotSignedInError(PermissionDeniedError):
    """No valid session: never signed in, signed out, or timed out."""

    default_code = "not_signed_in"


class TooManyAttemptsError(PermissionDeniedError):
    """Refused for now after too many failures; ``details['retry_after_s']`` says how long."""

    default_code = "too_many_attempts"


class IntegrationError(MeterOpsError):
    """A call to an external system (head-end, CIS, GIS) failed.

    Args:
        message: What failed.
        permanent: ``True`` when retrying cannot help (bad request, unknown device).
    """

    default_code = "integration_error"

    def __init__(
        self,
        message: str,
        *,
        permanent: bool = False,
        code: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, code=code, details={**(details or {}), "permanent": permanent})
        self.permanent = permanent


class DataContractError(MeterOpsError):
    """A frame at a capability boundary does not match its declared contract."""

    default_code = "data_contract"


class MissingColumnsError(DataContractError):
    """A frame lacks required columns.

    Args:
        frame_name: Name of the contract, e.g. ``"interval_reads"``.
        missing: Required columns that are absent.
        available: Columns the frame has.
    """

    default_code = "data_contract.missing_columns"

    def __init__(self, frame_name: str, missing: Iterable[str], available: Iterable[str]) -> None:
        missing_list = sorted(missing)
        available_list = sorted(available)
        super().__init__(
            f"Frame '{frame_name}' is missing columns {missing_list}; it has {available_list}.",
            details={"frame": frame_name, "missing": missing_list, "available": available_list},
        )
