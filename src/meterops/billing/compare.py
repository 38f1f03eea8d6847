"""What changed between two billing periods of an account, and how much of it is weather.

With a weather model fitted on the reference days (:mod:`meterops.billing.normalize`), each
period's actual use ``A`` is set against the use the model expects for that period's days and
temperatures ``E``. The change between the previous (``p``) and the current (``c``) period
splits exactly into

``A_c − A_p = (E_c − E_p) + [(A_c − E_c) − (A_p − E_p)]``

* ``E_c − E_p`` = **days** (the base use of the extra or missing days) + **heating** and
  **cooling** (degree days × slopes): what the weather and the calendar explain;
* the bracket = **use**: the change the weather does not explain (new appliances, an EV,
  more people at home — or a meter problem, which :mod:`meterops.billing.checks` looks for).

The normalised change ``100 × (A_c / E_c − A_p / E_p)`` [%] is the change in use with weather
and days held equal. Interval data adds baseload, EV-charging and solar-export figures per
period (:mod:`meterops.billing.usage`).

Pure module: polars and pure meterops modules; must not import ``meterops.db``, ``models``,
``web``, ``cli`` or ``config``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import polars as pl

from meterops.billing.normalize import WeatherModel, predict_use
from meterops.billing.weather import DEGREE_DAY_BASE_C, cooling_degree_days, heating_degree_days
from meterops.errors import InvalidInputError

__all__ = ["BillingPeriod", "PeriodComparison", "PeriodSummary", "compare_periods", "summarize"]


@dataclass(frozen=True, slots=True)
class BillingPeriod:
    """A range of local days, both ends included."""

    first_day: dt.date
    last_day: dt.date

    def __post_init__(self) -> None:
        if self.last_day < self.first_day:
            msg = f"period ends ({self.last_day}) before it starts ({self.first_day})"
            raise InvalidInputError(msg, code="billing.bad_period")

    @property
    def days(self) -> int:
        """Number of days [d]."""
        return (self.last_day - self.first_day).days + 1

    def contains(self) -> pl.Expr:
        """Polars filter on a ``day`` column (True inside the period)."""
        return pl.col("day").is_between(self.first_day, self.last_day)

    def label(self) -> str:
        """Human label, e.g. ``Jan 5 – Feb 3, 2026``."""
        a, b = self.first_day, self.last_day
        left = f"{a:%b} {a.day}" + (f", {a.year}" if a.year != b.year else "")
        return f"{left} – {b:%b} {b.day}, {b.year}"


@dataclass(frozen=True, slots=True)
class PeriodSummary:
    """One billing period in figures.

    Attributes:
        period: The days.
        actual_kwh: Delivered energy (estimates included, as billed). [kWh]
        expected_kwh: What the weather model expects for its days and weather. [kWh]
        base_kwh: Expected base (weather-independent) part. [kWh]
        heating_kwh: Expected heating part. [kWh]
        cooling_kwh: Expected cooling part. [kWh]
        mean_temperature_c: Mean daily temperature. [°C]
        heating_degree_days: Sum of HDD, 65 °F base. [°C·d]
        cooling_degree_days: Sum of CDD, 65 °F base. [°C·d]
        baseload_kwh: Always-on load from the interval data. [kWh]
        ev_kwh: Detected EV charging. [kWh]
        received_kwh: Exported energy (solar). [kWh]
        peak_kw: Highest interval demand. [kW]
        intervals: Intervals present.
        expected_intervals: Intervals expected.
        estimated_intervals: Intervals estimated.
        outage_intervals: Intervals flagged POWER_OUTAGE.
    """

    period: BillingPeriod
    actual_kwh: float
    expected_kwh: float
    base_kwh: float
    heating_kwh: float
    cooling_kwh: float
    mean_temperature_c: float
    heating_degree_days: float
    cooling_degree_days: float
    baseload_kwh: float
    ev_kwh: float
    received_kwh: float
    peak_kw: float
    intervals: int
    expected_intervals: int
    estimated_intervals: int
    outage_intervals: int

    @property
    def estimated_share(self) -> float:
        """Share of the expected intervals that are estimated or missing [-]."""
        if self.expected_intervals == 0:
            return 0.0
        missing = max(self.expected_intervals - self.intervals, 0)
        return (self.estimated_intervals + missing) / self.expected_intervals

    @property
    def ratio(self) -> float:
        """Actual over expected use [-]."""
        return self.actual_kwh / self.expected_kwh if self.expected_kwh > 0 else float("nan")

    def as_dict(self) -> dict[str, Any]:
        """JSON-able figures."""
        out: dict[str, Any] = {
            "first_day": self.period.first_day.isoformat(),
            "last_day": self.period.last_day.isoformat(),
            "days": self.period.days,
            "estimated_share": round(self.estimated_share, 4),
        }
        for name in PeriodSummary.__dataclass_fields__:
            value = getattr(self, name)
            if isinstance(value, float):
                out[name] = round(value, 3)
            elif isinstance(value, int):
                out[name] = value
        return out


@dataclass(frozen=True, slots=True)
class PeriodComparison:
    """The two periods and the split of the change.

    Attributes:
        previous: The period compared with.
        current: The period complained about.
        model: The weather model.
        change_kwh: ``actual_c − actual_p``. [kWh]
        days_kwh: Base use of the difference in days. [kWh]
        heating_kwh: Change in expected heating. [kWh]
        cooling_kwh: Change in expected cooling. [kWh]
        use_kwh: Change the weather and days do not explain. [kWh]
        normalized_change_pct: Change in use with weather and days held equal. [%]
    """

    previous: PeriodSummary
    current: PeriodSummary
    model: WeatherModel
    change_kwh: float
    days_kwh: float
    heating_kwh: float
    cooling_kwh: float
    use_kwh: float
    normalized_change_pct: float

    @property
    def weather_kwh(self) -> float:
        """Heating plus cooling change [kWh]."""
        return self.heating_kwh + self.cooling_kwh

    def as_dict(self) -> dict[str, Any]:
        """JSON-able comparison."""
        return {
            "previous": self.previous.as_dict(),
            "current": self.current.as_dict(),
            "model": self.model.as_dict(),
            "change_kwh": round(self.change_kwh, 3),
            "days_kwh": round(self.days_kwh, 3),
            "heating_kwh": round(self.heating_kwh, 3),
            "cooling_kwh": round(self.cooling_kwh, 3),
            "weather_kwh": round(self.weather_kwh, 3),
            "use_kwh": round(self.use_kwh, 3),
            "normalized_change_pct": round(self.normalized_change_pct, 3),
        }


def _sum(frame: pl.DataFrame, column: str) -> float:
    if column not in frame.columns or frame.is_empty():
        return 0.0
    value = frame[column].sum()
    return float(value) if value is not None else 0.0


def summarize(daily: pl.DataFrame, period: BillingPeriod, model: WeatherModel) -> PeriodSummary:
    """Figures of one period.

    Args:
        daily: Days with ``day``, ``delivered_kwh`` and ``temperature_c``; the
            :data:`~meterops.billing.usage.DAILY_USE` columns where present.
        period: The period.
        model: The weather model.

    Returns:
        The summary; expected figures cover the days that have reads and a temperature, the
        actual energy is scaled up to the full period when days are missing.
    """
    days = daily.filter(period.contains())
    known = days.filter(
        pl.col("temperature_c").is_not_null() & pl.col("delivered_kwh").is_not_null()
    )
    predicted = predict_use(model, known)
    actual = _sum(known, "delivered_kwh")
    expected = _sum(predicted, "expected_kwh")
    with_temp = days.filter(pl.col("temperature_c").is_not_null())
    all_days = predict_use(model, with_temp)
    # Days without reads still belong to the bill (estimated): scale the modelled parts so
    # the split covers the whole period, and the actual use by the same share.
    scale = _sum(all_days, "expected_kwh") / expected if expected > 0 else 1.0
    temps = with_temp.select(
        mean=pl.col("temperature_c").mean(),
        hdd=heating_degree_days(pl.col("temperature_c"), DEGREE_DAY_BASE_C).sum(),
        cdd=cooling_degree_days(pl.col("temperature_c"), DEGREE_DAY_BASE_C).sum(),
    ).row(0)

    def col(name: str) -> float:
        return _sum(days, name)

    return PeriodSummary(
        period=period,
        actual_kwh=actual * scale,
        expected_kwh=_sum(all_days, "expected_kwh"),
        base_kwh=_sum(all_days, "base_kwh"),
        heating_kwh=_sum(all_days, "heating_kwh"),
        cooling_kwh=_sum(all_days, "cooling_kwh"),
        mean_temperature_c=float(temps[0]) if temps[0] is not None else float("nan"),
        heating_degree_days=float(temps[1] or 0.0),
        cooling_degree_days=float(temps[2] or 0.0),
        baseload_kwh=col("baseload_kwh"),
        ev_kwh=col("ev_kwh"),
        received_kwh=col("received_kwh"),
        peak_kw=float(days["peak_kw"].max() or 0.0) if "peak_kw" in days.columns else 0.0,  # type: ignore[arg-type]
        intervals=int(col("intervals")),
        expected_intervals=int(col("expected_intervals")),
        estimated_intervals=int(col("estimated_intervals")),
        outage_intervals=int(col("outage_intervals")),
    )


def compare_periods(
    daily: pl.DataFrame,
    *,
    current: BillingPeriod,
    previous: BillingPeriod,
    model: WeatherModel,
) -> PeriodComparison:
    """Compare two periods of one account.

    Args:
        daily: Daily use with temperature (see :func:`summarize`), covering both periods.
        current: The period complained about.
        previous: The period to compare with (last month, or the same month last year).
        model: Weather model fitted on reference days (the previous period and the history
            before the current one, never the current period alone).

    Returns:
        The comparison; ``days_kwh + heating_kwh + cooling_kwh + use_kwh == change_kwh``.

    Raises:
        InvalidInputError: A period has no day with both reads and temperature.
    """
    p = summarize(daily, previous, model)
    c = summarize(daily, current, model)
    for summary, name in ((p, "previous"), (c, "current")):
        if summary.expected_kwh <= 0:
            msg = (
                f"the {name} period {summary.period.label()} has no day with reads and temperature"
            )
            raise InvalidInputError(msg, code="billing.empty_period")
    change = c.actual_kwh - p.actual_kwh
    days = c.base_kwh - p.base_kwh
    heating = c.heating_kwh - p.heating_kwh
    cooling = c.cooling_kwh - p.cooling_kwh
    use = (c.actual_kwh - c.expected_kwh) - (p.actual_kwh - p.expected_kwh)
    return PeriodComparison(
        previous=p,
        current=c,
        model=model,
        change_kwh=change,
        days_kwh=days,
        heating_kwh=heating,
        cooling_kwh=cooling,
        use_kwh=use,
        normalized_change_pct=100.0 * (c.ratio - p.ratio),
    )
