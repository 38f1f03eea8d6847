"""Fast path of :func:`meterops.ingest.formats.cim.parse_cim`: the stylesheets' tables without lxml.

:func:`extract` scans the document once (:mod:`._xml_scan`) and rebuilds, with numpy, exactly
the string tables that the reference path's XSLT transforms produce for ``IntervalReadings``
and ``IntervalBlocks`` (same columns, same row order, same ``normalize-space()`` text) plus the
start-tag line of every reading. It returns None, and the caller runs the reference path,
when the document lies outside the scanner's XML subset, is larger than
:data:`meterops.ingest.formats._xml.MAX_XML_BYTES`, holds ``Readings`` or ``EndDeviceEvent``
elements (register reads and events keep the reference path), or has a selected value with
child elements. Everything after the tables (decoding, checks, issues) is shared code.

Pure module: numpy, polars and pure meterops modules only.
"""

from __future__ import annotations

from typing import Final, NamedTuple

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa

from meterops.ingest.formats import _kernels, _time
from meterops.ingest.formats._xml import MAX_DEPTH, MAX_XML_BYTES
from meterops.ingest.formats._xml_scan import scan
from meterops.ingest.formats._xml_select import Doc, Step, Unsupported

__all__ = ["EV_NS", "MR_NS", "CimTables", "extract", "numbers_of_text"]

MR_NS: Final = "http://iec.ch/TC57/2011/MeterReadings#"
EV_NS: Final = "http://iec.ch/TC57/2011/EndDeviceEvents#"

_NAMES: Final = (
    "MeterReadings",
    "EndDeviceEvents",
    "MeterReading",
    "IntervalBlocks",
    "IntervalReadings",
    "timeStamp",
    "timePeriod",
    "start",
    "value",
    "ReadingQualities",
    "ReadingQualityType",
    "Meter",
    "serialNumber",
    "Names",
    "name",
    "mRID",
    "ReadingType",
    "PendingCalculation",
    "scalarNumerator",
    "scalarDenominator",
    "scalarFloat",
    "offset",
    "multiplyBeforeAdd",
    "Readings",
    "EndDeviceEvent",
)
_N: Final = {name: k for k, name in enumerate(_NAMES)}
_MR: Final = 0
_EV: Final = 1
_REF: Final = 0
_POW10: Final = 10.0 ** np.arange(_kernels.MAX_FAST_DIGITS + 1)
_UTC: Final = pl.Datetime("us", "UTC")
_PENDING: Final = {
    "numerator": "scalarNumerator",
    "denominator": "scalarDenominator",
    "scalar": "scalarFloat",
    "offset": "offset",
    "multiply_first": "multiplyBeforeAdd",
}


class CimTables(NamedTuple):
    """The reference path's string tables.

    Attributes:
        intervals: ``mr, block`` (String), ``end`` (``timeStamp``) and ``begin``
            (``timePeriod/start``) as UTC datetimes, ``raw`` (``value``, Float64),
            ``qualities`` (String) and ``line``: the reference's string table after
            :func:`numbers_of_text`.
        blocks: ``mr, block, serial, name, mrid, reading_type, numerator, denominator,
            scalar, offset, multiply_first`` (String).
        is_cim_root: The document element is a CIM ``MeterReadings`` or ``EndDeviceEvents``.
    """

    intervals: pl.DataFrame
    blocks: pl.DataFrame
    is_cim_root: bool


def _mr(name: str, *, first: bool = False) -> Step:
    return (_N[name], _MR, first)


def extract(data: bytes) -> CimTables | None:
    """The interval and block tables of a CIM document, or None for the reference path.

    Examples:
        >>> doc = (b'<MeterReadings xmlns="http://iec.ch/TC57/2011/MeterReadings#"><MeterReading>'
        ...        b'<Meter><mRID>m1</mRID></Meter><IntervalBlocks><ReadingType ref="x"/>'
        ...        b'<IntervalReadings><timeStamp>T</timeStamp><value> 1 </value>'
        ...        b'</IntervalReadings></IntervalBlocks></MeterReading></MeterReadings>')
        >>> t = extract(doc)
        >>> t.intervals.row(0), t.blocks["mrid"].to_list(), t.is_cim_root
        (('1', '1', None, None, 1.0, '', 1), ['m1'], True)
        >>> extract(b"<!DOCTYPE MeterReadings>" + doc) is None  # the reference path refuses it
        True
    """
    if len(data) > MAX_XML_BYTES:
        return None
    scanned = scan(data, _NAMES, (MR_NS, EV_NS), ("ref",), MAX_DEPTH)
    if scanned is None:
        return None
    try:
        return _tables(Doc(scanned))
    except Unsupported:
        return None


