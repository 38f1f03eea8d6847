"""Polars columns built from numpy buffers without copying (Arrow StringView layout).

A polars ``String`` column is an Arrow *string view* array: 16 bytes per row holding the
length and either the string itself (up to 12 bytes, "inline") or a 4-byte prefix plus a
buffer index and offset into a data buffer. Building the views in numpy and handing the
buffers to polars through ``pyarrow.Array.from_buffers`` avoids materialising a hundred
million Python or polars strings per simulated day: a meter's serial number (10 characters)
is inline, a channel name (longer) points into one small shared buffer. Numeric columns pass
from numpy to polars without a copy as well.

Pure module: numpy, polars and pyarrow only; must not import ``meterops.db``, ``models``,
``web``, ``cli`` or ``config``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa

__all__ = ["StringTable", "datetime_column", "inline_views", "null_strings", "string_column"]

Views = npt.NDArray[np.uint64]
"""``(rows, 2)`` uint64: one 16-byte string view per row."""

_INLINE = 12


def inline_views(values: Sequence[str]) -> Views:
    """Inline string views of short strings (at most 12 bytes of UTF-8 each).

    Args:
        values: The strings.

    Returns:
        ``(len(values), 2)`` uint64 views.

    Raises:
        ValueError: A string is longer than 12 bytes (use :class:`StringTable`).

    Examples:
        >>> string_column("s", inline_views(["3612345678", "ab"])).to_list()
        ['3612345678', 'ab']
    """
    encoded = [v.encode() for v in values]
    longest = max((len(e) for e in encoded), default=0)
    if longest > _INLINE:
        msg = f"inline string views hold at most {_INLINE} bytes; found {longest}"
        raise ValueError(msg)
    raw = np.zeros((len(encoded), 16), dtype=np.uint8)
    lengths = np.array([len(e) for e in encoded], dtype="<u4")
    raw[:, 0:4] = lengths.view(np.uint8).reshape(-1, 4)
    if encoded:
        padded = np.frombuffer(
            b"".join(e.ljust(_INLINE, b"\0") for e in encoded), dtype=np.uint8
        ).reshape(-1, _INLINE)
        raw[:, 4:16] = padded
    return raw.view(np.uint64).reshape(-1, 2)


class StringTable:
    """A fixed set of strings (any length) and their views into one shared data buffer.

    Args:
        values: The distinct strings.

    Examples:
        >>> table = StringTable(["kwh_delivered", "voltage_min_v"])
        >>> string_column("c", table.repeat(1, 2), table.data).to_list()
        ['voltage_min_v', 'voltage_min_v']
    """

    def __init__(self, values: Sequence[str]) -> None:
        self.values = tuple(values)
        self.data = b"".join(v.encode() for v in self.values)
        views = np.zeros((len(self.values), 16), dtype=np.uint8)
        offset = 0
        for i, value in enumerate(self.values):
            encoded = value.encode()
            header = np.array([len(encoded)], dtype="<u4").view(np.uint8)
            views[i, 0:4] = header
            if len(encoded) <= _INLINE:
                views[i, 4 : 4 + len(encoded)] = np.frombuffer(encoded, dtype=np.uint8)
            else:
                views[i, 4:8] = np.frombuffer(encoded[:4], dtype=np.uint8)
                views[i, 8:16] = np.array([0, offset], dtype="<u4").view(np.uint8)
            offset += len(encoded)
        self.views: Views = views.view(np.uint64).reshape(-1, 2)

    def index(self, value: str) -> int:
        """Position of a string in the table."""
        return self.values.index(value)

    def repeat(self, index: int, rows: int) -> Views:
        """Views of one string repeated ``rows`` times."""
        return np.repeat(self.views[index][None, :], rows, axis=0)


def string_column(name: str, views: Views, data: bytes = b"") -> pl.Series:
    """A polars String column over numpy views (and a data buffer for long strings).

    Args:
        name: Column name.
        views: ``(rows, 2)`` uint64 views.
        data: The data buffer long views point into.

    Returns:
        The column (sharing the views' memory).
    """
    rows = int(views.shape[0])
    buffers = [None, pa.py_buffer(np.ascontiguousarray(views))]
    if data:
        buffers.append(pa.py_buffer(data))
    array = pa.Array.from_buffers(pa.string_view(), rows, buffers)
    series = pl.from_arrow(array)
    assert isinstance(series, pl.Series)
    return series.alias(name)


def null_strings(name: str, rows: int) -> pl.Series:
    """A String column of nulls (zero-filled buffers, never written)."""
    validity = np.zeros(rows // 8 + 1, dtype=np.uint8)
    views = np.zeros((rows, 2), dtype=np.uint64)
    array = pa.Array.from_buffers(
        pa.string_view(), rows, [pa.py_buffer(validity), pa.py_buffer(views)], null_count=rows
    )
    series = pl.from_arrow(array)
    assert isinstance(series, pl.Series)
    return series.alias(name)


def datetime_column(name: str, epoch_us: npt.NDArray[np.int64]) -> pl.Series:
    """A ``Datetime("us", "UTC")`` column over epoch microseconds."""
    return pl.Series(name, epoch_us, dtype=pl.Int64).cast(pl.Datetime("us", "UTC"))
