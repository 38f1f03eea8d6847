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
    "SPAN_GENERAL",
    "SPAN_NULL",
    "SPAN_VALUE",
    "civil_days",
    "civil_to_wall",
    "decimals",
    "digits",
    "iso_utc_spans",
    "match_name",
    "number_spans",
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


SPAN_NULL: Final = 0
"""State of a span in :func:`iso_utc_spans` / :func:`number_spans`: absent or blank (null)."""
SPAN_VALUE: Final = 1
"""State: converted here."""
SPAN_GENERAL: Final = 2
"""State: a shape these loops do not take; the caller's general parser decides."""


@_inline
def _is_space(byte: int) -> bool:
    return byte == 32 or byte == 9 or byte == 10 or byte == 13  # noqa: PLR1714 - numba scalars


@_inline
def _trim(buffer: np.ndarray, start: int, end: int) -> tuple[int, int]:
    while start < end and _is_space(buffer[start]):
        start += 1
    while end > start and _is_space(buffer[end - 1]):
        end -= 1
    return start, end


@_inline
def _two(buffer: np.ndarray, p: int) -> int:
    """The two digits at ``p`` as a number, or -1."""
    a, b = buffer[p], buffer[p + 1]
    if a < 48 or a > 57 or b < 48 or b > 57:
        return -1
    return int((a - 48) * 10 + (b - 48))


@_jit
def iso_utc_spans(
    buffer: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """UTC µs since the epoch of ``normalize-space()``-d ISO 8601 stamps with an offset.

    Takes exactly ``YYYY-MM-DDTHH:MM:SS[.f{1,6}](Z|±HH:MM)`` with a real date in 1900-2200,
    hour 0-23, minute and second 0-59 and an offset below 24 hours; an absent span
    (``start < 0``) or a blank one is null (:data:`SPAN_NULL`); every other shape is
    :data:`SPAN_GENERAL`, for the caller's general parser (which also decides what is invalid).

    >>> b = np.frombuffer(b" 1970-01-01T01:00:00.5+01:00 x", np.uint8)
    >>> us, state = iso_utc_spans(b, np.array([0, 29, -1]), np.array([28, 30, 0]))
    >>> int(us[0]), state.tolist()
    (500000, [1, 2, 0])
    """
    n = starts.size
    values = np.zeros(n, dtype=np.int64)
    state = np.zeros(n, dtype=np.int8)
    for i in range(n):
        if starts[i] < 0:
            continue
        s, e = _trim(buffer, starts[i], ends[i])
        if s == e:
            continue
        state[i] = SPAN_GENERAL
        if e - s < 20:
            continue
        if (
            buffer[s + 4] != 45
            or buffer[s + 7] != 45
            or buffer[s + 10] != 84
            or buffer[s + 13] != 58
            or buffer[s + 16] != 58
        ):
            continue
        century, year2 = _two(buffer, s), _two(buffer, s + 2)
        month, day = _two(buffer, s + 5), _two(buffer, s + 8)
        hour, minute, second = _two(buffer, s + 11), _two(buffer, s + 14), _two(buffer, s + 17)
        if min(century, year2, month, day, hour, minute, second) < 0:
            continue
        if hour > 23 or minute > 59 or second > 59:
            continue
        days = civil_days(century * 100 + year2, month, day)
        if days == NO_DAY:
            continue
        p = s + 19
        micros = 0
        if buffer[p] == 46:
            p += 1
            count = 0
            while p < e and 48 <= buffer[p] <= 57 and count < 7:
                micros = micros * 10 + (buffer[p] - 48)
                count += 1
                p += 1
            if count == 0 or count > 6:
                continue
            for _ in range(6 - count):
                micros *= 10
        offset = 0
        if e - p == 1 and buffer[p] == 90:
            offset = 0
        elif e - p == 6 and (buffer[p] == 43 or buffer[p] == 45) and buffer[p + 3] == 58:
            oh, om = _two(buffer, p + 1), _two(buffer, p + 4)
            if oh < 0 or om < 0 or oh > 23 or om > 59:
                continue
            offset = (oh * 3600 + om * 60) * (1 if buffer[p] == 43 else -1)
        else:
            continue
        seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset
        values[i] = seconds * 1_000_000 + micros
        state[i] = SPAN_VALUE
    return values, state


@_jit
def number_spans(
    buffer: np.ndarray, starts: np.ndarray, ends: np.ndarray, pow10: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Plain decimals (``-``?, digits, optionally ``.`` and digits) of trimmed text spans.

    At most :data:`MAX_FAST_DIGITS` digits: the exact integer of the digits divided by the
    exact power of ten (correctly rounded, as a general float parser rounds). Absent or blank
    spans are :data:`SPAN_NULL`; any other shape (``+``, exponents, ``.5``, ``inf``, more
    digits) is :data:`SPAN_GENERAL`. ``pow10[k]`` must be ``10.0 ** k`` for ``k`` up to 15.

    >>> b = np.frombuffer(b"-12.50 1e3", np.uint8)
    >>> v, state = number_spans(b, np.array([0, 7]), np.array([6, 10]), 10.0 ** np.arange(16))
    >>> float(v[0]), state.tolist()
    (-12.5, [1, 2])
    """
    n = starts.size
    values = np.zeros(n, dtype=np.float64)
    state = np.zeros(n, dtype=np.int8)
    for i in range(n):
        if starts[i] < 0:
            continue
        s, e = _trim(buffer, starts[i], ends[i])
        if s == e:
            continue
        state[i] = SPAN_GENERAL
        negative = buffer[s] == 45
        if negative:
            s += 1
        mantissa, count, after_dot, dots, leading, stop = scan_decimal(buffer, s)
        if stop != e or leading == 0 or count > MAX_FAST_DIGITS or dots > 1:
            continue
        if dots == 1 and after_dot == 0:
            continue
        value = mantissa / pow10[after_dot]
        values[i] = -value if negative else value
        state[i] = SPAN_VALUE
    return values, state