def _tables(doc: Doc) -> CimTables:
    if doc.elements(_N["Readings"], _MR).size or doc.elements(_N["EndDeviceEvent"], _EV).size:
        raise Unsupported
    root_name, root_ns = int(doc.s.name[0]), int(doc.s.ns[0])
    is_root = (root_name, root_ns) in {(_N["MeterReadings"], _MR), (_N["EndDeviceEvents"], _EV)}
    readings_mr = doc.elements(_N["MeterReading"], _MR)
    blocks, block_mr = doc.select(readings_mr, [_mr("IntervalBlocks")])
    block_pos = doc.position(blocks)
    order = _order(block_mr, block_pos, np.arange(blocks.size))
    blocks, block_mr, block_pos = blocks[order], block_mr[order], block_pos[order]
    readings, reading_block = doc.select(blocks, [_mr("IntervalReadings")])
    order = _order(block_mr[reading_block], block_pos[reading_block], readings)
    readings, reading_block = readings[order], reading_block[order]
    intervals = pl.DataFrame(
        [
            pl.Series("mr", block_mr[reading_block] + 1).cast(pl.String),
            pl.Series("block", block_pos[reading_block]).cast(pl.String),
            _stamps(doc, doc.first(readings, [_mr("timeStamp")]), "end"),
            _stamps(doc, doc.first(readings, [_mr("timePeriod"), _mr("start")]), "begin"),
            _numbers(doc, doc.first(readings, [_mr("value")]), "raw"),
            _qualities(doc, readings),
            pl.Series("line", doc.s.line[readings], dtype=pl.Int64),
        ]
    )
    meter = {
        "serial": doc.text(doc.first(readings_mr, [_mr("Meter"), _mr("serialNumber")]), "serial"),
        "name": doc.text(
            doc.first(readings_mr, [_mr("Meter"), _mr("Names", first=True), _mr("name")]), "name"
        ),
        "mrid": doc.text(doc.first(readings_mr, [_mr("Meter"), _mr("mRID")]), "mrid"),
    }
    columns = [
        pl.Series("mr", block_mr + 1).cast(pl.String),
        pl.Series("block", block_pos).cast(pl.String),
        *(series.gather(block_mr).alias(key) for key, series in meter.items()),
        doc.attr_text(
            doc.first(blocks, [_mr("ReadingType")], where=doc.has_attr(_REF)), _REF, "reading_type"
        ),
        *(
            doc.text(doc.first(blocks, [_mr("PendingCalculation"), _mr(element)]), column)
            for column, element in _PENDING.items()
        ),
    ]
    return CimTables(intervals, pl.DataFrame(columns), is_root)


def numbers_of_text(time: pl.Series, period_start: pl.Series, value: pl.Series) -> list[pl.Series]:
    """The reference conversion of the ``normalize-space()`` texts (the oracle of the fast one).

    Returns:
        ``end`` and ``begin`` (UTC datetimes, null unless an ISO 8601 stamp with an offset)
        and ``raw`` (Float64, null unless a number).
    """
    return [
        _time.parse_iso_utc(time).alias("end"),
        _time.parse_iso_utc(period_start).alias("begin"),
        value.cast(pl.Float64, strict=False).alias("raw"),
    ]


def _with_nulls(
    name: str, values: npt.NDArray[np.generic], valid: npt.NDArray[np.bool_]
) -> pl.Series:
    kind = pa.int64() if values.dtype == np.int64 else pa.float64()
    bitmap = pa.py_buffer(np.packbits(valid, bitorder="little"))
    array = pa.Array.from_buffers(kind, values.size, [bitmap, pa.py_buffer(values)])
    return pl.Series(name, array)


def _stamps(doc: Doc, elements: npt.NDArray[np.int64], name: str) -> pl.Series:
    """``end``/``begin``: compiled for the usual shapes, :func:`numbers_of_text`'s for others."""
    starts, ends = doc.spans(elements)
    values, state = _kernels.iso_utc_spans(doc.bytes, starts, ends)
    series = _with_nulls(name, values, state == _kernels.SPAN_VALUE).cast(_UTC)
    general = np.flatnonzero(state == _kernels.SPAN_GENERAL)
    if general.size:
        parsed = _time.parse_iso_utc(doc.text(elements[general], name))
        series = series.scatter(general, parsed)
    return series


def _numbers(doc: Doc, elements: npt.NDArray[np.int64], name: str) -> pl.Series:
    """``raw``: compiled for plain decimals, Polars' cast (:func:`numbers_of_text`'s) for others."""
    starts, ends = doc.spans(elements)
    values, state = _kernels.number_spans(doc.bytes, starts, ends, _POW10)
    series = _with_nulls(name, values, state == _kernels.SPAN_VALUE)
    general = np.flatnonzero(state == _kernels.SPAN_GENERAL)
    if general.size:
        parsed = doc.text(elements[general], name).cast(pl.Float64, strict=False)
        series = series.scatter(general, parsed)
    return series


def _order(
    major: npt.NDArray[np.int64], minor: npt.NDArray[np.int64], index: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """Row order of the stylesheet's nested ``for-each`` (usually document order already)."""
    if major.size < 2:  # nothing to order
        return np.arange(major.size)
    key_ok = (np.diff(major) > 0) | ((np.diff(major) == 0) & (np.diff(minor) >= 0))
    if bool(np.all(key_ok)):
        return np.arange(major.size)
    order: npt.NDArray[np.int64] = np.lexsort((index, minor, major))
    return order


def _qualities(doc: Doc, readings: npt.NDArray[np.int64]) -> pl.Series:
    """Per reading: each ``ReadingQualities``' ``ReadingQualityType/@ref``, each + one space."""
    holders, owner = doc.select(readings, [_mr("ReadingQualities")])
    if holders.size == 0:
        return pl.Series("qualities", [""] * readings.size, dtype=pl.String)
    refs = doc.first(holders, [_mr("ReadingQualityType")], where=doc.has_attr(_REF))
    parts = pl.DataFrame({"owner": owner, "ref": doc.attr_text(refs, _REF, "ref") + " "})
    joined = parts.group_by("owner", maintain_order=True).agg(pl.col("ref").str.join(""))
    result = pl.DataFrame({"owner": np.arange(readings.size)}).join(
        joined, on="owner", how="left", maintain_order="left"
    )
    return result["ref"].fill_null("").alias("qualities")
