"""Vectorised tokenising and number parsing for delimited text formats (CMEP, NEM12).

A whole file is split into fields with numpy (positions of delimiters and newlines), and
numbers are parsed straight from the byte buffer over fixed-width windows: no Python loop
per line or per value. Anything the fast path does not recognise (exponents, more than
15 significant digits) falls back to Polars' own float parser for those fields only.

The per-byte loops are compiled (``_kernels``, numba); the numpy formulation they replaced
made one full-array pass per character position.

Pure module: numpy, numba (via ``_kernels``), polars and pyarrow only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa

from meterops.ingest.formats import _kernels

__all__ = ["Fields", "parse_decimal", "parse_digits", "strings_at", "tokenize"]

I64 = npt.NDArray[np.int64]
U8 = npt.NDArray[np.uint8]
F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]

_COMMA: Final = 44
_NEWLINE: Final = 10
_POW10: Final = np.array([float(10**i) for i in range(23)])


@dataclass(frozen=True, slots=True)
class Fields:
    r"""The fields of a delimited file as byte ranges.

    Attributes:
        buffer: The file's bytes as ``uint8`` (newlines already normalised to ``\\n``).
        starts: Start offset of each field.
        ends: End offset (exclusive) of each field.
        line_first: Index of each line's first field.
        line_count: Number of fields on each line.
        line_number: 1-based physical line number of each line.
    """

    buffer: U8
    starts: I64
    ends: I64
    line_first: I64
    line_count: I64
    line_number: I64

    def field(self, lines: I64, position: int) -> I64:
        """Field indices of field ``position`` (0-based) on ``lines`` (caller checks counts)."""
        return self.line_first[lines] + position

    def strings(self, indices: I64) -> pl.Series:
        """The text of the given fields."""
        index = np.asarray(indices, dtype=np.int64)
        return strings_at(self.buffer, self.starts[index], self.ends[index])


def tokenize(data: bytes, *, delimiter: int = _COMMA) -> Fields:
    r"""Split ``data`` into lines and fields.

    Args:
        data: File bytes with ``\n`` line ends.
        delimiter: Field separator byte.

    Returns:
        The field ranges; a blank line is one empty field.

    Examples:
        >>> f = tokenize(b"a,b\n\nc\n")
        >>> f.line_count.tolist(), f.line_number.tolist()
        ([2, 1, 1], [1, 2, 3])
    """
    buffer = np.frombuffer(data, dtype=np.uint8)
    if buffer.size and buffer[-1] != _NEWLINE:
        buffer = np.append(buffer, np.uint8(_NEWLINE))
    ends, newline_at_end = _kernels.split(buffer, delimiter)
    starts = np.empty_like(ends)
    if ends.size:
        starts[0] = 0
        starts[1:] = ends[:-1] + 1
    line_last = np.flatnonzero(newline_at_end).astype(np.int64)
    line_first = np.empty_like(line_last)
    if line_last.size:
        line_first[0] = 0
        line_first[1:] = line_last[:-1] + 1
    return Fields(
        buffer=buffer,
        starts=starts,
        ends=ends,
        line_first=line_first,
        line_count=line_last - line_first + 1,
        line_number=np.arange(1, line_last.size + 1, dtype=np.int64),
    )


def strings_at(buffer: U8, starts: I64, ends: I64) -> pl.Series:
    """A String series of ``buffer[starts[i]:ends[i]]`` (invalid UTF-8 becomes null).

    Examples:
        >>> b = np.frombuffer(b"hello,world", dtype=np.uint8)
        >>> strings_at(b, np.array([0, 6]), np.array([5, 11])).to_list()
        ['hello', 'world']
    """
    lengths = np.maximum(ends - starts, 0)
    offsets = np.zeros(lengths.size + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    index = np.arange(int(offsets[-1]), dtype=np.int64) + np.repeat(starts - offsets[:-1], lengths)
    data = buffer[index]
    binary = pa.LargeBinaryArray.from_buffers(
        pa.large_binary(), lengths.size, [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )
    series = pl.Series(binary)
    return series.cast(pl.String, strict=False) if series.len() else pl.Series([], dtype=pl.String)


def _windows(buffer: U8, starts: I64, width: int) -> U8:
    padded = np.concatenate([buffer, np.zeros(width, dtype=np.uint8)])
    view = np.lib.stride_tricks.sliding_window_view(padded, width)
    return np.asarray(view[starts])


def parse_digits(buffer: U8, starts: I64, ends: I64, *, width: int) -> tuple[I64, B]:
    """Parse fixed-width unsigned digit fields (e.g. ``CCYYMMDDHHMM``) to integers.

    Returns:
        ``(values, ok)``; ``ok`` is False where the field is not exactly ``width`` digits.

    Examples:
        >>> b = np.frombuffer(b"202401020304,12x", dtype=np.uint8)
        >>> v, ok = parse_digits(b, np.array([0, 13]), np.array([12, 16]), width=12)
        >>> int(v[0]), ok.tolist()
        (202401020304, [True, False])
    """
    if starts.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=bool)
    values, ok = _kernels.digits(buffer, starts, ends, width)
    return values, ok


def parse_decimal(buffer: U8, starts: I64, ends: I64) -> tuple[F64, B]:
    """Parse decimal numbers (``-12.5``, ``.005``, ``1e-3``) to float64, as Python would.

    Plain decimals of up to 15 significant digits are parsed from the bytes directly
    (correctly rounded: an exact integer divided by an exact power of ten); anything else is
    handed to Polars' float parser. Empty fields and non-numbers give ``ok = False``.

    Examples:
        >>> b = np.frombuffer(b"1.5,-.25,7,x,1e3,", dtype=np.uint8)
        >>> starts, ends = np.array([0, 4, 9, 11, 13, 17]), np.array([3, 8, 10, 12, 16, 17])
        >>> v, ok = parse_decimal(b, starts, ends)
        >>> v[ok].tolist(), ok.tolist()
        ([1.5, -0.25, 7.0, 1000.0], [True, True, True, False, True, False])
    """
    n = starts.size
    values = np.zeros(n, dtype=np.float64)
    ok = np.zeros(n, dtype=bool)
    if n == 0:
        return values, ok
    lengths = ends - starts
    values, fast = _kernels.decimals(buffer, starts, ends, _POW10)
    ok = fast.copy()
    slow = np.flatnonzero(~fast & (lengths > 0))
    if slow.size:
        text = strings_at(buffer, starts[slow], ends[slow])
        parsed = text.str.strip_chars(" ").cast(pl.Float64, strict=False)
        good = (parsed.is_not_null() & (text.str.strip_chars(" ") == text)).to_numpy()
        filled = parsed.fill_null(0.0).to_numpy()
        values[slow] = filled
        ok[slow] = good
    return values, ok


def short_codes(buffer: U8, starts: I64, ends: I64) -> tuple[pl.Series, I64]:
    """Dictionary-encode a text column that is usually uniform (CMEP protocol text).

    When every field is empty or every field holds the same text (a sender that writes ``R0``
    on every value) the column is one code and no string per field is built; otherwise each
    field is its own entry.

    Returns:
        ``(texts, index)`` with ``texts[index[i]]`` the text of field ``i``.

    Examples:
        >>> b = np.frombuffer(b"R0,R0,R0", dtype=np.uint8)
        >>> texts, index = short_codes(b, np.array([0, 3, 6]), np.array([2, 5, 8]))
        >>> texts.to_list(), index.tolist()
        (['R0'], [0, 0, 0])
    """
    lengths = ends - starts
    n = lengths.size
    if n and np.all(lengths == lengths[0]) and lengths[0] <= 16:
        width = int(lengths[0])
        window = _windows(buffer, starts, max(width, 1))[:, :width]
        if width == 0 or bool(np.all(window == window[0])):
            return strings_at(buffer, starts[:1], ends[:1]).fill_null(""), np.zeros(
                n, dtype=np.int64
            )
    return strings_at(buffer, starts, ends).fill_null(""), np.arange(n, dtype=np.int64)
