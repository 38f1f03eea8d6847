"""Parse and validate one fleet CSV file into a typed frame, collecting every located issue.

Validation is vectorised over columns (polars); each issue names the file, the physical line
and the field. Cross-file references (a premise that must exist) are the import service's job,
since they need the database.

Pure module: standard library, polars and pure meterops modules.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePath

import polars as pl

from meterops.errors import Issue
from meterops.fleet.spec import KINDS, ColumnType, FleetColumn, FleetFileKind
from meterops.nomenclature import SERVICE_TYPES, ServiceType, compatible_forms

__all__ = ["LINE", "ParsedFleetFile", "detect_kind", "parse_fleet_csv"]

LINE = "_line"
"""Name of the column holding each row's physical line number."""

_TRUE = frozenset({"true", "yes", "y", "1", "t"})
_FALSE = frozenset({"false", "no", "n", "0", "f"})


@dataclass(slots=True)
class ParsedFleetFile:
    """A fleet file after parsing.

    Attributes:
        kind: The file's kind.
        file: File name used in issues.
        sha256: Hex digest of the file's bytes (the journal's identity of the file).
        frame: Typed rows without issues, one column per spec column plus ``_line``.
        rows: Data rows in the file.
        issues: Every problem found.
        header: Column names as the file gives them.
    """

    kind: FleetFileKind
    file: str
    sha256: str
    frame: pl.DataFrame
    rows: int
    issues: list[Issue] = field(default_factory=list)
    header: list[str] = field(default_factory=list)


def detect_kind(file: str, header: list[str]) -> str | None:
    """Which fleet kind a file is: by its stem (``meters.csv``), else by its header.

    Examples:
        >>> detect_kind("2024-06/meters.csv", [])
        'meters'
        >>> detect_kind("export.csv", ["account_number", "customer_number", "customer_name",
        ...     "service_point_number", "move_in_date", "rate_code"])
        'accounts'
    """
    stem = PurePath(file).stem.lower()
    if stem in KINDS:
        return stem
    present = set(header)
    candidates = [
        kind.name
        for kind in KINDS.values()
        if set(kind.required) <= present and set(kind.key) <= present
    ]
    if len(candidates) == 1:
        return candidates[0]
    # Several fit (e.g. a minimal file): prefer the one that explains most of the header.
    scored = sorted(candidates, key=lambda k: -len(present & {c.name for c in KINDS[k].columns}))
    return scored[0] if scored else None


def _decode(data: bytes, file: str) -> tuple[str | None, Issue | None]:
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return None, Issue(
            file,
            line,
            None,
            "fleet.encoding",
            f"not UTF-8 text (byte 0x{data[exc.start]:02x} at line {line}); save the file as UTF-8",
        )


def _issues_where(
    frame: pl.DataFrame,
    mask: pl.Expr,
    *,
    file: str,
    column: str,
    code: str,
    message: Callable[[str | None], str],
) -> list[Issue]:
    bad = frame.filter(mask).select(LINE, pl.col(column).alias("_raw"))
    return [Issue(file, line, column, code, message(raw)) for line, raw in bad.iter_rows()]


def _parse_datetime(text: str) -> dt.datetime | None:
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return value.astimezone(dt.UTC) if value.tzinfo is not None else None


def _parse_clock(text: str) -> dt.time | None:
    try:
        return dt.time.fromisoformat(text)
    except ValueError:
        return None


