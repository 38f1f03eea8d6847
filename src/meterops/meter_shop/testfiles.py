"""Test-set result files: the documented meterops CSV and a WECO-style board export (pure).

Two layouts are read, both into :class:`~meterops.meter_shop.accuracy.AccuracyTest` records:

* **meterops test CSV** (``meterops-test-csv``): one row per measured point, long format; its
  columns are declared once in :data:`CSV_COLUMNS` and rendered into ``docs/meter-shop.md``
  by :func:`render_markdown` (a test keeps the two equal).
* **WECO-style board export** (``weco-board``): the shape shop test-board software exports —
  a preamble of ``key,value`` lines naming the board and its standard's calibration, a blank
  line, then one wide row per meter with columns such as ``AF FL`` / ``AL LL`` / ``AF PF B``
  and local dates ``MM/DD/YYYY``. It is modelled on such exports, written by us; it is not a
  vendor specification (see :data:`WECO_COLUMNS`).

Policy: a file is read **whole or not at all** — every bad row is reported with file, line and
field (:class:`TestFileRefusedError`), including tests made with a test set that was out of
calibration. :attr:`ParsedTestFile.sha256` identifies the content so that the same file is
stored once.

Pure module: standard library and ``meterops.meter_shop.accuracy`` only.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import math
import zoneinfo
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final, TypeVar

from meterops.errors import Issue, ValidationReportError
from meterops.meter_shop.accuracy import (
    ALL_ELEMENTS,
    AccuracyTest,
    PointResult,
    RegisterCheck,
    Stage,
    TestLocation,
    TestPoint,
    TestSet,
    TestSetCalibrationError,
    check_test_set,
    elements_for_form,
)
from meterops.nomenclature import ACCURACY_CLASSES, CURRENT_CLASSES, METER_FORMS

__all__ = [
    "CSV_COLUMNS",
    "DOC_BEGIN",
    "DOC_END",
    "LAYOUTS",
    "WECO_COLUMNS",
    "WECO_PREAMBLE",
    "ColumnDoc",
    "ParsedTestFile",
    "TestFileRefusedError",
    "parse_test_file",
    "render_markdown",
    "sniff_layout",
    "write_test_csv",
]

CSV_LAYOUT: Final = "meterops-test-csv"
WECO_LAYOUT: Final = "weco-board"
LAYOUTS: Final = (CSV_LAYOUT, WECO_LAYOUT)
"""Layout names :func:`parse_test_file` reads."""

_T = TypeVar("_T")

DOC_BEGIN: Final = "<!-- meter-shop-files:begin -->"
DOC_END: Final = "<!-- meter-shop-files:end -->"


@dataclass(frozen=True, slots=True)
class ColumnDoc:
    """One column of a file layout.

    Attributes:
        name: Header text.
        required: Whether a value is required.
        kind: Value type as written (``text``, ``decimal``, ``integer``, ``date`` …).
        description: Meaning, with the unit in square brackets.
    """

    name: str
    required: bool
    kind: str
    description: str


CSV_COLUMNS: Final = (
    ColumnDoc("meter_serial", True, "text", "Serial number of the meter under test."),
    ColumnDoc(
        "tested_at_utc",
        True,
        "ISO 8601 date-time with offset",
        "When the test was made; with `meter_serial` it identifies the test.",
    ),
    ColumnDoc("location", True, "`field` or `shop`", "Where the meter was tested."),
    ColumnDoc("technician", True, "text", "Who tested (user name or badge id)."),
    ColumnDoc(
        "reason", False, "text", "Why: `routine`, `complaint`, `sample`, … (default `routine`)."
    ),
    ColumnDoc("form", True, "ANSI form", "Meter form, e.g. `2S`, `9S`."),
    ColumnDoc("current_class", True, "`CL2` … `CL320`", "Current class (sets the test amperes)."),
    ColumnDoc(
        "accuracy_class", True, "`0.1`, `0.2`, `0.5`, `1.0`", "Accuracy class (C12.20 / C12.1)."
    ),
    ColumnDoc("test_set_serial", True, "text", "Serial number of the test set (standard)."),
    ColumnDoc("test_set_calibrated_on", True, "date", "Last calibration of the test set."),
    ColumnDoc(
        "test_set_calibration_due_on",
        True,
        "date",
        "Calibration due date; tests after it are refused.",
    ),
    ColumnDoc("stage", True, "`as_found` or `as_left`", "Before or after adjustment."),
    ColumnDoc("point", True, "`FL`, `LL`, `PF`", "Test point (full load, light load, 0.5 PF)."),
    ColumnDoc(
        "element",
        False,
        "`all`, `A`, `B`, `C`",
        "Element run (default `all`: elements in series).",
    ),
    ColumnDoc("registration_pct", True, "decimal", "Percent registration. [%]"),
    ColumnDoc(
        "creep_pulses", False, "integer", "Pulses in the creep test (same on every row). [count]"
    ),
    ColumnDoc("register_start_kwh", False, "decimal", "Register before the register run. [kWh]"),
    ColumnDoc("register_end_kwh", False, "decimal", "Register after the register run. [kWh]"),
    ColumnDoc(
        "register_reference_kwh", False, "decimal", "Energy of the standard in that run. [kWh]"
    ),
)
"""Columns of the meterops test CSV, in order."""

WECO_PREAMBLE: Final = (
    ColumnDoc("Test Board", False, "text", "Board make and model."),
    ColumnDoc("Board Serial", True, "text", "Serial number of the board's reference standard."),
    ColumnDoc("Standard Cal Date", True, "MM/DD/YYYY", "Last calibration of the standard."),
    ColumnDoc("Standard Cal Due", True, "MM/DD/YYYY", "Calibration due date."),
    ColumnDoc("Time Zone", True, "IANA zone", "Zone of the local dates and times below."),
)
"""Preamble keys of the WECO-style export (``key,value`` lines before a blank line)."""

_WECO_FIXED: Final = (
    ColumnDoc("Meter ID", True, "text", "Meter serial number."),
    ColumnDoc("Date", True, "MM/DD/YYYY", "Local test date."),
    ColumnDoc("Time", True, "HH:MM:SS", "Local test time."),
    ColumnDoc("Tech", True, "text", "Technician."),
    ColumnDoc("Test Type", True, "`Field` or `Shop`", "Where the meter was tested."),
    ColumnDoc("Reason", False, "text", "Why the meter was tested."),
    ColumnDoc("Form", True, "ANSI form", "Meter form."),
    ColumnDoc("Class", True, "`CL200` …", "Current class."),
    ColumnDoc("Acc Class", True, "`0.5` …", "Accuracy class."),
)
_WECO_POINTS: Final = tuple(
    ColumnDoc(
        f"{prefix} {point.value}",
        False,
        "decimal",
        f"{'As found' if prefix == 'AF' else 'As left'} {point.value}, elements in series. [%]",
    )
    for prefix in ("AF", "AL")
    for point in TestPoint
)
_WECO_ELEMENTS: Final = tuple(
    ColumnDoc(
        f"{prefix} {point.value} {element}",
        False,
        "decimal",
        f"{'As found' if prefix == 'AF' else 'As left'} {point.value}, element {element}. [%]",
    )
    for prefix in ("AF", "AL")
    for point in TestPoint
    for element in ("A", "B", "C")
)
_WECO_TAIL: Final = (
    ColumnDoc("Creep", False, "integer", "Pulses counted in the creep test. [count]"),
    ColumnDoc("Reg Start", False, "decimal", "Register before the register run. [kWh]"),
    ColumnDoc("Reg End", False, "decimal", "Register after the register run. [kWh]"),
    ColumnDoc("Reg Std", False, "decimal", "Energy of the standard in that run. [kWh]"),
)
WECO_COLUMNS: Final = _WECO_FIXED + _WECO_POINTS + _WECO_ELEMENTS + _WECO_TAIL
"""Columns of the WECO-style export's data rows (columns may come in any order)."""


