"""AEMO NEM12 (interval) and NEM13 (accumulation) meter data files: read.

Records (MDFF specification): ``100`` header, ``200`` NMI data details, ``300`` interval
data, ``400`` interval events, ``500`` B2B details, ``250`` basic (accumulation) data,
``550`` B2B details, ``900`` end of data. A ``.zip`` holding one file is opened transparently.

Time rule. NEM times are Australian NEM time: fixed AEST (UTC+10:00), *no daylight saving*,
whatever the state (aemo.com.au MDFF spec; nem-reader keeps them naive). Interval ``n``
(1-based) of a ``300`` record covers ``date + (n−1) × length`` to ``date + n × length``, so
its interval-beginning UTC is ``date 00:00 − 10 h + (n−1) × length``.

Channels come from the NMI suffix's first letter (:data:`SUFFIX_CHANNELS`: E import →
``kwh_delivered``, B export → ``kwh_received``, Q → ``kvarh_delivered``, K →
``kvarh_received``, V → ``voltage_v``)
and values are scaled by the unit of measure (:data:`UNITS`: Wh, kWh, MWh …). Quality methods
(A/E/F/S/N/V + method number) map to flags by :data:`QUALITY_FLAGS`; ``V`` takes each
interval's method from the ``400`` records, which must then cover every interval once. The
meter is identified by the ``200``/``250`` meter serial number, or by the NMI where the serial
is empty.

Pure module: standard library, numpy, polars and pure meterops modules only.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import BinaryIO, Final, NamedTuple

import numpy as np
import polars as pl

from meterops.ingest.formats import _nem13, _text, _time
from meterops.ingest.formats._common import (
    EDITED,
    ESTIMATED,
    MAX_INPUT_BYTES,
    MISSING,
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
from meterops.ingest.formats.base import ParsedBatch, ParseError
from meterops.reads.schema import PARSED_INTERVAL_READS

__all__ = [
    "NEM_UTC_OFFSET_S",
    "QUALITY_FLAGS",
    "SUFFIX_CHANNELS",
    "UNITS",
    "BasicMeterData250",
    "NmiDataDetails200",
    "parse_nem12",
    "read_nem12",
    "sniff_nem12",
]

NEM_UTC_OFFSET_S: Final = 10 * 3600
"""NEM time is AEST all year: UTC+10:00. [s]"""


class NmiDataDetails200(NamedTuple):
    """Fields of a ``200`` record (0-based positions as in the file)."""

    record_indicator: str  # 0
    nmi: str  # 1
    nmi_configuration: str  # 2
    register_id: str  # 3
    nmi_suffix: str  # 4
    mdm_data_stream_identifier: str  # 5
    meter_serial_number: str  # 6
    uom: str  # 7
    interval_length: str  # 8, minutes


class BasicMeterData250(NamedTuple):
    """Fields of a NEM13 ``250`` record used here (0-based positions)."""

    nmi: str  # 1
    nmi_suffix: str  # 4
    meter_serial_number: str  # 6
    direction_indicator: str  # 7, E export from grid (delivered) / I import to grid
    previous_register_read: str  # 8
    previous_register_read_datetime: str  # 9
    previous_quality_method: str  # 10
    current_register_read: str  # 13
    current_register_read_datetime: str  # 14
    current_quality_method: str  # 15
    uom: str  # 19


SUFFIX_CHANNELS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "E": "kwh_delivered",  # import (energy delivered to the customer)
        "B": "kwh_received",  # export (e.g. rooftop solar)
        "Q": "kvarh_delivered",
        "K": "kvarh_received",
        "V": "voltage_v",
    }
)
"""First letter of the NMI suffix → canonical channel (energy/reactive/voltage)."""

UNITS: Final[Mapping[str, tuple[str, float]]] = MappingProxyType(
    {
        "WH": ("energy", 0.001),
        "KWH": ("energy", 1.0),
        "MWH": ("energy", 1000.0),
        "VARH": ("reactive", 0.001),
        "KVARH": ("reactive", 1.0),
        "MVARH": ("reactive", 1000.0),
        "V": ("voltage", 1.0),
        "": ("voltage", 1.0),
    }
)
"""Upper-cased unit of measure → (quantity, factor to the channel's unit)."""

_CHANNEL_QUANTITY: Final = {
    "kwh_delivered": "energy",
    "kwh_received": "energy",
    "kvarh_delivered": "reactive",
    "kvarh_received": "reactive",
    "voltage_v": "voltage",
}

QUALITY_FLAGS: Final[Mapping[str, int]] = MappingProxyType(
    {
        "A": 0,  # actual
        "E": ESTIMATED,  # forward estimate
        "S": ESTIMATED,  # substituted
        "F": ESTIMATED | EDITED,  # final substitute
        "N": MISSING,  # null data
    }
)
"""First letter of a quality method → ``quality_flags`` (``V`` defers to ``400`` records)."""

_QUALITY_PATTERN: Final = r"^[AEFNSV][0-9]{0,2}$"


def sniff_nem12(head: bytes) -> bool:
    r"""True when ``head`` starts like a NEM12/NEM13 file (or a zip, which may hold one).

    Examples:
        >>> sniff_nem12(b"100,NEM12,200405011135,MDA1,Ret1\n")
        True
        >>> sniff_nem12(b"MEPMD01,")
        False
    """
    text = strip_bom(head).lstrip()
    return text.startswith((b"100,NEM12", b"100,NEM13"))


def read_nem12(path: str | Path, *, strict: bool = False) -> ParsedBatch:
    """Read a NEM12/NEM13 file (or a zip holding one) from ``path``; see :func:`parse_nem12`."""
    data, name = read_path(path)
    return parse_nem12(data, name=name, strict=strict)


def parse_nem12(stream: bytes | BinaryIO, *, name: str, strict: bool = False) -> ParsedBatch:
    r"""Parse a NEM12 or NEM13 file into interval reads and register reads.

    Args:
        stream: File bytes (CSV or a zip holding one CSV) or a binary stream.
        name: File name used in issues.
        strict: Raise at the first issue instead of collecting issues.

    Returns:
        Interval reads (NEM12) and register reads (NEM13, previous and current read of each
        ``250`` record); ``rows_in_file`` counts interval values and register reads.

    Raises:
        ParseError: Missing ``100`` header, wrong version, strict mode with an issue, or no
            usable reading.

    Examples:
        >>> text = b"100,NEM12,200405011135,MDA1,Ret1\n200,N1,E1,1,E1,N1,M1,kWh,30,\n"
        >>> text += b"300,20040201," + b"1," * 48 + b"A,,,,\n900\n"
        >>> batch = parse_nem12(text, name="a.csv")
        >>> batch.interval_reads.height, str(batch.interval_reads["interval_start_utc"][0])
        (48, '2004-01-31 14:00:00+00:00')
    """
    issues = IssueLog(name, strict=strict)
    data = read_input(stream)
    if data.startswith(b"PK\x03\x04"):
        data, name = _unzip(data, name, issues)
        issues.name = name
    data = normalise_newlines(strip_bom(data))
    fields = _join_wrapped_records(data)
    excluded: set[int] = set()
    joined = fields.buffer.tobytes()
    if first_bad_utf8(joined) is not None:
        # Lines counted after wrapped records were joined; report physical line numbers.
        for logical in bad_utf8_lines(joined):
            line = int(fields.line_number[min(logical, fields.line_number.size) - 1])
            issues.add(line, "record", "encoding.not_utf8", "line holds bytes that are not UTF-8")
            excluded.add(line)
    parser = _Parser(fields, issues, excluded)
    intervals, registers = parser.run()
    if intervals.height + registers.height == 0:
        raise issues.whole_file("file.no_records", "no usable NEM12 300 or NEM13 250 reading")
    return ParsedBatch(
        source_name=name,
        format="nem12",
        interval_reads=intervals,
        register_reads=registers,
        issues=issues.finish(),
        rows_in_file=parser.rows_in_file,
    )


_KNOWN_RECORDS: Final = (100, 200, 250, 300, 400, 500, 550, 900)


def _join_wrapped_records(data: bytes) -> _text.Fields:
    """Tokenise, joining a record that was wrapped over several lines.

    Some MDPs wrap a long ``300`` record: the line ends with ``,`` and the next line starts
    with an interval value instead of a record indicator (AEMO test "Scenario10" files).
    Those line breaks are removed; each joined record keeps its first physical line number.
    """
    fields = _text.tokenize(data)
    first = fields.line_first
    record, ok = _text.parse_digits(
        fields.buffer, fields.starts[first], fields.ends[first], width=3
    )
    known = ok & np.isin(record, _KNOWN_RECORDS)
    last = first + fields.line_count - 1
    ends_with_comma = fields.ends[last] == fields.starts[last]
    continues = np.zeros(first.size, dtype=bool)
    continues[1:] = ~known[1:] & ends_with_comma[:-1] & (fields.line_count[1:] > 1)
    if not continues.any():
        return fields
    newline_before = fields.starts[first[continues]] - 1
    joined = np.delete(fields.buffer, newline_before).tobytes()
    merged = _text.tokenize(joined)
    kept = fields.line_number[~continues]
    return _text.Fields(
        merged.buffer,
        merged.starts,
        merged.ends,
        merged.line_first,
        merged.line_count,
        kept[: merged.line_first.size],
    )


def _unzip(data: bytes, name: str, issues: IssueLog) -> tuple[bytes, str]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = [m for m in archive.infolist() if not m.is_dir()]
        if len(members) != 1:
            raise issues.whole_file(
                "zip.members", f"the zip must hold exactly one file, found {len(members)}"
            )
        member = members[0]
        if member.file_size > MAX_INPUT_BYTES:
            raise issues.whole_file("zip.too_large", "the zipped file is too large")
        with archive.open(member) as handle:
            inner = handle.read(MAX_INPUT_BYTES + 1)
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        OSError,
        EOFError,
        ValueError,
        NotImplementedError,
    ) as error:
        raise issues.whole_file("zip.unreadable", f"the zip cannot be read: {error}") from error
    return inner, f"{name}!{member.filename}"