def _convert(frame: pl.DataFrame, column: FleetColumn, file: str) -> tuple[pl.Series, list[Issue]]:
    """Typed values of one column and the issues of cells that do not convert or fit."""
    name = column.name
    raw = pl.col(name)
    present = raw.is_not_null()
    issues: list[Issue] = []

    def fail(mask: pl.Expr, code: str, message: Callable[[str | None], str]) -> None:
        issues.extend(
            _issues_where(
                frame,
                mask.fill_null(value=False),
                file=file,
                column=name,
                code=code,
                message=message,
            )
        )

    if column.required:
        fail(~present, "fleet.required", lambda _: "required value is empty")

    kind = column.type
    value: pl.Expr
    if kind in (ColumnType.INTEGER, ColumnType.NUMBER):
        integer = kind is ColumnType.INTEGER
        value = raw.cast(pl.Int64 if integer else pl.Float64, strict=False)
        word = "a whole number" if integer else "a number"
        fail(
            present & value.is_null(),
            "fleet.not_a_number",
            lambda cell: f"expected {word}, found {cell!r}",
        )
        if not integer:
            fail(
                value.is_nan() | value.is_infinite(),
                "fleet.not_finite",
                lambda cell: f"expected a finite number, found {cell!r}",
            )
            value = pl.when(value.is_finite()).then(value)
        if column.minimum is not None:
            fail(
                value < column.minimum,
                "fleet.out_of_range",
                lambda cell: f"must be at least {column.minimum:g}, found {cell}",
            )
        if column.maximum is not None:
            fail(
                value > column.maximum,
                "fleet.out_of_range",
                lambda cell: f"must be at most {column.maximum:g}, found {cell}",
            )
    elif kind is ColumnType.BOOLEAN:
        lowered = raw.str.to_lowercase()
        fail(
            present & ~lowered.is_in(_TRUE | _FALSE),
            "fleet.not_a_boolean",
            lambda cell: f"expected true or false, found {cell!r}",
        )
        value = pl.when(lowered.is_in(_TRUE)).then(True).when(lowered.is_in(_FALSE)).then(False)
    elif kind is ColumnType.DATE:
        value = raw.str.to_date("%Y-%m-%d", strict=False)
        fail(
            present & value.is_null(),
            "fleet.not_a_date",
            lambda cell: f"expected a date YYYY-MM-DD, found {cell!r}",
        )
    elif kind in (ColumnType.DATETIME, ColumnType.CLOCK):
        # ISO 8601 with and without offsets: parsed per cell (fleet files are small enough).
        parse = _parse_datetime if kind is ColumnType.DATETIME else _parse_clock
        dtype = pl.Datetime("us", "UTC") if kind is ColumnType.DATETIME else pl.Time()
        typed = pl.Series(name, [None if c is None else parse(c) for c in frame[name]], dtype=dtype)
        value = pl.lit(typed)
        expected = (
            "an ISO 8601 date-time with an offset, e.g. 2024-05-01T14:30:00Z"
            if kind is ColumnType.DATETIME
            else "a local time HH:MM"
        )
        fail(
            present & value.is_null(),
            "fleet.bad_time",
            lambda cell: f"expected {expected}, found {cell!r}",
        )
    elif kind is ColumnType.LIST:
        value = raw.str.split(";").list.eval(
            pl.element().str.strip_chars().filter(pl.element() != "")
        )
        if column.choices is not None:
            allowed = list(column.choices)
            fail(
                present & value.list.eval(~pl.element().is_in(allowed)).list.any(),
                "fleet.bad_choice",
                lambda cell: f"{cell!r} has values outside {allowed}",
            )
    else:
        value = raw
        fail(
            present & (raw.str.len_chars() > column.max_length),
            "fleet.too_long",
            lambda _: f"longer than {column.max_length} characters",
        )
        if column.choices is not None:
            allowed = list(column.choices)
            fail(
                present & ~raw.is_in(allowed),
                "fleet.bad_choice",
                lambda cell: f"expected one of {allowed}, found {cell!r}",
            )
    return frame.select(value.alias(name)).to_series(), issues


