"""Compiled fast path of the head-end CSV reader for interval reads: one pass over the bytes.

:func:`parse` accepts only a subset of head-end interval-read files that it can check
completely itself, and returns None for anything else; the caller then reads the file with
the reference path (Polars' CSV reader and the column rules of ``headend_csv.py``), which
also produces the located issues of malformed files. Inside the subset the file has no
issue, and the frame equals the reference's exactly.

The subset:

* ASCII text without quotes (after the reference's BOM and newline normalisation), the
  header row exactly ``serial_number,channel,interval_start_utc,interval_s,value,``
  ``quality_flags,source_quality`` (the documented order, the one the writer uses), no blank
  line except at the end, every row exactly seven fields;
* serial number not empty; channel one of the known channels;
* ``interval_start_utc`` exactly ``YYYY-MM-DDTHH:MM:SS`` with no fraction or a fraction of
  three or six digits, then ``Z``, a real date-time of the years 1900-2200;
* ``interval_s`` and ``quality_flags`` digits without a leading zero (``0`` allowed for flags),
  at most nine, interval not zero;
* ``value`` a plain decimal (optional ``-``, digits, optionally a dot followed by digits) of
  at most 15 digits, magnitude at most 1e12, not negative on a channel that cannot be;
* ``source_quality`` anything else (empty is null).

Numbers are computed as the exact integer of the digits over the exact power of ten of the
decimals (correctly rounded, as Polars' float parser is); instants by integer civil-date
arithmetic. ``tests/ingest/formats/test_headend_csv_fast.py`` compares the two paths on
generated and mutated files.

Pure module: numpy, numba, polars, pyarrow and pure meterops modules only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Final, TypeVar, cast

import numba
import numpy as np
import polars as pl

from meterops.ingest.formats import _kernels, _text
from meterops.ingest.formats._common import contract_frame
from meterops.reads.schema import PARSED_INTERVAL_READS

__all__ = ["HEADER", "parse"]

HEADER: Final = (
    b"serial_number,channel,interval_start_utc,interval_s,value,quality_flags,source_quality"
)
"""The one header row the fast path accepts (the documented column order)."""

_F = TypeVar("_F", bound=Callable[..., Any])
_POW10: Final = np.array([float(10**i) for i in range(23)])


def _jit(function: _F) -> _F:
    return cast("_F", numba.njit(cache=True, nogil=True)(function))


def _inline(function: _F) -> _F:
    return cast("_F", numba.njit(cache=True, nogil=True, inline="always")(function))


@_inline
def _digits(buf: np.ndarray, start: int, width: int) -> int:
    """The integer of ``width`` digits at ``start``, or -1."""
    value = 0
    for p in range(start, start + width):
        d = buf[p] - 48
        if d < 0 or d > 9:
            return -1
        value = value * 10 + d
    return value


@_inline
def _instant(buf: np.ndarray, i: int, prev: int, prev_days: int) -> tuple[int, int, int]:
    """``(µs since the epoch, end offset, days)`` of a ``YYYY-MM-DDTHH:MM:SS[.fff|.ffffff]Z`` stamp.

    The end offset is -1 when the text is not such a stamp or not a real date-time. ``prev``
    is the offset of the previous row's (valid) stamp, or -1, and ``prev_days`` its day
    number: when the ten date bytes are the same, the date is not parsed again.
    """
    n = buf.size
    if i + 20 > n:
        return 0, -1, 0
    if buf[i + 4] != 45 or buf[i + 7] != 45 or buf[i + 10] != 84:
        return 0, -1, 0
    if buf[i + 13] != 58 or buf[i + 16] != 58:
        return 0, -1, 0
    same = prev >= 0
    if same:
        for p in range(10):
            if buf[i + p] != buf[prev + p]:
                same = False
                break
    if same:
        days = prev_days
    else:
        year = _digits(buf, i, 4)
        month = _digits(buf, i + 5, 2)
        day = _digits(buf, i + 8, 2)
        days = _kernels.civil_days(year, month, day)
        if days == _kernels.NO_DAY:
            return 0, -1, 0
    hour = _digits(buf, i + 11, 2)
    minute = _digits(buf, i + 14, 2)
    second = _digits(buf, i + 17, 2)
    if hour < 0 or hour > 23 or minute < 0 or minute > 59 or second < 0 or second > 59:
        return 0, -1, 0
    j = i + 19
    micro = 0
    if buf[j] == 46:
        width = 0
        while j + 1 + width < n and 48 <= buf[j + 1 + width] <= 57:
            width += 1
        if width == 3:
            micro = _digits(buf, j + 1, 3) * 1000
        elif width == 6:
            micro = _digits(buf, j + 1, 6)
        else:
            return 0, -1, 0
        j += 1 + width
    if j >= n or buf[j] != 90:
        return 0, -1, 0
    return ((days * 1440 + hour * 60 + minute) * 60 + second) * 1_000_000 + micro, j + 1, days


@_inline
def _count(buf: np.ndarray, i: int, zero_ok: bool) -> tuple[int, int]:
    """``(value, offset of the comma after it)`` of an unsigned integer field, or end -1."""
    start = i
    value = 0
    while 48 <= buf[i] <= 57:
        value = value * 10 + (buf[i] - 48)
        i += 1
    width = i - start
    if buf[i] != 44 or width == 0 or width > 9:
        return 0, -1
    if buf[start] == 48 and (width > 1 or not zero_ok):
        return 0, -1
    return value, i


@_jit
def _scan(  # noqa: PLR0917 - one compiled pass, private
    buf: np.ndarray,
    start: int,
    channel_data: np.ndarray,
    channel_offsets: np.ndarray,
    non_negative: np.ndarray,
    pow10: np.ndarray,
) -> tuple[
    int, int, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray
]:
    """Scan the rows after the header; ``(status, rows, …)``, status 0 inside the subset.

    ``buf`` ends with a newline. Per row: the start of its serial run (rows of one serial in
    a row share it), channel index, instant, interval, value, flags and the span of the
    quality text; serial spans are kept per run.
    """
    n = buf.size
    max_rows = (n - start) // 14 + 2
    run = np.empty(max_rows, dtype=np.int64)
    spans = np.empty((max_rows, 4), dtype=np.int64)  # serial start, end; quality start, end
    channel = np.empty(max_rows, dtype=np.uint8)
    instant = np.empty(max_rows, dtype=np.int64)
    interval = np.empty(max_rows, dtype=np.int32)
    value = np.empty(max_rows, dtype=np.float64)
    flags = np.empty(max_rows, dtype=np.uint32)
    rows = 0
    runs = 0
    last_channel = 0
    prev_start = -1
    prev_end = -1
    prev_stamp = -1
    prev_days = 0
    i = start
    while i < n:
        if buf[i] == 10:
            for p in range(i, n):
                if buf[p] != 10:
                    return 1, rows, run, spans, channel, instant, interval, value, flags
            break
        # Serial number: most rows repeat the previous row's (checked already).
        s0 = i
        width = prev_end - prev_start
        same = width > 0 and s0 + width < n and buf[s0 + width] == 44
        if same:
            for p in range(width):
                if buf[s0 + p] != buf[prev_start + p]:
                    same = False
                    break
        if same:
            i = s0 + width
        else:
            while buf[i] != 44 and buf[i] != 10 and buf[i] != 34 and buf[i] < 128:
                i += 1
            if buf[i] != 44 or i == s0:
                return 2, rows, run, spans, channel, instant, interval, value, flags
            spans[runs, 0] = s0
            spans[runs, 1] = i
            runs += 1
            prev_start, prev_end = s0, i
        run[rows] = runs - 1
        i += 1
        # Channel: one of the known names; the last one matched is compared in place first
        # (with the comma after it), the others after a scan to the comma.
        c0 = i
        found = -1
        a = channel_offsets[last_channel]
        width = channel_offsets[last_channel + 1] - a
        if width > 0 and c0 + width < n and buf[c0 + width] == 44:
            found = last_channel
            for p in range(width):
                if buf[c0 + p] != channel_data[a + p]:
                    found = -1
                    break
        if found >= 0:
            i = c0 + width
        else:
            while buf[i] != 44 and buf[i] != 10:
                i += 1
            if buf[i] != 44:
                return 3, rows, run, spans, channel, instant, interval, value, flags
            found = _kernels.match_name(
                buf, c0, i - c0, channel_offsets, channel_data, last_channel
            )
            if found < 0:
                return 3, rows, run, spans, channel, instant, interval, value, flags
        last_channel = found
        channel[rows] = found
        i += 1
        # Interval start.
        us, end, stamp_days = _instant(buf, i, prev_stamp, prev_days)
        if end < 0 or buf[end] != 44:
            return 4, rows, run, spans, channel, instant, interval, value, flags
        prev_stamp, prev_days = i, stamp_days
        instant[rows] = us
        i = end + 1
        # Interval length.
        seconds, end = _count(buf, i, False)
        if end < 0:
            return 5, rows, run, spans, channel, instant, interval, value, flags
        interval[rows] = seconds
        i = end + 1
        # Value.
        negative = buf[i] == 45
        if negative:
            i += 1
        # One dot at most, with digits on both sides.
        mantissa, digits, after_dot, dots, leading, i = _kernels.scan_decimal(buf, i)
        malformed = dots > 1 or (dots == 1 and (leading == 0 or after_dot == 0))
        if buf[i] != 44 or digits == 0 or digits > 15 or malformed:
            return 6, rows, run, spans, channel, instant, interval, value, flags
        v = mantissa / pow10[after_dot]
        if v > 1e12 or (negative and non_negative[found] and v != 0.0):
            return 6, rows, run, spans, channel, instant, interval, value, flags
        value[rows] = -v if negative else v
        i += 1
        # Quality flags.
        number, end = _count(buf, i, True)
        if end < 0:
            return 7, rows, run, spans, channel, instant, interval, value, flags
        flags[rows] = number
        i = end + 1
        # Source quality: the rest of the line.
        q0 = i
        while buf[i] != 10 and buf[i] != 44 and buf[i] != 34 and buf[i] < 128:
            i += 1
        if buf[i] != 10:
            return 8, rows, run, spans, channel, instant, interval, value, flags
        spans[rows, 2] = q0
        spans[rows, 3] = i
        i += 1
        rows += 1
    return 0, rows, run, spans, channel, instant, interval, value, flags


def _table(names: Iterable[str]) -> tuple[list[str], np.ndarray, np.ndarray]:
    keys = sorted(n for n in names if n.isascii() and "," not in n and '"' not in n)[:250]
    encoded = [k.encode() for k in keys]
    offsets = np.zeros(len(keys) + 1, dtype=np.int64)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    return keys, np.frombuffer(b"".join(encoded) + b"\0", dtype=np.uint8), offsets


def parse(
    data: bytes, *, channels: Iterable[str], non_negative: frozenset[str]
) -> tuple[pl.DataFrame, int] | None:
    r"""Interval reads of ``data`` when the file lies inside the subset, else None.

    Args:
        data: File bytes after the reference's BOM and newline normalisation.
        channels: Channel names the file may use.
        non_negative: Channels whose values cannot be negative.

    Returns:
        ``(PARSED_INTERVAL_READS frame, rows_in_file)`` or None (use the reference path).

    Examples:
        >>> text = HEADER + b"\nM1,kwh_delivered,2024-01-01T00:00:00Z,900,0.5,0,\n"
        >>> frame, rows = parse(text, channels=["kwh_delivered"], non_negative=frozenset())
        >>> frame["value"].to_list(), frame["source_line"].to_list(), rows
        ([0.5], [2], 1)
        >>> parse(HEADER + b"\nM1,volts,x\n", channels=["kwh_delivered"], non_negative=frozenset())
    """
    if not data.startswith(HEADER + b"\n"):
        return None
    keys, channel_data, channel_offsets = _table(channels)
    if not keys:
        return None
    buffer = np.frombuffer(data, dtype=np.uint8)
    if buffer[-1] != 10:
        buffer = np.append(buffer, np.uint8(10))
    non_negative_keys = np.array([k in non_negative for k in keys], dtype=np.bool_)
    status, rows, run, spans, channel, instant, interval, value, flags = _scan(
        buffer, len(HEADER) + 1, channel_data, channel_offsets, non_negative_keys, _POW10
    )
    if status or rows == 0:
        return None
    run, channel = run[:rows], channel[:rows]
    runs = int(run[-1]) + 1
    serials = _text.strings_at(buffer, spans[:runs, 0], spans[:runs, 1])
    names = pl.Series(keys, dtype=pl.String)
    quality_start, quality_end = spans[:rows, 2], spans[:rows, 3]
    if bool(np.all(quality_start == quality_end)):
        quality = pl.repeat(None, rows, dtype=pl.String, eager=True)
    else:
        text = _text.strings_at(buffer, quality_start, quality_end)
        quality = text.set(text == "", None)
    frame = pl.DataFrame(
        {
            "serial_number": serials.gather(run),
            "channel": (
                pl.repeat(keys[int(channel[0])], rows, eager=True)
                if bool(np.all(channel == channel[0]))
                else names.gather(channel.astype(np.int64))
            ),
            "interval_start_utc": pl.Series(instant[:rows]).cast(pl.Datetime("us", "UTC")),
            "interval_s": interval[:rows],
            "value": value[:rows],
            "quality_flags": flags[:rows],
            "source_quality": quality,
            "source_line": np.arange(2, rows + 2, dtype=np.int64),
        }
    )
    return contract_frame(frame, PARSED_INTERVAL_READS), rows
