"""Fast path of :func:`meterops.ingest.formats.espi.parse_espi`: the XSLT tables without lxml.

:func:`extract` scans the feed once (:mod:`._xml_scan`) and rebuilds, with numpy, exactly the
string tables that the reference path's XSLT transforms produce: one row per
``IntervalReading`` (with its start-tag line) and one per Atom ``entry``. It returns None, and
the caller runs the reference path, when the feed lies outside the scanner's XML subset, is
larger than :data:`meterops.ingest.formats._xml.MAX_XML_BYTES`, has an entry with more than one
``ReadingType`` content, or has a selected value with child elements. Linking entries and
turning text into reads is shared code.

Pure module: numpy, polars and pure meterops modules only.
"""

from __future__ import annotations

from typing import Final, NamedTuple

import numpy as np
import polars as pl

from meterops.ingest.formats._xml import MAX_DEPTH, MAX_XML_BYTES
from meterops.ingest.formats._xml_scan import scan
from meterops.ingest.formats._xml_select import ANY, Doc, Step, Unsupported

__all__ = ["ATOM", "ESPI", "EspiTables", "Located", "extract", "locate", "reading_spans", "tables"]

ATOM: Final = "http://www.w3.org/2005/Atom"
ESPI: Final = "http://naesb.org/espi"

_NAMES: Final = (
    "entry",
    "content",
    "link",
    "IntervalBlock",
    "interval",
    "start",
    "IntervalReading",
    "timePeriod",
    "duration",
    "value",
    "ReadingQuality",
    "quality",
    "ReadingType",
    "uom",
    "powerOfTenMultiplier",
    "flowDirection",
    "intervalLength",
)
_N: Final = {name: k for k, name in enumerate(_NAMES)}
_A: Final = 0
_E: Final = 1
_REL: Final = 0
_HREF: Final = 1
_READING_TYPE: Final = {
    "uom": "uom",
    "power": "powerOfTenMultiplier",
    "flow": "flowDirection",
    "length": "intervalLength",
}


class EspiTables(NamedTuple):
    """The reference path's string tables.

    Attributes:
        readings: ``entry, block_start, position, start, duration, value, quality`` (String)
            and ``line``.
        entries: ``gid, kind, self, up, related, uom, power, flow, length`` (String).
        atom_or_espi_root: The document element is in the Atom or ESPI namespace.
    """

    readings: pl.DataFrame
    entries: pl.DataFrame
    atom_or_espi_root: bool


def _a(name: str) -> Step:
    return (_N[name], _A, False)


def _e(name: str, *, first: bool = False) -> Step:
    return (_N[name], _E, first)


class Located(NamedTuple):
    """The selected elements of a scanned feed, before any text is read.

    Attributes:
        doc: The scanned document.
        readings: ``IntervalReading`` elements in the reference's order (entry, block,
            document order).
        reading_block: Per reading, its index into ``blocks``.
        major: Per reading, its entry's 0-based index.
        blocks: The ``IntervalBlock`` elements.
        entries: The entry table (as :attr:`EspiTables.entries`).
    """

    doc: Doc
    readings: np.ndarray
    reading_block: np.ndarray
    major: np.ndarray
    blocks: np.ndarray
    entries: pl.DataFrame


def extract(data: bytes) -> EspiTables | None:
    """The reading and entry tables of an ESPI feed, or None for the reference path.

    Examples:
        >>> feed = (b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><link rel="self" '
        ...         b'href="u/1"/><content><IntervalBlock xmlns="http://naesb.org/espi">'
        ...         b'<IntervalReading><value>5</value></IntervalReading></IntervalBlock>'
        ...         b'</content></entry></feed>')
        >>> t = extract(feed)
        >>> t.readings.row(0), t.entries.row(0)[:4]
        (('1', '', '1', '', '', '5', '', 1), ('1', 'IntervalBlock', 'u/1', ''))
    """
    located = locate(data)
    return None if located is None else tables(located)


def locate(data: bytes) -> Located | None:
    """Scan the feed and select its readings and entries, or None for the reference path."""
    if len(data) > MAX_XML_BYTES:
        return None
    scanned = scan(data, _NAMES, (ATOM, ESPI), ("rel", "href"), MAX_DEPTH)
    if scanned is None:
        return None
    doc = Doc(scanned)
    try:
        return _locate(doc)
    except Unsupported:
        return None


