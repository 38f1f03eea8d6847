"""XPath-like selection over a scanned document, in numpy (the XML fast paths' extraction).

The reference stylesheets select with relative location paths of child steps
(``m:Meter/m:Names[1]/m:name``) and take the string value of the first node in document
order (XSLT 1.0 ``value-of``). :meth:`Doc.first` computes exactly that for many context
elements at once: element indices are document order, so "first" is a minimum per context.
String values are built only for leaf elements (text without child elements); when a
selected element has children, :class:`Unsupported` sends the file to the reference path.

Pure module: numpy, numba, polars, pyarrow and pure meterops modules only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numba
import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa

from meterops.ingest.formats._xml_scan import Scanned, gather_normalized

__all__ = ["ANY", "Doc", "Step", "Unsupported"]

I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]

ANY: Final = -99
"""Matches any local name or namespace in a :data:`Step`."""

Step = tuple[int, int, bool]
"""``(name id, namespace id, first only)``: a child step; ``first only`` is XPath ``[1]``."""


class Unsupported(Exception):  # noqa: N818 - a signal, not an error
    """The document lies outside what the fast path reproduces exactly."""


class Doc:
    """A scanned document with selection helpers.

    Args:
        scanned: Result of :func:`meterops.ingest.formats._xml_scan.scan`.
    """

    def __init__(self, scanned: Scanned) -> None:
        self.s = scanned
        self.size = scanned.parent.size
        self.bytes: npt.NDArray[np.uint8] = np.frombuffer(scanned.data, dtype=np.uint8)
        """The document as bytes for compiled readers (a view, no copy)."""
        self._elements: dict[tuple[int, int], I64] = {}
        self._owner: I64 | None = None
        self._seen: B = np.zeros(0, dtype=np.bool_)

    def elements(self, name: int, ns: int) -> I64:
        """Indices of the elements with this local name id and namespace id, document order."""
        key = (name, ns)
        found = self._elements.get(key)
        if found is None:
            if name == ANY and ns == ANY:
                found = np.arange(self.size, dtype=np.int64)
            elif name == ANY:
                found = np.flatnonzero(self.s.ns == ns)
            elif ns == ANY:
                found = np.flatnonzero(self.s.name == name)
            else:
                found = self.elements(name, ANY)
                found = found[self.s.ns[found] == ns]
            self._elements[key] = found
        return found

    def _step(self, context: I64, positions: I64, step: Step) -> tuple[I64, I64]:
        """Children matching ``step`` of the ``context`` elements; and their positions."""
        if self._owner is None:
            self._owner = np.full(self.size, -1, dtype=np.int64)
            self._seen = np.zeros(self.size, dtype=np.bool_)
        name, ns, first_only = step
        return _child_step(
            self.elements(name, ns),
            self.s.parent,
            context,
            positions,
            first_only,
            self._owner,
            self._seen,
        )

    def select(self, context: I64, steps: Sequence[Step]) -> tuple[I64, I64]:
        """All elements at the end of ``steps`` from ``context``, with their context position.

        Returns:
            ``(elements, positions)``: element indices in document order and, for each, the
            index into ``context`` it was reached from.
        """
        current = context
        positions = np.arange(context.size, dtype=np.int64)
        for step in steps:
            current, positions = self._step(current, positions, step)
        return current, positions

    def first(self, context: I64, steps: Sequence[Step], where: B | None = None) -> I64:
        """Per context element, the first element (document order) at the end of ``steps``.

        Args:
            context: Context element indices.
            steps: Child steps.
            where: Only end elements where this mask (over all elements) is true count.

        Returns:
            Element index per context element (-1 where none).
        """
        found, positions = self.select(context, steps)
        if where is not None:
            keep = where[found]
            found, positions = found[keep], positions[keep]
        return _first_per_position(found, positions, context.size)

    def has_attr(self, attr: int) -> B:
        """Mask of elements carrying the selected attribute ``attr``."""
        present: B = self.s.attr_start[:, attr] >= 0
        return present

    def attr_equals(self, attr: int, value: bytes) -> B:
        """Mask of elements whose attribute ``attr`` is exactly ``value`` (raw bytes)."""
        starts = self.s.attr_start[:, attr]
        ok = (self.s.attr_end[:, attr] - starts) == len(value)
        ok &= starts >= 0
        buffer = np.frombuffer(self.s.data, dtype=np.uint8)
        idx = np.flatnonzero(ok)
        for k, byte in enumerate(value):
            idx = idx[buffer[starts[idx] + k] == byte]
        mask = np.zeros(self.size, dtype=np.bool_)
        mask[idx] = True
        return mask

    def text(self, elements: I64, name: str) -> pl.Series:
        """``normalize-space()`` of each element's string value (-1 → ``""``).

        Raises:
            Unsupported: A selected element has child elements.
        """
        starts, ends = self.spans(elements)
        return _series(name, *gather_normalized(self.s.data, starts, ends))

    def spans(self, elements: I64) -> tuple[I64, I64]:
        """Raw text spans ``(start, end)`` of each element (-1 → start -1), for compiled readers.

        Raises:
            Unsupported: A selected element has child elements.
        """
        present = elements >= 0
        safe = np.where(present, elements, 0)
        starts = np.where(present, self.s.text_start[safe], -1)
        if np.any(present & (starts < 0)):
            raise Unsupported
        ends: I64 = self.s.text_end[safe]
        return starts, ends

    def attr_text(self, elements: I64, attr: int, name: str) -> pl.Series:
        """``normalize-space()`` of each element's attribute ``attr`` (absent or -1 → ``""``)."""
        present = elements >= 0
        safe = np.where(present, elements, 0)
        starts = np.where(present, self.s.attr_start[safe, attr], -1)
        return _series(name, *gather_normalized(self.s.data, starts, self.s.attr_end[safe, attr]))

    def local_names(self, elements: I64, name: str) -> pl.Series:
        """Local names of elements (-1 → ``""``)."""
        present = elements >= 0
        safe = np.where(present, elements, 0)
        starts = np.where(present, self.s.name_start[safe], -1)
        ends = starts + self.s.name_len[safe]
        return _series(name, *gather_normalized(self.s.data, starts, ends))

    def position(self, elements: I64) -> I64:
        """1-based position of each element among its selected siblings (``elements`` only).

        ``elements`` must be in document order; siblings are elements of ``elements`` with
        the same parent, as in ``position()`` inside ``xsl:for-each``.
        """
        parents = self.s.parent[elements]
        order = np.argsort(parents, kind="stable")
        sorted_parents = parents[order]
        starts = np.flatnonzero(np.r_[True, sorted_parents[1:] != sorted_parents[:-1]])
        group_start = np.repeat(starts, np.diff(np.r_[starts, sorted_parents.size]))
        result = np.empty(elements.size, dtype=np.int64)
        result[order] = np.arange(elements.size) - group_start + 1
        return result


