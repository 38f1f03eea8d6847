"""Compiled byte-level loops of the text parsers (CMEP, NEM12): split, digits, decimals, dates.

Each loop replaces several full-array numpy passes (a comparison, a window copy and a
multiply-add per character position) with one pass over the bytes, compiled with numba
(``nogil``, cached on disk). They are the definitions of :func:`meterops.ingest.formats._text`'s
fast paths and return exactly what the numpy formulation returned; anything they do not
recognise is flagged for the callers' slower, general parser.

Pure module: numpy and numba only; must not import ``meterops.db``, ``models``, ``web``,
``cli`` or ``config``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, TypeVar, cast

import numba
import numpy as np

__all__ = [
    "MAX_FAST_DIGITS",
    "NO_DAY",
    "civil_days",
    "civil_to_wall",
    "decimals",
    "digits",
    "match_name",
    "scan_decimal",
    "split",
]

MAX_FAST_DIGITS: Final = 15
"""Decimals with more significant digits go to the general parser (exactness)."""

_F = TypeVar("_F", bound=Callable[..., Any])


def _jit(function: _F) -> _F:
    return cast("_F", numba.njit(cache=True, nogil=True)(function))


def _inline(function: _F) -> _F:
    return cast("_F", numba.njit(cache=True, nogil=True, inline="always")(function))


NO_DAY: Final = -(1 << 62)
"""What :func:`civil_days` returns for a date that does not exist."""


@_inline
def civil_days(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a Gregorian date in 1900-2200, or :data:`NO_DAY`.

    Howard Hinnant's ``days_from_civil``; compiled loops inline it.

    >>> civil_days(1970, 1, 1), civil_days(2024, 2, 29), civil_days(2023, 2, 29) == NO_DAY
    (0, 19782, True)
    """
    if year < 1900 or year > 2200 or month < 1 or month > 12 or day < 1:
        return NO_DAY
    leap = (year % 4 == 0 and year % 100 != 0) or year % 400 == 0
    if month == 2:
        length = 29 if leap else 28
    elif month in (4, 6, 9, 11):
        length = 30
    else:
        length = 31
    if day > length:
        return NO_DAY
    y = year - 1 if month <= 2 else year
    era = y // 400
    yoe = y - era * 400
    mp = month - 3 if month > 2 else month + 9
    doy = (153 * mp + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146_097 + doe - 719_468


@_inline
def scan_decimal(buf: np.ndarray, i: int) -> tuple[int, int, int, int, int, int]:
    """The digits and dots from ``buf[i]`` on, up to the first other byte.

    Returns ``(mantissa, digits, after_dot, dots, leading, end)``: the first 15 digits as an
    integer, how many digits there are, how many follow the first dot, how many dots, how
    many digits precede the first dot, and the offset of the byte that ended the run. The
    callers decide which shapes they accept.

    >>> scan_decimal(np.frombuffer(b"12.50,", np.uint8), 0)
    (1250, 4, 2, 1, 2, 5)
    """
    mantissa = 0
    digits = 0
    after_dot = 0
    dots = 0
    leading = 0
    while i < buf.size:
        c = buf[i]
        if 48 <= c <= 57:
            if digits < MAX_FAST_DIGITS:
                mantissa = mantissa * 10 + (c - 48)
            digits += 1
            if dots:
                after_dot += 1
            else:
                leading += 1
        elif c == 46:
            dots += 1
        else:
            break
        i += 1
    return mantissa, digits, after_dot, dots, leading, i


@_inline
def match_name(  # noqa: PLR0917 - compiled, called positionally from kernels
    buf: np.ndarray, start: int, length: int, offsets: np.ndarray, data: np.ndarray, last: int
) -> int:
    """Which of a packed list of names the bytes ``buf[start:start + length]`` spell, or -1.

    Name ``k`` is ``data[offsets[k]:offsets[k + 1]]``; ``last`` (the previous match) is
    tried first, since files repeat the same name line after line.

    >>> names = np.frombuffer(b"kwhvarh", np.uint8)
    >>> offsets = np.array([0, 3, 7])
    >>> match_name(np.frombuffer(b"x,varh,", np.uint8), 2, 4, offsets, names, 0)
    1
    """
    for attempt in range(offsets.size):
        key = last if attempt == 0 else attempt - 1
        a, b = offsets[key], offsets[key + 1]
        if b - a != length:
            continue
        same = True
        for p in range(length):
            if buf[start + p] != data[a + p]:
                same = False
                break
        if same:
            return key
    return -1


@_jit
def split(buffer: np.ndarray, delimiter: int) -> tuple[np.ndarray, np.ndarray]:
    r"""End offsets of every field (at a delimiter or ``\n``) and whether each ends a line.

    ``buffer`` must end with ``\n``.
    """
    n = 0
    for i in range(buffer.size):
        byte = buffer[i]
        if byte == 10 or byte == delimiter:  # noqa: PLR1714 - numba compares scalars
            n += 1
    ends = np.empty(n, dtype=np.int64)
    at_newline = np.empty(n, dtype=np.bool_)
    j = 0
    for i in range(buffer.size):
        byte = buffer[i]
        if byte == 10:
            ends[j] = i
            at_newline[j] = True
            j += 1
        elif byte == delimiter:
            ends[j] = i
            at_newline[j] = False
            j += 1
    return ends, at_newline


@_jit
def digits(
    buffer: np.ndarray, starts: np.ndarray, ends: np.ndarray, width: int
) -> tuple[np.ndarray, np.ndarray]:
    """Fixed-width unsigned digit fields as integers; ``ok`` False unless exactly ``width``."""
    n = starts.size
    values = np.zeros(n, dtype=np.int64)
    ok = np.zeros(n, dtype=np.bool_)
    for i in range(n):
        start = starts[i]
        if ends[i] - start != width:
            continue
        value = 0
        good = True
        for j in range(width):
            byte = buffer[start + j]
            if byte < 48 or byte > 57:
                good = False
                break
            value = value * 10 + (byte - 48)
        if good:
            values[i] = value
            ok[i] = True
    return values, ok


@_jit
def decimals(
    buffer: np.ndarray, starts: np.ndarray, ends: np.ndarray, pow10: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Plain decimals (optional sign, digits, at most one dot) of at most 15 digits.

    The value is the exact integer of the digits divided by the exact power of ten of the
    decimals (correctly rounded); ``fast`` is False for anything else (empty, exponents, more
    digits, other characters), which the caller parses in general.
    """
    n = starts.size
    values = np.zeros(n, dtype=np.float64)
    fast = np.zeros(n, dtype=np.bool_)
    for i in range(n):
        start, end = starts[i], ends[i]
        if end <= start:
            continue
        first = buffer[start]
        negative = first == 45
        position = start + 1 if negative or first == 43 else start
        mantissa = 0
        count = 0
        after_dot = 0
        dots = 0
        good = True
        for p in range(position, end):
            byte = buffer[p]
            if 48 <= byte <= 57:
                if count < MAX_FAST_DIGITS:
                    mantissa = mantissa * 10 + (byte - 48)
                count += 1
                if dots:
                    after_dot += 1
            elif byte == 46:
                dots += 1
            else:
                good = False
                break
        if not good or count == 0 or count > MAX_FAST_DIGITS or dots > 1:
            continue
        value = mantissa / pow10[after_dot]
        values[i] = -value if negative else value
        fast[i] = True
    return values, fast


@_jit
def civil_to_wall(
    stamp: np.ndarray, has_time: bool, has_seconds: bool
) -> tuple[np.ndarray, np.ndarray]:
    """``CCYYMMDD[HHMM[SS]]`` integers to wall-clock µs since 1970-01-01, and validity.

    ``24:00[:00]`` is the end of the day; impossible dates and times give ``ok`` False.
    """
    n = stamp.size
    wall = np.zeros(n, dtype=np.int64)
    ok = np.zeros(n, dtype=np.bool_)
    for i in range(n):
        rest = stamp[i]
        seconds = 0
        if has_seconds:
            seconds = rest % 100
            rest //= 100
        hour = 0
        minute = 0
        if has_time:
            minute = rest % 100
            hour = (rest // 100) % 100
            rest //= 10_000
        year, month, day = rest // 10_000, (rest // 100) % 100, rest % 100
        if minute > 59 or seconds > 59:
            continue
        if hour > 23 and not (hour == 24 and minute == 0 and seconds == 0):
            continue
        days = civil_days(year, month, day)
        if days == NO_DAY:
            continue
        wall[i] = ((days * 1440 + hour * 60 + minute) * 60 + seconds) * 1_000_000
        ok[i] = True
    return wall, ok
