"""Safe XML parsing and vectorised extraction for the XML formats (ESPI, CIM).

Safety: any ``<!DOCTYPE`` or ``<!ENTITY`` is refused before parsing (so XXE, external DTDs and
"billion laughs" never reach the parser); the lxml parser runs with ``resolve_entities=False``,
``no_network=True``, ``load_dtd=False`` and without ``huge_tree`` (libxml2's own limits on
text size and nesting depth stay on); input size is bounded.

Speed: values are pulled out of the tree by one XSLT transform per table (libxslt, in C)
into tab-separated text that Polars reads in one go; no Python runs per element. Source
line numbers of repeated elements come from a numpy scan of the raw bytes for their start
tags (checked against the element count; lxml's ``sourceline`` is the fallback).

Pure module: standard library, numpy, polars and lxml only.
"""

from __future__ import annotations

import re
from typing import Final

import numpy as np
import polars as pl
from lxml import etree

from meterops.ingest.formats._common import IssueLog
from meterops.ingest.formats.base import ParseError

__all__ = ["MAX_DEPTH", "MAX_XML_BYTES", "element_lines", "parse_xml", "sourcelines", "xslt_table"]

MAX_XML_BYTES: Final = 1024**3
"""Largest XML document accepted. [bytes]"""

MAX_DEPTH: Final = 256
"""Deepest element nesting accepted: libxml2's own limit without ``huge_tree`` (ESPI and CIM
need fewer than 12 levels); deeper documents are refused by the parser as malformed."""

_FORBIDDEN: Final = (b"<!DOCTYPE", b"<!ENTITY")
_ROOT_START: Final = re.compile(rb"<[A-Za-z_]")


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        collect_ids=False,
        remove_pis=True,
    )


def parse_xml(data: bytes, issues: IssueLog) -> etree._Element:
    """Parse ``data`` safely or raise :class:`ParseError` naming the line.

    Raises:
        ParseError: DTD/entity declarations, malformed XML, too large, or nested deeper than
            :data:`MAX_DEPTH` (libxml2 reports it as malformed).
    """
    if len(data) > MAX_XML_BYTES:
        raise issues.whole_file(
            "xml.too_large", f"the document exceeds {MAX_XML_BYTES} bytes", field="xml"
        )
    # A DTD (and so any ENTITY declaration) can only come before the root element.
    root_at = _ROOT_START.search(data)
    prolog = data if root_at is None else data[: root_at.start()]
    for token in _FORBIDDEN:
        at = prolog.find(token)
        if at >= 0:
            issues.add(
                data.count(b"\n", 0, at) + 1,
                "xml",
                "xml.dtd_forbidden",
                "DOCTYPE and ENTITY declarations are refused (XXE / entity expansion)",
            )
            raise ParseError(f"{issues.name}: DTDs are not accepted", issues.finish())
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as error:
        line = error.lineno or 1
        issues.add(max(line, 1), "xml", "xml.malformed", f"not well-formed XML: {error.msg}")
        raise ParseError(f"{issues.name}: not well-formed XML", issues.finish()) from error
    return root


def xslt_table(root: etree._Element, transform: etree.XSLT, columns: list[str]) -> pl.DataFrame:
    """Run ``transform`` (text output, one tab-separated row per record) into a frame.

    Every value must go through ``normalize-space()`` in the stylesheet so that no tab or
    newline survives inside a field.
    """
    text = bytes(transform(root))
    schema = dict.fromkeys(columns, pl.String)
    if not text.strip():
        return pl.DataFrame(schema=schema)
    frame = pl.read_csv(
        text,
        has_header=False,
        separator="\t",
        quote_char=None,
        schema=schema,
        empty_string_is_null=False,
        truncate_ragged_lines=True,
        missing_columns="insert",
    )
    return frame.with_columns(pl.col(columns).fill_null(""))


def element_lines(data: bytes, local_name: str, count: int) -> np.ndarray | None:
    r"""1-based line numbers of the start tags ``<[prefix:]local_name`` in document order.

    The prefix is taken from the first occurrence; all occurrences are then found with numpy.
    Returns None unless exactly ``count`` start tags are found (the caller then falls back to
    lxml's ``sourceline``), so a name that also appears elsewhere can never misplace a line.

    Examples:
        >>> element_lines(b"<a>\n<x:v>1</x:v>\n<x:v/></a>", "v", 2).tolist()
        [2, 3]
    """
    if count == 0:
        return np.zeros(0, dtype=np.int64)
    pattern = rb"<(?:[A-Za-z_][\w.-]*:)?" + re.escape(local_name.encode()) + rb"[\s/>]"
    first = re.search(pattern, data)
    tag = first.group(0)[:-1] if first else b"<" + local_name.encode()
    token = np.frombuffer(tag, dtype=np.uint8)
    buffer = np.frombuffer(data, dtype=np.uint8)
    width = token.size + 1
    padded = np.concatenate([buffer, np.zeros(width, dtype=np.uint8)])
    candidates = np.flatnonzero(buffer == token[0])
    candidates = candidates[padded[candidates + 1] == token[1]]
    window = np.lib.stride_tricks.sliding_window_view(padded, width)[candidates]
    after = window[:, -1]
    ends = (
        (after == 32) | (after == 9) | (after == 10) | (after == 13) | (after == 47) | (after == 62)
    )
    positions = candidates[np.all(window[:, :-1] == token, axis=1) & ends]
    if positions.size != count:
        return None
    newlines = np.flatnonzero(buffer == 10)
    lines: np.ndarray = np.searchsorted(newlines, positions) + 1
    return lines.astype(np.int64)


def sourcelines(elements: list[etree._Element]) -> np.ndarray:
    """Fallback: lxml's source line of each element (Python per element; rare path)."""
    lines = np.fromiter((e.sourceline for e in elements), dtype=np.int64, count=len(elements))
    return np.maximum(lines, 1)


def escape_expr(text: pl.Expr) -> pl.Expr:
    """XML-escape a text column (``&``, ``<``, ``>``, ``"``) for element or attribute content."""
    return (
        text.str.replace_all("&", "&amp;", literal=True)
        .str.replace_all("<", "&lt;", literal=True)
        .str.replace_all(">", "&gt;", literal=True)
        .str.replace_all('"', "&quot;", literal=True)
    )


def utc_text(column: pl.Expr) -> pl.Expr:
    """``YYYY-MM-DDTHH:MM:SS.ffffffZ`` text of a UTC datetime column."""
    return column.dt.convert_time_zone("UTC").dt.to_string("%Y-%m-%dT%H:%M:%S%.6fZ")