class TestFileRefusedError(ValidationReportError):
    """A test-set result file refused as a whole; nothing of it was stored."""

    __test__ = False
    default_code = "meter_shop.file_refused"


@dataclass(frozen=True, slots=True)
class ParsedTestFile:
    """A test-set result file read whole.

    Attributes:
        file: File name (for messages and the journal).
        layout: Layout name (one of :data:`LAYOUTS`).
        sha256: Hex SHA-256 of the file's bytes: the same content is stored once.
        tests: The tests, in file order.
        lines: Physical line of each test's first row (same order as ``tests``).
    """

    file: str
    layout: str
    sha256: str
    tests: tuple[AccuracyTest, ...]
    lines: tuple[int, ...]


class _Issues:
    def __init__(self, file: str) -> None:
        self.file = file
        self.items: list[Issue] = []

    def add(self, line: int | None, field: str | None, code: str, message: str) -> None:
        self.items.append(Issue(self.file, line, field, f"meter_shop.{code}", message))


def _decimal(raw: str, line: int, field: str, issues: _Issues) -> float | None:
    try:
        value = float(raw)
    except ValueError:
        issues.add(line, field, "not_a_number", f"{raw!r} is not a number")
        return None
    if not math.isfinite(value):
        issues.add(line, field, "not_a_number", f"{raw!r} is not a finite number")
        return None
    return value


