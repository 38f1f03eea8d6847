"""Time conventions: UTC storage, local time only at the edges, interval-beginning stamps.

meterops stores every timestamp in UTC and stamps an interval by its *beginning* plus its length
``interval_s``. Formats that stamp interval ends (CMEP, CIM, MultiSpeak) or local times (CMEP,
NEM12) are converted at ingest with the functions here. DST days have 92 or 100 quarter-hours;
nothing here fills or overwrites the missing or repeated local hour.

Pure module: imports only the standard library and polars.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import polars as pl

__all__ = [
    "AmbiguousTimeError",
    "NonexistentTimeError",
    "intervals_in_local_day",
    "local_date_expr",
    "local_day_bounds_utc",
    "localize",
    "utc_now",
]

Ambiguity = Literal["raise", "earliest", "latest"]


class AmbiguousTimeError(ValueError):
    """A local wall time that occurs twice (the repeated hour of a fall-back day)."""


class NonexistentTimeError(ValueError):
    """A local wall time that never occurs (the skipped hour of a spring-forward day)."""


def utc_now() -> datetime:
    """The current time in UTC (for adapters only; pure functions take "now" as an argument)."""
    return datetime.now(UTC)


def localize(wall: datetime, zone: ZoneInfo, *, ambiguous: Ambiguity = "raise") -> datetime:
    """Attach a time zone to a naive local wall time and convert it to UTC.

    The rule for the repeated hour of a fall-back day is explicit: ``"raise"`` (default)
    refuses to guess; ``"earliest"``/``"latest"`` pick the first (daylight) or second
    (standard) occurrence. A wall time inside the skipped spring-forward hour always raises.

    Args:
        wall: Naive local date-time.
        zone: The zone the wall time is in.
        ambiguous: What to do with a time that occurs twice.

    Returns:
        The same instant as an aware UTC date-time.

    Raises:
        AmbiguousTimeError: ``ambiguous="raise"`` and the wall time occurs twice.
        NonexistentTimeError: The wall time does not exist in that zone.
        ValueError: ``wall`` already carries a time zone.

    Examples:
        >>> from zoneinfo import ZoneInfo
        >>> localize(datetime(2024, 7, 1, 12, 0), ZoneInfo("America/Chicago")).isoformat()
        '2024-07-01T17:00:00+00:00'
        >>> localize(datetime(2024, 11, 3, 1, 30), ZoneInfo("America/Chicago"),
        ...          ambiguous="latest").isoformat()
        '2024-11-03T07:30:00+00:00'
    """
    if wall.tzinfo is not None:
        msg = f"expected a naive local time, got {wall.isoformat()} with a time zone"
        raise ValueError(msg)
    first = wall.replace(tzinfo=zone, fold=0)
    second = wall.replace(tzinfo=zone, fold=1)
    first_utc, second_utc = first.astimezone(UTC), second.astimezone(UTC)
    if first_utc == second_utc:
        return first_utc
    # The two folds disagree: either the hour repeats (fold 0 is earlier) or it is skipped
    # (a round trip through UTC does not give the wall time back).
    if first_utc.astimezone(zone).replace(tzinfo=None) != wall:
        msg = f"{wall.isoformat()} does not exist in {zone.key} (clocks spring forward)"
        raise NonexistentTimeError(msg)
    if ambiguous == "raise":
        msg = (
            f"{wall.isoformat()} occurs twice in {zone.key} (clocks fall back); "
            "the source must give an offset or a documented rule must pick one"
        )
        raise AmbiguousTimeError(msg)
    return first_utc if ambiguous == "earliest" else second_utc


def local_day_bounds_utc(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants at which a local calendar day starts and ends.

    Args:
        day: Local calendar date.
        zone: The utility's zone.

    Returns:
        ``(start_utc, end_utc)``; the day is ``[start, end)`` and lasts 23, 24 or 25 hours.

    Examples:
        >>> from zoneinfo import ZoneInfo
        >>> start, end = local_day_bounds_utc(date(2024, 3, 10), ZoneInfo("America/Chicago"))
        >>> (end - start).total_seconds() / 3600
        23.0
    """
    start = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    return start, end


def intervals_in_local_day(day: date, zone: ZoneInfo, interval_s: int) -> int:
    """How many intervals of ``interval_s`` a local day holds (92/96/100 for 15 min).

    Args:
        day: Local calendar date.
        zone: The utility's zone.
        interval_s: Interval length. [s]

    Returns:
        Number of whole intervals in the day.

    Examples:
        >>> from zoneinfo import ZoneInfo
        >>> z = ZoneInfo("America/New_York")
        >>> [intervals_in_local_day(d, z, 900) for d in (date(2024, 3, 10), date(2024, 11, 3))]
        [92, 100]
    """
    start, end = local_day_bounds_utc(day, zone)
    return int((end - start).total_seconds()) // interval_s


def local_date_expr(column: str, zone: str) -> pl.Expr:
    """Polars expression: the local calendar date of a UTC timestamp column.

    Args:
        column: Name of a ``Datetime(time_zone="UTC")`` column.
        zone: IANA zone name.

    Returns:
        A ``Date`` expression named ``local_date``.

    Examples:
        >>> df = pl.DataFrame({"t": [datetime(2024, 1, 1, 3, tzinfo=UTC)]})
        >>> df.select(local_date_expr("t", "America/Chicago")).item()
        datetime.date(2023, 12, 31)
    """
    return pl.col(column).dt.convert_time_zone(zone).dt.date().alias("local_date")
