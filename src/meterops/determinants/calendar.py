"""TOU period assignment: interval-beginning UTC stamps to seasons, day types and periods.

A :class:`~meterops.assets.programs.TouSchedule` is compiled once into a small lookup table
``[season, day type, minute of day] → period`` (:class:`CompiledSchedule`). Stamps are
converted to local prevailing time **once per distinct stamp** (Polars), seasons and day types
are derived **once per distinct local date** (weekday / weekend / holiday, holidays from the
schedule's ``holidays`` calendar with its observance rules plus the schedule's extra dates),
and each stamp's period is a gather from the table — never a Python loop per read.

Conventions (``standards.md`` §10.1, §10.4):

* An interval belongs to the period in force at its **beginning** (reads are stamped by their
  beginning): with on-peak from 17:00, 16:45–17:00 is not on-peak and 17:00–17:15 is.
* Periods follow **local prevailing time**: on a spring-forward day the skipped hour simply has
  no intervals; on a fall-back day the repeated hour (01:00–02:00 twice) is assigned by its
  local wall time both times, so both passes get the period of 01:xx.
* A holiday takes precedence over the weekend: a Saturday holiday uses the ``holiday`` day type.
  Observance follows the calendar (the ``holidays`` package's US calendar observes a Sunday
  holiday on Monday and a Saturday holiday on Friday); a schedule that needs other rules lists
  its dates in ``extra_dates`` and sets no calendar.

Pure module: standard library, numpy, polars, ``holidays`` and pure meterops modules
(``assets.programs``, ``errors``); must not import ``meterops.db``, ``models``, ``web``, ``cli``
or ``config``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Final

import holidays
import numpy as np
import numpy.typing as npt
import polars as pl

from meterops.assets.programs import DAY_TYPES, TouSchedule
from meterops.errors import InvalidInputError

__all__ = [
    "MINUTES_PER_DAY",
    "CompiledSchedule",
    "assign_tou_periods",
    "classify_days",
    "compile_schedule",
    "holiday_dates",
    "period_codes",
]

MINUTES_PER_DAY: Final = 1440

_WEEKDAY, _WEEKEND, _HOLIDAY = (DAY_TYPES.index(t) for t in ("weekday", "weekend", "holiday"))

U8 = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True, eq=False)
class CompiledSchedule:
    """A TOU schedule as a lookup table.

    Attributes:
        schedule: The validated schedule.
        period_names: Period names, sorted; codes index this tuple.
        season_names: Season names in the schedule's order; season codes index this tuple.
        minute_table: ``[season, day type, minute of day]`` → period code (``DAY_TYPES`` order).
    """

    schedule: TouSchedule
    period_names: tuple[str, ...]
    season_names: tuple[str, ...]
    minute_table: U8 = field(repr=False)


def compile_schedule(schedule: TouSchedule) -> CompiledSchedule:
    """Compile a schedule into a ``[season, day type, minute]`` period table.

    Args:
        schedule: A validated TOU schedule.

    Returns:
        The compiled schedule.

    Examples:
        >>> from meterops.assets.programs import parse_tou_schedule
        >>> s = parse_tou_schedule({
        ...     "seasons": [{"name": "all", "start": "01-01", "end": "12-31"}],
        ...     "periods": {"all": {"weekday": [["00:00", "off"], ["17:00", "on"]],
        ...                         "weekend": [["00:00", "off"]],
        ...                         "holiday": [["00:00", "off"]]}}})
        >>> c = compile_schedule(s)
        >>> [c.period_names[i] for i in c.minute_table[0, 0, [1019, 1020]]]
        ['off', 'on']
    """
    names = tuple(schedule.period_names)
    seasons = tuple(s.name for s in schedule.seasons)
    table = np.zeros((len(seasons), len(DAY_TYPES), MINUTES_PER_DAY), dtype=np.uint8)
    for s_index, season in enumerate(seasons):
        for d_index, day_type in enumerate(DAY_TYPES):
            switches = schedule.periods[season][day_type]
            for k, (start, name) in enumerate(switches):
                first = start.hour * 60 + start.minute
                last = (
                    switches[k + 1][0].hour * 60 + switches[k + 1][0].minute
                    if k + 1 < len(switches)
                    else MINUTES_PER_DAY
                )
                table[s_index, d_index, first:last] = names.index(name)
    table.setflags(write=False)
    return CompiledSchedule(schedule, names, seasons, table)


@lru_cache(maxsize=256)
def _calendar_dates(
    calendar: str, subdivision: str | None, years: tuple[int, ...]
) -> frozenset[dt.date]:
    try:
        found = holidays.country_holidays(calendar, subdiv=subdivision, years=years)
    except NotImplementedError as exc:
        msg = (
            f"holiday calendar {calendar!r} (subdivision {subdivision!r}) is not known to the "
            "'holidays' package; use an ISO country code such as 'US' or 'CA'"
        )
        raise InvalidInputError(msg, code="tou.unknown_holiday_calendar") from exc
    return frozenset(found)


def holiday_dates(schedule: TouSchedule, *, years: Iterable[int]) -> frozenset[dt.date]:
    """The dates the schedule treats as holidays in the given years.

    The schedule's calendar (``holidays`` package, with its observed days) plus its extra dates.

    Args:
        schedule: The TOU schedule.
        years: Calendar years.

    Returns:
        Holiday dates.

    Raises:
        InvalidInputError: The calendar is not known to the ``holidays`` package.

    Examples:
        >>> from meterops.assets.programs import parse_tou_schedule
        >>> flat = {"weekday": [["00:00", "all"]], "weekend": [["00:00", "all"]],
        ...         "holiday": [["00:00", "all"]]}
        >>> s = parse_tou_schedule({
        ...     "seasons": [{"name": "y", "start": "01-01", "end": "12-31"}],
        ...     "periods": {"y": flat}, "holidays": {"calendar": "US"}})
        >>> dt.date(2027, 7, 5) in holiday_dates(s, years=[2027])  # Sunday the 4th observed
        True
    """
    wanted = tuple(sorted(set(years)))
    found: set[dt.date] = {d for d in schedule.extra_holidays if d.year in wanted}
    if schedule.holiday_calendar:
        found |= _calendar_dates(schedule.holiday_calendar, schedule.holiday_subdivision, wanted)
    return frozenset(found)


def _day_codes(
    dates: Sequence[dt.date], schedule: CompiledSchedule
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Season and day-type codes of each date (one Python step per distinct date)."""
    days_off = holiday_dates(schedule.schedule, years={d.year for d in dates})
    seasons = schedule.schedule.seasons
    season_code = np.empty(len(dates), dtype=np.intp)
    day_code = np.empty(len(dates), dtype=np.intp)
    for i, day in enumerate(dates):
        season_code[i] = next(k for k, s in enumerate(seasons) if s.contains(day))
        day_code[i] = _HOLIDAY if day in days_off else _WEEKEND if day.weekday() >= 5 else _WEEKDAY
    return season_code, day_code