def _row_rules(kind: str, frame: pl.DataFrame, file: str) -> list[Issue]:
    """Rules across columns of one row."""
    checks: list[tuple[pl.Expr, str, str, Callable[[str | None], str]]] = []
    if kind == "meters":
        product = pl.col("ct_ratio").fill_null(1.0) * pl.col("pt_ratio").fill_null(1.0)
        checks += [
            (
                (pl.col("multiplier") - product).abs() > 1e-9 * product,
                "multiplier",
                "fleet.multiplier_mismatch",
                lambda raw: f"multiplier {raw} is not ct_ratio × pt_ratio",
            ),
            (
                pl.col("service_point_number").is_not_null() & pl.col("installed_at").is_null(),
                "installed_at",
                "fleet.required_with",
                lambda _: "required when service_point_number is given",
            ),
            (
                pl.col("service_point_number").is_null()
                & (pl.col("lifecycle_status") == "installed"),
                "service_point_number",
                "fleet.required_with",
                lambda _: "an installed meter needs its service point",
            ),
            (
                pl.col("service_point_number").is_not_null()
                & pl.col("lifecycle_status").is_not_null()
                & (pl.col("lifecycle_status") != "installed"),
                "lifecycle_status",
                "fleet.status_conflict",
                lambda raw: f"status {raw!r} contradicts the service point given",
            ),
        ]
    elif kind == "comm_modules":
        checks.append(
            (
                pl.col("meter_serial").is_not_null() != pl.col("linked_at").is_not_null(),
                "linked_at",
                "fleet.required_with",
                lambda _: "meter_serial and linked_at go together",
            )
        )
    elif kind == "accounts":
        checks.append(
            (
                pl.col("move_out_date") < pl.col("move_in_date"),
                "move_out_date",
                "fleet.date_order",
                lambda raw: f"move-out {raw} is before move-in",
            )
        )
    elif kind == "payment_plans":
        checks.append(
            (
                pl.col("end_date") < pl.col("start_date"),
                "end_date",
                "fleet.date_order",
                lambda raw: f"end date {raw} is before the start date",
            )
        )
    elif kind == "technicians":
        checks.append(
            (
                pl.col("shift_end") <= pl.col("shift_start"),
                "shift_end",
                "fleet.time_order",
                lambda raw: f"shift end {raw} is not after start",
            )
        )
    issues: list[Issue] = []
    for mask, column, code, message in checks:
        issues.extend(
            _issues_where(
                frame,
                mask.fill_null(value=False),
                file=file,
                column=column,
                code=code,
                message=message,
            )
        )
    return issues


def _defaults(kind: str, frame: pl.DataFrame) -> pl.DataFrame:
    if kind != "service_points" or frame.is_empty():
        return frame
    # Derived per distinct (service type, rating), then joined: one lookup per combination.
    combos = frame.select("service_type", "transformer_rated").unique()
    derived = combos.with_columns(
        pl.Series(
            "_forms",
            [
                compatible_forms(ServiceType(st), transformer_rated=bool(tr))
                for st, tr in combos.iter_rows()
            ],
            dtype=pl.List(pl.String),
        ),
        pl.Series(
            "phases",
            [SERVICE_TYPES[ServiceType(st)].phases for st, _ in combos.iter_rows()],
            dtype=pl.Int64,
        ),
        pl.Series(
            "wires",
            [SERVICE_TYPES[ServiceType(st)].wires for st, _ in combos.iter_rows()],
            dtype=pl.Int64,
        ),
    )
    joined = frame.join(
        derived,
        on=["service_type", "transformer_rated"],
        how="left",
        nulls_equal=True,
        maintain_order="left",
    )
    return joined.with_columns(
        pl.when(pl.col("compatible_forms").list.len() > 0)
        .then(pl.col("compatible_forms"))
        .otherwise(pl.col("_forms"))
        .alias("compatible_forms")
    ).drop("_forms")


