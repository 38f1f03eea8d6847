"""Parse a planned programme's CSV file (an AMI 2.0 exchange campaign) into order requests.

The columns are data (:data:`COLUMNS`), documented in ``docs/workorders.md``. Files are UTF-8
CSV (a BOM is accepted) with a header row; empty cells mean "use the order type's default";
lists are separated by ``;``; times are ISO 8601 with an offset (``2026-07-06T14:00:00Z``).
Every problem is collected with file, physical line and field; the service refuses the whole
file when there is any.

Pure module: standard library, pydantic and the work-order schemas; no database.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Final

from pydantic import ValidationError

from meterops.errors import Issue
from meterops.workorders.schemas import OrderRequest

__all__ = ["COLUMNS", "ParsedProgramme", "parse_programme_csv", "subject_column"]

COLUMNS: Final[dict[str, str]] = {
    "order_type": "Work-order type, e.g. `exchange` (required; see the type table).",
    "meter_serial": "Meter serial number (meter work).",
    "service_point_number": "Service point number (installs).",
    "collector_code": "Collector code (collector work).",
    "problem_code": "Programme or cause code; one active order per subject and problem "
    "(default: the order type).",
    "priority": "1 (most urgent) to 5 (default: the type's).",
    "due_at": "Deadline, ISO 8601 with offset.",
    "appointment_start": "Customer appointment start, ISO 8601 with offset.",
    "appointment_end": "Customer appointment end, ISO 8601 with offset.",
    "duration_min": "Time on site [min] (default: the type's).",
    "required_skill": "residential, ct_rated, network_collector or meter_shop (default: by "
    "type and service).",
    "parts": "Parts to bring, `;`-separated (default: the type's).",
    "meter_form": "Form of the meter to install (installs; default: the socket's first form).",
    "campaign": "Programme name, e.g. `AMI2-2026`.",
    "external_ref": "The programme's own row id.",
    "evidence_summary": "Why the order exists, one sentence.",
    "notes": "Notes for the technician.",
}
"""Column name → meaning; ``order_type`` and one subject column are needed per row."""

_RENAMES: Final = {
    "due_at": "due_at_utc",
    "appointment_start": "appointment_start_utc",
    "appointment_end": "appointment_end_utc",
}
_BACK: Final = {value: key for key, value in _RENAMES.items()}


@dataclass(slots=True)
class ParsedProgramme:
    """A programme file after parsing.

    Attributes:
        file: File name used in issues.
        requests: ``(physical line, request)`` per good row.
        issues: Every problem found.
    """

    file: str
    requests: list[tuple[int, OrderRequest]] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)


def subject_column(request: OrderRequest) -> str:
    """The column that names a request's subject (for issues found later)."""
    if request.meter_serial:
        return "meter_serial"
    if request.service_point_number:
        return "service_point_number"
    return "collector_code"


def _row_request(
    row: dict[str, str], *, file: str, line: int
) -> tuple[OrderRequest | None, list[Issue]]:
    values: dict[str, object] = {}
    for name, raw in row.items():
        text = (raw or "").strip()
        if not text:
            continue
        if name == "parts":
            values["parts"] = [part.strip() for part in text.split(";") if part.strip()]
        else:
            values[_RENAMES.get(name, name)] = text
    try:
        return OrderRequest.model_validate(values), []
    except ValidationError as error:
        issues = []
        for problem in error.errors():
            location = [str(part) for part in problem.get("loc", ()) if part != "__root__"]
            column = _BACK.get(location[0], location[0]) if location else None
            message = str(problem.get("msg", "invalid value")).removeprefix("Value error, ")
            if column is not None and column in row:
                message = f"{message} (found {row[column]!r})"
            issues.append(Issue(file, line, column, "workorder.csv_value", message))
        return None, issues


def parse_programme_csv(data: bytes, *, file: str) -> ParsedProgramme:
    r"""Parse a programme CSV file.

    Args:
        data: The file's bytes.
        file: Its name, for issues.

    Returns:
        The good rows as requests and every issue (unknown columns, bad values).

    Examples:
        >>> text = b"order_type,meter_serial,campaign\\nexchange,M1,AMI2\\nexchange,,AMI2\\n"
        >>> parsed = parse_programme_csv(text, file="wave1.csv")
        >>> [(line, r.meter_serial) for line, r in parsed.requests]
        [(2, 'M1')]
        >>> str(parsed.issues[0]).split(":")[0]
        'wave1.csv, line 3'
    """
    parsed = ParsedProgramme(file=file)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        parsed.issues.append(
            Issue(file, line, None, "workorder.csv_encoding", "not UTF-8 text; save as UTF-8")
        )
        return parsed
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [name.strip() for name in reader.fieldnames or []]
    reader.fieldnames = header
    unknown = [name for name in header if name not in COLUMNS]
    if not header or "order_type" not in header:
        parsed.issues.append(
            Issue(file, 1, "order_type", "workorder.csv_header", "the header needs order_type")
        )
    for name in unknown:
        parsed.issues.append(
            Issue(
                file,
                1,
                name,
                "workorder.csv_header",
                f"unknown column; known columns: {', '.join(COLUMNS)}",
            )
        )
    if parsed.issues:
        return parsed
    for row in reader:
        line = reader.line_num
        if None in row:
            parsed.issues.append(
                Issue(file, line, None, "workorder.csv_shape", "more cells than header columns")
            )
            continue
        request, issues = _row_request(row, file=file, line=line)
        parsed.issues.extend(issues)
        if request is not None:
            parsed.requests.append((line, request))
    if not parsed.requests and not parsed.issues:
        parsed.issues.append(Issue(file, None, None, "workorder.csv_empty", "no data rows"))
    return parsed