def classify_days(dates: Sequence[dt.date], *, schedule: TouSchedule) -> pl.DataFrame:
    """Season and day type of each local date.

    Args:
        dates: Local calendar dates.
        schedule: The TOU schedule (seasons and holiday rule).

    Returns:
        Columns ``local_date``, ``season``, ``day_type``, in the order given.

    Examples:
        >>> from meterops.assets.programs import parse_tou_schedule
        >>> flat = {"weekday": [["00:00", "all"]], "weekend": [["00:00", "all"]],
        ...         "holiday": [["00:00", "all"]]}
        >>> s = parse_tou_schedule({
        ...     "seasons": [{"name": "winter", "start": "11-01", "end": "02-29"},
        ...                 {"name": "rest", "start": "03-01", "end": "10-31"}],
        ...     "periods": {"winter": flat, "rest": flat},
        ...     "holidays": {"calendar": "US"}})
        >>> classify_days([dt.date(2026, 12, 31), dt.date(2027, 1, 1), dt.date(2027, 1, 2)],
        ...               schedule=s).rows()
        [(datetime.date(2026, 12, 31), 'winter', 'weekday'), (datetime.date(2027, 1, 1), 'winter', 'holiday'), (datetime.date(2027, 1, 2), 'winter', 'weekend')]
    """  # noqa: E501
    compiled = compile_schedule(schedule)
    season_code, day_code = _day_codes(list(dates), compiled)
    return pl.DataFrame(
        {
            "local_date": pl.Series(list(dates), dtype=pl.Date),
            "season": [compiled.season_names[c] for c in season_code],
            "day_type": [DAY_TYPES[c] for c in day_code],
        }
    )


def _local_parts(
    starts_utc: pl.Series, zone: str
) -> tuple[list[dt.date], npt.NDArray[np.int64], npt.NDArray[np.int32]]:
    """Distinct local dates (sorted), each stamp's index into them and its minute of day."""
    local = pl.DataFrame({"t": starts_utc}).select(
        pl.col("t").dt.convert_time_zone(zone).alias("local")
    )
    parts = local.select(
        (pl.col("local").dt.date().rank("dense").cast(pl.Int64) - 1).alias("date_index"),
        (pl.col("local").dt.hour().cast(pl.Int32) * 60 + pl.col("local").dt.minute()).alias(
            "minute"
        ),
    )
    dates = local["local"].dt.date().unique().sort().to_list()
    return dates, parts["date_index"].to_numpy(), parts["minute"].to_numpy()


