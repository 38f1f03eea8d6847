"""Daily air temperature for a territory: the weather file and degree days.

A weather file is a CSV with a header and one row per local day: ``date`` (ISO 8601) and the
day's mean air temperature in ``temperature_c`` [°C] or ``temperature_f`` [°F] (for example a
NOAA GHCN-Daily or ISD extract, averaged per day). Bad rows are refused with the file, line and
field named; nothing partial is returned.

Pure module: standard library and polars only; must not import ``meterops.db``, ``models``,
``web``, ``cli`` or ``config``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from typing import Final

import polars as pl

from meterops.errors import Issue, ValidationReportError
from meterops.kit.frames import ColumnSpec, FrameContract

__all__ = [
    "DAILY_TEMPERATURE",
    "DEGREE_DAY_BASE_C",
    "c_to_f",
    "cooling_degree_days",
    "f_to_c",
    "heating_degree_days",
    "parse_weather_csv",
    "write_weather_csv",
]

DEGREE_DAY_BASE_C: Final = (65.0 - 32.0) * 5.0 / 9.0
"""The customary degree-day base, 65 °F (18.33 °C). [°C]"""

DAILY_TEMPERATURE: Final = FrameContract(
    "daily_temperature",
    (
        ColumnSpec("day", pl.Date(), "Local calendar day."),
        ColumnSpec("temperature_c", pl.Float64(), "Mean air temperature of the day. [°C]"),
    ),
)


def f_to_c(value: float) -> float:
    """Degrees Fahrenheit to Celsius.

    Examples:
        >>> f_to_c(212.0)
        100.0
    """
    return (value - 32.0) * 5.0 / 9.0


def c_to_f(value: float) -> float:
    """Degrees Celsius to Fahrenheit.

    Examples:
        >>> c_to_f(-40.0)
        -40.0
    """
    return value * 9.0 / 5.0 + 32.0


def heating_degree_days(temperature_c: pl.Expr, base_c: float = DEGREE_DAY_BASE_C) -> pl.Expr:
    """Heating degree days of a daily mean temperature [°C·d], ``max(base − T, 0)``.

    Examples:
        >>> pl.select(heating_degree_days(pl.lit(8.5), 18.5)).item()
        10.0
    """
    return (pl.lit(base_c) - temperature_c).clip(lower_bound=0.0)


def cooling_degree_days(temperature_c: pl.Expr, base_c: float = DEGREE_DAY_BASE_C) -> pl.Expr:
    """Cooling degree days of a daily mean temperature [°C·d], ``max(T − base, 0)``.

    Examples:
        >>> pl.select(cooling_degree_days(pl.lit(20.0), 18.0)).item()
        2.0
    """
    return (temperature_c - pl.lit(base_c)).clip(lower_bound=0.0)


def parse_weather_csv(data: bytes, *, file: str) -> pl.DataFrame:
    r"""Parse a weather file into :data:`DAILY_TEMPERATURE`.

    Args:
        data: The file's bytes (UTF-8).
        file: Its name, for error messages.

    Returns:
        One row per day, sorted.

    Raises:
        ValidationReportError: Missing columns, bad dates or numbers, duplicate days; every
            issue names the file, line and field.

    Examples:
        >>> parse_weather_csv(b"date,temperature_f\n2026-01-05,14\n", file="w.csv").row(0)
        (datetime.date(2026, 1, 5), -10.0)
    """
    text = data.decode("utf-8-sig")
    reader = csv.DictReader(io.StringIO(text))
    fields = [f.strip() for f in (reader.fieldnames or [])]
    unit = "temperature_c" if "temperature_c" in fields else "temperature_f"
    if "date" not in fields or unit not in fields:
        issue = Issue(
            file,
            1,
            None,
            "weather.columns",
            f"expected columns 'date' and 'temperature_c' or 'temperature_f', found {fields}",
        )
        raise ValidationReportError(f"weather file {file} refused", [issue])
    issues: list[Issue] = []
    days: list[dt.date] = []
    values: list[float] = []
    seen: dict[dt.date, int] = {}
    for number, row in enumerate(reader, start=2):
        clean = {k.strip(): (v or "").strip() for k, v in row.items() if k is not None}
        try:
            day = dt.date.fromisoformat(clean.get("date", ""))
        except ValueError:
            issues.append(
                Issue(
                    file,
                    number,
                    "date",
                    "weather.bad_date",
                    f"expected a date like 2026-01-05, found {clean.get('date')!r}",
                )
            )
            continue
        try:
            value = float(clean.get(unit, ""))
        except ValueError:
            value = math.nan
        if (
            not math.isfinite(value)
            or not -80.0 <= (value if unit == "temperature_c" else f_to_c(value)) <= 60.0
        ):
            issues.append(
                Issue(
                    file,
                    number,
                    unit,
                    "weather.bad_temperature",
                    f"expected a temperature between -80 and 60 °C, found {clean.get(unit)!r}",
                )
            )
            continue
        if day in seen:
            issues.append(
                Issue(
                    file,
                    number,
                    "date",
                    "weather.duplicate_day",
                    f"{day} already given on line {seen[day]}",
                )
            )
            continue
        seen[day] = number
        days.append(day)
        values.append(value if unit == "temperature_c" else f_to_c(value))
    if issues:
        raise ValidationReportError(f"weather file {file} refused", issues)
    frame = pl.DataFrame({"day": days, "temperature_c": values}, schema=DAILY_TEMPERATURE.schema)
    return frame.sort("day")


def write_weather_csv(frame: pl.DataFrame) -> bytes:
    """Write :data:`DAILY_TEMPERATURE` as a weather file (``date,temperature_c``).

    Examples:
        >>> f = pl.DataFrame({"day": [dt.date(2026, 1, 5)], "temperature_c": [-3.25]})
        >>> parse_weather_csv(write_weather_csv(f), file="w.csv").equals(f)
        True
    """
    lines = ["date,temperature_c"]
    lines += [f"{d.isoformat()},{t!r}" for d, t in frame.select("day", "temperature_c").iter_rows()]
    return ("\n".join(lines) + "\n").encode()
