"""IEC 61968-9 CIM ``MeterReadings`` and ``EndDeviceEvents`` XML: read and write (standards.md §2).

Reading. ``MeterReading`` elements are found anywhere (bare payload or inside a 61968-100
message envelope). The meter is ``Meter/serialNumber``, else ``Meter/Names/name``, else
``Meter/mRID``. Each ``IntervalBlock``'s ReadingType 18-part code is decoded field by field
(:func:`decode_reading_type`; never string-matched): flowDirection 1/19/4, measurementKind
12 energy / 8 demand / 54 voltage, unit and power-of-ten multiplier → channel and scale by
:data:`CHANNEL_RULES`; measuringPeriod (or macroPeriod daily) → ``interval_s``. A
``PendingCalculation`` (scalar and offset) is applied. ``IntervalReading/timeStamp`` is the
interval *end* (xs:dateTime with an offset; without one it is refused), so the interval
begins ``interval_s`` earlier. ``Readings`` become register reads (ReadingType ``tou`` →
``tou_period``). Every ``ReadingQualityType`` code is kept in ``source_quality`` (space
separated) and OR-ed into flags by :func:`quality_flags`.

``EndDeviceEvent`` elements become events: the four-part ``EndDeviceEventType`` code is kept
as received (unknown codes survive round trips); severity comes from
``nomenclature.CIM_EVENTS`` when the code is known, else from the file when it is one of
``info | warning | alarm | critical``, else ``info``; ``reason`` is the vendor code and the
``EndDeviceEventDetails`` name/value pairs become a JSON object of strings.

Pure module: standard library, numpy, polars, lxml and pure meterops modules only.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import BinaryIO, Final, NamedTuple

import numpy as np
import polars as pl
from lxml import etree

from meterops.ingest.formats import _cim_fast, _time, _xml
from meterops.ingest.formats._cim_rows import RS, US_SEP, parse_events, report, serial_expr
from meterops.ingest.formats._cim_writer import (
    write_cim_end_device_events,
    write_cim_meter_readings,
)
from meterops.ingest.formats._common import (
    IssueLog,
    contract_frame,
    read_input,
    read_path,
    scale_pow10,
)
from meterops.ingest.formats.base import ParsedBatch
from meterops.reads.schema import PARSED_INTERVAL_READS, PARSED_REGISTER_READS
from meterops.vee.flags import FLAGS

__all__ = [
    "CHANNEL_RULES",
    "MEASURING_PERIODS",
    "ChannelRule",
    "ReadingType",
    "decode_reading_type",
    "parse_cim",
    "quality_flags",
    "read_cim",
    "sniff_cim",
    "write_cim_end_device_events",
    "write_cim_meter_readings",
]

MR_NS: Final = _cim_fast.MR_NS
EV_NS: Final = _cim_fast.EV_NS


class ReadingType(NamedTuple):
    """The 18 integer fields of a CIM ReadingType code, in order."""

    macro_period: int
    aggregate: int
    measuring_period: int
    accumulation: int
    flow_direction: int
    commodity: int
    measurement_kind: int
    interharmonic_numerator: int
    interharmonic_denominator: int
    argument_numerator: int
    argument_denominator: int
    tou: int
    cpp: int
    consumption_tier: int
    phases: int
    multiplier: int
    unit: int
    currency: int


def decode_reading_type(code: str) -> ReadingType:
    """Split an 18-part ReadingType code into its fields.

    Raises:
        ValueError: Not 18 dot-separated integers.

    Examples:
        >>> rt = decode_reading_type("0.0.2.4.19.1.12.0.0.0.0.0.0.0.0.3.72.0")
        >>> rt.flow_direction, rt.measurement_kind, rt.multiplier, rt.unit
        (19, 12, 3, 72)
    """
    parts = code.strip().split(".")
    if len(parts) != 18 or not all(p.lstrip("-").isdigit() for p in parts):
        msg = f"ReadingType {code!r} must have 18 dot-separated integers"
        raise ValueError(msg)
    return ReadingType(*(int(p) for p in parts))


MEASURING_PERIODS: Final[Mapping[int, int]] = MappingProxyType(
    {
        1: 600,
        2: 900,
        3: 60,
        4: 86400,
        5: 1800,
        6: 300,
        7: 3600,
        10: 120,
        14: 180,
        31: 1200,
        50: 3600,
        51: 1800,
        52: 1200,
        53: 900,
        54: 600,
        55: 300,
        56: 60,
    }
)
"""CIM measuringPeriod (TimeAttribute) code → interval length. [s]"""

_MACRO_DAILY: Final = 11


class ChannelRule(NamedTuple):
    """ReadingType fields → channel, and the power of ten from the CIM base unit to it."""

    measurement_kind: int
    unit: int
    flow_direction: int | None
    aggregate: int | None
    channel: str
    unit_exponent: int


CHANNEL_RULES: Final = (
    ChannelRule(12, 72, 1, None, "kwh_delivered", -3),
    ChannelRule(12, 72, 19, None, "kwh_received", -3),
    ChannelRule(12, 72, 4, None, "kwh_net", -3),
    ChannelRule(12, 73, None, None, "kvarh_delivered", -3),
    ChannelRule(8, 38, None, None, "kw_demand", -3),
    ChannelRule(54, 29, None, 8, "voltage_max_v", 0),
    ChannelRule(54, 29, None, 9, "voltage_min_v", 0),
    ChannelRule(54, 29, None, None, "voltage_v", 0),
    ChannelRule(46, 23, None, None, "temperature_c", 0),
)
"""First matching rule wins (None matches any value)."""

_RULE_BY_CHANNEL: Final = {r.channel: r for r in CHANNEL_RULES}
_FLAG_BY_CODE: Final = {f.cim_quality: f.mask for f in FLAGS.values() if f.bit < 8}
_FLAG_BY_CATEGORY: Final = {
    "8": FLAGS["SOURCE_ESTIMATED"].mask,
    "7": FLAGS["SOURCE_EDITED"].mask,
    "5": FLAGS["SOURCE_SUSPECT"].mask,
    "10": FLAGS["SOURCE_SUSPECT"].mask,
}
_US: Final = 1_000_000


def _stylesheet(body: str) -> etree.XSLT:
    return etree.XSLT(
        etree.XML(
            f'<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform" '
            f'xmlns:m="{MR_NS}" xmlns:e="{EV_NS}"><xsl:output method="text" encoding="UTF-8"/>'
            f'<xsl:template match="/">{body}</xsl:template></xsl:stylesheet>'.encode()
        )
    )


def _cells(*paths: str) -> str:
    out = []
    for i, path in enumerate(paths):
        sep = "&#10;" if i == len(paths) - 1 else "&#9;"
        out.append(f'<xsl:value-of select="{path}"/><xsl:text>{sep}</xsl:text>')
    return "".join(out)


_METER = (
    "normalize-space(m:Meter/m:serialNumber)",
    "normalize-space(m:Meter/m:Names[1]/m:name)",
    "normalize-space(m:Meter/m:mRID)",
)
_QUALITIES = (
    '<xsl:for-each select="m:ReadingQualities"><xsl:value-of '
    'select="normalize-space(m:ReadingQualityType/@ref)"/><xsl:text> </xsl:text>'
    "</xsl:for-each>"
)
_INTERVAL_XSLT: Final = _stylesheet(
    '<xsl:for-each select="//m:MeterReading"><xsl:variable name="mr" select="position()"/>'
    '<xsl:for-each select="m:IntervalBlocks"><xsl:variable name="b" select="position()"/>'
    '<xsl:for-each select="m:IntervalReadings"><xsl:value-of select="$mr"/>'
    '<xsl:text>&#9;</xsl:text><xsl:value-of select="$b"/><xsl:text>&#9;</xsl:text>'
    + _cells(
        "normalize-space(m:timeStamp)",
        "normalize-space(m:timePeriod/m:start)",
        "normalize-space(m:value)",
    ).replace("&#10;", "&#9;")
    + _QUALITIES
    + "<xsl:text>&#10;</xsl:text></xsl:for-each></xsl:for-each></xsl:for-each>"
)
_INTERVAL_COLUMNS: Final = ["mr", "block", "time", "period_start", "value", "qualities"]
_BLOCK_XSLT: Final = _stylesheet(
    '<xsl:for-each select="//m:MeterReading"><xsl:variable name="mr" select="position()"/>'
    f'<xsl:variable name="s" select="{_METER[0]}"/><xsl:variable name="n" select="{_METER[1]}"/>'
    f'<xsl:variable name="r" select="{_METER[2]}"/>'
    '<xsl:for-each select="m:IntervalBlocks"><xsl:value-of select="$mr"/>'
    '<xsl:text>&#9;</xsl:text><xsl:value-of select="position()"/><xsl:text>&#9;</xsl:text>'
    '<xsl:value-of select="$s"/><xsl:text>&#9;</xsl:text><xsl:value-of select="$n"/>'
    '<xsl:text>&#9;</xsl:text><xsl:value-of select="$r"/><xsl:text>&#9;</xsl:text>'
    + _cells(
        "normalize-space(m:ReadingType/@ref)",
        "normalize-space(m:PendingCalculation/m:scalarNumerator)",
        "normalize-space(m:PendingCalculation/m:scalarDenominator)",
        "normalize-space(m:PendingCalculation/m:scalarFloat)",
        "normalize-space(m:PendingCalculation/m:offset)",
        "normalize-space(m:PendingCalculation/m:multiplyBeforeAdd)",
    )
    + "</xsl:for-each></xsl:for-each>"
)
_BLOCK_COLUMNS: Final = [
    "mr",
    "block",
    "serial",
    "name",
    "mrid",
    "reading_type",
    "numerator",
    "denominator",
    "scalar",
    "offset",
    "multiply_first",
]
_REGISTER_XSLT: Final = _stylesheet(
    '<xsl:for-each select="//m:MeterReading"><xsl:variable name="s" select="'
    f'{_METER[0]}"/><xsl:variable name="n" select="{_METER[1]}"/><xsl:variable name="r" '
    f'select="{_METER[2]}"/><xsl:for-each select="m:Readings">'
    '<xsl:value-of select="$s"/><xsl:text>&#9;</xsl:text><xsl:value-of select="$n"/>'
    '<xsl:text>&#9;</xsl:text><xsl:value-of select="$r"/><xsl:text>&#9;</xsl:text>'
    + _cells(
        "normalize-space(m:ReadingType/@ref)",
        "normalize-space(m:timeStamp)",
        "normalize-space(m:value)",
    ).replace("&#10;", "&#9;")
    + _QUALITIES
    + "<xsl:text>&#10;</xsl:text></xsl:for-each></xsl:for-each>"
)
_REGISTER_COLUMNS: Final = ["serial", "name", "mrid", "reading_type", "time", "value", "qualities"]
_EVENT_XSLT: Final = _stylesheet(
    '<xsl:for-each select="//e:EndDeviceEvent">'
    + _cells(
        "normalize-space(e:Assets/e:serialNumber)",
        "normalize-space(e:Assets/e:Names[1]/e:name)",
        "normalize-space(e:Assets/e:mRID)",
        "normalize-space(e:createdDateTime)",
        "normalize-space(e:EndDeviceEventType/@ref)",
        "normalize-space(e:reason)",
        "normalize-space(e:severity)",
    ).replace("&#10;", "&#9;")
    + '<xsl:for-each select="e:EndDeviceEventDetails"><xsl:value-of select="normalize-space('
    f'e:name)"/><xsl:text>{US_SEP}</xsl:text><xsl:value-of select="normalize-space(e:value)"/>'
    f"<xsl:text>{RS}</xsl:text></xsl:for-each><xsl:text>&#10;</xsl:text></xsl:for-each>"
)
_EVENT_COLUMNS: Final = [
    "serial",
    "name",
    "mrid",
    "time",
    "event_type",
    "reason",
    "severity",
    "details",
]
_XPATHS: Final = {
    "IntervalReadings": etree.XPath(
        "//m:MeterReading/m:IntervalBlocks/m:IntervalReadings", namespaces={"m": MR_NS}
    ),
    "Readings": etree.XPath("//m:MeterReading/m:Readings", namespaces={"m": MR_NS}),
    "EndDeviceEvent": etree.XPath("//e:EndDeviceEvent", namespaces={"e": EV_NS}),
}


def sniff_cim(head: bytes) -> bool:
    """True when ``head`` looks like a CIM MeterReadings or EndDeviceEvents document.

    Examples:
        >>> sniff_cim(b'<MeterReadings xmlns="http://iec.ch/TC57/2011/MeterReadings#">')
        True
    """
    return b"iec.ch/TC57/2011/MeterReadings" in head or b"iec.ch/TC57/2011/EndDeviceEvents" in head


def _is_cim_root(root: etree._Element) -> bool:
    """True when the document element is a CIM ``MeterReadings`` or ``EndDeviceEvents``."""
    name = etree.QName(root)
    roots = {(MR_NS, "MeterReadings"), (EV_NS, "EndDeviceEvents")}
    return (name.namespace, name.localname) in roots


def read_cim(path: str | Path, *, strict: bool = False) -> ParsedBatch:
    """Read a CIM MeterReadings or EndDeviceEvents document; see :func:`parse_cim`."""
    data, name = read_path(path)
    return parse_cim(data, name=name, strict=strict)


def parse_cim(stream: bytes | BinaryIO, *, name: str, strict: bool = False) -> ParsedBatch:
    """Parse CIM ``MeterReadings`` and/or ``EndDeviceEvents`` into reads and events.

    Args:
        stream: XML bytes or a binary stream.
        name: File name used in issues.
        strict: Raise at the first issue instead of collecting issues.

    Returns:
        Interval reads, register reads and events; ``rows_in_file`` counts IntervalReadings,
        Readings and EndDeviceEvents.

    Raises:
        ParseError: Unsafe or malformed XML, strict mode with an issue, or records of which
            none is usable. A ``MeterReadings`` or ``EndDeviceEvents`` document without any
            record is a valid empty delivery (empty frames, ``rows_in_file`` 0).
    """
    return _parse(read_input(stream), name=name, strict=strict, fast=True)


def _parse(data: bytes, *, name: str, strict: bool, fast: bool) -> ParsedBatch:
    """:func:`parse_cim`; ``fast=False`` forces the reference path (lxml + XSLT) for tests."""
    issues = IssueLog(name, strict=strict)
    extracted = _cim_fast.extract(data) if fast else None
    if extracted is not None and extracted.intervals.height:
        tables = {
            "IntervalReadings": extracted.intervals,
            "Readings": _empty_table(_REGISTER_COLUMNS),
            "EndDeviceEvent": _empty_table(_EVENT_COLUMNS),
        }
        blocks, is_cim_root = extracted.blocks, extracted.is_cim_root
    else:
        tables, blocks, is_cim_root = _reference_tables(data, issues)
    blocks = _decoded(blocks.with_columns(serial_expr()))
    intervals = _intervals(
        tables["IntervalReadings"].join(
            blocks, on=["mr", "block"], how="left", maintain_order="left"
        ),
        issues,
    )
    registers = _registers(tables["Readings"], issues)
    events = parse_events(tables["EndDeviceEvent"], issues)
    rows = sum(t.height for t in tables.values())
    if intervals.height + registers.height + events.height == 0 and not (
        is_cim_root and issues.is_empty_delivery(rows)
    ):
        raise issues.whole_file(
            "file.no_records",
            "no usable IntervalReadings, Readings or EndDeviceEvent",
            field="MeterReadings",
        )
    return ParsedBatch(
        source_name=name,
        format="cim",
        interval_reads=intervals,
        register_reads=registers,
        events=events,
        issues=issues.finish(),
        rows_in_file=rows,
    )


def _empty_table(columns: list[str]) -> pl.DataFrame:
    return pl.DataFrame(schema=dict.fromkeys(columns, pl.String)).with_columns(
        pl.Series("line", [], dtype=pl.Int64)
    )


def _reference_tables(
    data: bytes, issues: IssueLog
) -> tuple[dict[str, pl.DataFrame], pl.DataFrame, bool]:
    """The reference path: lxml tree and XSLT; the located error for unsafe/malformed XML.

    Returns:
        The ``IntervalReadings``, ``Readings`` and ``EndDeviceEvent`` tables with ``line``,
        the ``IntervalBlocks`` table and whether the root is a CIM document element.
    """
    root = _xml.parse_xml(data, issues)
    tables = {}
    for element, (transform, columns) in {
        "IntervalReadings": (_INTERVAL_XSLT, _INTERVAL_COLUMNS),
        "Readings": (_REGISTER_XSLT, _REGISTER_COLUMNS),
        "EndDeviceEvent": (_EVENT_XSLT, _EVENT_COLUMNS),
    }.items():
        table = _xml.xslt_table(root, transform, columns)
        lines = _xml.element_lines(data, element, table.height)
        if lines is None:
            lines = _xml.sourcelines(list(_XPATHS[element](root)))  # type: ignore[arg-type]
        tables[element] = table.with_columns(pl.Series("line", lines, dtype=pl.Int64))
    readings = tables["IntervalReadings"]
    tables["IntervalReadings"] = readings.select(
        "mr",
        "block",
        *_cim_fast.numbers_of_text(readings["time"], readings["period_start"], readings["value"]),
        "qualities",
        "line",
    )
    blocks = _xml.xslt_table(root, _BLOCK_XSLT, _BLOCK_COLUMNS)
    return tables, blocks, _is_cim_root(root)


def quality_flags(codes: pl.Series) -> pl.Series:
    """Flags of space-separated ReadingQualityType code lists (OR of each code's flags).

    Exact codes from ``vee.flags`` (their ``cim_quality``) win; otherwise the category
    decides (8 estimated, 7 edited, 5 and 10 suspect); valid (``x.0.x``) and unknown → 0.

    Examples:
        >>> quality_flags(pl.Series(["", "3.8.0 1.2.32", "1.4.16"])).to_list()
        [0, 9, 0]
    """
    result = np.zeros(codes.len(), dtype=np.uint32)
    present = np.flatnonzero((codes.fill_null("").str.strip_chars() != "").to_numpy())
    if present.size:
        items = pl.DataFrame(
            {"row": present, "code": codes.gather(present).str.strip_chars().str.split(" ")}
        ).explode("code")
        exact = pl.col("code").replace_strict(_FLAG_BY_CODE, default=None, return_dtype=pl.UInt32)
        category = (
            pl.col("code")
            .str.split(".")
            .list.get(1, null_on_oob=True)
            .replace_strict(_FLAG_BY_CATEGORY, default=0, return_dtype=pl.UInt32)
        )
        flags = items.with_columns(pl.coalesce(exact, category).fill_null(0).alias("f"))
        grouped = flags.group_by("row").agg(pl.col("f").bitwise_or())
        result[grouped["row"].to_numpy()] = grouped["f"].to_numpy()
    return pl.Series("quality_flags", result, dtype=pl.UInt32)


def _decoded(frame: pl.DataFrame) -> pl.DataFrame:
    parts = pl.col("reading_type").str.split(".")
    fields = {
        "aggregate": 1,
        "measuring_period": 2,
        "accumulation": 3,
        "flow": 4,
        "kind": 6,
        "tou": 11,
        "multiplier": 15,
        "unit": 16,
        "macro_period": 0,
    }
    frame = frame.with_columns(
        (parts.list.len() == 18).alias("rt_ok"),
        *[
            parts.list.get(i, null_on_oob=True).cast(pl.Int64, strict=False).alias(n)
            for n, i in fields.items()
        ],
    )
    channel = pl.lit(None, dtype=pl.String)
    exponent = pl.lit(None, dtype=pl.Int64)
    for rule in reversed(CHANNEL_RULES):
        match = (pl.col("kind") == rule.measurement_kind) & (pl.col("unit") == rule.unit)
        if rule.flow_direction is not None:
            match &= pl.col("flow") == rule.flow_direction
        if rule.aggregate is not None:
            match &= pl.col("aggregate") == rule.aggregate
        channel = pl.when(match).then(pl.lit(rule.channel)).otherwise(channel)
        exponent = pl.when(match).then(pl.lit(rule.unit_exponent)).otherwise(exponent)
    return frame.with_columns(
        channel.alias("channel"), (pl.col("multiplier") + exponent).alias("exponent")
    )


def _value_rules() -> list[tuple[pl.Expr, str, str, str]]:
    return [
        (
            pl.col("serial_number").is_null(),
            "Meter",
            "meter.missing",
            "no Meter serialNumber, Names/name or mRID",
        ),
        (
            ~pl.col("rt_ok"),
            "ReadingType",
            "reading_type.invalid",
            "ReadingType ref must be 18 dot-separated integers",
        ),
        (
            pl.col("channel").is_null(),
            "ReadingType",
            "reading_type.unsupported",
            "no channel for this measurementKind/unit/flowDirection",
        ),
        (pl.col("raw").is_null(), "value", "value.not_a_number", "the value is not a number"),
        (
            ~pl.col("value").is_finite() | (pl.col("value").abs() > 1e12),
            "value",
            "value.out_of_range",
            "the value is not finite or too large",
        ),
        (
            (pl.col("value") < 0)
            & pl.col("channel").is_in(
                ["kwh_delivered", "kwh_received", "kvarh_delivered", "kw_demand"]
            ),
            "value",
            "value.negative",
            "a negative value on a channel that cannot be negative",
        ),
    ]


def _intervals(table: pl.DataFrame, issues: IssueLog) -> pl.DataFrame:
    if table.is_empty():
        return PARSED_INTERVAL_READS.empty()
    frame = table
    length = pl.col("measuring_period").replace_strict(
        dict(MEASURING_PERIODS), default=None, return_dtype=pl.Int64
    )
    length = (
        pl.when(length.is_null() & (pl.col("macro_period") == _MACRO_DAILY))
        .then(86400)
        .otherwise(length)
    )
    number = pl.col("numerator").cast(pl.Float64, strict=False).fill_null(1.0) / pl.col(
        "denominator"
    ).cast(pl.Float64, strict=False).fill_null(1.0)
    scalar = pl.col("scalar").cast(pl.Float64, strict=False).fill_null(number)
    offset = pl.col("offset").cast(pl.Float64, strict=False).fill_null(0.0)
    raw = pl.col("raw")
    pending = (
        pl.when(pl.col("multiply_first") == "false")
        .then((raw + offset) * scalar)
        .otherwise(raw * scalar + offset)
    )
    has_pending = (
        (pl.col("numerator") != "")
        | (pl.col("denominator") != "")
        | (pl.col("scalar") != "")
        | (pl.col("offset") != "")
    )
    frame = frame.with_columns(
        pl.coalesce((pl.col("end") - pl.col("begin")).dt.total_seconds(), length).alias(
            "interval_s"
        ),
        pl.when(has_pending).then(pending).otherwise(raw).alias("unscaled"),
    )
    frame = frame.with_columns(scale_pow10(frame["unscaled"], frame["exponent"]).alias("value"))
    rules = [
        *_value_rules()[:3],
        (
            pl.col("end").is_null(),
            "timeStamp",
            "time.invalid",
            "timeStamp must be an xs:dateTime with an offset",
        ),
        (
            pl.col("interval_s").is_null() | (pl.col("interval_s") <= 0),
            "ReadingType",
            "reading_type.no_interval",
            "no interval length from measuringPeriod or timePeriod",
        ),
        *_value_rules()[3:],
    ]
    good = report(frame, rules, issues).with_columns(
        (pl.col("end") - pl.duration(seconds=pl.col("interval_s"))).alias("interval_start_utc"),
        pl.when(pl.col("qualities").str.strip_chars() == "")
        .then(None)
        .otherwise(pl.col("qualities").str.strip_chars())
        .alias("source_quality"),
        pl.col("qualities")
        .map_batches(quality_flags, return_dtype=pl.UInt32)
        .alias("quality_flags"),
        pl.col("line").alias("source_line"),
    )
    return contract_frame(good, PARSED_INTERVAL_READS)


def _registers(table: pl.DataFrame, issues: IssueLog) -> pl.DataFrame:
    if table.is_empty():
        return PARSED_REGISTER_READS.empty()
    frame = _decoded(table.with_columns(serial_expr())).with_columns(
        pl.col("time")
        .map_batches(_time.parse_iso_utc, return_dtype=pl.Datetime("us", "UTC"))
        .alias("read_time_utc"),
        pl.col("value").cast(pl.Float64, strict=False).alias("raw"),
    )
    frame = frame.with_columns(scale_pow10(frame["raw"], frame["exponent"]).alias("value"))
    rules = [
        *_value_rules()[:3],
        (
            pl.col("read_time_utc").is_null(),
            "timeStamp",
            "time.invalid",
            "timeStamp must be an xs:dateTime with an offset",
        ),
        *_value_rules()[3:],
    ]
    good = report(frame, rules, issues).with_columns(
        pl.when(pl.col("tou").fill_null(0) == 0)
        .then(None)
        .otherwise(pl.col("tou").cast(pl.String))
        .alias("tou_period"),
        pl.when(pl.col("qualities").str.strip_chars() == "")
        .then(None)
        .otherwise(pl.col("qualities").str.strip_chars())
        .alias("source_quality"),
        pl.col("qualities")
        .map_batches(quality_flags, return_dtype=pl.UInt32)
        .alias("quality_flags"),
        pl.col("line").alias("source_line"),
    )
    return contract_frame(good, PARSED_REGISTER_READS)
