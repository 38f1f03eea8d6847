"""Green Button (NAESB REQ.21 ESPI) Atom feeds: read, and write one customer's usage.

Reading. Resources are joined by their Atom links, never by order (standards.md §4.1): an
``IntervalBlock`` entry belongs to the ``MeterReading`` whose ``related`` links name its
``self`` or ``up`` link (or whose ``self`` is a prefix of it), that ``MeterReading`` to its
``ReadingType`` (related link) and to the ``UsagePoint`` that relates to it. A feed with
one ``MeterReading``/``UsagePoint`` needs no links. Times are ESPI's UTC epoch seconds
(``timePeriod/start`` is already the interval *beginning*); ``duration`` gives
``interval_s``. Values are ``value × 10^powerOfTenMultiplier`` in ``uom``, normalised to the
channel's unit by :data:`READING_TYPES`; ``qualityOfReading`` maps to flags by
:data:`QUALITY_FLAGS` and is kept in ``source_quality``. The meter is identified by the last
path segment of the UsagePoint's ``self`` link unless ``serial_number=`` is given.

Writing. :func:`write_espi` writes one meter's interval reads as a feed: a UsagePoint, and
per channel and interval length a MeterReading, a ReadingType and one IntervalBlock per UTC
day. Values are written as integers of 10⁻⁶ of the channel unit.

Pure module: standard library, numpy, polars, lxml and pure meterops modules only.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, BinaryIO, Final, NamedTuple

import numpy as np
import polars as pl
from lxml import etree

from meterops.ingest.formats import _espi_fast, _espi_numeric, _xml
from meterops.ingest.formats._common import (
    EDITED,
    ESTIMATED,
    SUSPECT,
    IssueLog,
    read_input,
    read_path,
    scale_pow10,
    strip_bom,
)
from meterops.ingest.formats.base import ParsedBatch
from meterops.reads.schema import (
    PARSED_COMM_STATS,
    PARSED_EVENTS,
    PARSED_INTERVAL_READS,
    PARSED_REGISTER_READS,
    PARSED_TOPOLOGY,
)

# The empty frames of the kinds a feed never holds, built once: four empty frames per feed
# (``ParsedBatch``'s defaults) cost about 0.3 ms of a feed's few milliseconds, and Polars
# frames are immutable, so every batch can share them.
_EMPTY_KINDS: Final = MappingProxyType(
    {
        "register_reads": PARSED_REGISTER_READS.empty(),
        "events": PARSED_EVENTS.empty(),
        "comm_stats": PARSED_COMM_STATS.empty(),
        "topology": PARSED_TOPOLOGY.empty(),
    }
)

__all__ = [
    "ESPI_CHANNELS",
    "QUALITY_FLAGS",
    "READING_TYPES",
    "EspiReadingType",
    "parse_espi",
    "read_espi",
    "sniff_espi",
    "write_espi",
]

ATOM: Final = _espi_fast.ATOM
ESPI: Final = _espi_fast.ESPI


class EspiReadingType(NamedTuple):
    """The ReadingType fields that decide channel and scale.

    Attributes:
        uom: Unit code (72 Wh, 38 W, 73 VArh, 29 V, 169 therm).
        power_of_ten_multiplier: Value = raw × 10^this, in ``uom``.
        flow_direction: 1 delivered, 19 received, 4 net (None: delivered).
        interval_length: Seconds, used when readings carry no ``timePeriod``.
    """

    uom: int
    power_of_ten_multiplier: int = 0
    flow_direction: int | None = None
    interval_length: int | None = None


READING_TYPES: Final[Mapping[tuple[int, int], tuple[str, int]]] = MappingProxyType(
    {
        (72, 1): ("kwh_delivered", -3),  # Wh → kWh
        (72, 19): ("kwh_received", -3),
        (72, 4): ("kwh_net", -3),
        (73, 1): ("kvarh_delivered", -3),  # VArh → kVArh
        (38, 1): ("kw_demand", -3),  # W → kW
        (29, 0): ("voltage_v", 0),
        (169, 0): ("gas_therm_delivered", 0),
    }
)
"""(uom, flowDirection) → (channel, power of ten from the uom to the channel's unit).

A missing flowDirection counts as 1 (delivered); voltage and gas ignore the direction."""

_DIRECTIONLESS: Final = frozenset({29, 169})

QUALITY_FLAGS: Final[Mapping[str, int]] = MappingProxyType(
    {
        "0": 0,
        "7": EDITED,
        "8": ESTIMATED,
        "9": ESTIMATED,
        "10": SUSPECT,
        "11": 0,
        "12": ESTIMATED,
        "13": SUSPECT,
        "14": 0,
        "15": EDITED,
        "16": SUSPECT,
        "17": 0,
        "18": 0,
        "19": 0,
    }
)
"""ESPI QualityOfReading → ``quality_flags``; unknown codes → ``SOURCE_SUSPECT``."""

_CHANNEL_TYPES: Final = {ch: (uom, flow) for (uom, flow), (ch, _) in READING_TYPES.items()}

ESPI_CHANNELS: Final = frozenset(_CHANNEL_TYPES)
"""Channels a Green Button feed can carry (:func:`write_espi` refuses others)."""

_ENTRY_XSLT: Final = etree.XSLT(
    etree.XML(
        f"""\
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
  xmlns:a="{ATOM}" xmlns:e="{ESPI}">
<xsl:output method="text"/>
<xsl:template match="/">
<xsl:for-each select="//a:entry">
<xsl:value-of select="position()"/><xsl:text>&#9;</xsl:text>
<xsl:value-of select="local-name(a:content/*[1])"/><xsl:text>&#9;</xsl:text>
<xsl:value-of select="normalize-space(a:link[@rel='self']/@href)"/><xsl:text>&#9;</xsl:text>
<xsl:value-of select="normalize-space(a:link[@rel='up']/@href)"/><xsl:text>&#9;</xsl:text>
<xsl:for-each select="a:link[@rel='related']"><xsl:value-of
  select="normalize-space(@href)"/><xsl:text> </xsl:text></xsl:for-each><xsl:text>&#9;</xsl:text>
<xsl:for-each select="a:content/e:ReadingType">
<xsl:value-of select="normalize-space(e:uom)"/><xsl:text>&#9;</xsl:text>
<xsl:value-of select="normalize-space(e:powerOfTenMultiplier)"/><xsl:text>&#9;</xsl:text>
<xsl:value-of select="normalize-space(e:flowDirection)"/><xsl:text>&#9;</xsl:text>
<xsl:value-of select="normalize-space(e:intervalLength)"/></xsl:for-each>
<xsl:text>&#10;</xsl:text>
</xsl:for-each>
</xsl:template>
</xsl:stylesheet>""".encode()
    )
)
_ENTRY_COLUMNS: Final = ["gid", "kind", "self", "up", "related", "uom", "power", "flow", "length"]

_READING_XSLT: Final = etree.XSLT(
    etree.XML(
        f"""\
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
  xmlns:a="{ATOM}" xmlns:e="{ESPI}">
<xsl:output method="text"/>
<xsl:template match="/">
<xsl:for-each select="//a:entry">
<xsl:variable name="entry" select="position()"/>
<xsl:for-each select="a:content/e:IntervalBlock">
<xsl:variable name="start" select="normalize-space(e:interval/e:start)"/>
<xsl:for-each select="e:IntervalReading">
<xsl:value-of select="$entry"/><xsl:text>&#9;</xsl:text>
<xsl:value-of select="$start"/><xsl:text>&#9;</xsl:text>
<xsl:value-of select="position()"/><xsl:text>&#9;</xsl:text>
<xsl:value-of select="normalize-space(e:timePeriod/e:start)"/><xsl:text>&#9;</xsl:text>
<xsl:value-of select="normalize-space(e:timePeriod/e:duration)"/><xsl:text>&#9;</xsl:text>
<xsl:value-of select="normalize-space(e:value)"/><xsl:text>&#9;</xsl:text>
<xsl:value-of select="normalize-space(e:ReadingQuality[1]/e:quality)"/><xsl:text>&#10;</xsl:text>
</xsl:for-each>
</xsl:for-each>
</xsl:for-each>
</xsl:template>
</xsl:stylesheet>""".encode()
    )
)
_READING_COLUMNS: Final = [
    "entry",
    "block_start",
    "position",
    "start",
    "duration",
    "value",
    "quality",
]
_READINGS: Final = etree.XPath(
    "//a:entry/a:content/e:IntervalBlock/e:IntervalReading", namespaces={"e": ESPI, "a": ATOM}
)
_US: Final = 1_000_000


def sniff_espi(head: bytes) -> bool:
    """True when ``head`` looks like an ESPI (Green Button) XML document.

    Examples:
        >>> sniff_espi(b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom" '
        ...            b'xmlns:espi="http://naesb.org/espi">')
        True
    """
    text = strip_bom(head).lstrip()
    return text.startswith(b"<") and b"naesb.org/espi" in head


def read_espi(
    path: str | Path,
    *,
    strict: bool = False,
    serial_number: str | None = None,
    reading_type_fallback: EspiReadingType | None = None,
) -> ParsedBatch:
    """Read a Green Button feed from ``path``; see :func:`parse_espi`."""
    data, name = read_path(path)
    return parse_espi(
        data,
        name=name,
        strict=strict,
        serial_number=serial_number,
        reading_type_fallback=reading_type_fallback,
    )


def parse_espi(
    stream: bytes | BinaryIO,
    *,
    name: str,
    strict: bool = False,
    serial_number: str | None = None,
    reading_type_fallback: EspiReadingType | None = None,
) -> ParsedBatch:
    """Parse a Green Button (ESPI) feed into interval reads.

    Args:
        stream: XML bytes or a binary stream.
        name: File name used in issues.
        strict: Raise at the first issue instead of collecting issues.
        serial_number: Meter id for every row (default: UsagePoint link's last segment).
        reading_type_fallback: ReadingType to use where the feed's ReadingType has no
            ``uom`` (some gas feeds ship an empty one: pass ``EspiReadingType(169, -3)``).

    Returns:
        Interval reads; ``rows_in_file`` counts IntervalReading elements.

    Raises:
        ParseError: Unsafe or malformed XML, strict mode with an issue, or readings of which
            none is usable. An Atom or ESPI document without any ``IntervalReading`` is a
            valid empty delivery (empty frame, ``rows_in_file`` 0).
    """
    return _parse(
        read_input(stream),
        name=name,
        strict=strict,
        serial_number=serial_number,
        reading_type_fallback=reading_type_fallback,
        fast=True,
    )


def _parse(
    data: bytes,
    *,
    name: str,
    strict: bool,
    serial_number: str | None,
    reading_type_fallback: EspiReadingType | None,
    fast: bool,
) -> ParsedBatch:
    """:func:`parse_espi`; ``fast=False`` forces the reference path (lxml + XSLT) for tests."""
    issues = IssueLog(name, strict=strict)
    located = _espi_fast.locate(data) if fast else None
    frame = None
    if located is not None:
        frame = _numeric_reads(located, serial_number, reading_type_fallback)
    if frame is not None:
        return _batch(name, frame, issues, located.readings.size if located else 0)
    extracted = _espi_fast.tables(located) if located is not None else None
    if extracted is not None and extracted.readings.height:
        readings, entries, empty_feed = extracted
    else:
        readings, entries, empty_feed = _reference_tables(data, issues)
    blocks = _link_blocks(entries, serial_number, reading_type_fallback)
    frame = _readings(readings, blocks, issues)
    if frame.is_empty() and not (empty_feed and issues.is_empty_delivery(readings.height)):
        raise issues.whole_file(
            "file.no_records", "no usable IntervalReading in the feed", field="IntervalReading"
        )
    return _batch(name, frame, issues, readings.height)


def _batch(name: str, frame: pl.DataFrame, issues: IssueLog, rows: int) -> ParsedBatch:
    return ParsedBatch(
        source_name=name,
        format="espi",
        interval_reads=frame,
        issues=issues.finish(),
        rows_in_file=rows,
        register_reads=_EMPTY_KINDS["register_reads"],
        events=_EMPTY_KINDS["events"],
        comm_stats=_EMPTY_KINDS["comm_stats"],
        topology=_EMPTY_KINDS["topology"],
    )


def _numeric_reads(
    located: _espi_fast.Located,
    serial_number: str | None,
    fallback: EspiReadingType | None,
) -> pl.DataFrame | None:
    """The reads of a feed without any issue, from integers (see :mod:`._espi_numeric`).

    Returns None — the string path then runs and locates the issues — unless every reading
    is in the numeric subset and every block is linked to a serial number and a channel.
    """
    if located.readings.size == 0:
        return None
    spans = _espi_fast.reading_spans(located)
    found = None if spans is None else _espi_numeric.numbers(located.doc.s.data, spans)
    if found is None:
        return None
    blocks = _numeric_blocks(_block_records(located.entries, serial_number, fallback))
    if blocks is None:
        return None
    gids, serials, channels, exponents = blocks
    row_of = np.full(located.entries.height + 1, -1, dtype=np.int64)
    row_of[gids] = np.arange(gids.size)
    rows = row_of[located.major + 1]
    if rows.min() < 0:
        return None  # a reading in an entry whose first content is not its IntervalBlock
    channel = pl.Series(channels, dtype=pl.String)
    return _espi_numeric.reads_frame(
        found,
        located.doc.s.line[located.readings],
        pl.Series(serials, dtype=pl.String).gather(rows),
        channel.gather(rows),
        exponents[rows],
        np.array([c == "kwh_net" for c in channels], dtype=np.bool_)[rows],
        QUALITY_FLAGS,
        PARSED_INTERVAL_READS.schema,
    )


_CANONICAL_INT: Final = re.compile(r"0|-?[1-9][0-9]{0,8}")


def _code(text: str | None) -> int | None:
    """``text`` as an integer if it is one in canonical decimal form (as a cast reads it)."""
    return int(text) if text is not None and _CANONICAL_INT.fullmatch(text) else None


def _channel_and_power(
    uom_text: str | None, power_text: str, flow_text: str | None
) -> tuple[str, int] | None:
    """The channel and the power of ten to it of a ReadingType's texts (None: an issue)."""
    uom, power = _code(uom_text), _code(power_text)
    flow = 1 if flow_text is None else _code(flow_text)
    if uom in _DIRECTIONLESS:
        flow = 0
    found = READING_TYPES.get((uom, flow)) if uom is not None and flow is not None else None
    if found is None or power is None:
        return None
    return found[0], power + found[1]


def _numeric_blocks(
    records: list[dict[str, Any]],
) -> tuple[np.ndarray, list[str], list[str], np.ndarray] | None:
    """Gids, serial numbers, channels and powers of ten of blocks that all resolve; else None.

    The same resolution as :func:`_link_blocks` and the rules of :func:`_readings`, in
    Python for the few blocks of a feed; a text that is not a plain integer declines.
    """
    gids, serials, channels, exponents = [], [], [], []
    resolved: dict[tuple[str | None, ...], tuple[str, int] | None] = {}
    for record in records:
        if not record["linked"] or record["serial_number"] is None:
            return None
        texts = (record["uom"], record["power"], record["flow"])
        if texts not in resolved:  # a year feed's hundreds of blocks share one ReadingType
            resolved[texts] = _channel_and_power(*texts)
        found = resolved[texts]
        if found is None:
            return None
        gids.append(int(record["entry"]))
        serials.append(record["serial_number"])
        channels.append(found[0])
        exponents.append(found[1])
    return (
        np.array(gids, dtype=np.int64),
        serials,
        channels,
        np.array(exponents, dtype=np.int64),
    )


@functools.cache
def _reading_types() -> pl.DataFrame:
    """``READING_TYPES`` as a frame to join (built once per process, not once per feed)."""
    return pl.DataFrame(
        [(ch, u, f, e) for (u, f), (ch, e) in READING_TYPES.items()],
        schema=["channel", "uom_code", "flow_code", "unit_exp"],
        orient="row",
    )


def _reference_tables(data: bytes, issues: IssueLog) -> tuple[pl.DataFrame, pl.DataFrame, bool]:
    """The reference path: lxml tree and XSLT; the located error for unsafe/malformed XML.

    Returns:
        The readings table (with ``line``), the entries table, and whether the document
        element is in the Atom or ESPI namespace.
    """
    root = _xml.parse_xml(data, issues)
    readings = _xml.xslt_table(root, _READING_XSLT, _READING_COLUMNS)
    lines = _xml.element_lines(data, "IntervalReading", readings.height)
    if lines is None:
        lines = _xml.sourcelines(list(_READINGS(root)))  # type: ignore[arg-type]
    readings = readings.with_columns(pl.Series("line", lines, dtype=pl.Int64))
    entries = _xml.xslt_table(root, _ENTRY_XSLT, _ENTRY_COLUMNS)
    return readings, entries, etree.QName(root).namespace in {ATOM, ESPI}


def _norm(href: str) -> str:
    return href.strip().rstrip("/")


def _link_blocks(
    entries: pl.DataFrame, serial_number: str | None, fallback: EspiReadingType | None
) -> pl.DataFrame:
    """One row per IntervalBlock entry: its serial number and reading type (Python per entry)."""
    out = _block_records(entries, serial_number, fallback)
    schema = {
        "entry": pl.String,
        "serial_number": pl.String,
        "uom": pl.String,
        "power": pl.String,
        "flow": pl.String,
        "length": pl.String,
        "linked": pl.Boolean,
    }
    types = _reading_types()
    frame = pl.DataFrame(out, schema=schema).with_columns(
        pl.col("uom").cast(pl.Int64, strict=False).alias("uom_code"),
        pl.col("power").cast(pl.Int64, strict=False).alias("power_code"),
        pl.col("length").cast(pl.Int64, strict=False).alias("length_s"),
        pl.when(pl.col("uom").cast(pl.Int64, strict=False).is_in(list(_DIRECTIONLESS)))
        .then(0)
        .otherwise(pl.col("flow").cast(pl.Int64, strict=False).fill_null(1))
        .alias("flow_code"),
    )
    return frame.join(types, on=["uom_code", "flow_code"], how="left", maintain_order="left")


def _block_records(
    entries: pl.DataFrame, serial_number: str | None, fallback: EspiReadingType | None
) -> list[dict[str, Any]]:
    """Per IntervalBlock entry: gid, serial number, reading type texts and whether linked."""
    rows = entries.to_dicts()
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        row["self"], row["up"] = _norm(row["self"] or ""), _norm(row["up"] or "")
        row["links"] = {_norm(h) for h in (row["related"] or "").split()}
        by_kind.setdefault(row["kind"] or "", []).append(row)

    def parent(child: dict[str, Any], kind: str) -> dict[str, Any] | None:
        candidates = by_kind.get(kind, [])
        for c in candidates:
            links = c["links"]
            if (
                child["self"] in links
                or (child["up"] and child["up"] in links)
                or (c["self"] and child["self"].startswith(c["self"] + "/"))
            ):
                return c
        return candidates[0] if len(candidates) == 1 else None

    out = []
    for block in by_kind.get("IntervalBlock", []):
        reading = parent(block, "MeterReading")
        point = parent(reading, "UsagePoint") if reading else None
        rtype = None
        if reading is not None:
            rtype = next(
                (t for t in by_kind.get("ReadingType", []) if t["self"] in reading["links"]), None
            )
            if rtype is None and len(by_kind.get("ReadingType", [])) == 1:
                rtype = by_kind["ReadingType"][0]
        serial = serial_number or (point["self"].split("/")[-1] if point else None)
        uom = (rtype or {}).get("uom") or None
        record = {
            "entry": block["gid"],
            "serial_number": serial,
            "uom": uom,
            "power": (rtype or {}).get("power") or "0",
            "flow": (rtype or {}).get("flow") or None,
            "length": (rtype or {}).get("length") or None,
            "linked": reading is not None,
        }
        if uom is None and fallback is not None and reading is not None:
            record |= {
                "uom": str(fallback.uom),
                "power": str(fallback.power_of_ten_multiplier),
                "flow": None if fallback.flow_direction is None else str(fallback.flow_direction),
                "length": None
                if fallback.interval_length is None
                else str(fallback.interval_length),
            }
        out.append(record)
    return out


def _readings(readings: pl.DataFrame, blocks: pl.DataFrame, issues: IssueLog) -> pl.DataFrame:
    df = readings.join(blocks, on="entry", how="left", maintain_order="left")
    start_int = pl.col("start").cast(pl.Int64, strict=False)
    start_float = pl.col("start").cast(pl.Float64, strict=False)
    block_start = pl.col("block_start").cast(pl.Int64, strict=False)
    derived = block_start * _US + (pl.col("position").cast(pl.Int64) - 1) * pl.col("length_s") * _US
    start_us = (
        pl.when(pl.col("start") == "")
        .then(derived)
        .when(start_int.is_not_null())
        .then(start_int * _US)
        .otherwise((start_float * _US).round(0).cast(pl.Int64, strict=False))
    )
    duration = (
        pl.when(pl.col("duration") == "")
        .then(pl.col("length_s"))
        .otherwise(pl.col("duration").cast(pl.Int64, strict=False))
    )
    value = pl.col("value").cast(pl.Float64, strict=False)
    exponent = pl.col("power_code") + pl.col("unit_exp")
    df = df.with_columns(
        start_us.alias("start_us"),
        duration.alias("duration_s"),
        value.alias("raw"),
        exponent.alias("exponent"),
    )
    df = df.with_columns(scale_pow10(df["raw"], df["exponent"]).alias("scaled"))
    rules: list[tuple[pl.Expr, str, str, str]] = [
        (
            ~pl.col("linked").fill_null(value=False),
            "IntervalBlock",
            "link.no_meter_reading",
            "the IntervalBlock's entry is not linked to any MeterReading",
        ),
        (
            pl.col("uom").is_null(),
            "ReadingType",
            "reading_type.missing_uom",
            "the MeterReading has no ReadingType uom (pass reading_type_fallback=…)",
        ),
        (
            pl.col("channel").is_null(),
            "ReadingType",
            "reading_type.unsupported",
            f"no channel for this uom/flowDirection; supported: {sorted(READING_TYPES)}",
        ),
        (
            pl.col("serial_number").is_null(),
            "UsagePoint",
            "link.no_usage_point",
            "no UsagePoint relates to the MeterReading (pass serial_number=…)",
        ),
        (
            pl.col("start_us").is_null(),
            "timePeriod",
            "time.invalid",
            "timePeriod/start is missing or not epoch seconds",
        ),
        (
            pl.col("duration_s").is_null()
            | (pl.col("duration_s") <= 0)
            | (pl.col("duration_s") > 2**31 - 1),
            "duration",
            "duration.invalid",
            "duration must be a positive number of seconds",
        ),
        (pl.col("raw").is_null(), "value", "value.not_a_number", "the value is not a number"),
        (
            ~pl.col("scaled").is_finite() | (pl.col("scaled").abs() > 1e12),
            "value",
            "value.out_of_range",
            "the value is not finite or too large",
        ),
        (
            (pl.col("scaled") < 0) & (pl.col("channel") != "kwh_net"),
            "value",
            "value.negative",
            "a negative value on a channel that cannot be negative",
        ),
    ]
    masks = df.select(c.fill_null(value=True).alias(f"r{i}") for i, (c, *_) in enumerate(rules))
    matrix = masks.to_numpy()
    first = np.where(matrix.any(axis=1), matrix.argmax(axis=1), -1)
    bad = np.flatnonzero(first >= 0)
    if bad.size:
        issues.add_frame(
            pl.DataFrame(
                {
                    "line": df["line"].gather(bad),
                    "field": [rules[r][1] for r in first[bad]],
                    "code": [rules[r][2] for r in first[bad]],
                    "message": [rules[r][3] for r in first[bad]],
                }
            )
        )
        df = df.filter(pl.Series(first < 0))
    # The canonical columns in one query (a feed's fixed cost is its number of queries).
    quality = pl.col("quality")
    columns = {
        "interval_start_utc": pl.col("start_us").cast(pl.Datetime("us", "UTC")),
        "interval_s": pl.col("duration_s"),
        "value": pl.col("scaled"),
        "source_quality": pl.when(quality == "").then(None).otherwise(quality),
        "quality_flags": pl.when(quality == "")
        .then(pl.lit(0, dtype=pl.UInt32))
        .otherwise(
            quality.replace_strict(dict(QUALITY_FLAGS), default=SUSPECT, return_dtype=pl.UInt32)
        ),
        "source_line": pl.col("line"),
    }
    return df.select(
        columns.get(c.name, pl.col(c.name)).cast(c.dtype).alias(c.name)
        for c in PARSED_INTERVAL_READS
    )


def write_espi(
    interval_reads: pl.DataFrame,
    *,
    customer_id: str = "1",
    base_url: str = "https://example.invalid/espi/1_1/resource",
    updated_at: str = "1970-01-01T00:00:00Z",
    path: str | Path | None = None,
) -> bytes:
    """Write one meter's interval reads as a Green Button (ESPI) Atom feed.

    Args:
        interval_reads: ``PARSED_INTERVAL_READS`` columns for a single ``serial_number``.
        customer_id: RetailCustomer id used in the resource links.
        base_url: Prefix of every resource link.
        updated_at: Atom ``updated``/``published`` text (a fixed value keeps output stable).
        path: Also write the bytes to this file.

    Returns:
        UTF-8 XML bytes.

    Raises:
        ValueError: More than one serial number, or a channel ESPI cannot carry.
    """
    from meterops.ingest.formats import _espi_writer

    return _espi_writer.build_feed(
        interval_reads,
        customer_id=customer_id,
        base_url=base_url,
        updated_at=updated_at,
        path=path,
    )
