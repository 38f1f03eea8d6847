"""Load shapes: a day's interval consumption of many customers as one matrix product.

Every customer's demand is a weighted sum of a small set of *basis* profiles over the day's
intervals (local time, so DST days have 92 or 100 columns): a constant (base load), four
residential activity archetypes (working family, home all day, night owl, early riser),
cooling and heating degree profiles at several balance temperatures, three commercial
opening-hour schedules, three industrial shift patterns, and electric-vehicle charging
windows. The per-customer weights are drawn once (``customers.py``); each day scales them
(day-to-day variation), switches EV sessions on, and multiplies the product by log-normal
noise. One ``(customers x K) @ (K x intervals)`` product is the whole load model, which is
why a million meters take well under a second per day.

Pure module: standard library and numpy only; must not import ``meterops.db``, ``models``,
``web``, ``cli`` or ``config``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from meterops.simulator.weather import Weather

__all__ = ["BASIS_SIZE", "DayBasis", "day_basis", "ev_column"]

FloatArray = npt.NDArray[np.float64]
Float32Array = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]

SLOTS: Final = 96
"""Quarter-hours of a nominal day (shapes are tabulated on them)."""

COL_BASE: Final = 0
COL_ARCHETYPE: Final = 1
ARCHETYPES: Final = 4
COL_COOL: Final = 5
COOL_BALANCE_C: Final = (19.0, 21.0, 23.0)
COL_HEAT: Final = 8
HEAT_BALANCE_C: Final = (13.0, 16.0)
COL_COMMERCIAL: Final = 10
COMMERCIAL_SCHEDULES: Final = 3
COL_INDUSTRIAL: Final = 13
INDUSTRIAL_SCHEDULES: Final = 3
COL_EV: Final = 16
EV_START_H: Final = (16, 17, 18, 19, 20, 21, 22, 23)
EV_DURATION_H: Final = (1.5, 3.0)
BASIS_SIZE: Final = COL_EV + len(EV_START_H) * len(EV_DURATION_H)
"""Number of basis profiles (columns of the customer weights)."""


def _bumps(hours: FloatArray, spec: list[tuple[float, float, float]], floor: float) -> FloatArray:
    out = np.full(hours.size, floor)
    for centre, width, amplitude in spec:
        d = (hours - centre + 12.0) % 24.0 - 12.0
        out += amplitude * np.exp(-0.5 * (d / width) ** 2)
    return np.asarray(out / out.mean(), dtype=np.float64)


def _window(hours: FloatArray, start: float, end: float, ramp: float = 1.0) -> FloatArray:
    """1 inside [start, end) local hours with linear ramps of ``ramp`` hours, else 0."""
    up = np.clip((hours - start + ramp) / ramp, 0.0, 1.0)
    down = np.clip((end - hours) / ramp, 0.0, 1.0)
    return np.minimum(up, down)


_HOURS: Final[FloatArray] = (np.arange(SLOTS, dtype=np.float64) + 0.5) / 4.0


def _archetypes(weekend: bool) -> FloatArray:
    h = _HOURS
    if weekend:
        shapes = [
            _bumps(h, [(9.5, 1.5, 0.7), (13.0, 2.5, 0.4), (19.0, 2.0, 0.9)], 0.15),
            _bumps(h, [(10.0, 3.0, 0.5), (18.5, 2.0, 0.8)], 0.2),
            _bumps(h, [(11.0, 2.0, 0.4), (22.0, 2.0, 1.0)], 0.15),
            _bumps(h, [(7.0, 1.5, 0.7), (17.0, 2.0, 0.8)], 0.15),
        ]
    else:
        shapes = [
            _bumps(h, [(7.0, 1.0, 0.6), (19.0, 2.0, 1.0)], 0.15),
            _bumps(h, [(9.0, 3.0, 0.5), (14.0, 3.0, 0.35), (18.5, 2.0, 0.7)], 0.2),
            _bumps(h, [(8.5, 1.0, 0.3), (21.5, 2.0, 1.0)], 0.15),
            _bumps(h, [(6.0, 1.0, 0.8), (17.0, 1.5, 0.8)], 0.15),
        ]
    return np.stack(shapes)


def _commercial(day_kind: int) -> FloatArray:
    h = _HOURS
    office = [_window(h, 7, 18), _window(h, 0, 0), _window(h, 0, 0)][day_kind]
    retail = [_window(h, 9, 21), _window(h, 9, 21), _window(h, 11, 18)][day_kind]
    service = [_window(h, 6, 15), _window(h, 7, 12), _window(h, 0, 0)][day_kind]
    return np.stack([office, retail, service])


def _industrial(day_kind: int) -> FloatArray:
    h = _HOURS
    one = [_window(h, 7, 15.5, 0.5), _window(h, 0, 0), _window(h, 0, 0)][day_kind]
    two = [_window(h, 6, 22, 0.5), _window(h, 6, 14, 0.5), _window(h, 0, 0)][day_kind]
    three = np.full(SLOTS, [1.0, 0.75, 0.6][day_kind])
    return np.stack([one, two, three])


def _ev_windows() -> FloatArray:
    h = _HOURS
    rows = []
    for start in EV_START_H:
        for duration in EV_DURATION_H:
            d = (h - start) % 24.0
            rows.append((d < duration).astype(float))
    return np.stack(rows)


@dataclass(frozen=True, slots=True)
class DayBasis:
    """What a day looks like for the load model.

    Attributes:
        day: Local date.
        day_kind: 0 weekday, 1 Saturday, 2 Sunday or holiday.
        slot: Nominal quarter-hour slot (0-95) of each interval, from its local start time.
        basis: Profiles (``BASIS_SIZE x intervals``) in kW per unit weight. [kW]
        temperature_c: Air temperature per interval. [°C]
        solar: PV output per kW of panels per interval. [kW/kW]
    """

    day: dt.date
    day_kind: int
    slot: IntArray
    basis: Float32Array
    temperature_c: FloatArray
    solar: FloatArray

    @property
    def intervals(self) -> int:
        """Number of intervals in the day."""
        return int(self.slot.size)


def day_basis(
    *,
    day: dt.date,
    holiday: bool,
    local_slot: IntArray,
    utc_hour: FloatArray,
    weather: Weather,
) -> DayBasis:
    """The basis profiles of one local day.

    Args:
        day: Local date.
        holiday: Whether the day is a holiday (shaped like a Sunday).
        local_slot: Local quarter-hour slot (0-95) of each interval's start.
        utc_hour: Hours from the day's UTC midnight to each interval's middle. [h]
        weather: The territory's weather.

    Returns:
        The day's basis.
    """
    day_kind = 2 if holiday or day.weekday() == 6 else (1 if day.weekday() == 5 else 0)
    local_hour: FloatArray = (local_slot.astype(np.float64) + 0.5) / 4.0
    temperature = weather.temperature_c(day, local_hour)
    rows = np.zeros((BASIS_SIZE, local_slot.size))
    rows[COL_BASE] = 1.0
    rows[COL_ARCHETYPE : COL_ARCHETYPE + ARCHETYPES] = _archetypes(day_kind > 0)[:, local_slot]
    for i, balance in enumerate(COOL_BALANCE_C):
        rows[COL_COOL + i] = np.maximum(temperature - balance, 0.0)
    for i, balance in enumerate(HEAT_BALANCE_C):
        rows[COL_HEAT + i] = np.maximum(balance - temperature, 0.0)
    rows[COL_COMMERCIAL : COL_COMMERCIAL + COMMERCIAL_SCHEDULES] = _commercial(day_kind)[
        :, local_slot
    ]
    rows[COL_INDUSTRIAL : COL_INDUSTRIAL + INDUSTRIAL_SCHEDULES] = _industrial(day_kind)[
        :, local_slot
    ]
    rows[COL_EV:] = _EV[:, local_slot]
    return DayBasis(
        day=day,
        day_kind=day_kind,
        slot=local_slot,
        basis=rows.astype(np.float32),
        temperature_c=temperature,
        solar=weather.solar_kw_per_kw(day, utc_hour),
    )


_EV: Final = _ev_windows()


def ev_column(start_index: IntArray, long_session: npt.NDArray[np.bool_]) -> IntArray:
    """Basis column of an EV session by start-hour index and duration choice."""
    return COL_EV + start_index * len(EV_DURATION_H) + long_session.astype(np.int64)
