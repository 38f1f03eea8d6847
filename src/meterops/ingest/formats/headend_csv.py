"""Head-end CSV: interval reads, register reads, events, comm stats and topology (read, write).

One documented column set per kind (``docs/formats/headend-csv.md``): the columns of the
matching ``reads/schema.py`` ``PARSED_*`` contract minus ``source_line``, with a header row
naming them (any order). Timestamps are ISO 8601 with an offset (``Z`` or ``±hh:mm``) and
are stored as UTC; a timestamp without an offset is refused rather than guessed. Text may be
quoted with ``"``; a quoted field may not span lines. Files are read with Polars' CSV reader
over the whole file and checked column by column.

Pure module: standard library, numpy, polars and pure meterops modules only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import BinaryIO, Final

import numpy as np
import polars as pl

from meterops.ingest.formats import _csv_fast, _time
from meterops.ingest.formats._common import (
    KNOWN_CHANNELS,
    IssueLog,
    bad_utf8_lines,
    contract_frame,
    first_bad_utf8,
    normalise_newlines,
    read_input,
    read_path,
    strip_bom,
)
from meterops.ingest.formats.base import ParsedBatch
from meterops.kit.frames import FrameContract
from meterops.nomenclature import Severity
from meterops.reads.schema import (
    PARSED_COMM_STATS,
    PARSED_EVENTS,
    PARSED_INTERVAL_READS,
    PARSED_REGISTER_READS,
    PARSED_TOPOLOGY,
)

__all__ = [
    "KINDS",
    "columns_of",
    "parse_headend_csv",
    "read_headend_csv",
    "sniff_headend_csv",
    "sniff_headend_kind",
    "write_headend_csv",
]

KINDS: Final[Mapping[str, FrameContract]] = MappingProxyType(
    {
        "interval_reads": PARSED_INTERVAL_READS,
        "register_reads": PARSED_REGISTER_READS,
        "events": PARSED_EVENTS,
        "comm_stats": PARSED_COMM_STATS,
        "topology": PARSED_TOPOLOGY,
    }
)
"""File kind → the frame contract whose columns (minus ``source_line``) the file has."""

_WRITE_FORMAT: Final = "%Y-%m-%dT%H:%M:%S%.6fZ"
_MAX_ABS_VALUE: Final = 1e12
_NON_NEGATIVE: Final = frozenset(
    {
        "kwh_delivered",
        "kwh_received",
        "kvarh_delivered",
        "kw_demand",
        "gas_therm_delivered",
        "water_ft3_delivered",
    }
)
_ENUMS: Final[Mapping[str, frozenset[str]]] = MappingProxyType(
    {
        "severity": frozenset(s.value for s in Severity),
        "node_kind": frozenset({"meter", "router", "collector"}),
        "status": frozenset({"up", "down", "unknown"}),
    }
)
_CIM_CODE: Final = r"^\d{1,5}\.\d{1,5}\.\d{1,5}\.\d{1,5}$"
_Flag = Callable[[pl.Expr, str, str, "pl.Expr | str"], None]


def columns_of(kind: str) -> list[str]:
    """The documented columns of a kind, in canonical order.

    Examples:
        >>> columns_of("topology")[:3]
        ['node_id', 'node_kind', 'parent_node']
    """
    return [c for c in KINDS[kind].names if c != "source_line"]


def sniff_headend_kind(head: bytes) -> str | None:
    r"""The kind whose column set the header row has, or None.

    Examples:
        >>> sniff_headend_kind(b"node_id,node_kind,parent_node,hop_count,rssi_dbm,"
        ...                    b"observed_at_utc,status\n")
        'topology'
    """
    first = normalise_newlines(strip_bom(head)).split(b"\n", 1)[0]
    try:
        names = {n.strip().strip('"') for n in first.decode("utf-8").split(",")}
    except UnicodeDecodeError:
        return None
    for kind in KINDS:
        if names == set(columns_of(kind)):
            return kind
    return None


def sniff_headend_csv(head: bytes) -> bool:
    """True when the header row is one of the documented head-end CSV column sets."""
    return sniff_headend_kind(head) is not None


def read_headend_csv(
    path: str | Path, *, kind: str | None = None, strict: bool = False
) -> ParsedBatch:
    """Read a head-end CSV file from ``path``; see :func:`parse_headend_csv`."""
    data, name = read_path(path)
    return parse_headend_csv(data, name=name, kind=kind, strict=strict)


def parse_headend_csv(
    stream: bytes | BinaryIO,
    *,
    name: str,
    kind: str | None = None,
    strict: bool = False,
    allow_empty: bool = False,
    fast: bool = True,
) -> ParsedBatch:
    r"""Parse a head-end CSV file of one documented kind.

    Interval-read files in the documented column order without any issue take a compiled
    one-pass scanner (:mod:`meterops.ingest.formats._csv_fast`, same result); everything
    else, including every malformed file, takes the reference path (Polars' CSV reader).

    Args:
        stream: File bytes or a binary stream.
        name: File name used in issues.
        kind: One of :data:`KINDS`; None detects it from the header row.
        strict: Raise at the first issue instead of collecting issues.
        allow_empty: Return an empty frame (with the issues) instead of raising when no row
            is usable: for a batch of lines of a bigger file (ingest decides for the file).
        fast: Try the compiled fast path first; False always takes the reference path (the
            property tests compare the two).

    Returns:
        The kind's frame filled; ``rows_in_file`` counts data rows.

    Raises:
        ParseError: Unknown header, unbalanced quotes, strict mode with an issue, or rows of
            which none is usable (unless ``allow_empty``). A file with a documented header
            and no data row is a valid empty delivery: empty frame, ``rows_in_file`` 0.

    Examples:
        >>> text = b"serial_number,channel,interval_start_utc,interval_s,value,quality_flags,"
        >>> text += b"source_quality\nM1,kwh_delivered,2024-01-01T00:00:00Z,900,0.5,0,\n"
        >>> parse_headend_csv(text, name="r.csv").interval_reads["value"].to_list()
        [0.5]
    """
    issues = IssueLog(name, strict=strict)
    data = normalise_newlines(strip_bom(read_input(stream)))
    if fast and kind in (None, "interval_reads"):
        quick = _csv_fast.parse(data, channels=KNOWN_CHANNELS, non_negative=_NON_NEGATIVE)
        if quick is not None:
            return ParsedBatch(
                source_name=name,
                format="headend_csv",
                issues=issues.finish(),
                rows_in_file=quick[1],
                interval_reads=quick[0],
            )
    detected = sniff_headend_kind(data[:65536])
    if kind is None:
        if detected is None:
            raise issues.whole_file(
                "header.unknown",
                "the header row is not one of the documented column sets "
                f"({', '.join(KINDS)}); see docs/formats/headend-csv.md",
                field="header",
            )
        kind = detected
    if kind not in KINDS:
        msg = f"unknown head-end CSV kind {kind!r}; expected one of {sorted(KINDS)}"
        raise ValueError(msg)
    expected = columns_of(kind)
    end = data.find(b"\n")
    header_line = data if end < 0 else data[:end]  # (split() would copy the whole file)
    header = [n.strip().strip('"') for n in header_line.decode("utf-8", "replace").split(",")]
    if sorted(header) != sorted(expected):
        missing = sorted(set(expected) - set(header))
        extra = sorted(set(header) - set(expected))
        raise issues.whole_file(
            "header.columns",
            f"{kind} needs columns {expected}; missing {missing}, unexpected {extra}",
            field="header",
        )
    data, excluded = _unreadable_lines(data, issues)
    try:
        raw = _read_rows(data, header)
    except pl.exceptions.PolarsError as error:
        raise issues.whole_file(
            "file.unreadable", f"the CSV reader refused the file: {error}", field="record"
        ) from error
    raw = raw.with_columns(pl.Series("line", np.arange(2, raw.height + 2, dtype=np.int64)))
    rows_in_file = int((~raw["__blank"]).sum()) + len(excluded)
    raw = raw.filter(~pl.col("__blank") & ~pl.col("line").is_in(excluded))
    frame = _typed(raw, kind, issues)
    if frame.is_empty() and not allow_empty and not issues.is_empty_delivery(rows_in_file):
        raise issues.whole_file("file.no_records", f"no usable {kind} row in the file")
    return ParsedBatch(
        source_name=name,
        format="headend_csv",
        issues=issues.finish(),
        rows_in_file=rows_in_file,
        **{kind: contract_frame(frame, KINDS[kind])},
    )


def _unreadable_lines(data: bytes, issues: IssueLog) -> tuple[bytes, list[int]]:
    """Blank out lines that are not UTF-8 (with an issue); refuse quotes spanning lines."""
    excluded: list[int] = []
    if first_bad_utf8(data) is not None:
        for line in bad_utf8_lines(data):
            issues.add(line, "record", "encoding.not_utf8", "line holds bytes that are not UTF-8")
            excluded.append(line)
        lines = data.split(b"\n")
        for line in excluded:
            lines[line - 1] = b""
        data = b"\n".join(lines)
    if b'"' in data:
        buffer = np.frombuffer(data, dtype=np.uint8)
        quotes = np.cumsum(buffer == 34)
        ends = np.append(np.flatnonzero(buffer == 10), buffer.size - 1)
        per_line = np.diff(np.concatenate([[0], quotes[ends]]))
        odd = np.flatnonzero(per_line % 2 == 1)
        if odd.size:
            raise issues.whole_file(
                "record.unbalanced_quote",
                f"line {int(odd[0]) + 1} has an unbalanced quote "
                "(quoted fields may not span lines)",
                field="record",
            )
    return data, excluded


def _read_rows(data: bytes, header: list[str]) -> pl.DataFrame:
    names = [*header, "__extra"]
    schema = dict.fromkeys(names, pl.String)
    newline = data.find(b"\n")
    if newline < 0 or newline == len(data) - 1:
        frame = pl.DataFrame(schema=schema)
    else:
        # Fields a short row lacks read as empty, like empty fields: trailing optional fields
        # may be omitted, and a missing required field is reported as missing.
        frame = pl.read_csv(
            data,
            has_header=False,
            skip_rows=1,
            schema=schema,
            truncate_ragged_lines=True,
            empty_string_is_null=False,
            missing_columns="insert",
            quote_char='"',
            raise_if_empty=False,
        )
    blank = pl.all_horizontal(pl.col(names).fill_null("") == "")
    return frame.with_columns(blank.alias("__blank"))


def _typed(raw: pl.DataFrame, kind: str, issues: IssueLog) -> pl.DataFrame:
    """Cast every column once, evaluate every rule in one pass, report each row's first."""
    contract = KINDS[kind]
    specs = [spec for spec in contract if spec.name != "source_line"]
    text = {spec.name: pl.col(spec.name).fill_null("") for spec in specs}
    casts: list[pl.Expr] = []
    for spec in specs:
        column = text[spec.name]
        if spec.dtype == pl.String:
            casts.append(pl.when(column == "").then(None).otherwise(column).alias(spec.name))
        elif isinstance(spec.dtype, pl.Datetime):
            casts.append(
                column.map_batches(_time.parse_iso_utc, return_dtype=spec.dtype).alias(spec.name)
            )
        else:
            casts.append(column.cast(spec.dtype, strict=False).alias(spec.name))
    typed = raw.select(pl.col("line").alias("source_line"), *casts)
    rules: list[tuple[pl.Expr, str, str, pl.Expr]] = []

    def rule(condition: pl.Expr, field: str, code: str, message: pl.Expr | str) -> None:
        rules.append(
            (
                condition.fill_null(value=True),
                field,
                code,
                pl.lit(message) if isinstance(message, str) else message,
            )
        )

    rule(
        pl.col("__extra").fill_null("") != "",
        "record",
        "record.too_many_fields",
        f"more fields than the {len(specs)} columns of {kind}",
    )
    for spec in specs:
        given = pl.col(f"{spec.name}__text")
        value = pl.col(spec.name)
        hint = " with an offset (Z or ±hh:mm)" if isinstance(spec.dtype, pl.Datetime) else ""
        if not spec.nullable:
            rule(given == "", spec.name, f"{spec.name}.missing", f"{spec.name} is required")
        rule(
            (given != "") & value.is_null(),
            spec.name,
            f"{spec.name}.invalid",
            pl.format(f"'{{}}' is not a valid {spec.dtype}{hint}", given),
        )
        present = value.is_not_null()
        if spec.dtype == pl.Float64:
            rule(
                present & (~value.is_finite() | (value.abs() > _MAX_ABS_VALUE)),
                spec.name,
                f"{spec.name}.out_of_range",
                "the number is not finite or too large",
            )
        elif spec.dtype in (pl.Int32, pl.Int16) and spec.name != "rssi_dbm":
            rule(
                present & (value < 0),
                spec.name,
                f"{spec.name}.negative",
                "the number may not be negative",
            )
        elif spec.name in _ENUMS:
            allowed = sorted(_ENUMS[spec.name])
            rule(
                present & ~value.is_in(allowed),
                spec.name,
                f"{spec.name}.unknown",
                pl.format(f"'{{}}' is not one of {allowed}", value),
            )
    _kind_rules(kind, rule)
    both = pl.concat(
        [typed, raw.select("__extra", *[text[n].alias(f"{n}__text") for n in text])],
        how="horizontal",
    )
    # Each row's first broken rule (null when none), in one pass; strings only for bad rows.
    first_rule = both.select(
        pl.coalesce(
            pl.when(cond).then(pl.lit(i, pl.Int32)) for i, (cond, *_) in enumerate(rules)
        ).alias("rule")
    ).to_series()
    good = first_rule.is_null()
    if not good.all():
        picked = both.filter(~good)
        kinds = first_rule.filter(~good).to_numpy()
        messages = [picked.with_columns(rules[r][3].alias("__m"))["__m"] for r in range(len(rules))]
        issues.add_frame(
            pl.DataFrame(
                {
                    "line": picked["source_line"],
                    "field": [rules[r][1] for r in kinds],
                    "code": [rules[r][2] for r in kinds],
                    "message": [messages[r][i] for i, r in enumerate(kinds)],
                }
            )
        )
        return typed.filter(good)
    return typed


def _kind_rules(kind: str, rule: _Flag) -> None:
    if kind in ("interval_reads", "register_reads"):
        rule(
            ~pl.col("channel").is_in(sorted(KNOWN_CHANNELS)),
            "channel",
            "channel.unknown",
            pl.format("unknown channel '{}'", pl.col("channel")),
        )
        rule(
            pl.col("channel").is_in(sorted(_NON_NEGATIVE)) & (pl.col("value") < 0),
            "value",
            "value.negative",
            "a negative value on a channel that cannot be negative",
        )
    if kind == "interval_reads":
        rule(
            pl.col("interval_s") == 0,
            "interval_s",
            "interval_s.zero",
            "interval length must be positive",
        )
    if kind == "events":
        rule(
            ~pl.col("cim_event_type").str.contains(_CIM_CODE),
            "cim_event_type",
            "cim_event_type.invalid",
            "expected type.domain.subDomain.eventOrAction integers",
        )
        details = pl.col("details")
        rule(
            details.is_not_null() & ~(details.str.starts_with("{") & details.str.ends_with("}")),
            "details",
            "details.not_json_object",
            "details must be a JSON object",
        )


def write_headend_csv(
    frame: pl.DataFrame,
    *,
    kind: str,
    path: str | Path | None = None,
    neutralise_formulas: bool = False,
) -> bytes:
    r"""Write a frame as a head-end CSV file of ``kind`` (columns in documented order).

    Args:
        frame: A frame with the kind's columns (``source_line`` and extra columns ignored).
        kind: One of :data:`KINDS`.
        path: Also write the bytes to this file.
        neutralise_formulas: For files people open in a spreadsheet: prefix ``'`` to text
            cells that start with ``=``, ``+``, ``-``, ``@``, tab or carriage return (OWASP CSV
            injection). Leave False for machine exchange (it changes the text).

    Returns:
        The file's bytes (UTF-8, ``\n`` line ends, UTC timestamps with ``Z``).

    Raises:
        ValueError: Unknown kind.

    Examples:
        >>> from datetime import datetime, UTC
        >>> f = pl.DataFrame({"node_id": ["C1"], "node_kind": ["collector"],
        ...     "parent_node": [None], "hop_count": [0], "rssi_dbm": [None],
        ...     "observed_at_utc": [datetime(2024, 1, 1, tzinfo=UTC)], "status": ["up"]})
        >>> write_headend_csv(f, kind="topology").decode().splitlines()[1]
        'C1,collector,,0,,2024-01-01T00:00:00.000000Z,up'
    """
    if kind not in KINDS:
        msg = f"unknown head-end CSV kind {kind!r}; expected one of {sorted(KINDS)}"
        raise ValueError(msg)
    columns = columns_of(kind)
    selected = frame.select(columns)
    if neutralise_formulas:
        text = [c for c, dtype in selected.schema.items() if dtype == pl.String]
        selected = selected.with_columns(
            pl.when(pl.col(c).str.contains(r"^[=+\-@\t\r]"))
            .then(pl.concat_str([pl.lit("'"), pl.col(c)]))
            .otherwise(pl.col(c))
            .alias(c)
            for c in text
        )
    out = selected.write_csv(
        datetime_format=_WRITE_FORMAT, quote_style="necessary", line_terminator="\n"
    ).encode("utf-8")
    if path is not None:
        Path(path).write_bytes(out)
    return out