def parse_fleet_csv(data: bytes, *, file: str, kind: str | None = None) -> ParsedFleetFile:
    """Parse one fleet CSV file.

    Args:
        data: The file's bytes.
        file: Name used in issues (and to detect the kind from the stem).
        kind: Force the kind instead of detecting it.

    Returns:
        The parsed file; ``issues`` lists every problem, ``frame`` only rows without any.
    """
    sha256 = hashlib.sha256(data).hexdigest()
    text, decode_issue = _decode(data, file)
    rows = list(csv.reader(io.StringIO(text or "", newline=""), strict=False)) if text else []
    header = [h.strip() for h in rows[0]] if rows else []
    kind_name = kind or detect_kind(file, header)
    if kind_name is None or kind_name not in KINDS:
        issue = decode_issue or Issue(
            file,
            1,
            None,
            "fleet.unknown_kind",
            "cannot tell which fleet file this is; name it after its kind "
            f"({', '.join(sorted(KINDS))}.csv) or give the kind explicitly",
        )
        return ParsedFleetFile(KINDS["meters"], file, sha256, pl.DataFrame(), 0, [issue])
    spec = KINDS[kind_name]
    if decode_issue is not None:
        return ParsedFleetFile(spec, file, sha256, pl.DataFrame(), 0, [decode_issue])
    issues: list[Issue] = []
    known = {c.name for c in spec.columns}
    issues += [
        Issue(
            file,
            1,
            name,
            "fleet.unknown_column",
            f"unknown column {name!r} for {spec.name}.csv; known columns: {sorted(known)}",
        )
        for name in header
        if name not in known
    ]
    issues += [
        Issue(file, 1, name, "fleet.missing_column", f"required column {name!r} is missing")
        for name in spec.required
        if name not in header
    ]
    if len(set(header)) != len(header):
        issues.append(Issue(file, 1, None, "fleet.duplicate_column", "a column is repeated"))
    if issues:
        return ParsedFleetFile(
            spec, file, sha256, pl.DataFrame(), max(len(rows) - 1, 0), issues, header
        )

    # Physical line numbers: count newlines of each record as the csv module consumed it.
    reader = csv.reader(io.StringIO(text or "", newline=""), strict=False)
    next(reader)
    columns: dict[str, list[str | None]] = {name: [] for name in header}
    lines: list[int] = []
    data_rows = 0
    previous_end = reader.line_num
    for record in reader:
        line = previous_end + 1
        previous_end = reader.line_num
        if not any(cell.strip() for cell in record):
            continue
        data_rows += 1
        if len(record) != len(header):
            issues.append(
                Issue(
                    file,
                    line,
                    None,
                    "fleet.field_count",
                    f"row has {len(record)} fields, the header has {len(header)}",
                )
            )
            continue
        lines.append(line)
        for name, cell in zip(header, record, strict=True):
            stripped = cell.strip()
            columns[name].append(stripped or None)
    frame = pl.DataFrame(
        {
            **{name: pl.Series(name, values, dtype=pl.String) for name, values in columns.items()},
            LINE: pl.Series(LINE, lines, dtype=pl.Int64),
        }
    )
    typed: list[pl.Series] = []
    for column in spec.columns:
        if column.name not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(column.name))
        series, column_issues = _convert(frame, column, file)
        typed.append(series)
        issues += column_issues
    typed_frame = pl.DataFrame([*typed, frame[LINE]])
    issues += _row_rules(spec.name, typed_frame, file)

    key_dups = typed_frame.with_columns(
        pl.col(LINE).min().over(list(spec.key)).alias("_first")
    ).filter(pl.col(LINE) != pl.col("_first"))
    issues += [
        Issue(
            file,
            line,
            spec.key[0],
            "fleet.duplicate_key",
            f"{'/'.join(spec.key)} {key!r} appears again (first on line {first})",
        )
        for line, first, key in key_dups.select(LINE, "_first", spec.key[0]).iter_rows()
    ]
    bad_lines = {i.line for i in issues}
    clean = typed_frame.filter(~pl.col(LINE).is_in(list(bad_lines)))
    issues.sort(key=lambda i: (i.line or 0, i.field or ""))
    return ParsedFleetFile(
        spec, file, sha256, _defaults(spec.name, clean), data_rows, issues, header
    )
