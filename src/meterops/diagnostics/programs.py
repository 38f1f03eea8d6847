"""Program validation: each meter program's TOU schedule against its tariff's definition.

A tariff's filed definition is the program whose code is ``<tariff_code><reference_suffix>``
(``RTOU-TARIFF`` for rate ``RTOU``); no meter carries it. Every other program that names the
tariff is compared with it slot by slot (15 minutes) over every day of a year, weekdays and
weekends apart; differences are listed as ranges ("summer weekday 19:00-21:00: program
on_peak, tariff mid_peak"). Holidays follow the weekend.

Pure module: standard library, polars and ``assets.programs`` (pure) only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import polars as pl

from meterops.assets.programs import TouSchedule

__all__ = ["MISMATCHES", "compare_schedules", "validate_programs"]

MISMATCHES = pl.Schema(
    {"program_code": pl.String, "tariff_code": pl.String, "differences": pl.String}
)
"""Columns of :func:`validate_programs`: one row per program that differs from its tariff."""

_SLOTS = [dt.time(h, m) for h in range(24) for m in range(0, 60, 15)]


def _day_type(day: dt.date) -> str:
    return "weekend" if day.weekday() >= 5 else "weekday"


def compare_schedules(program: TouSchedule, tariff: TouSchedule, *, year: int) -> list[str]:
    """Where ``program`` bills a different period than ``tariff`` (ranges, in order).

    Args:
        program: The meter program's schedule.
        tariff: The tariff's filed schedule.
        year: The calendar year compared (seasons are month-day ranges).

    Returns:
        One text per differing range, e.g. ``"summer weekday 19:00-21:00: program on_peak,
        tariff mid_peak"``; empty when they agree.
    """
    seen: set[tuple[str, str, str]] = set()
    found: list[str] = []
    day = dt.date(year, 1, 1)
    while day.year == year:
        kind = _day_type(day)
        key = (tariff.season_of(day), program.season_of(day), kind)
        if key not in seen:
            seen.add(key)
            found += _ranges(program, tariff, day, kind, key[0])
        day += dt.timedelta(days=1)
    return found


def _ranges(
    program: TouSchedule, tariff: TouSchedule, day: dt.date, kind: str, season: str
) -> list[str]:
    out: list[str] = []
    run: tuple[dt.time, str, str] | None = None
    for slot in [*_SLOTS, None]:
        pair = None
        if slot is not None:
            moment = dt.datetime.combine(day, slot)
            ours = program.period_at(moment, day_type=kind)
            theirs = tariff.period_at(moment, day_type=kind)
            pair = (ours, theirs) if ours != theirs else None
        if run is not None and (pair is None or pair != run[1:]):
            end = slot.strftime("%H:%M") if slot is not None else "24:00"
            out.append(f"{season} {kind} {run[0]:%H:%M}-{end}: program {run[1]}, tariff {run[2]}")
            run = None
        if pair is not None and run is None and slot is not None:
            run = (slot, *pair)
    return out


def validate_programs(
    programs: Mapping[str, tuple[str | None, TouSchedule]],
    *,
    year: int,
    reference_suffix: str = "-TARIFF",
) -> pl.DataFrame:
    """Programs whose TOU schedule differs from their tariff's filed definition.

    Args:
        programs: Program code → (tariff code, schedule), every program of the fleet.
        year: The calendar year compared.
        reference_suffix: A tariff's filed definition is ``tariff_code + reference_suffix``.

    Returns:
        :data:`MISMATCHES` rows, by program code.
    """
    rows = []
    for code, (tariff_code, schedule) in sorted(programs.items()):
        if tariff_code is None or code.endswith(reference_suffix):
            continue
        reference = programs.get(tariff_code + reference_suffix)
        if reference is None:
            continue
        differences = compare_schedules(schedule, reference[1], year=year)
        if differences:
            rows.append(
                {
                    "program_code": code,
                    "tariff_code": tariff_code,
                    "differences": "; ".join(differences),
                }
            )
    return pl.DataFrame(rows, schema=MISMATCHES)
