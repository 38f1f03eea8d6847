"""Numeric fast path of :func:`meterops.ingest.formats.espi.parse_espi`: clean feeds only.

The string path (:mod:`._espi_fast` tables, then Polars casts and rule masks) costs a few
milliseconds per feed, mostly the fixed cost of evaluating many small expressions. For a feed
in which every reading is plainly valid, the answer is simpler: read ``start``, ``duration``,
``value`` and ``quality`` straight from the scanned bytes as integers (one compiled pass),
scale with numpy, and build the canonical frame once.

:func:`numbers` returns None — and the caller takes the string path, which locates the issues
— unless every reading satisfies this subset, checked completely:

* ``timePeriod/start``: 1 to 11 decimal digits (no sign, no leading zero);
* ``timePeriod/duration``: 1 to 10 digits, between 1 and 2³¹ − 1;
* ``value``: an optional ``-`` and 1 to 15 digits (exact as a float; no ``-0``);
* ``ReadingQuality[1]/quality``: absent, or 1 to 9 digits (no leading zero);

surrounded by XML white space only; and every block is linked to a MeterReading, a
UsagePoint (or ``serial_number=``) and a supported ReadingType whose multiplier is an
integer, and no scaled value is out of range or negative on a channel that cannot be.

Pure module: numpy, numba, polars and pure meterops modules only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, NamedTuple

import numba
import numpy as np
import numpy.typing as npt
import polars as pl

from meterops.ingest.formats._common import SUSPECT

__all__ = ["Numbers", "numbers", "reads_frame"]

I64 = npt.NDArray[np.int64]

_POW10: Final = np.array([float(10**i) for i in range(40)])
"""Exact powers of ten, as :func:`meterops.ingest.formats._common.scale_pow10` uses them."""
_MAX_ABS: Final = 1e12
_MAX_DURATION: Final = 2**31 - 1
_US: Final = 1_000_000
# (max digits, signed, required) per field.
_FIELDS: Final = {
    "start": (11, False, True),
    "duration": (10, False, True),
    "value": (15, True, True),
    "quality": (9, False, False),
}


class Numbers(NamedTuple):
    """The readings of a feed as integers (same order as the string table).

    Attributes:
        start_s: ``timePeriod/start``. [s]
        duration_s: ``timePeriod/duration``. [s]
        value: ``value`` (raw integer, before the multiplier).
        quality: ``ReadingQuality[1]/quality`` code, -1 when absent.
    """

    start_s: I64
    duration_s: I64
    value: I64
    quality: I64


def numbers(data: bytes, spans: Mapping[str, tuple[I64, I64]]) -> Numbers | None:
    """The reading fields as integers, or None if any lies outside the subset (module doc).

    Args:
        data: The document bytes.
        spans: Per field, raw text spans ``(start, end)`` (start -1: element absent).

    Examples:
        >>> data = b"<v> 12 </v><v>-3</v>"
        >>> spans = {k: (np.array([3, 3]), np.array([7, 7])) for k in _FIELDS}
        >>> spans["value"] = (np.array([3, 14]), np.array([7, 16]))
        >>> numbers(data, spans).value.tolist()
        [12, -3]
        >>> spans["value"] = (np.array([3, 14]), np.array([7, 15]))  # "-" alone
        >>> numbers(data, spans) is None
        True
    """
    buffer = np.frombuffer(data, dtype=np.uint8)
    parsed = {}
    for name, (digits, signed, required) in _FIELDS.items():
        starts, ends = spans[name]
        values, ok = _integers(buffer, starts, ends, digits, signed, required)
        if not ok:
            return None
        parsed[name] = values
    found = Numbers(parsed["start"], parsed["duration"], parsed["value"], parsed["quality"])
    duration = found.duration_s
    if duration.size and (duration.min() < 1 or duration.max() > _MAX_DURATION):
        return None
    return found


def reads_frame(  # noqa: PLR0917 - the columns of one frame
    found: Numbers,
    line: I64,
    serial: pl.Series,
    channel: pl.Series,
    exponent: I64,
    may_be_negative: npt.NDArray[np.bool_],
    quality_flags: Mapping[str, int],
    schema: Mapping[str, pl.DataType],
) -> pl.DataFrame | None:
    """The canonical interval reads, or None if a value is out of range or wrongly negative.

    Args:
        found: The readings' integers.
        line: Start-tag line of each reading.
        serial: Serial number per reading.
        channel: Channel per reading.
        exponent: Power of ten per reading (multiplier + the unit's own).
        may_be_negative: Per reading, whether its channel may carry negative values.
        quality_flags: Quality code text → flags (others: ``SUSPECT``).
        schema: Column names and dtypes of the frame, in order.
    """
    if exponent.size and np.abs(exponent).max() >= _POW10.size:
        return None
    power = _POW10[np.abs(exponent)]
    raw = found.value.astype(np.float64)
    scaled = np.where(exponent >= 0, raw * power, raw / power)
    if np.any(np.abs(scaled) > _MAX_ABS) or np.any((scaled < 0) & ~may_be_negative):
        return None
    absent = found.quality < 0
    known = np.array([int(code) for code in quality_flags], dtype=np.int64)
    flags = np.full(found.quality.size, SUSPECT, dtype=np.uint32)
    for code, flag in zip(known.tolist(), quality_flags.values(), strict=True):
        flags[found.quality == code] = flag
    flags[absent] = 0
    source_quality = pl.Series(found.quality).cast(pl.String)
    if absent.any():
        source_quality = source_quality.scatter(np.flatnonzero(absent), None)
    columns = {
        "serial_number": serial,
        "channel": channel,
        "interval_start_utc": pl.Series(found.start_s * _US).cast(schema["interval_start_utc"]),
        "interval_s": pl.Series(found.duration_s.astype(np.int32)),
        "value": pl.Series(scaled),
        "quality_flags": pl.Series(flags),
        "source_quality": source_quality,
        "source_line": pl.Series(line.astype(np.int64)),
    }
    return pl.DataFrame([columns[name].alias(name).cast(dtype) for name, dtype in schema.items()])


@numba.njit(cache=True, nogil=True, inline="always")
def _space(c: int) -> bool:
    """XML white space, as ``normalize-space`` strips it."""
    return c in (32, 9, 10, 13)


@numba.njit(cache=True, nogil=True)
def _integers(  # noqa: PLR0917 - one compiled pass
    buf: npt.NDArray[np.uint8],
    starts: I64,
    ends: I64,
    max_digits: int,
    signed: bool,
    required: bool,
) -> tuple[I64, bool]:
    """Decimal integers of the spans after ``normalize-space``; False at the first other text.

    An absent span (start -1) gives -1 unless ``required``. Leading zeros (and ``-0``) are
    refused so that the text is exactly the integer's decimal form.
    """
    out = np.empty(starts.size, dtype=np.int64)
    for k in range(starts.size):
        s = starts[k]
        if s < 0:
            if required:
                return out, False
            out[k] = -1
            continue
        e = ends[k]
        while s < e and _space(buf[s]):
            s += 1
        while e > s and _space(buf[e - 1]):
            e -= 1
        negative = signed and s < e and buf[s] == 45  # '-'
        if negative:
            s += 1
        if e - s < 1 or e - s > max_digits or (buf[s] == 48 and (e - s > 1 or negative)):
            return out, False
        v = 0
        for i in range(s, e):
            c = buf[i]
            if c < 48 or c > 57:
                return out, False
            v = v * 10 + (c - 48)
        out[k] = -v if negative else v
    return out, True