def tables(located: Located) -> EspiTables | None:
    """The reference path's string tables of a located feed (None: outside the subset)."""
    try:
        return _tables(located)
    except Unsupported:
        return None


def _locate(doc: Doc) -> Located:
    entries = doc.elements(_N["entry"], _A)
    blocks, block_entry = doc.select(entries, [_a("content"), _e("IntervalBlock")])
    readings, reading_block = doc.select(blocks, [_e("IntervalReading")])
    major = block_entry[reading_block]
    if readings.size > 1 and not bool(np.all(np.diff(major) >= 0)):
        order = np.lexsort((readings, blocks[reading_block], major))
        readings, reading_block, major = readings[order], reading_block[order], major[order]
    return Located(doc, readings, reading_block, major, blocks, _entries(doc, entries))


def reading_spans(located: Located) -> dict[str, tuple[np.ndarray, np.ndarray]] | None:
    """Raw text spans of each reading's ``start``, ``duration``, ``value`` and ``quality``.

    The elements are those the reference stylesheet reads (``timePeriod/start``, …,
    ``ReadingQuality[1]/quality``); an absent element has start -1. None when a selected
    element has child elements.
    """
    doc, readings = located.doc, located.readings
    paths = {
        "start": [_e("timePeriod"), _e("start")],
        "duration": [_e("timePeriod"), _e("duration")],
        "value": [_e("value")],
        "quality": [_e("ReadingQuality", first=True), _e("quality")],
    }
    try:
        return {name: doc.spans(doc.first(readings, steps)) for name, steps in paths.items()}
    except Unsupported:
        return None


def _tables(located: Located) -> EspiTables:
    doc, readings, reading_block = located.doc, located.readings, located.reading_block
    block_start = doc.text(doc.first(located.blocks, [_e("interval"), _e("start")]), "block_start")
    table = pl.DataFrame(
        [
            pl.Series("entry", located.major + 1).cast(pl.String),
            block_start.gather(reading_block),
            pl.Series("position", doc.position(readings)).cast(pl.String),
            doc.text(doc.first(readings, [_e("timePeriod"), _e("start")]), "start"),
            doc.text(doc.first(readings, [_e("timePeriod"), _e("duration")]), "duration"),
            doc.text(doc.first(readings, [_e("value")]), "value"),
            doc.text(
                doc.first(readings, [_e("ReadingQuality", first=True), _e("quality")]), "quality"
            ),
            pl.Series("line", doc.s.line[readings], dtype=pl.Int64),
        ]
    )
    return EspiTables(table, located.entries, int(doc.s.ns[0]) in (_A, _E))


def _entries(doc: Doc, entries: np.ndarray) -> pl.DataFrame:
    types, type_entry = doc.select(entries, [_a("content"), _e("ReadingType")])
    if np.unique(type_entry).size != type_entry.size:
        raise Unsupported  # several ReadingType contents in one entry
    kind = doc.first(entries, [_a("content"), (ANY, ANY, True)])
    href = doc.has_attr(_HREF)
    related, related_entry = doc.select(entries, [_a("link")])
    keep = doc.attr_equals(_REL, b"related")[related]
    related, related_entry = related[keep], related_entry[keep]
    # Each entry's related hrefs, each followed by a space, in document order (a feed has a
    # few dozen entries: joined in Python, not in three Polars queries).
    joined = [""] * entries.size
    for entry, text in zip(
        related_entry.tolist(), doc.attr_text(related, _HREF, "href").to_list(), strict=True
    ):
        joined[entry] += f"{text} "
    related_text = pl.Series("related", joined, dtype=pl.String)
    columns = [
        pl.Series("gid", np.arange(1, entries.size + 1)).cast(pl.String),
        doc.local_names(kind, "kind"),
        doc.attr_text(
            doc.first(entries, [_a("link")], where=doc.attr_equals(_REL, b"self") & href),
            _HREF,
            "self",
        ),
        doc.attr_text(
            doc.first(entries, [_a("link")], where=doc.attr_equals(_REL, b"up") & href),
            _HREF,
            "up",
        ),
        related_text,
    ]
    for column, element in _READING_TYPE.items():
        found = doc.first(types, [_e(element)])
        values = np.full(entries.size, -1, dtype=np.int64)
        values[type_entry] = found
        columns.append(doc.text(values, column))
    return pl.DataFrame(columns)
