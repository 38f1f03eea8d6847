"""CMEP ``MEPMD01`` interval and register records: read and write (standards.md §1).

CMEP (California Metering Exchange Protocol V4.1) is a header-less CSV; each ``MEPMD01``
line holds 14 header fields and ``Count`` triplets ``(CCYYMMDDHHMM, protocol text, value)``.

Time rule. CMEP stamps interval *ends* in the sender's local time without an offset. The
triplets of one line are consecutive intervals, so only the first stamp is localised; every
other interval end is ``first + n × interval`` in UTC, and each explicit stamp must equal that
instant's local wall time. A first stamp inside the repeated fall-back hour is resolved by
the stamps that follow it (only one of the two candidates fits them); if both fit, the
``ambiguous`` rule decides (``"raise"``, the default, rejects the line). ``24:00`` means
midnight at the end of the day. Register reads (``…REG`` units or interval ``00000000``)
are point-in-time and each stamp is localised on its own under the same rule.

Values are multiplied by the calculation constant (field 12) and the unit's scale
(:data:`CMEP_UNITS`). Protocol text maps to quality flags per sender
(:data:`DEFAULT_PROTOCOL_FLAGS`); unknown text is kept in ``source_quality`` and flagged
``SOURCE_SUSPECT``. Calendar-month intervals (``01000000``) are refused (not yet supported).

Pure module: standard library, numpy, polars and pure meterops modules only.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import BinaryIO, Final, NamedTuple
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from meterops.ingest.formats import _cmep_fast, _cmep_time, _text, _time
from meterops.ingest.formats import _cmep_writer as _writer
from meterops.ingest.formats._common import (
    EDITED,
    ESTIMATED,
    MISSING,
    SUSPECT,
    IssueLog,
    bad_utf8_lines,
    contract_frame,
    first_bad_utf8,
    normalise_newlines,
    read_input,
    read_path,
    scale_pow10,
    strip_bom,
)
from meterops.ingest.formats.base import ParsedBatch
from meterops.reads.schema import PARSED_INTERVAL_READS, PARSED_REGISTER_READS

__all__ = [
    "CMEP_UNITS",
    "DEFAULT_PROTOCOL_FLAGS",
    "MEPMD01",
    "CmepUnit",
    "parse_cmep",
    "read_cmep",
    "sniff_cmep",
    "write_cmep",
]


class MEPMD01(NamedTuple):
    """The 14 header fields of a ``MEPMD01`` record (1-based field numbers in comments)."""

    record_type: str  # 1, literal MEPMD01
    record_version: str  # 2, CCYYMMDD
    sender_id: str  # 3
    sender_customer_id: str  # 4
    receiver_id: str  # 5
    receiver_customer_id: str  # 6
    time_stamp: str  # 7, CCYYMMDDHHMM, file creation
    meter_id: str  # 8
    purpose: str  # 9, OK RESEND SUMMARY HISTORY PROFILE TEMPLATE
    commodity: str  # 10, E G W S
    units: str  # 11
    calculation_constant: str  # 12
    interval: str  # 13, MMDDHHMM
    triplet_count: str  # 14


_FIELD_NAMES: Final = MEPMD01._fields
_HEADER_FIELDS: Final = len(_FIELD_NAMES)


class CmepUnit(NamedTuple):
    """How a CMEP unit maps to a canonical channel.

    Attributes:
        channel: Canonical channel name.
        scale: Factor from the file's unit to the channel's unit (Wh → kWh is 0.001).
        register: True for cumulative register channels (``…REG``).
    """

    channel: str
    scale: float
    register: bool


CMEP_UNITS: Final[Mapping[tuple[str, str], CmepUnit]] = MappingProxyType(
    {
        ("E", "KWH"): CmepUnit("kwh_delivered", 1.0, register=False),
        ("E", "WH"): CmepUnit("kwh_delivered", 0.001, register=False),
        ("E", "KW"): CmepUnit("kw_demand", 1.0, register=False),
        ("E", "KVARH"): CmepUnit("kvarh_delivered", 1.0, register=False),
        ("E", "KWHREG"): CmepUnit("kwh_delivered", 1.0, register=True),
        ("E", "WHREG"): CmepUnit("kwh_delivered", 0.001, register=True),
        ("E", "KVARHREG"): CmepUnit("kvarh_delivered", 1.0, register=True),
        ("W", "CF"): CmepUnit("water_ft3_delivered", 1.0, register=False),
        ("W", "CFREG"): CmepUnit("water_ft3_delivered", 1.0, register=True),
    }
)
"""(commodity, units) → channel, scale and register flag. Extend per sender with ``units=``."""

DEFAULT_PROTOCOL_FLAGS: Final[Mapping[str, int]] = MappingProxyType(
    {
        "": 0,  # validated / normal
        "R": 0,  # raw (not validated)
        "R0": 0,  # Sensus raw
        "A": EDITED,  # adjusted (CMEP V4.1); some generators mean "actual": override per sender
        "E": ESTIMATED,
        "N": MISSING,  # no data
    }
)
"""Protocol text → ``quality_flags``. Unknown text → ``SOURCE_SUSPECT`` (kept as received)."""

OTHER_RECORD_TYPES: Final = frozenset({"MEPMD02", "MEPAD01", "MEPAD02", "MEPEC01", "MLA01"})
"""CMEP record types that are skipped without an issue (no interval or register data)."""

_REGISTER_INTERVAL: Final = "00000000"
_ISSUE_SCHEMA: Final = {
    "line_index": pl.Int64,
    "field": pl.String,
    "code": pl.String,
    "message": pl.String,
}
_MAX_ABS_VALUE: Final = 1e12
_NON_NEGATIVE_KINDS: Final = frozenset(
    {"kwh_delivered", "kwh_received", "kvarh_delivered", "kw_demand", "water_ft3_delivered"}
)
_US: Final = 1_000_000


def sniff_cmep(head: bytes) -> bool:
    """True when ``head`` starts like a CMEP file.

    Examples:
        >>> sniff_cmep(b"MEPMD01,19970819,SENSUS,,,")
        True
        >>> sniff_cmep(b"100,NEM12,200405011135")
        False
    """
    text = strip_bom(head).lstrip()
    return any(text.startswith(f"{r},".encode()) for r in ("MEPMD01", *OTHER_RECORD_TYPES))


def read_cmep(
    path: str | Path,
    *,
    strict: bool = False,
    zone: ZoneInfo,
    ambiguous: _time.Ambiguity = "raise",
    protocol_flags: Mapping[str, int] | None = None,
    units: Mapping[tuple[str, str], CmepUnit] | None = None,
) -> ParsedBatch:
    """Read a CMEP file from ``path``; see :func:`parse_cmep`."""
    data, name = read_path(path)
    return parse_cmep(
        data,
        name=name,
        strict=strict,
        zone=zone,
        ambiguous=ambiguous,
        protocol_flags=protocol_flags,
        units=units,
    )


def parse_cmep(
    stream: bytes | BinaryIO,
    *,
    name: str,
    strict: bool = False,
    zone: ZoneInfo,
    ambiguous: _time.Ambiguity = "raise",
    protocol_flags: Mapping[str, int] | None = None,
    units: Mapping[tuple[str, str], CmepUnit] | None = None,
    allow_empty: bool = False,
    fast: bool = True,
) -> ParsedBatch:
    """Parse CMEP ``MEPMD01`` records into interval and register reads.

    Files of plain interval lines without any issue take a compiled one-pass scanner
    (:mod:`meterops.ingest.formats._cmep_fast`, same result); everything else, including
    every malformed file, takes the reference path below.

    Args:
        stream: File bytes or a binary stream.
        name: File name used in issues.
        strict: Raise at the first issue instead of collecting issues.
        zone: The sender's local time zone (CMEP times carry no offset).
        ambiguous: Rule for a fall-back-hour stamp that the sequence cannot resolve.
        protocol_flags: Sender's protocol text → flags (default :data:`DEFAULT_PROTOCOL_FLAGS`).
        units: Extra or overriding (commodity, units) mappings, merged over :data:`CMEP_UNITS`.
        allow_empty: Return empty frames (with the issues) instead of raising when no row is
            usable: for a batch of lines of a bigger file (ingest decides for the file).
        fast: Try the compiled fast path first; False always takes the reference path (the
            property tests compare the two).

    Returns:
        Interval reads (interval-beginning UTC) and register reads; ``rows_in_file`` counts
        triplets (a structurally broken line counts as the triplets it appears to hold).

    Raises:
        ParseError: In strict mode at the first issue; when no row is usable (unless
            ``allow_empty``).

    Examples:
        >>> line = b"MEPMD01,19970819,S,,,,202401020000,M1,OK,E,KWH,1,00000015,2,"
        >>> line += b"202401010015,,1.5,202401010030,E,2"
        >>> batch = parse_cmep(line, name="a.cmep", zone=ZoneInfo("UTC"))
        >>> batch.interval_reads.select("interval_start_utc", "value", "quality_flags").rows()
        [(datetime.datetime(2024, 1, 1, 0, 0, tzinfo=zoneinfo.ZoneInfo(key='UTC')), 1.5, 0), \
(datetime.datetime(2024, 1, 1, 0, 15, tzinfo=zoneinfo.ZoneInfo(key='UTC')), 2.0, 1)]
    """
    issues = IssueLog(name, strict=strict)
    data = normalise_newlines(strip_bom(read_input(stream)))
    table = {**CMEP_UNITS, **(units or {})}
    flags_table = dict(DEFAULT_PROTOCOL_FLAGS if protocol_flags is None else protocol_flags)
    if fast:
        quick = _cmep_fast.parse(
            data,
            zone=zone.key,
            units=table,
            flags_table=flags_table,
            non_negative=_NON_NEGATIVE_KINDS,
        )
        if quick is not None:
            return ParsedBatch(
                source_name=name,
                format="cmep",
                interval_reads=quick[0],
                register_reads=PARSED_REGISTER_READS.empty(),
                issues=issues.finish(),
                rows_in_file=quick[1],
            )
    excluded: set[int] = set()
    if first_bad_utf8(data) is not None:
        for line in bad_utf8_lines(data):
            issues.add(line, "record", "encoding.not_utf8", "line holds bytes that are not UTF-8")
            excluded.add(line)
    fields = _text.tokenize(data)
    parsed = _Parser(fields, issues, zone.key, ambiguous, table, flags_table, excluded).run()
    if parsed[0].height + parsed[1].height == 0 and not allow_empty:
        raise issues.whole_file("file.no_records", "no usable MEPMD01 record in the file")
    return ParsedBatch(
        source_name=name,
        format="cmep",
        interval_reads=parsed[0],
        register_reads=parsed[1],
        issues=issues.finish(),
        rows_in_file=parsed[2],
    )


class _Parser:
    """One parse: line checks, triplet extraction, time resolution, frames."""

    def __init__(  # noqa: PLR0917 - private, called once
        self,
        fields: _text.Fields,
        issues: IssueLog,
        zone: str,
        ambiguous: _time.Ambiguity,
        table: Mapping[tuple[str, str], CmepUnit],
        flags_table: Mapping[str, int],
        excluded: set[int],
    ) -> None:
        self.f = fields
        self.issues = issues
        self.zone = zone
        self.ambiguous = ambiguous
        self.table = table
        self.flags_table = flags_table
        self.excluded = excluded
        self.rows_in_file = 0

    def _line_issues(self, lines: np.ndarray, field: str, code: str, message: str) -> None:
        self._add(
            pl.DataFrame(
                {
                    "line_index": lines,
                    "field": [field] * lines.size,
                    "code": [code] * lines.size,
                    "message": [message] * lines.size,
                },
                schema=_ISSUE_SCHEMA,
            )
        )

    def _add(self, frame: pl.DataFrame) -> None:
        """Add issues from a frame keyed by ``line_index`` (index into the file's lines)."""
        if frame.height:
            self.issues.add_frame(
                frame.with_columns(
                    pl.Series("line", self.f.line_number[frame["line_index"].to_numpy()])
                )
            )

    def run(self) -> tuple[pl.DataFrame, pl.DataFrame, int]:
        f = self.f
        count = f.line_count
        blank = (count == 1) & (f.ends[f.line_first] == f.starts[f.line_first])
        lines = np.flatnonzero(~blank & ~np.isin(f.line_number, list(self.excluded)))
        record = f.strings(f.line_first[lines]).str.strip_chars(" ")
        is_md = (record == "MEPMD01").fill_null(value=False).to_numpy()
        other = record.is_in(list(OTHER_RECORD_TYPES)).fill_null(value=False).to_numpy()
        unknown = lines[~is_md & ~other]
        self.rows_in_file += unknown.size + len(self.excluded)
        self._line_issues(
            unknown,
            "record_type",
            "record.unknown_type",
            "expected a CMEP record type such as MEPMD01",
        )
        md = lines[is_md]
        short = md[count[md] < _HEADER_FIELDS]
        self.rows_in_file += short.size
        self._line_issues(
            short,
            "count",
            "record.too_few_fields",
            f"a MEPMD01 record needs at least {_HEADER_FIELDS} header fields",
        )
        md = md[count[md] >= _HEADER_FIELDS]
        return self._records(md)

    def _header(self, lines: np.ndarray) -> pl.DataFrame:
        f = self.f
        columns = {
            name: f.strings(f.field(lines, i)).str.strip_chars(" ")
            for i, name in enumerate(_FIELD_NAMES)
            if i in (7, 9, 10, 11, 12)
        }
        columns["count"] = f.strings(f.field(lines, 13)).str.strip_chars(" ")
        return pl.DataFrame(columns).with_columns(
            pl.Series("line_index", lines),
            pl.Series("n_fields", f.line_count[lines]),
        )

    def _records(self, lines: np.ndarray) -> tuple[pl.DataFrame, pl.DataFrame, int]:
        head = self._header(lines)
        units_known = pl.DataFrame(
            [(c, u, m.channel, m.scale, m.register) for (c, u), m in self.table.items()],
            schema=["commodity", "units_key", "channel", "scale", "register"],
            orient="row",
        )
        head = head.with_columns(
            pl.col("count").cast(pl.Int64, strict=False).alias("n"),
            pl.col("units").str.to_uppercase().alias("units_key"),
            pl.col("commodity").str.to_uppercase(),
            pl.when(pl.col("calculation_constant") == "")
            .then(pl.lit("1"))
            .otherwise(pl.col("calculation_constant"))
            .cast(pl.Float64, strict=False)
            .alias("constant"),
        ).join(units_known, on=["commodity", "units_key"], how="left", maintain_order="left")
        interval = head["interval"]
        code = interval.cast(pl.Int64, strict=False)
        head = head.with_columns(
            ((code // 1_000_000) % 100).alias("months"),
            ((code // 10_000 % 100) * 1440 + (code // 100 % 100) * 60 + code % 100).alias(
                "minutes"
            ),
            (interval.str.len_bytes() == 8).alias("interval_ok"),
        )
        checks: list[tuple[pl.Expr, str, str, pl.Expr]] = [
            (
                pl.col("meter_id") == "",
                "meter_id",
                "meter_id.missing",
                pl.lit("the meter ID (field 8) is empty"),
            ),
            (
                pl.col("n").is_null() | (pl.col("n") < 1),
                "count",
                "count.invalid",
                pl.format("Count must be a positive integer, found '{}'", pl.col("count")),
            ),
            (
                pl.col("n_fields") != _HEADER_FIELDS + 3 * pl.col("n"),
                "count",
                "record.field_count",
                pl.format(
                    "Count {} means {} fields but the line has {}",
                    pl.col("n"),
                    _HEADER_FIELDS + 3 * pl.col("n"),
                    pl.col("n_fields"),
                ),
            ),
            (
                pl.col("channel").is_null(),
                "units",
                "units.unknown",
                pl.format(
                    "unknown units '{}' for commodity '{}'; known: {}",
                    pl.col("units"),
                    pl.col("commodity"),
                    pl.lit(", ".join(sorted({u for _, u in self.table}))),
                ),
            ),
            (
                pl.col("constant").is_null()
                | ~pl.col("constant").is_finite()
                | (pl.col("constant") <= 0),
                "calculation_constant",
                "constant.invalid",
                pl.format(
                    "calculation constant must be a positive number, found '{}'",
                    pl.col("calculation_constant"),
                ),
            ),
            (
                ~pl.col("interval_ok") | pl.col("minutes").is_null(),
                "interval",
                "interval.invalid",
                pl.format("interval must be MMDDHHMM digits, found '{}'", pl.col("interval")),
            ),
            (
                (pl.col("months") > 0) & ~pl.col("register").fill_null(value=False),
                "interval",
                "interval.calendar_months",
                pl.format("calendar-month interval '{}' is not supported", pl.col("interval")),
            ),
            (
                (pl.col("minutes") == 0)
                & ~pl.col("register").fill_null(value=False)
                & (pl.col("interval") != _REGISTER_INTERVAL),
                "interval",
                "interval.zero",
                pl.lit("interval is zero"),
            ),
        ]
        bad = pl.lit(value=False)
        found = []
        for condition, field, code_, message in checks:
            hit = condition.fill_null(value=True) & ~bad
            found.append(
                head.filter(hit).select(
                    pl.col("line_index"),
                    pl.lit(field).alias("field"),
                    pl.lit(code_).alias("code"),
                    message.alias("message"),
                )
            )
            bad = bad | condition.fill_null(value=True)
        rejected = pl.concat(found)
        self._add(rejected)
        head = head.filter(~bad)
        self.rows_in_file += int(
            np.maximum((self.f.line_count[rejected["line_index"].to_numpy()] - 14) // 3, 1).sum()
        )
        self.rows_in_file += int(head["n"].sum() or 0)
        return self._triplets(head)

    def _triplets(self, head: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame, int]:
        f = self.f
        n = head["n"].to_numpy().astype(np.int64)
        owner = np.repeat(np.arange(n.size), n)
        offsets = np.zeros(n.size + 1, dtype=np.int64)
        np.cumsum(n, out=offsets[1:])
        k = np.arange(owner.size, dtype=np.int64) - offsets[:-1][owner]
        line_index = head["line_index"].to_numpy().astype(np.int64)
        base = f.line_first[line_index][owner] + _HEADER_FIELDS + 3 * k
        stamp, stamp_ok = _text.parse_digits(f.buffer, f.starts[base], f.ends[base], width=12)
        stamp_empty = f.starts[base] == f.ends[base]
        wall, civil_ok = _time.civil_to_wall_us(stamp, digits=12)
        register = head["register"].to_numpy().astype(bool)[owner]
        interval_us = head["minutes"].to_numpy().astype(np.int64)[owner] * _time.US_PER_MINUTE
        bad_stamp = ~(stamp_ok & civil_ok) & ~(stamp_empty & (k > 0) & ~register)
        utc, reason, first_k = _cmep_time.resolve(
            _cmep_time.Triplets(owner, k, wall, bad_stamp, stamp_empty, register, interval_us),
            line_index.size,
            self.zone,
            self.ambiguous,
        )
        self._time_issues(line_index, reason, first_k)
        line_bad = reason > 0
        if line_bad.any():
            keep = np.flatnonzero(~line_bad[owner])
            owner, k, base = owner[keep], k[keep], base[keep]
            utc, interval_us, register = utc[keep], interval_us[keep], register[keep]
        # (The usual file has no bad line: no gathers to drop rows.)
        value_starts, value_ends = f.starts[base + 2], f.ends[base + 2]
        value, value_ok = _text.parse_decimal(f.buffer, value_starts, value_ends)
        codes, which = _text.short_codes(f.buffer, f.starts[base + 1], f.ends[base + 1])
        codes = codes.str.strip_chars(" ")
        code_flags = codes.replace_strict(self.flags_table, default=SUSPECT, return_dtype=pl.UInt32)
        # Empty protocol text is no source quality (null), decided once per distinct text.
        quality = codes.set(codes == "", None).gather(which)
        trip = pl.DataFrame(
            {
                "line_index": line_index[owner],
                "k": k,
                "utc": utc,
                "value": value,
                "value_ok": value_ok,
                "value_empty": value_starts == value_ends,
                "quality": quality,
                "quality_flags": code_flags.gather(which),
                "interval_us": interval_us,
                "register": register,
                "channel": head["channel"].gather(owner),
                "constant": head["constant"].gather(owner),
                "unit_exp": pl.Series(
                    np.rint(np.log10(head["scale"].fill_null(1.0).to_numpy())).astype(np.int64)
                ).gather(owner),
                "serial_number": head["meter_id"].gather(owner),
            }
        )
        return self._frames(self._value_checks(trip))

    def _time_issues(self, line_index: np.ndarray, reason: np.ndarray, first_k: np.ndarray) -> None:
        bad = np.flatnonzero(reason)
        if bad.size == 0:
            return
        messages = {
            1: ("timestamp.invalid", "the date-time is not a real CCYYMMDDHHMM"),
            2: (
                "timestamp.nonexistent",
                f"the local time does not exist in {self.zone} (clocks spring forward)",
            ),
            3: (
                "timestamp.ambiguous",
                (
                    f"the local time occurs twice in {self.zone} and nothing in the line tells "
                    "which; give the sender a rule (ambiguous='earliest' or 'latest')"
                ),
            ),
            4: (
                "timestamp.out_of_sequence",
                "the stamp is not the previous one plus the line's interval",
            ),
        }
        self._add(
            pl.DataFrame(
                {
                    "line_index": line_index[bad],
                    "field": [f"triplet[{int(x) + 1}].date_time" for x in first_k[bad]],
                    "code": [messages[int(r)][0] for r in reason[bad]],
                    "message": [messages[int(r)][1] for r in reason[bad]],
                },
                schema=_ISSUE_SCHEMA,
            )
        )

    def _value_checks(self, trip: pl.DataFrame) -> pl.DataFrame:
        missing_ok = (pl.col("quality_flags") & MISSING) != 0
        value_ok = pl.col("value_ok")
        rules: list[tuple[pl.Expr, str, str]] = [
            (pl.col("value_empty") & ~missing_ok, "value.missing", "the value is empty"),
            (~value_ok & ~pl.col("value_empty"), "value.not_a_number", "the value is not a number"),
            (
                value_ok & ~pl.col("value").is_finite(),
                "value.not_finite",
                "the value is NaN or infinite",
            ),
            (
                value_ok & (pl.col("value").abs() > _MAX_ABS_VALUE),
                "value.out_of_range",
                f"the value's magnitude exceeds {_MAX_ABS_VALUE:g}",
            ),
            (
                value_ok & (pl.col("value") < 0) & pl.col("channel").is_in(_NON_NEGATIVE_KINDS),
                "value.negative",
                "a negative value on a channel that cannot be negative",
            ),
        ]
        any_bad = trip.select(pl.any_horizontal(c for c, _, _ in rules)).to_series()
        if any_bad.any():
            suspects = trip.filter(any_bad)
            bad = pl.lit(value=False)
            found = []
            for condition, code, message in rules:
                found.append(
                    suspects.filter(condition & ~bad).select(
                        "line_index",
                        pl.format("triplet[{}].value", pl.col("k") + 1).alias("field"),
                        pl.lit(code).alias("code"),
                        pl.lit(message).alias("message"),
                    )
                )
                bad = bad | condition
            self._add(pl.concat(found))
            trip = trip.filter(~any_bad)
        # The calculation constant multiplies; the unit's power of ten scales exactly.
        multiplied = trip.select(
            pl.when(pl.col("constant") == 1.0)
            .then(pl.col("value"))
            .otherwise(pl.col("value") * pl.col("constant"))
        ).to_series()
        scaled = scale_pow10(multiplied, trip["unit_exp"])
        return trip.with_columns(
            pl.when(pl.col("value_empty")).then(float("nan")).otherwise(scaled).alias("value")
        )

    def _frames(self, trip: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame, int]:
        frame = trip.with_columns(
            pl.Series("source_line", self.f.line_number[trip["line_index"].to_numpy()]),
            pl.col("quality").alias("source_quality"),
        )
        has_registers = bool(frame["register"].any())
        interval_part = frame.filter(~pl.col("register")) if has_registers else frame
        intervals = interval_part.with_columns(
            (pl.col("utc") - pl.col("interval_us"))
            .cast(pl.Datetime("us", "UTC"))
            .alias("interval_start_utc"),
            (pl.col("interval_us") // _US).alias("interval_s"),
        )
        register_part = frame.filter(pl.col("register")) if has_registers else frame.head(0)
        registers = register_part.with_columns(
            pl.col("utc").cast(pl.Datetime("us", "UTC")).alias("read_time_utc"),
            pl.lit(None, dtype=pl.String).alias("tou_period"),
        )
        return (
            contract_frame(intervals, PARSED_INTERVAL_READS),
            contract_frame(registers, PARSED_REGISTER_READS),
            self.rows_in_file,
        )


# --------------------------------------------------------------------------------------------
# Writer


def write_cmep(
    interval_reads: pl.DataFrame | None = None,
    *,
    register_reads: pl.DataFrame | None = None,
    sender_id: str,
    zone: ZoneInfo,
    created_at: datetime,
    path: str | Path | None = None,
    record_version: str = "19970819",
    purpose: str = "OK",
    stamp_every_triplet: bool = True,
    units: Mapping[tuple[str, str], CmepUnit] | None = None,
) -> bytes:
    r"""Write interval and register reads as CMEP ``MEPMD01`` lines.

    One line per meter, channel and local day (interval reads; a gap starts a new line) or per
    meter and channel (register reads). Stamps are local interval *ends* in ``zone``. Protocol
    text is ``source_quality`` where present, else derived from the flags (N, E, A or empty).

    Args:
        interval_reads: Frame of ``PARSED_INTERVAL_READS`` columns (``source_line`` optional).
        register_reads: Frame of ``PARSED_REGISTER_READS`` columns (``tou_period`` must be null).
        sender_id: CMEP sender ID (field 3).
        zone: Local time zone of the stamps.
        created_at: File creation time written in field 7 (aware).
        path: Also write the bytes to this file.
        record_version: Field 2.
        purpose: Field 9.
        stamp_every_triplet: False writes only each line's first stamp (smaller files).
        units: Extra (commodity, units) mappings, merged over :data:`CMEP_UNITS`.

    Returns:
        The file's bytes.

    Raises:
        ValueError: A channel has no CMEP unit, an interval is not whole minutes, or a register
            read has a TOU period.

    Examples:
        >>> from datetime import UTC
        >>> frame = pl.DataFrame({
        ...     "serial_number": ["M1"], "channel": ["kwh_delivered"],
        ...     "interval_start_utc": [datetime(2024, 1, 1, tzinfo=UTC)], "interval_s": [900],
        ...     "value": [1.5], "quality_flags": [0], "source_quality": [None]})
        >>> write_cmep(frame, sender_id="SIM", zone=ZoneInfo("UTC"),
        ...            created_at=datetime(2024, 1, 2, tzinfo=UTC)).decode()
        'MEPMD01,19970819,SIM,,,,202401020000,M1,OK,E,KWH,1,00000015,1,202401010015,,1.5\n'
    """
    table = {**CMEP_UNITS, **(units or {})}
    created = created_at.astimezone(zone).strftime("%Y%m%d%H%M")
    prefix = f"MEPMD01,{record_version},{sender_id},,,,{created},"
    parts: list[pl.DataFrame] = []
    if interval_reads is not None and interval_reads.height:
        parts.append(
            _writer.interval_lines(interval_reads, table, zone.key, every=stamp_every_triplet)
        )
    if register_reads is not None and register_reads.height:
        parts.append(_writer.register_lines(register_reads, table, zone.key))
    if not parts:
        return b""
    lines = pl.concat(parts).select(
        pl.concat_str(
            [
                pl.lit(prefix),
                pl.col("serial_number"),
                pl.lit(f",{purpose},"),
                pl.col("head"),
                pl.col("count").cast(pl.String),
                pl.lit(","),
                pl.col("body"),
            ]
        )
    )
    text: str = lines.to_series().str.join("\n").item()
    out = (text + "\n").encode("utf-8")
    if path is not None:
        Path(path).write_bytes(out)
    return out