def _registration(raw: str, line: int, field: str, issues: _Issues) -> float | None:
    value = _decimal(raw, line, field, issues)
    if value is not None and not 0.0 < value <= 200.0:  # plausibility bound
        issues.add(
            line,
            field,
            "registration_out_of_range",
            f"registration {value} % is not in (0, 200] %: a typing error?",
        )
        return None
    return value


def _integer(raw: str, line: int, field: str, issues: _Issues) -> int | None:
    try:
        value = int(raw)
    except ValueError:
        issues.add(line, field, "not_an_integer", f"{raw!r} is not a whole number")
        return None
    if value < 0:
        issues.add(line, field, "negative", f"{value} must not be negative")
        return None
    return value


def _date(raw: str, line: int, field: str, issues: _Issues, *, us: bool = False) -> dt.date | None:
    try:
        if us:
            return dt.datetime.strptime(raw, "%m/%d/%Y").date()  # noqa: DTZ007 - a date only
        return dt.date.fromisoformat(raw)
    except ValueError:
        expected = "MM/DD/YYYY" if us else "YYYY-MM-DD"
        issues.add(line, field, "bad_date", f"{raw!r} is not a date ({expected})")
        return None


def _choice(raw: str, line: int, field: str, issues: _Issues, options: dict[str, _T]) -> _T | None:
    value = options.get(raw)
    if value is None:
        issues.add(
            line,
            field,
            "unknown_value",
            f"{raw!r} is not one of: {', '.join(options)}",
        )
    return value


_FORMS = {name: name for name in METER_FORMS}
_CURRENT = {name: name for name in CURRENT_CLASSES}
_ACCURACY = {name: name for name in ACCURACY_CLASSES} | {"1": "1.0", "0.50": "0.5"}


def _check_calibration(
    test_set: TestSet, tested: dt.datetime, line: int, field: str, issues: _Issues
) -> bool:
    try:
        check_test_set(test_set, tested.date())
    except TestSetCalibrationError as error:
        issues.add(line, field, "test_set_out_of_calibration", error.message)
        return False
    return True


def _check_elements(
    form: str, results: Iterable[PointResult], line: int, field: str, issues: _Issues
) -> None:
    allowed = {ALL_ELEMENTS, *elements_for_form(form)}
    bad = sorted({r.element for r in results} - allowed)
    if bad:
        issues.add(
            line,
            field,
            "unknown_element",
            f"form {form} has no element(s) {bad}; {sorted(allowed)}",
        )


