"""Compiled fast path of the CMEP reader: one pass over the bytes of ``MEPMD01`` interval lines.

:func:`parse` accepts only a subset of CMEP that it can check completely itself, and returns
None for anything else; the caller then parses the file with the reference path
(:func:`meterops.ingest.formats.cmep.parse_cmep` with ``fast=False``), which also produces
the located issues of malformed files. Inside the subset the file has no issue at all, and
the frame equals the reference's exactly (same rows, order, values to the bit).

The subset:

* ASCII text (after the reference's BOM and newline normalisation); blank lines allowed;
* every other line a ``MEPMD01`` record, written exactly so (no spaces);
* meter ID, commodity, units and calculation constant without spaces, the meter ID not
  empty; (commodity, units) a known interval (non-register) unit; the constant empty or a
  finite positive number;
* interval exactly eight digits with no months and a non-zero length; Count a positive
  integer of at most nine digits, and exactly ``14 + 3 × Count`` fields on the line;
* every stamp twelve digits of a real ``CCYYMMDDHHMM`` (``24:00`` allowed), or empty after
  the first; the first stamp neither ambiguous nor nonexistent in the zone, and the line's
  first and last interval ends at the same UTC offset within a week (a line that crosses a
  DST change goes to the reference); every explicit stamp equal to ``first + k × interval``;
* protocol text exactly one of the sender's protocol codes (no unknown text);
* values plain decimals (optional sign, at most one dot, at most 15 digits), magnitude at
  most 1e12, not negative on a channel that cannot be negative; an empty value only with a
  code that flags ``SOURCE_MISSING``.

Values, stamps and flags are computed with the reference's own formulas (exact integer over
exact power of ten, constant then unit power of ten, UTC offset of the first stamp), so the
two paths cannot differ inside the subset; the property tests in
``tests/ingest/formats/test_cmep_fast.py`` check it on generated and mutated files.

Pure module: numpy, numba, polars and pure meterops modules only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final, NamedTuple, Protocol, TypeVar, cast

import numba
import numpy as np
import numpy.typing as npt
import polars as pl

from meterops.ingest.formats import _kernels, _text, _time
from meterops.ingest.formats._common import MISSING, contract_frame
from meterops.reads.schema import PARSED_INTERVAL_READS

__all__ = ["Unit", "UnitLike", "parse"]

I64 = npt.NDArray[np.int64]
U8 = npt.NDArray[np.uint8]

_F = TypeVar("_F", bound=Callable[..., Any])

_NULL: Final = np.iinfo(np.int64).min
_US_PER_MINUTE: Final = 60_000_000
_WEEK_US: Final = 7 * 86_400 * 1_000_000
_MAX_ABS_VALUE: Final = 1e12
_MAX_CODES: Final = 250
_POW10: Final = np.array([float(10**i) for i in range(23)])
_EXACT_POW10: Final = np.array([float(10**i) for i in range(40)])
_MEPMD01: Final = np.frombuffer(b"MEPMD01,", dtype=np.uint8)
_HEADER: Final = 6
"""Header spans kept per line: meter ID, commodity, units, constant (start, end) → 8 ints."""


class UnitLike(Protocol):
    """What the fast path needs of a CMEP unit (``cmep.CmepUnit`` is one)."""

    @property
    def channel(self) -> str:
        """Canonical channel name."""
        ...

    @property
    def scale(self) -> float:
        """Factor from the file's unit to the channel's unit."""
        ...

    @property
    def register(self) -> bool:
        """True for cumulative register channels."""
        ...


class Unit(NamedTuple):
    """A plain :class:`UnitLike` (for callers without ``cmep.CmepUnit``)."""

    channel: str
    scale: float
    register: bool


def _jit(function: _F) -> _F:
    return cast("_F", numba.njit(cache=True, nogil=True)(function))


def _inline(function: _F) -> _F:
    return cast("_F", numba.njit(cache=True, nogil=True, inline="always")(function))


@_inline
def _civil_wall(stamp: int) -> int:
    """Wall µs of a ``CCYYMMDDHHMM`` integer, or the null sentinel (as ``_kernels``)."""
    minute = stamp % 100
    hour = (stamp // 100) % 100
    rest = stamp // 10_000
    year, month, day = rest // 10_000, (rest // 100) % 100, rest % 100
    null = -9_223_372_036_854_775_807 - 1
    if minute > 59:
        return null
    if hour > 23 and not (hour == 24 and minute == 0):
        return null
    days = _kernels.civil_days(year, month, day)
    if days == _kernels.NO_DAY:
        return null
    return ((days * 1440 + hour * 60 + minute) * 60) * 1_000_000


@_jit
def _scan(  # noqa: PLR0917 - one compiled pass, private
    buf: np.ndarray,
    magic: np.ndarray,
    key_data: np.ndarray,
    key_offsets: np.ndarray,
    key_missing: np.ndarray,
    pow10: np.ndarray,
) -> tuple[
    int,
    int,
    int,
    np.ndarray,
    np.ndarray,
    np.ndarray,
    np.ndarray,
    np.ndarray,
    np.ndarray,
    np.ndarray,
]:
    """Scan every line; ``(status, lines, triplets, …)``, status 0 when inside the subset.

    ``buf`` ends with a newline. Per line: physical line number, header spans, interval
    minutes, first triplet index (``first[lines]`` is the triplet count). Per triplet: wall
    stamp (null sentinel when empty), value (NaN when empty), protocol code index.
    """
    n = buf.size
    null = -9_223_372_036_854_775_807 - 1
    max_lines = n // 24 + 2
    max_trip = n // 3 + 2
    line_no = np.empty(max_lines, dtype=np.int64)
    header = np.empty((max_lines, 2 * _HEADER), dtype=np.int64)
    minutes = np.empty(max_lines, dtype=np.int64)
    first = np.empty(max_lines + 1, dtype=np.int64)
    wall = np.empty(max_trip, dtype=np.int64)
    value = np.empty(max_trip, dtype=np.float64)
    code = np.empty(max_trip, dtype=np.uint8)
    nl = 0
    nt = 0
    physical = 0
    i = 0
    last_code = 0
    while i < n:
        physical += 1
        if buf[i] == 10:  # blank line
            i += 1
            continue
        if i + 8 > n:
            return 1, nl, nt, line_no, header, minutes, first, wall, value, code
        for j in range(8):
            if buf[i + j] != magic[j]:
                return 1, nl, nt, line_no, header, minutes, first, wall, value, code
        i += 8
        # Fields 2-13 (0-based 1-12): record the ones the reader uses.
        interval = -1
        for field in range(1, 13):
            start = i
            while True:
                c = buf[i]
                if c == 44 or c == 10 or c >= 128:  # noqa: PLR1714 - numba compares scalars
                    break
                if c == 32 and field in (7, 9, 10, 11):
                    return 2, nl, nt, line_no, header, minutes, first, wall, value, code
                i += 1
            if buf[i] != 44:
                return 2, nl, nt, line_no, header, minutes, first, wall, value, code
            if field == 7:
                if i == start:
                    return 2, nl, nt, line_no, header, minutes, first, wall, value, code
                header[nl, 0] = start
                header[nl, 1] = i
            elif field == 9:
                header[nl, 2] = start
                header[nl, 3] = i
            elif field == 10:
                header[nl, 4] = start
                header[nl, 5] = i
            elif field == 11:
                header[nl, 6] = start
                header[nl, 7] = i
            elif field == 12:
                if i - start != 8:
                    return 3, nl, nt, line_no, header, minutes, first, wall, value, code
                code_value = 0
                for p in range(start, i):
                    d = buf[p] - 48
                    if d < 0 or d > 9:
                        return 3, nl, nt, line_no, header, minutes, first, wall, value, code
                    code_value = code_value * 10 + d
                if (code_value // 1_000_000) % 100 != 0:
                    return 3, nl, nt, line_no, header, minutes, first, wall, value, code
                interval = (
                    (code_value // 10_000 % 100) * 1440
                    + (code_value // 100 % 100) * 60
                    + code_value % 100
                )
                if interval == 0:
                    return 3, nl, nt, line_no, header, minutes, first, wall, value, code
            i += 1
        # Count.
        start = i
        count = 0
        while 48 <= buf[i] <= 57:
            count = count * 10 + (buf[i] - 48)
            i += 1
        if buf[i] != 44 or i == start or i - start > 9 or count < 1:
            return 4, nl, nt, line_no, header, minutes, first, wall, value, code
        i += 1
        line_no[nl] = physical
        minutes[nl] = interval
        first[nl] = nt
        for k in range(count):
            # Stamp: twelve digits or (after the first) empty.
            start = i
            stamp = 0
            while 48 <= buf[i] <= 57:
                stamp = stamp * 10 + (buf[i] - 48)
                i += 1
            if buf[i] != 44:
                return 5, nl, nt, line_no, header, minutes, first, wall, value, code
            if i == start:
                if k == 0:
                    return 5, nl, nt, line_no, header, minutes, first, wall, value, code
                wall[nt] = null
            else:
                if i - start != 12:
                    return 5, nl, nt, line_no, header, minutes, first, wall, value, code
                w = _civil_wall(stamp)
                if w == null:
                    return 5, nl, nt, line_no, header, minutes, first, wall, value, code
                wall[nt] = w
            i += 1
            # Protocol text: one of the sender's codes (the last one matched is tried first).
            start = i
            while buf[i] != 44 and buf[i] != 10:
                i += 1
            if buf[i] != 44:
                return 6, nl, nt, line_no, header, minutes, first, wall, value, code
            found = _kernels.match_name(buf, start, i - start, key_offsets, key_data, last_code)
            if found < 0:
                return 6, nl, nt, line_no, header, minutes, first, wall, value, code
            last_code = found
            code[nt] = found
            i += 1
            # Value: a plain decimal (the reference's fast decimal rule), ends the triplet.
            start = i
            negative = False
            if buf[i] == 45 or buf[i] == 43:
                negative = buf[i] == 45
                i += 1
            mantissa, digits, after_dot, dots, _, i = _kernels.scan_decimal(buf, i)
            end_char = 10 if k == count - 1 else 44
            if buf[i] != end_char:
                return 7, nl, nt, line_no, header, minutes, first, wall, value, code
            if i == start:
                if not key_missing[found]:
                    return 7, nl, nt, line_no, header, minutes, first, wall, value, code
                value[nt] = np.nan
            else:
                if digits == 0 or digits > 15 or dots > 1:
                    return 7, nl, nt, line_no, header, minutes, first, wall, value, code
                v = mantissa / pow10[after_dot]
                value[nt] = -v if negative else v
            i += 1
            nt += 1
        nl += 1
    first[nl] = nt
    return 0, nl, nt, line_no, header, minutes, first, wall, value, code


@_jit
def _finish(  # noqa: PLR0917 - private kernel
    first: np.ndarray,
    start_utc: np.ndarray,
    interval_us: np.ndarray,
    first_wall: np.ndarray,
    constant: np.ndarray,
    exponent: np.ndarray,
    non_negative: np.ndarray,
    wall: np.ndarray,
    raw: np.ndarray,
    code: np.ndarray,
    key_flags: np.ndarray,
    exact_pow10: np.ndarray,
) -> tuple[bool, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Check stamps and values of every triplet; interval starts, values, flags and owners."""
    lines = first.size - 1
    nt = first[lines]
    null = -9_223_372_036_854_775_807 - 1
    starts = np.empty(nt, dtype=np.int64)
    values = np.empty(nt, dtype=np.float64)
    flags = np.empty(nt, dtype=np.uint32)
    owner = np.empty(nt, dtype=np.int64)
    for line in range(lines):
        step = interval_us[line]
        base = start_utc[line]
        local0 = first_wall[line]
        c = constant[line]
        e = exponent[line]
        power = exact_pow10[abs(e)]
        for t in range(first[line], first[line + 1]):
            k = t - first[line]
            w = wall[t]
            if w != null and w != local0 + k * step:
                return False, starts, values, flags, owner
            v = raw[t]
            if not np.isnan(v):
                if abs(v) > 1e12 or (v < 0 and non_negative[line]):
                    return False, starts, values, flags, owner
                if c != 1.0:
                    v *= c
                v = v * power if e >= 0 else v / power
            starts[t] = base + (k - 1) * step
            values[t] = v
            flags[t] = key_flags[code[t]]
            owner[t] = line
    return True, starts, values, flags, owner


