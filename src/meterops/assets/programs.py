"""Meter program TOU schedules as validated value objects.

A TOU schedule has **seasons** (month-day ranges covering the year exactly once, possibly
wrapping past December), **day types** (``weekday``, ``weekend``, ``holiday``), **periods** as
switch times per season and day type in local prevailing time, and a **holiday** rule (a
calendar from the ``holidays`` package plus extra dates). The same structure describes a
tariff's definition and what a meter is programmed with, so the two can be compared.

Document form (what ``meter_programs.tou_schedule`` stores)::

    seasons:  [{name: summer, start: "06-01", end: "09-30"},
               {name: winter, start: "10-01", end: "05-31"}]
    periods:  {summer: {weekday: [["00:00", off_peak], ["07:00", mid_peak], …],
                        weekend: [["00:00", off_peak]], holiday: [["00:00", off_peak]]}, …}
    holidays: {calendar: US, extra_dates: ["2024-12-24"]}

Pure module: standard library only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Final

from meterops.errors import InvalidInputError

__all__ = ["DAY_TYPES", "Season", "TouSchedule", "parse_tou_schedule"]

DAY_TYPES: Final = ("weekday", "weekend", "holiday")
"""Day types every season defines."""

_LEAP_YEAR: Final = 2024  # month-day arithmetic on a leap year covers 29 February


def _month_day(text: str, where: str) -> tuple[int, int]:
    try:
        parsed = dt.date.fromisoformat(f"{_LEAP_YEAR}-{text}")
    except (ValueError, TypeError) as exc:
        msg = f"{where}: expected a month-day 'MM-DD', found {text!r}"
        raise InvalidInputError(msg, code="tou.bad_month_day") from exc
    return parsed.month, parsed.day


def _clock(text: str, where: str) -> dt.time:
    try:
        return dt.time.fromisoformat(text)
    except (ValueError, TypeError) as exc:
        msg = f"{where}: expected a local time 'HH:MM', found {text!r}"
        raise InvalidInputError(msg, code="tou.bad_time") from exc


@dataclass(frozen=True, slots=True)
class Season:
    """A named range of month-days, inclusive at both ends; may wrap past year end.

    Attributes:
        name: Season name.
        start: First (month, day).
        end: Last (month, day).
    """

    name: str
    start: tuple[int, int]
    end: tuple[int, int]

    def contains(self, day: dt.date) -> bool:
        """Whether ``day`` falls in the season."""
        key = (day.month, day.day)
        if self.start <= self.end:
            return self.start <= key <= self.end
        return key >= self.start or key <= self.end


@dataclass(frozen=True, slots=True)
class TouSchedule:
    """A validated TOU schedule.

    Attributes:
        seasons: Seasons covering every day of the year exactly once.
        periods: season → day type → switch list ``((time, period), …)`` starting at 00:00.
        holiday_calendar: Country code of the ``holidays`` package (e.g. ``"US"``) or None.
        holiday_subdivision: State/province code for the calendar, or None.
        extra_holidays: Additional holiday dates.
    """

    seasons: tuple[Season, ...]
    periods: dict[str, dict[str, tuple[tuple[dt.time, str], ...]]] = field(hash=False)
    holiday_calendar: str | None = None
    holiday_subdivision: str | None = None
    extra_holidays: frozenset[dt.date] = frozenset()

    @property
    def period_names(self) -> list[str]:
        """Every period name the schedule uses, sorted."""
        return sorted(
            {name for days in self.periods.values() for sw in days.values() for _, name in sw}
        )

    def season_of(self, day: dt.date) -> str:
        """The season ``day`` belongs to."""
        for season in self.seasons:
            if season.contains(day):
                return season.name
        msg = f"no season covers {day}"  # unreachable for a validated schedule
        raise AssertionError(msg)

    def period_at(self, local: dt.datetime, *, day_type: str) -> str:
        """The period in force at a local wall time.

        Args:
            local: Local prevailing wall time (naive or aware; only the wall clock is used).
            day_type: ``weekday``, ``weekend`` or ``holiday`` for that date.

        Returns:
            Period name.
        """
        switches = self.periods[self.season_of(local.date())][day_type]
        current = switches[0][1]
        for start, name in switches:
            if local.time() >= start:
                current = name
            else:
                break
        return current

    def to_document(self) -> dict[str, Any]:
        """The JSON-able document form (inverse of :func:`parse_tou_schedule`)."""
        return {
            "seasons": [
                {
                    "name": s.name,
                    "start": f"{s.start[0]:02d}-{s.start[1]:02d}",
                    "end": f"{s.end[0]:02d}-{s.end[1]:02d}",
                }
                for s in self.seasons
            ],
            "periods": {
                season: {
                    day_type: [[t.strftime("%H:%M"), name] for t, name in switches]
                    for day_type, switches in days.items()
                }
                for season, days in self.periods.items()
            },
            "holidays": {
                "calendar": self.holiday_calendar,
                "subdivision": self.holiday_subdivision,
                "extra_dates": sorted(d.isoformat() for d in self.extra_holidays),
            },
        }


def parse_tou_schedule(document: dict[str, Any], *, label: str = "tou_schedule") -> TouSchedule:
    """Validate a TOU schedule document.

    Args:
        document: The document (see the module docstring).
        label: Name for error messages (e.g. the program code).

    Returns:
        The validated schedule.

    Raises:
        InvalidInputError: Naming the season, day type or switch that is wrong.

    Examples:
        >>> s = parse_tou_schedule({
        ...     "seasons": [{"name": "all", "start": "01-01", "end": "12-31"}],
        ...     "periods": {"all": {"weekday": [["00:00", "off"], ["17:00", "on"]],
        ...                         "weekend": [["00:00", "off"]],
        ...                         "holiday": [["00:00", "off"]]}}})
        >>> s.period_at(dt.datetime(2024, 7, 1, 17, 30), day_type="weekday")
        'on'
    """
    raw_seasons = document.get("seasons")
    if not isinstance(raw_seasons, list) or not raw_seasons:
        msg = f"{label}: 'seasons' must be a non-empty list"
        raise InvalidInputError(msg, code="tou.no_seasons")
    seasons = tuple(
        Season(
            str(s.get("name")),
            _month_day(s.get("start"), f"{label}.seasons[{i}].start"),
            _month_day(s.get("end"), f"{label}.seasons[{i}].end"),
        )
        for i, s in enumerate(raw_seasons)
    )
    day = dt.date(_LEAP_YEAR, 1, 1)
    while day.year == _LEAP_YEAR:
        covering = [s.name for s in seasons if s.contains(day)]
        if len(covering) != 1:
            found = "no season" if not covering else f"seasons {covering}"
            msg = f"{label}: {day.strftime('%m-%d')} is covered by {found}; need exactly one"
            raise InvalidInputError(msg, code="tou.season_coverage")
        day += dt.timedelta(days=1)

    raw_periods = document.get("periods") or {}
    periods: dict[str, dict[str, tuple[tuple[dt.time, str], ...]]] = {}
    for season in seasons:
        days = raw_periods.get(season.name)
        if not isinstance(days, dict):
            msg = f"{label}: no periods for season '{season.name}'"
            raise InvalidInputError(msg, code="tou.missing_season_periods")
        periods[season.name] = {}
        for day_type in DAY_TYPES:
            where = f"{label}.periods.{season.name}.{day_type}"
            raw = days.get(day_type)
            if not isinstance(raw, list) or not raw:
                msg = f"{where}: missing; every season needs {list(DAY_TYPES)}"
                raise InvalidInputError(msg, code="tou.missing_day_type")
            switches = tuple(
                (_clock(item[0], f"{where}[{j}]"), str(item[1])) for j, item in enumerate(raw)
            )
            times = [t for t, _ in switches]
            if times[0] != dt.time(0) or times != sorted(set(times)):
                msg = f"{where}: switch times must start at 00:00 and increase, found {raw}"
                raise InvalidInputError(msg, code="tou.bad_switches")
            periods[season.name][day_type] = switches

    holidays = document.get("holidays") or {}
    extra = frozenset(dt.date.fromisoformat(d) for d in holidays.get("extra_dates", []) or [])
    return TouSchedule(
        seasons=seasons,
        periods=periods,
        holiday_calendar=holidays.get("calendar"),
        holiday_subdivision=holidays.get("subdivision"),
        extra_holidays=extra,
    )