class _Parser:
    def __init__(self, fields: _text.Fields, issues: IssueLog, excluded: set[int]) -> None:
        self.f = fields
        self.issues = issues
        self.rows_in_file = len(excluded)
        f = fields
        blank = (f.line_count == 1) & (f.ends[f.line_first] == f.starts[f.line_first])
        self.lines = np.flatnonzero(~blank & ~np.isin(f.line_number, sorted(excluded)))
        record, ok = _text.parse_digits(
            f.buffer, f.starts[f.line_first[self.lines]], f.ends[f.line_first[self.lines]], width=3
        )
        self.record = np.where(ok, record, -1)

    def _issue(self, lines: np.ndarray, field: str, code: str, message: str | list[str]) -> None:
        if lines.size:
            self.issues.add_frame(
                pl.DataFrame(
                    {
                        "line": self.f.line_number[lines],
                        "field": [field] * lines.size,
                        "code": [code] * lines.size,
                        "message": message if isinstance(message, list) else [message] * lines.size,
                    },
                    schema={
                        "line": pl.Int64,
                        "field": pl.String,
                        "code": pl.String,
                        "message": pl.String,
                    },
                )
            )

    def _text(self, lines: np.ndarray, position: int) -> pl.Series:
        f = self.f
        present = f.line_count[lines] > position
        index = np.where(present, f.line_first[lines] + position, f.line_first[lines])
        text = f.strings(index).str.strip_chars(" ")
        chosen = pl.when(pl.Series(present, dtype=pl.Boolean)).then(text).otherwise(pl.lit(""))
        return pl.select(chosen).to_series().cast(pl.String)

    def run(self) -> tuple[pl.DataFrame, pl.DataFrame]:
        lines, record = self.lines, self.record
        if lines.size == 0 or record[0] != 100:
            where = lines[:1] if lines.size else np.zeros(1, dtype=np.int64)
            raise self._fatal(
                where,
                "record_indicator",
                "header.missing",
                "a NEM file must start with a 100 header record",
            )
        version = self._text(lines[:1], 1)[0]
        if version not in ("NEM12", "NEM13"):
            raise self._fatal(
                lines[:1],
                "version_header",
                "header.version",
                f"version must be NEM12 or NEM13, found '{version}'",
            )
        ends = np.flatnonzero(record == 900)
        if ends.size == 0:
            self._issue(
                lines[-1:],
                "record_indicator",
                "file.no_end_record",
                "the file has no 900 end-of-data record",
            )
        elif ends[0] != lines.size - 1:
            self._issue(
                lines[ends[0] + 1 :],
                "record_indicator",
                "record.after_end",
                "record after the 900 end-of-data record",
            )
            self.rows_in_file += lines.size - 1 - int(ends[0])
            keep = np.arange(lines.size) < ends[0]
            self.lines, self.record = lines[keep], record[keep]
            lines, record = self.lines, self.record
        known = np.isin(record, _KNOWN_RECORDS)
        self._issue(
            lines[~known], "record_indicator", "record.unknown_type", "unknown record indicator"
        )
        self.rows_in_file += int((~known).sum())
        extra_header = lines[1:][record[1:] == 100]
        self._issue(
            extra_header,
            "record_indicator",
            "record.second_header",
            "a second 100 header (concatenated files are not accepted)",
        )
        registers = _nem13.register_reads(
            self, units=UNITS, quality_flags=QUALITY_FLAGS, utc_offset_s=NEM_UTC_OFFSET_S
        )
        return self._intervals(), registers

    def _fatal(self, lines: np.ndarray, field: str, code: str, message: str) -> ParseError:
        numbers = self.f.line_number
        line = int(numbers[lines[0]]) if lines.size and lines[0] < numbers.size else 1
        self.issues.add(line, field, code, message)
        return ParseError(f"{self.issues.name}: {message}", self.issues.finish())

    # -- NEM12 ---------------------------------------------------------------------------------
    def _details(self) -> tuple[pl.DataFrame, np.ndarray]:
        """Validated 200 records and, for every line, the position of its governing 200."""
        lines, record = self.lines, self.record
        at = np.flatnonzero(record == 200)
        d = lines[at]
        details = pl.DataFrame(
            {
                "nmi": self._text(d, 1),
                "suffix": self._text(d, 4).str.to_uppercase(),
                "serial": self._text(d, 6),
                "uom": self._text(d, 7).str.to_uppercase(),
                "length": self._text(d, 8).cast(pl.Int64, strict=False),
                "fields": self.f.line_count[d],
            }
        ).with_columns(
            pl.col("suffix")
            .str.slice(0, 1)
            .replace_strict(dict(SUFFIX_CHANNELS), default=None)
            .alias("channel"),
            pl.col("uom")
            .replace_strict({k: v[0] for k, v in UNITS.items()}, default=None)
            .alias("quantity"),
            pl.col("uom")
            .replace_strict({k: v[1] for k, v in UNITS.items()}, default=None)
            .alias("factor"),
        )
        checks = [
            (
                pl.col("fields") < 9,
                "interval_length",
                "record.too_few_fields",
                "a 200 record needs at least 9 fields",
            ),
            (pl.col("nmi") == "", "nmi", "nmi.missing", "the NMI is empty"),
            (
                pl.col("length").is_null() | ~pl.col("length").is_in([1, 5, 10, 15, 30, 60]),
                "interval_length",
                "interval_length.invalid",
                "interval length must be 1, 5, 10, 15, 30 or 60 minutes",
            ),
            (
                pl.col("channel").is_null(),
                "nmi_suffix",
                "nmi_suffix.unknown",
                f"NMI suffix must start with one of {sorted(SUFFIX_CHANNELS)}",
            ),
            (
                pl.col("quantity").is_null()
                | (
                    pl.col("quantity")
                    != pl.col("channel").replace_strict(_CHANNEL_QUANTITY, default=None)
                ),
                "uom",
                "uom.invalid",
                "the unit of measure does not fit the NMI suffix (or is unknown)",
            ),
        ]
        bad = np.zeros(d.size, dtype=bool)
        for condition, field, code, message in checks:
            hit = details.select(condition.fill_null(value=True)).to_series().to_numpy()
            self._issue(d[hit & ~bad], field, code, message)
            bad |= hit
        details = details.with_columns(pl.Series("ok", ~bad))
        owner = np.maximum.accumulate(np.where(record == 200, np.arange(record.size), -1))
        position = np.full(record.size, -1, dtype=np.int64)
        mapped = owner >= 0
        position[mapped] = np.searchsorted(at, owner[mapped])
        return details, position

    def _intervals(self) -> pl.DataFrame:
        lines, record, f = self.lines, self.record, self.f
        details, governing = self._details()
        rows = np.flatnonzero(record == 300)
        ok_detail = details["ok"].to_numpy()
        has_detail = governing[rows] >= 0
        orphan = rows[~has_detail]
        self._issue(
            lines[orphan], "record_indicator", "record.no_200", "a 300 record before any 200 record"
        )
        rows = rows[has_detail]
        under_bad = rows[~ok_detail[governing[rows]]]
        self._issue(
            lines[under_bad],
            "record_indicator",
            "record.bad_200",
            "the 200 record this 300 record belongs to was refused",
        )
        self.rows_in_file += orphan.size + under_bad.size
        rows = rows[ok_detail[governing[rows]]]
        if rows.size == 0:
            return PARSED_INTERVAL_READS.empty()
        length = details["length"].fill_null(1).to_numpy().astype(np.int64)[governing[rows]]
        n = 1440 // length
        self.rows_in_file += int(n.sum())
        ln = lines[rows]
        count = f.line_count[ln]
        quality_at = 2 + n
        short = count < quality_at + 4
        quality = self._text_at(ln, np.minimum(quality_at, count - 1))
        qual_ok = quality.str.contains(_QUALITY_PATTERN).to_numpy() & ~short
        date, date_ok = _text.parse_digits(
            f.buffer, f.starts[f.line_first[ln] + 1], f.ends[f.line_first[ln] + 1], width=8
        )
        wall, civil_ok = _time.civil_to_wall_us(date, digits=8)
        reason = np.where(short, 1, np.where(~qual_ok, 2, np.where(~(date_ok & civil_ok), 3, 0)))
        messages = {
            1: (
                "record",
                "record.field_count",
                "a 300 record needs the interval values and 4 or 5 trailing fields",
            ),
            2: (
                "quality_method",
                "quality_method.invalid",
                (
                    "the quality method is not A, E, F, N, S or V (+ method number); "
                    "the value count probably does not match the 200 interval length"
                ),
            ),
            3: ("interval_date", "interval_date.invalid", "not a real CCYYMMDD date"),
        }
        for r, (field, code, message) in messages.items():
            self._issue(ln[reason == r], field, code, message)
        good = reason == 0
        rows, ln, n, length, wall = rows[good], ln[good], n[good], length[good], wall[good]
        quality = quality.filter(pl.Series(good))
        owner = np.repeat(np.arange(rows.size), n)
        offsets = np.zeros(rows.size + 1, dtype=np.int64)
        np.cumsum(n, out=offsets[1:])
        k = np.arange(owner.size, dtype=np.int64) - offsets[:-1][owner]
        index = f.line_first[ln][owner] + 2 + k
        value, value_ok = _text.parse_decimal(f.buffer, f.starts[index], f.ends[index])
        source_quality = quality.gather(owner)
        source_quality, wrong = self._events(rows, n, offsets, source_quality)
        gov = governing[rows][owner]
        channel = details["channel"].gather(gov)
        factor = details["factor"].fill_null(1.0).to_numpy().astype(np.float64)[gov]
        serial = (
            details.select(
                pl.when(pl.col("serial") == "").then(pl.col("nmi")).otherwise(pl.col("serial"))
            )
            .to_series()
            .gather(gov)
        )
        start = wall[owner] - NEM_UTC_OFFSET_S * 1_000_000 + k * length[owner] * _time.US_PER_MINUTE
        frame = (
            pl.DataFrame(
                {
                    "serial_number": serial,
                    "channel": channel,
                    "interval_start_utc": pl.Series(start).cast(pl.Datetime("us", "UTC")),
                    "interval_s": length[owner] * 60,
                    "value": scale_pow10(
                        pl.Series(value), pl.Series(np.rint(np.log10(factor)).astype(np.int64))
                    ),
                    "raw": value,
                    "value_ok": value_ok,
                    "source_quality": source_quality,
                    "source_line": f.line_number[ln][owner],
                    "k": k,
                }
            )
            .with_columns(
                pl.col("source_quality")
                .str.slice(0, 1)
                .replace_strict(dict(QUALITY_FLAGS), default=0, return_dtype=pl.UInt32)
                .alias("quality_flags")
            )
            .filter(pl.Series(~wrong[owner]))
        )
        return contract_frame(self._values(frame, "interval_value[{}]"), PARSED_INTERVAL_READS)

    def _text_at(self, lines: np.ndarray, position: np.ndarray) -> pl.Series:
        f = self.f
        return f.strings(f.line_first[lines] + position).str.strip_chars(" ")

    def _events(
        self, rows: np.ndarray, n: np.ndarray, offsets: np.ndarray, quality: pl.Series
    ) -> tuple[pl.Series, np.ndarray]:
        """Apply 400 records to their 300 record's intervals; V needs full, single coverage."""
        lines, record = self.lines, self.record
        events = np.flatnonzero(record == 400)
        parent = np.maximum.accumulate(np.where(record == 300, np.arange(record.size), -1))
        target = np.searchsorted(rows, parent[events])
        found = (parent[events] >= 0) & (target < rows.size)
        found[found] &= rows[np.minimum(target[found], rows.size - 1)] == parent[events][found]
        self._issue(
            lines[events[~found]],
            "record_indicator",
            "record.no_300",
            "a 400 record without an accepted 300 record before it",
        )
        self.rows_in_file += int((~found).sum())
        events, target = events[found], target[found]
        ev = lines[events]
        first = self._text(ev, 1).cast(pl.Int64, strict=False).fill_null(-1).to_numpy()
        last = self._text(ev, 2).cast(pl.Int64, strict=False).fill_null(-1).to_numpy()
        method = self._text(ev, 3)
        method_ok = (
            method.str.contains(_QUALITY_PATTERN).to_numpy()
            & (method.str.slice(0, 1) != "V").to_numpy()
        )
        bad = (first < 1) | (last < first) | (last > n[target]) | ~method_ok
        self._issue(
            ev[bad],
            "start_interval",
            "event.invalid",
            "start/end interval outside 1…intervals of the day, or a bad quality method",
        )
        self.rows_in_file += int(bad.sum())
        events, target, first, last = events[~bad], target[~bad], first[~bad], last[~bad]
        method = method.filter(pl.Series(~bad))
        span = last - first + 1
        which = np.repeat(np.arange(events.size), span)
        starts = np.zeros(events.size + 1, dtype=np.int64)
        np.cumsum(span, out=starts[1:])
        slot = offsets[target][which] + first[which] - 1 + np.arange(which.size) - starts[which]
        coverage = np.bincount(slot, minlength=int(offsets[-1]))
        variable = (quality.str.slice(0, 1) == "V").to_numpy()
        owner = np.repeat(np.arange(rows.size), n)
        wrong = np.bincount(owner, weights=(coverage != 1) & variable, minlength=rows.size) > 0
        self._issue(
            lines[rows[wrong]],
            "quality_method",
            "event.coverage",
            "quality V needs 400 records covering every interval exactly once",
        )
        if slot.size:
            quality = quality.scatter(slot, method.gather(which))
        return quality, wrong

    def _values(self, frame: pl.DataFrame, field: str) -> pl.DataFrame:
        rules = [
            (~pl.col("value_ok"), "value.not_a_number", "the value is not a number"),
            (
                ~pl.col("raw").is_finite() | (pl.col("raw").abs() > 1e12),
                "value.out_of_range",
                "the value is not finite or too large",
            ),
            (
                (pl.col("raw") < 0) & (pl.col("channel") != "voltage_v"),
                "value.negative",
                "a negative energy value",
            ),
        ]
        bad = pl.Series([False] * frame.height, dtype=pl.Boolean)
        found = []
        for condition, code, message in rules:
            hit = frame.select(condition).to_series()
            found.append(
                frame.filter(hit & ~bad).select(
                    pl.col("source_line").alias("line"),
                    pl.format(field, pl.col("k") + 1).alias("field"),
                    pl.lit(code).alias("code"),
                    pl.lit(message).alias("message"),
                )
            )
            bad = bad | hit
        self.issues.add_frame(pl.concat(found))
        return frame.filter(~bad)