@numba.njit(cache=True, nogil=True)
def _child_step(  # noqa: PLR0917 - one compiled step
    candidates: I64,
    parent: I64,
    context: I64,
    positions: I64,
    first_only: bool,
    owner: I64,
    seen: npt.NDArray[np.bool_],
) -> tuple[I64, I64]:
    """The ``candidates`` (document order) whose parent is in ``context``, with its position.

    With ``first_only`` (XPath ``[1]``), only the first such candidate of each parent.
    ``owner`` (all -1) and ``seen`` (all False) are scratch arrays over the document's
    elements; they are left as they were found.
    """
    for k in range(context.size):
        owner[context[k]] = positions[k]
    found = np.empty(candidates.size, dtype=np.int64)
    owners = np.empty(candidates.size, dtype=np.int64)
    count = 0
    for k in range(candidates.size):
        element = candidates[k]
        up = parent[element]
        if up < 0 or owner[up] < 0:
            continue
        if first_only:
            if seen[up]:
                continue
            seen[up] = True
        found[count] = element
        owners[count] = owner[up]
        count += 1
    for k in range(context.size):
        owner[context[k]] = -1
    if first_only:
        for k in range(count):
            seen[parent[found[k]]] = False
    return found[:count], owners[:count]


@numba.njit(cache=True, nogil=True)
def _first_per_position(found: I64, positions: I64, size: int) -> I64:
    """Per position ``0..size-1``, the first of ``found`` (document order) there, or -1."""
    result = np.full(size, -1, dtype=np.int64)
    for k in range(found.size):
        at = positions[k]
        if result[at] < 0 or found[k] < result[at]:
            result[at] = found[k]
    return result


def _series(name: str, offsets: I64, data: npt.NDArray[np.uint8]) -> pl.Series:
    array = pa.LargeStringArray.from_buffers(
        offsets.size - 1, pa.py_buffer(offsets), pa.py_buffer(data)
    )
    return pl.Series(name, array, dtype=pl.String)
