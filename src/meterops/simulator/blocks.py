"""Frames of interval reads from a chunk's matrices, fast for the many complete meters.

Most meters deliver every interval of a day; only a few have holes (dead radio, collector
down, a bad day on the mesh) or flagged intervals (outages). :class:`Holes` keeps those few
rows sparse, so the matrices of the whole chunk never need a mask; :func:`reads_block` writes
the complete rows with ``repeat``/``tile`` and only the special rows with ``nonzero``.
Columns are numpy buffers handed to polars without copies (``columns.py``).

Pure module: numpy, polars and pure meterops modules; must not import ``meterops.db``,
``models``, ``web``, ``cli`` or ``config``.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt
import polars as pl

from meterops.simulator.columns import StringTable, datetime_column, null_strings, string_column

__all__ = ["CHANNEL_NAMES", "Holes", "reads_block", "reads_frame"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
Float32Array = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]
Views = npt.NDArray[np.uint64]

CHANNEL_NAMES: Final = StringTable(
    ["kwh_delivered", "kwh_received", "voltage_min_v", "voltage_max_v"]
)
"""The interval channels the simulator writes, as a shared string table."""


class Holes:
    """Per-row boolean masks over the intervals, for the few rows that are not all true.

    Args:
        columns: Intervals per row.
    """

    def __init__(self, columns: int) -> None:
        self.columns = columns
        self.rows: IntArray = np.zeros(0, dtype=np.int64)
        """Rows with at least one false interval, ascending."""
        self.mask: BoolArray = np.ones((0, columns), dtype=bool)
        """Their masks (same order as ``rows``)."""

    def punch(self, rows: IntArray, keep: BoolArray) -> None:
        """AND ``keep`` (one mask per listed row; rows may repeat) into the rows' masks."""
        if rows.size == 0:
            return
        unique, inverse = np.unique(rows, return_inverse=True)
        combined = np.ones((unique.size, self.columns), dtype=bool)
        np.logical_and.at(combined, inverse, keep)
        holed = ~combined.all(axis=1)
        unique, combined = unique[holed], combined[holed]
        if unique.size == 0:
            return
        merged = np.union1d(self.rows, unique)
        mask = np.ones((merged.size, self.columns), dtype=bool)
        mask[np.searchsorted(merged, self.rows)] = self.mask
        mask[np.searchsorted(merged, unique)] &= combined
        self.rows, self.mask = merged, mask

    def subset(self, rows: IntArray) -> Holes:
        """The masks of ``rows``, renumbered 0, 1, … in their order."""
        other = Holes(self.columns)
        other.punch(np.arange(rows.size), self.matrix(rows))
        return other

    def copy(self) -> Holes:
        """An independent copy."""
        other = Holes(self.columns)
        other.rows, other.mask = self.rows.copy(), self.mask.copy()
        return other

    def matrix(self, rows: IntArray) -> BoolArray:
        """Masks of ``rows`` (all true for rows without holes)."""
        out = np.ones((rows.size, self.columns), dtype=bool)
        if self.rows.size and rows.size:
            at = np.minimum(np.searchsorted(self.rows, rows), self.rows.size - 1)
            found = self.rows[at] == rows
            out[found] = self.mask[at[found]]
        return out

    def counts(self, rows: int) -> IntArray:
        """True intervals per row for rows ``0..rows-1``."""
        out = np.full(rows, self.columns, dtype=np.int64)
        out[self.rows] = self.mask.sum(axis=1)
        return out

    def last(self, rows: int) -> BoolArray:
        """The last interval's value per row."""
        out = np.ones(rows, dtype=bool)
        out[self.rows] = self.mask[:, -1]
        return out


def reads_frame(
    serial_views: Views,
    serial_data: bytes,
    t_us: IntArray,
    value: FloatArray,
    *,
    flags: npt.NDArray[np.uint32] | None,
    channel: str,
    interval_s: int,
) -> pl.DataFrame:
    """Interval reads (every ``PARSED_INTERVAL_READS`` column but ``source_line``).

    Args:
        serial_views: String views of each row's serial number.
        serial_data: Data buffer of the views.
        t_us: Interval start per row (epoch µs).
        value: Value per row.
        flags: Quality flags per row (None: all zero).
        channel: Channel name (one per block).
        interval_s: Interval length. [s]

    Returns:
        A frame sharing the arrays' memory.
    """
    n = t_us.size
    return pl.DataFrame(
        [
            string_column("serial_number", serial_views, serial_data),
            string_column(
                "channel", CHANNEL_NAMES.repeat(CHANNEL_NAMES.index(channel), n), CHANNEL_NAMES.data
            ),
            datetime_column("interval_start_utc", t_us),
            pl.Series("interval_s", np.full(n, interval_s, dtype=np.int32)),
            pl.Series("value", value),
            pl.Series("quality_flags", np.zeros(n, dtype=np.uint32) if flags is None else flags),
            null_strings("source_quality", n),
        ]
    )


def reads_block(
    views: Views,
    serial_data: bytes,
    starts: IntArray,
    values: npt.NDArray[np.floating],
    *,
    divide: float,
    decimals: int | None,
    holes: Holes,
    flags: dict[int, npt.NDArray[np.uint32]],
    channel: str,
    interval_s: int,
) -> list[pl.DataFrame]:
    """Frames of one channel for a chunk's rows.

    Args:
        views: Serial views per row (meter).
        serial_data: Data buffer of the views.
        starts: Start of each column (epoch µs).
        values: Values per row and column (divided by ``divide`` on the way out).
        divide: Divisor of the values (1000 turns watt-hours into kWh).
        decimals: Round the output to this many decimals (None: no rounding).
        holes: Which intervals the head-end did not get.
        flags: Quality flags of the rows that have any (row → flags per column).
        channel: Channel name.
        interval_s: Interval length. [s]

    Returns:
        One frame for the complete rows and one for the rest (either may be missing).
    """
    k, n_t = values.shape
    special = np.union1d(holes.rows, np.fromiter(flags, dtype=np.int64, count=len(flags)))
    special = special[special < k]
    frames = []

    def out(selected: npt.NDArray[np.floating]) -> FloatArray:
        result: FloatArray = np.divide(selected, divide, dtype=np.float64)
        if decimals is not None:
            np.round(result, decimals, out=result)
        return result

    if special.size < k:
        if special.size == 0:
            complete_values = values
            complete_views = views
        else:
            keep = np.ones(k, dtype=bool)
            keep[special] = False
            complete_values = values[keep]
            complete_views = views[keep]
        rows = complete_values.shape[0]
        frames.append(
            reads_frame(
                np.repeat(complete_views, n_t, axis=0),
                serial_data,
                np.tile(starts, rows),
                out(complete_values).ravel(),
                flags=None,
                channel=channel,
                interval_s=interval_s,
            )
        )
    if special.size:
        r, c = np.nonzero(holes.matrix(special))
        block_flags = np.zeros((special.size, n_t), dtype=np.uint32)
        for i, row in enumerate(special.tolist()):
            if row in flags:
                block_flags[i] = flags[row]
        sub = values[special]
        frames.append(
            reads_frame(
                views[special[r]],
                serial_data,
                starts[c],
                out(sub[r, c]),
                flags=block_flags[r, c],
                channel=channel,
                interval_s=interval_s,
            )
        )
    return [f for f in frames if f.height]