def period_codes(
    starts_utc: pl.Series, *, schedules: Sequence[CompiledSchedule], zone: str
) -> list[U8]:
    """Period code of each stamp under each schedule.

    Call it with **distinct** stamps (e.g. the slots of a time grid): the work is one time-zone
    conversion per stamp, one Python step per distinct local date and schedule, and a gather.

    Args:
        starts_utc: Interval beginnings, ``Datetime(time_zone="UTC")``. [UTC]
        schedules: Compiled schedules.
        zone: IANA zone of the schedules' local prevailing time.

    Returns:
        Per schedule, a ``uint8`` array of codes into its ``period_names``.

    Examples:
        >>> from meterops.assets.programs import parse_tou_schedule
        >>> s = compile_schedule(parse_tou_schedule({
        ...     "seasons": [{"name": "all", "start": "01-01", "end": "12-31"}],
        ...     "periods": {"all": {"weekday": [["00:00", "off"], ["17:00", "on"]],
        ...                         "weekend": [["00:00", "off"]],
        ...                         "holiday": [["00:00", "off"]]}}}))
        >>> t = pl.Series([dt.datetime(2024, 7, 1, 21, 45, tzinfo=dt.UTC),
        ...                dt.datetime(2024, 7, 1, 22, 0, tzinfo=dt.UTC)])
        >>> [s.period_names[c] for c in period_codes(t, schedules=[s], zone="America/Chicago")[0]]
        ['off', 'on']
    """
    if starts_utc.is_empty():
        return [np.zeros(0, dtype=np.uint8) for _ in schedules]
    dates, date_index, minute = _local_parts(starts_utc, zone)
    out: list[U8] = []
    for compiled in schedules:
        season_code, day_code = _day_codes(dates, compiled)
        out.append(compiled.minute_table[season_code[date_index], day_code[date_index], minute])
    return out


def assign_tou_periods(
    frame: pl.DataFrame,
    *,
    schedule: TouSchedule,
    zone: str,
    column: str = "interval_start_utc",
) -> pl.DataFrame:
    """Add the season, day type and TOU period of each row's interval beginning.

    Args:
        frame: Any frame with a ``Datetime(time_zone="UTC")`` column ``column``.
        schedule: The TOU schedule to apply.
        zone: IANA zone of the schedule's local prevailing time.
        column: The interval-beginning column. [UTC]

    Returns:
        ``frame`` with ``season``, ``day_type`` and ``tou_period`` (String) columns added.

    Examples:
        >>> from meterops.assets.programs import parse_tou_schedule
        >>> s = parse_tou_schedule({
        ...     "seasons": [{"name": "all", "start": "01-01", "end": "12-31"}],
        ...     "periods": {"all": {"weekday": [["00:00", "off"], ["17:00", "on"]],
        ...                         "weekend": [["00:00", "off"]],
        ...                         "holiday": [["00:00", "off"]]}}})
        >>> reads = pl.DataFrame({"interval_start_utc": [
        ...     dt.datetime(2024, 7, 1, 21, 45, tzinfo=dt.UTC),   # 16:45 CDT
        ...     dt.datetime(2024, 7, 1, 22, 0, tzinfo=dt.UTC),    # 17:00 CDT
        ...     dt.datetime(2024, 7, 6, 22, 0, tzinfo=dt.UTC)]})  # Saturday
        >>> assign_tou_periods(reads, schedule=s, zone="America/Chicago")["tou_period"].to_list()
        ['off', 'on', 'off']
    """
    compiled = compile_schedule(schedule)
    stamps = frame.select(pl.col(column).unique()).to_series()
    dates, date_index, minute = _local_parts(stamps, zone)
    season_code, day_code = _day_codes(dates, compiled)
    s, d = season_code[date_index], day_code[date_index]
    codes = compiled.minute_table[s, d, minute]
    lookup = pl.DataFrame(
        {
            column: stamps,
            "season": pl.Series(compiled.season_names, dtype=pl.String).gather(s),
            "day_type": pl.Series(DAY_TYPES, dtype=pl.String).gather(d),
            "tou_period": pl.Series(compiled.period_names, dtype=pl.String).gather(codes),
        }
    )
    return frame.join(lookup, on=column, how="left", maintain_order="left")