def _hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _text(data: bytes, file: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise TestFileRefusedError(
            f"{file} is not UTF-8 text",
            [Issue(file, None, None, "meter_shop.encoding", f"not UTF-8: {error}")],
        ) from error


def sniff_layout(data: bytes) -> str | None:
    r"""Which layout a file has, from its first line (None when neither).

    Examples:
        >>> sniff_layout(b"meter_serial,tested_at_utc,location\n")
        'meterops-test-csv'
        >>> sniff_layout(b"Test Board,WECO 2350\n")
        'weco-board'
    """
    head = data[:512].decode("utf-8-sig", errors="replace").lstrip()
    first = head.splitlines()[0] if head else ""
    if first.startswith(CSV_COLUMNS[0].name + ","):
        return CSV_LAYOUT
    if first.split(",")[0].strip() in {c.name for c in WECO_PREAMBLE}:
        return WECO_LAYOUT
    return None


def parse_test_file(
    data: bytes, *, file: str, layout: str | None = None, default_timezone: str = "UTC"
) -> ParsedTestFile:
    """Read a test-set result file whole.

    Args:
        data: The file's bytes.
        file: Its name, used in every issue.
        layout: One of :data:`LAYOUTS`, or None to sniff it.
        default_timezone: Zone for WECO-style files whose preamble names none.

    Returns:
        The parsed file.

    Raises:
        TestFileRefusedError: Any bad row, naming file, line and field; nothing is returned.
    """
    layout = layout or sniff_layout(data)
    if layout == CSV_LAYOUT:
        return _parse_csv(data, file)
    if layout == WECO_LAYOUT:
        return _parse_weco(data, file, default_timezone)
    raise TestFileRefusedError(
        f"{file}: unknown test file layout",
        [
            Issue(
                file,
                1,
                None,
                "meter_shop.unknown_layout",
                f"first line matches none of the layouts {', '.join(LAYOUTS)}; "
                "see docs/meter-shop.md",
            )
        ],
    )


# --------------------------------------------------------------------------------------------
# meterops test CSV

_STAGES = {s.value: s for s in Stage}
_POINTS = {p.value: p for p in TestPoint}
_LOCATIONS = {loc.value: loc for loc in TestLocation}
_TEST_FIELDS = (
    "location",
    "technician",
    "reason",
    "form",
    "current_class",
    "accuracy_class",
    "test_set_serial",
    "test_set_calibrated_on",
    "test_set_calibration_due_on",
    "creep_pulses",
    "register_start_kwh",
    "register_end_kwh",
    "register_reference_kwh",
)


def _parse_csv(data: bytes, file: str) -> ParsedTestFile:
    issues = _Issues(file)
    reader = csv.reader(io.StringIO(_text(data, file), newline=""))
    header = next(reader, [])
    names = [c.name for c in CSV_COLUMNS]
    missing = [c.name for c in CSV_COLUMNS if c.required and c.name not in header]
    unknown = [h for h in header if h not in names]
    if missing or unknown:
        message = f"header lacks {missing}" if missing else ""
        if unknown:
            message += ("; " if message else "") + f"unknown columns {unknown}"
        raise TestFileRefusedError(
            f"{file}: header is not the meterops test CSV",
            [Issue(file, 1, None, "meter_shop.header", message + f"; expected {names}")],
        )
    groups: dict[tuple[str, dt.datetime], list[tuple[int, dict[str, str]]]] = {}
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            issues.add(line, None, "row_length", f"{len(row)} cells, header has {len(header)}")
            continue
        record = {h: cell.strip() for h, cell in zip(header, row, strict=True)}
        bad = False
        for column in CSV_COLUMNS:
            if column.required and not record.get(column.name):
                issues.add(line, column.name, "required", "a value is required")
                bad = True
        if bad:
            continue
        try:
            tested = dt.datetime.fromisoformat(record["tested_at_utc"])
        except ValueError:
            issues.add(line, "tested_at_utc", "bad_datetime", "not an ISO 8601 date-time")
            continue
        if tested.tzinfo is None:
            issues.add(
                line,
                "tested_at_utc",
                "naive_datetime",
                f"{record['tested_at_utc']!r} has no UTC offset (write e.g. +00:00)",
            )
            continue
        groups.setdefault((record["meter_serial"], tested.astimezone(dt.UTC)), []).append(
            (line, record)
        )
    tests: list[AccuracyTest] = []
    lines: list[int] = []
    for (serial, tested), rows in groups.items():
        test = _csv_test(serial, tested, rows, issues)
        if test is not None:
            tests.append(test)
            lines.append(rows[0][0])
    if issues.items:
        raise TestFileRefusedError(f"{file} refused; nothing was stored", issues.items)
    if not tests:
        raise TestFileRefusedError(
            f"{file} refused", [Issue(file, None, None, "meter_shop.empty", "no test rows")]
        )
    return ParsedTestFile(file, CSV_LAYOUT, _hash(data), tuple(tests), tuple(lines))


def _csv_test(
    serial: str, tested: dt.datetime, rows: list[tuple[int, dict[str, str]]], issues: _Issues
) -> AccuracyTest | None:
    before = len(issues.items)
    first_line, first = rows[0]
    for line, record in rows[1:]:
        for name in _TEST_FIELDS:
            if record.get(name, "") != first.get(name, ""):
                issues.add(
                    line,
                    name,
                    "inconsistent_test",
                    f"{record.get(name, '')!r} differs from {first.get(name, '')!r} on line "
                    f"{first_line} of the same test ({serial} at {tested.isoformat()})",
                )
    location = _choice(first["location"], first_line, "location", issues, _LOCATIONS)
    form = _choice(first["form"], first_line, "form", issues, _FORMS)
    current = _choice(first["current_class"], first_line, "current_class", issues, _CURRENT)
    accuracy = _choice(first["accuracy_class"], first_line, "accuracy_class", issues, _ACCURACY)
    calibrated = _date(
        first["test_set_calibrated_on"], first_line, "test_set_calibrated_on", issues
    )
    due = _date(
        first["test_set_calibration_due_on"], first_line, "test_set_calibration_due_on", issues
    )
    results: list[PointResult] = []
    seen: dict[tuple[Stage, TestPoint, str], int] = {}
    for line, record in rows:
        stage = _choice(record["stage"], line, "stage", issues, _STAGES)
        point = _choice(record["point"], line, "point", issues, _POINTS)
        element = record.get("element") or ALL_ELEMENTS
        value = _registration(record["registration_pct"], line, "registration_pct", issues)
        if stage is None or point is None or value is None:
            continue
        key = (stage, point, element)
        if key in seen:
            issues.add(
                line,
                "point",
                "duplicate_point",
                f"{stage.value} {point.value} element {element} already on line {seen[key]}",
            )
            continue
        seen[key] = line
        results.append(PointResult(stage, point, element, value))
    creep = None
    if first.get("creep_pulses"):
        creep = _integer(first["creep_pulses"], first_line, "creep_pulses", issues)
    register = _register(
        [first.get(f"register_{n}_kwh", "") for n in ("start", "end", "reference")],
        ["register_start_kwh", "register_end_kwh", "register_reference_kwh"],
        first_line,
        issues,
    )
    if form is not None:
        _check_elements(form, results, first_line, "element", issues)
    if calibrated is None or due is None:
        return None
    test_set = TestSet(first["test_set_serial"], calibrated, due)
    _check_calibration(test_set, tested, first_line, "tested_at_utc", issues)
    if len(issues.items) > before:
        return None
    if location is None or form is None or current is None or accuracy is None:
        return None
    return AccuracyTest(
        meter_serial=serial,
        tested_at_utc=tested,
        test_set=test_set,
        location=location,
        technician=first["technician"],
        form=form,
        current_class=current,
        accuracy_class=accuracy,
        results=tuple(results),
        creep_pulses=creep,
        register_check=register,
        reason=first.get("reason") or "routine",
    )


def _register(
    raws: Sequence[str], fields: Sequence[str], line: int, issues: _Issues
) -> RegisterCheck | None:
    given = [bool(r) for r in raws]
    if not any(given):
        return None
    if not all(given):
        missing = [f for f, g in zip(fields, given, strict=True) if not g]
        issues.add(line, missing[0], "register_incomplete", "the register check needs all three")
        return None
    values = [_decimal(r, line, f, issues) for r, f in zip(raws, fields, strict=True)]
    if None in values:
        return None
    start, end, reference = (float(v) for v in values if v is not None)
    return RegisterCheck(start, end, reference)


def write_test_csv(tests: Iterable[AccuracyTest]) -> bytes:
    """Write tests in the meterops test CSV layout (the inverse of reading it).

    Args:
        tests: Tests to write.

    Returns:
        UTF-8 CSV bytes with a header row.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([c.name for c in CSV_COLUMNS])
    for test in tests:
        reg = test.register_check
        for result in test.results:
            writer.writerow(
                [
                    test.meter_serial,
                    test.tested_at_utc.astimezone(dt.UTC).isoformat(),
                    test.location.value,
                    test.technician,
                    test.reason,
                    test.form,
                    test.current_class,
                    test.accuracy_class,
                    test.test_set.serial_number,
                    test.test_set.calibrated_on.isoformat(),
                    test.test_set.calibration_due_on.isoformat(),
                    result.stage.value,
                    result.point.value,
                    result.element,
                    repr(result.registration_pct),
                    "" if test.creep_pulses is None else str(test.creep_pulses),
                    "" if reg is None else repr(reg.start_kwh),
                    "" if reg is None else repr(reg.end_kwh),
                    "" if reg is None else repr(reg.reference_kwh),
                ]
            )
    return out.getvalue().encode()


# --------------------------------------------------------------------------------------------
# WECO-style board export

_WECO_LOCATIONS = {"Field": TestLocation.FIELD, "Shop": TestLocation.SHOP}


def _weco_preamble(
    rows: list[tuple[int, list[str]]], file: str, default_timezone: str, issues: _Issues
) -> tuple[TestSet | None, zoneinfo.ZoneInfo | None]:
    values: dict[str, tuple[int, str]] = {}
    known = {c.name for c in WECO_PREAMBLE}
    for line, row in rows:
        key = row[0].strip()
        if key not in known:
            issues.add(line, key, "unknown_preamble_key", f"expected one of {sorted(known)}")
            continue
        values[key] = (line, row[1].strip() if len(row) > 1 else "")
    for column in WECO_PREAMBLE:
        if column.required and not values.get(column.name, (0, ""))[1]:
            if column.name == "Time Zone":
                values[column.name] = (0, default_timezone)
                continue
            issues.add(None, column.name, "required", "preamble line missing or empty")
    zone: zoneinfo.ZoneInfo | None = None
    if "Time Zone" in values:
        line, name = values["Time Zone"]
        try:
            zone = zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            issues.add(line or None, "Time Zone", "unknown_zone", f"{name!r} is not an IANA zone")
    if any(not values.get(n, (0, ""))[1] for n in ("Board Serial", "Standard Cal Date")):
        return None, zone
    if not values.get("Standard Cal Due", (0, ""))[1]:
        return None, zone
    cal_line, cal_raw = values["Standard Cal Date"]
    due_line, due_raw = values["Standard Cal Due"]
    calibrated = _date(cal_raw, cal_line, "Standard Cal Date", issues, us=True)
    due = _date(due_raw, due_line, "Standard Cal Due", issues, us=True)
    if calibrated is None or due is None:
        return None, zone
    model = values.get("Test Board", (0, ""))[1] or None
    return TestSet(values["Board Serial"][1], calibrated, due, model), zone


def _parse_weco(data: bytes, file: str, default_timezone: str) -> ParsedTestFile:
    issues = _Issues(file)
    reader = csv.reader(io.StringIO(_text(data, file), newline=""))
    preamble: list[tuple[int, list[str]]] = []
    header: list[str] | None = None
    header_line = 0
    body: list[tuple[int, list[str]]] = []
    for row in reader:
        line = reader.line_num
        blank = not any(cell.strip() for cell in row)
        if header is None:
            if blank:
                if preamble:
                    header = []  # next non-blank row is the header
                continue
            preamble.append((line, row))
        elif not header:
            if not blank:
                header = [cell.strip() for cell in row]
                header_line = line
        elif not blank:
            body.append((line, row))
    if not header:
        raise TestFileRefusedError(
            f"{file}: no data header after the preamble",
            [Issue(file, None, None, "meter_shop.header", "a blank line, then the column header")],
        )
    test_set, zone = _weco_preamble(preamble, file, default_timezone, issues)
    known = {c.name for c in WECO_COLUMNS}
    missing = [c.name for c in WECO_COLUMNS if c.required and c.name not in header]
    unknown = [h for h in header if h not in known]
    if missing or unknown:
        detail = "; ".join(
            part
            for part in (
                f"missing {missing}" if missing else "",
                f"unknown columns {unknown}" if unknown else "",
            )
            if part
        )
        issues.add(header_line, None, "header", detail)
        raise TestFileRefusedError(f"{file} refused; nothing was stored", issues.items)
    tests: list[AccuracyTest] = []
    lines: list[int] = []
    seen: dict[tuple[str, dt.datetime], int] = {}
    for line, row in body:
        if len(row) != len(header):
            issues.add(line, None, "row_length", f"{len(row)} cells, header has {len(header)}")
            continue
        record = {h: cell.strip() for h, cell in zip(header, row, strict=True)}
        test = _weco_test(record, line, test_set, zone, issues)
        if test is None:
            continue
        key = (test.meter_serial, test.tested_at_utc)
        if key in seen:
            issues.add(
                line, "Meter ID", "duplicate_test", f"same meter and time as line {seen[key]}"
            )
            continue
        seen[key] = line
        tests.append(test)
        lines.append(line)
    if issues.items:
        raise TestFileRefusedError(f"{file} refused; nothing was stored", issues.items)
    if not tests:
        raise TestFileRefusedError(
            f"{file} refused", [Issue(file, None, None, "meter_shop.empty", "no test rows")]
        )
    return ParsedTestFile(file, WECO_LAYOUT, _hash(data), tuple(tests), tuple(lines))


def _weco_test(
    record: dict[str, str],
    line: int,
    test_set: TestSet | None,
    zone: zoneinfo.ZoneInfo | None,
    issues: _Issues,
) -> AccuracyTest | None:
    before = len(issues.items)
    for column in _WECO_FIXED:
        if column.required and not record.get(column.name):
            issues.add(line, column.name, "required", "a value is required")
    if len(issues.items) > before:
        return None
    day = _date(record["Date"], line, "Date", issues, us=True)
    try:
        clock = dt.time.fromisoformat(record["Time"])
    except ValueError:
        issues.add(line, "Time", "bad_time", f"{record['Time']!r} is not HH:MM:SS")
        clock = None
    location = _choice(record["Test Type"], line, "Test Type", issues, _WECO_LOCATIONS)
    form = _choice(record["Form"], line, "Form", issues, _FORMS)
    current = _choice(record["Class"], line, "Class", issues, _CURRENT)
    accuracy = _choice(record["Acc Class"], line, "Acc Class", issues, _ACCURACY)
    results: list[PointResult] = []
    for prefix, stage in (("AF", Stage.AS_FOUND), ("AL", Stage.AS_LEFT)):
        for point in TestPoint:
            for element in (ALL_ELEMENTS, "A", "B", "C"):
                name = f"{prefix} {point.value}" + (
                    "" if element == ALL_ELEMENTS else f" {element}"
                )
                raw = record.get(name, "")
                if not raw:
                    continue
                value = _registration(raw, line, name, issues)
                if value is not None:
                    results.append(PointResult(stage, point, element, value))
    if not results:
        issues.add(line, "AF FL", "no_results", "no registration in any AF/AL column")
    creep = _integer(record["Creep"], line, "Creep", issues) if record.get("Creep") else None
    register = _register(
        [record.get(n, "") for n in ("Reg Start", "Reg End", "Reg Std")],
        ["Reg Start", "Reg End", "Reg Std"],
        line,
        issues,
    )
    if form is not None:
        _check_elements(form, results, line, "Form", issues)
    if day is None or clock is None or zone is None or test_set is None:
        return None
    tested = dt.datetime.combine(day, clock, tzinfo=zone).astimezone(dt.UTC)
    _check_calibration(test_set, dt.datetime.combine(day, clock), line, "Date", issues)
    if len(issues.items) > before:
        return None
    if location is None or form is None or current is None or accuracy is None:
        return None
    return AccuracyTest(
        meter_serial=record["Meter ID"],
        tested_at_utc=tested,
        test_set=test_set,
        location=location,
        technician=record["Tech"],
        form=form,
        current_class=current,
        accuracy_class=accuracy,
        results=tuple(results),
        creep_pulses=creep,
        register_check=register,
        reason=record.get("Reason") or "routine",
    )


# --------------------------------------------------------------------------------------------
# Documentation


def _table(columns: Sequence[ColumnDoc]) -> list[str]:
    lines = ["| column | required | value | meaning |", "|---|---|---|---|"]
    lines += [
        f"| `{c.name}` | {'yes' if c.required else 'no'} | {c.kind} | {c.description} |"
        for c in columns
    ]
    return lines


def render_markdown() -> str:
    """The file-layout reference for ``docs/meter-shop.md`` (between the DOC markers)."""
    weco_columns = [c for c in WECO_COLUMNS if c not in _WECO_ELEMENTS]
    lines = [
        f"#### meterops test CSV (`{CSV_LAYOUT}`)",
        "",
        "One row per measured point; rows with the same `meter_serial` and `tested_at_utc`",
        "form one test, and their test-level columns must agree.",
        "",
        *_table(CSV_COLUMNS),
        "",
        f"#### WECO-style board export (`{WECO_LAYOUT}`)",
        "",
        "Preamble (`key,value` lines, then one blank line):",
        "",
        *_table(WECO_PREAMBLE),
        "",
        "Data rows (one per meter; columns in any order):",
        "",
        *_table(weco_columns),
        (
            "| `AF FL A` … `AL PF C` | no | decimal | Per-element runs of polyphase meters "
            "(stage, point, element A/B/C). [%] |"
        ),
    ]
    return "\n".join(lines)
