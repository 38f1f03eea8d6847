"""Vectorised local-time arithmetic shared by the local-time formats (CMEP, NEM12, CSV).

Naive wall times travel as int64 microseconds since 1970-01-01 (wall clock), UTC instants as
int64 microseconds since the epoch. Conversions go through Polars' time-zone engine, whole
columns at a time.

Pure module: numpy, numba (via ``_kernels``) and polars only.
"""

from __future__ import annotations

from typing import Final, Literal

import numpy as np
import numpy.typing as npt
import polars as pl

from meterops.ingest.formats import _kernels

__all__ = ["US_PER_MINUTE", "Ambiguity", "civil_to_wall_us", "utc_to_wall_us", "wall_to_utc_us"]

I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]
Ambiguity = Literal["raise", "earliest", "latest"]

US_PER_MINUTE: Final = 60_000_000
_NULL: Final = np.iinfo(np.int64).min


def civil_to_wall_us(stamp: I64, *, digits: int) -> tuple[I64, B]:
    """Turn ``CCYYMMDD`` (8 digits), ``CCYYMMDDHHMM`` (12) or ``…SS`` (14) integers into wall µs.

    ``24:00`` is accepted and means midnight at the end of the day (interval-ending formats
    write it). Impossible dates (30 February, month 13, 25:00) give ``ok = False``.

    Examples:
        >>> w, ok = civil_to_wall_us(np.array([202403102400, 202402300000]), digits=12)
        >>> str(np.datetime64(int(w[0]), "us")), ok.tolist()
        ('2024-03-11T00:00:00.000000', [True, False])
    """
    if digits not in (8, 12, 14):
        msg = f"digits must be 8, 12 or 14, not {digits}"
        raise ValueError(msg)
    wall, ok = _kernels.civil_to_wall(
        np.ascontiguousarray(stamp, dtype=np.int64), digits >= 12, digits == 14
    )
    return wall, ok


def wall_to_utc_us(wall: I64, zone: str, *, ambiguous: Ambiguity | Literal["null"]) -> I64:
    """UTC µs of naive wall times in ``zone`` (``_NULL`` where none or ambiguous+raise/null)."""
    rule = "null" if ambiguous == "raise" else ambiguous
    utc = (
        pl.Series(wall, dtype=pl.Int64)
        .cast(pl.Datetime("us"))
        .dt.replace_time_zone(zone, ambiguous=rule, non_existent="null")
        .dt.convert_time_zone("UTC")
        .cast(pl.Int64)
        .fill_null(_NULL)
    )
    return utc.to_numpy().astype(np.int64)


def utc_to_wall_us(utc: I64, zone: str) -> I64:
    """Naive wall-clock µs in ``zone`` of UTC instants."""
    return (
        pl.Series(utc, dtype=pl.Int64)
        .cast(pl.Datetime("us", "UTC"))
        .dt.convert_time_zone(zone)
        .dt.replace_time_zone(None)
        .cast(pl.Int64)
        .to_numpy()
        .astype(np.int64)
    )


def is_null(values: I64) -> B:
    """Where a converted time is missing."""
    result: B = values == _NULL
    return result


def parse_iso_utc(text: pl.Series) -> pl.Series:
    """Parse ISO 8601 date-times with an offset (``Z`` or ``±hh:mm``) to UTC.

    ``…Z`` stamps take Polars' fixed-format fast path; other offsets go through the slower
    offset-aware parser. A stamp without an offset gives null (never a guessed zone).

    Examples:
        >>> s = pl.Series(["2024-01-01T00:00:00Z", "2024-01-01T02:00:00.5+02:00", "2024-01-01"])
        >>> [str(v) if v else None for v in parse_iso_utc(s).to_list()]
        ['2024-01-01 00:00:00+00:00', '2024-01-01 00:00:00.500000+00:00', None]
    """
    result = text.str.to_datetime(
        "%Y-%m-%dT%H:%M:%S%.fZ", strict=False, time_unit="us"
    ).dt.replace_time_zone("UTC")
    slow = np.flatnonzero((result.is_null() & (text.fill_null("") != "")).to_numpy())
    if slow.size:
        parsed = (
            text.gather(slow)
            .str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%:z", strict=False, time_unit="us")
            .dt.convert_time_zone("UTC")
        )
        result = result.scatter(slow, parsed)
    return result.alias(text.name)


def _civil_yyyymmdd(days: I64) -> I64:
    """``CCYYMMDD`` of days since 1970-01-01 (Howard Hinnant's civil_from_days)."""
    z = days + 719_468
    era = np.floor_divide(z, 146_097)
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    year = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = np.where(mp < 10, mp + 3, mp - 9)
    year = year + (month <= 2)
    result: I64 = (year * 10_000 + month * 100 + day).astype(np.int64)
    return result


def wall_to_stamp(wall: I64) -> I64:
    """``CCYYMMDDHHMM`` integers of wall-clock µs (integer arithmetic only).

    The civil date is computed once per distinct day and looked up, since a file spans few
    days but many intervals.

    Examples:
        >>> wall_to_stamp(np.array([0, 1_709_251_200_000_000 + 3_600_000_000 * 13 + 60_000_000]))
        array([197001010000, 202403011301])
        >>> wall_to_stamp(np.array([], dtype=np.int64))
        array([], dtype=int64)
    """
    minutes = wall // US_PER_MINUTE
    days, minute_of_day = np.divmod(minutes, 1440)
    if days.size == 0:
        return np.zeros(0, dtype=np.int64)
    first, last = int(days.min()), int(days.max())
    if last - first < 100_000:
        table = _civil_yyyymmdd(np.arange(first, last + 1, dtype=np.int64))
        dates = table[days - first]
    else:  # pragma: no cover - spans of more than 270 years
        dates = _civil_yyyymmdd(days)
    hour, minute = np.divmod(minute_of_day, 60)
    stamp: I64 = dates * 10_000 + hour * 100 + minute
    return stamp.astype(np.int64)