def _codes(flags_table: Mapping[str, int]) -> tuple[list[str], U8, I64, npt.NDArray[np.bool_]]:
    """The protocol codes the fast path can match exactly, as bytes and offsets."""
    keys = [
        k
        for k, flag in flags_table.items()
        if k.isascii() and k == k.strip(" ") and "," not in k and "\n" not in k
        if 0 <= flag < 2**32
    ][:_MAX_CODES]
    encoded = [k.encode() for k in keys]
    offsets = np.zeros(len(keys) + 1, dtype=np.int64)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    data = np.frombuffer(b"".join(encoded) + b"\0", dtype=np.uint8)
    missing = np.array([(flags_table[k] & MISSING) != 0 for k in keys], dtype=np.bool_)
    return keys, data, offsets, missing


def parse(
    data: bytes,
    *,
    zone: str,
    units: Mapping[tuple[str, str], UnitLike],
    flags_table: Mapping[str, int],
    non_negative: frozenset[str],
) -> tuple[pl.DataFrame, int] | None:
    r"""Interval reads of ``data`` when the file lies inside the subset, else None.

    Args:
        data: File bytes after the reference's BOM and newline normalisation.
        zone: The sender's time zone.
        units: (commodity, units) → channel, scale, register (upper-case keys).
        flags_table: Protocol text → quality flags.
        non_negative: Channels whose values cannot be negative.

    Returns:
        ``(PARSED_INTERVAL_READS frame, rows_in_file)`` or None (use the reference path).

    Examples:
        >>> line = b"MEPMD01,19970819,S,,,,202401020000,M1,OK,E,KWH,1,00000015,2,"
        >>> line += b"202401010015,,1.5,202401010030,E,2\n"
        >>> frame, rows = parse(line, zone="UTC", units={("E", "KWH"): Unit("kwh_delivered",
        ...     1.0, False)}, flags_table={"": 0, "E": 1}, non_negative=frozenset())
        >>> frame["value"].to_list(), frame["quality_flags"].to_list(), rows
        ([1.5, 2.0], [0, 1], 2)
        >>> parse(b"MEPMD01,x\n", zone="UTC", units={}, flags_table={}, non_negative=frozenset())
    """
    if not data:
        return None
    buffer = np.frombuffer(data, dtype=np.uint8)
    if buffer[-1] != 10:
        buffer = np.append(buffer, np.uint8(10))
    keys, key_data, key_offsets, key_missing = _codes(flags_table)
    if not keys:
        return None
    status, nl, nt, line_no, header, minutes, first, wall, raw, code = _scan(
        buffer, _MEPMD01, key_data, key_offsets, key_missing, _POW10
    )
    if status or nt == 0:
        return None
    header, first = header[:nl], first[: nl + 1]
    heads = pl.DataFrame(
        {
            "meter_id": _text.strings_at(buffer, header[:, 0], header[:, 1]),
            "commodity": _text.strings_at(buffer, header[:, 2], header[:, 3]).str.to_uppercase(),
            "units_key": _text.strings_at(buffer, header[:, 4], header[:, 5]).str.to_uppercase(),
            "constant": _text.strings_at(buffer, header[:, 6], header[:, 7]),
        }
    )
    known = pl.DataFrame(
        [(c, u, m.channel, m.scale, m.register) for (c, u), m in units.items()],
        schema=["commodity", "units_key", "channel", "scale", "register"],
        orient="row",
    )
    heads = heads.with_columns(
        pl.when(pl.col("constant") == "")
        .then(pl.lit("1"))
        .otherwise(pl.col("constant"))
        .cast(pl.Float64, strict=False)
        .alias("constant")
    ).join(known, on=["commodity", "units_key"], how="left", maintain_order="left")
    bad = heads.select(
        (
            pl.col("channel").is_null()
            | pl.col("register").fill_null(value=True)
            | pl.col("constant").is_null()
            | ~pl.col("constant").is_finite()
            | (pl.col("constant") <= 0)
        ).any()
    ).item()
    if bad:
        return None
    interval_us = minutes[:nl] * _US_PER_MINUTE
    counts = np.diff(first)
    first_wall = wall[first[:-1]]
    early = _time.wall_to_utc_us(first_wall, zone, ambiguous="earliest")
    late = _time.wall_to_utc_us(first_wall, zone, ambiguous="latest")
    if bool(np.any(_time.is_null(early) | (early != late))):
        return None
    span = (counts - 1) * interval_us
    last_utc = early + span
    if bool(np.any(span >= _WEEK_US)) or bool(
        np.any(_time.utc_to_wall_us(last_utc, zone) - last_utc != first_wall - early)
    ):
        return None
    channel = heads["channel"]
    scale = heads["scale"].to_numpy()
    if not bool(np.all(np.isfinite(scale) & (scale > 0))):
        return None
    exponent = np.rint(np.log10(scale)).astype(np.int64)
    if bool(np.any(np.abs(exponent) >= _EXACT_POW10.size)):
        return None
    key_flags = np.array([flags_table[k] for k in keys], dtype=np.uint32)
    ok, starts, values, flags, owner = _finish(
        first,
        early,
        interval_us,
        first_wall,
        heads["constant"].to_numpy(),
        exponent,
        channel.is_in(list(non_negative)).to_numpy(),
        wall[:nt],
        raw[:nt],
        code[:nt],
        key_flags,
        _EXACT_POW10,
    )
    if not ok:
        return None
    frame = pl.DataFrame(
        {
            "serial_number": heads["meter_id"].gather(owner),
            "channel": (
                pl.repeat(channel[0], nt, eager=True)
                if channel.n_unique() == 1
                else channel.gather(owner)
            ),
            "interval_start_utc": pl.Series(starts).cast(pl.Datetime("us", "UTC")),
            "interval_s": pl.Series((interval_us // 1_000_000)[owner]),
            "value": values,
            "quality_flags": flags,
            "source_quality": _quality(keys, code[:nt]),
            "source_line": line_no[:nl][owner],
        }
    )
    return contract_frame(frame, PARSED_INTERVAL_READS), nt


def _quality(keys: list[str], code: U8) -> pl.Series:
    """``source_quality``: the protocol text as received, null where empty."""
    texts = pl.Series([k or None for k in keys], dtype=pl.String)
    if texts.null_count() == texts.len() or (code.size and bool(np.all(code == code[0]))):
        return pl.repeat(texts[int(code[0])], code.size, dtype=pl.String, eager=True)
    return texts.gather(code.astype(np.int64))
