"""Weather of the territory: air temperature and sunshine for every interval of the horizon.

Temperature is an annual cosine (coldest in mid-January) plus a diurnal cosine (warmest at
15:00 local) plus a day-to-day anomaly that follows an AR(1) process (weather systems last a
few days). Cloudiness is drawn per day; photovoltaic output per kW of panels follows the sun's
elevation (declination and hour angle from the date and longitude) scaled by a clear-sky
index and a performance ratio. The defaults describe central Iowa / Missouri. A scenario may
add cold snaps (:class:`ColdSnap`): days whose anomaly is lowered by a set amount on top of
the drawn one, so that the rest of the weather (and every other draw) stays as it was.

Pure module: standard library and numpy only; must not import ``meterops.db``, ``models``,
``web``, ``cli`` or ``config``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["Climate", "ColdSnap", "Weather", "draw_weather"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Climate:
    """Climate constants of the territory.

    Attributes:
        mean_c: Annual mean temperature. [°C]
        annual_amplitude_c: Half the difference between July and January means. [°C]
        diurnal_amplitude_c: Half the daily temperature range. [°C]
        anomaly_sd_c: Standard deviation of the daily anomaly. [°C]
        anomaly_persistence: AR(1) coefficient of the daily anomaly. [-]
        performance_ratio: PV system losses (inverter, soiling, temperature). [-]
    """

    mean_c: float = 10.0
    annual_amplitude_c: float = 15.5
    diurnal_amplitude_c: float = 6.0
    anomaly_sd_c: float = 3.5
    anomaly_persistence: float = 0.75
    performance_ratio: float = 0.82


@dataclass(frozen=True, slots=True)
class ColdSnap:
    """A spell of unusually cold weather: an arctic outbreak of a few days.

    Attributes:
        first_day: Local date of the first cold day.
        days: Number of days it lasts. [d]
        colder_by_c: How much colder than the drawn weather every hour of it is. [°C]
    """

    first_day: dt.date
    days: int
    colder_by_c: float

    def __post_init__(self) -> None:
        if self.days < 1:
            raise ValueError(f"a cold snap lasts at least one day, got {self.days}")
        if self.colder_by_c <= 0:
            raise ValueError(
                f"a cold snap must be colder (colder_by_c > 0), got {self.colder_by_c}"
            )


@dataclass(frozen=True, slots=True)
class Weather:
    """Weather over a horizon.

    Attributes:
        first_day: Local date of index 0.
        latitude: Latitude of the territory. [°]
        longitude: Longitude of the territory. [°]
        climate: Climate constants.
        anomaly_c: Daily temperature anomaly per day index. [°C]
        cloudiness: Daily cloud cover per day index, 0 (clear) to 1 (overcast). [-]
    """

    first_day: dt.date
    latitude: float
    longitude: float
    climate: Climate
    anomaly_c: FloatArray
    cloudiness: FloatArray

    def temperature_c(self, day: dt.date, local_hour: FloatArray) -> FloatArray:
        """Air temperature at local clock hours of a day.

        Args:
            day: Local date (inside the horizon).
            local_hour: Local clock time of each interval's middle. [h]

        Returns:
            Temperature per interval. [°C]
        """
        c = self.climate
        index = (day - self.first_day).days
        doy = day.timetuple().tm_yday
        seasonal = c.mean_c - c.annual_amplitude_c * np.cos(2 * np.pi * (doy - 18) / 365.25)
        diurnal = c.diurnal_amplitude_c * np.cos(2 * np.pi * (local_hour - 15.0) / 24.0)
        return np.asarray(seasonal + float(self.anomaly_c[index]) + diurnal, dtype=np.float64)

    def solar_kw_per_kw(self, day: dt.date, utc_hour: FloatArray) -> FloatArray:
        """AC output of 1 kW of panels (south-facing, typical tilt) at UTC clock hours.

        Args:
            day: Local date (inside the horizon).
            utc_hour: Hours since the day's UTC midnight of each interval's middle; may
                exceed 24 for a local day that ends after UTC midnight. [h]

        Returns:
            Output per kW of panels. [kW/kW]
        """
        index = (day - self.first_day).days
        doy = day.timetuple().tm_yday + utc_hour / 24.0
        declination = np.radians(23.44) * np.sin(2 * np.pi * (284 + doy) / 365.0)
        solar_time = utc_hour + self.longitude / 15.0
        hour_angle = np.radians(15.0 * (solar_time - 12.0))
        lat = np.radians(self.latitude)
        sin_elev = np.sin(lat) * np.sin(declination) + np.cos(lat) * np.cos(declination) * np.cos(
            hour_angle
        )
        clear_index = 1.0 - 0.72 * float(self.cloudiness[index]) ** 1.4
        # A tilted array gathers more than a horizontal one; 1.05 at noon, less near sunset.
        output = np.maximum(sin_elev, 0.0) ** 1.1 * 1.05 * clear_index
        return np.asarray(output * self.climate.performance_ratio, dtype=np.float64)


def draw_weather(
    *,
    first_day: dt.date,
    days: int,
    latitude: float,
    longitude: float,
    climate: Climate | None = None,
    cold_snaps: Sequence[ColdSnap] = (),
    rng: np.random.Generator,
) -> Weather:
    """Draw the weather of a horizon.

    Args:
        first_day: Local date of the first day.
        days: Number of days.
        latitude: Latitude. [°]
        longitude: Longitude. [°]
        climate: Climate constants (default :class:`Climate`).
        cold_snaps: Cold spells laid over the drawn anomaly (the parts inside the horizon);
            they draw nothing, so the same seed gives the same weather outside them.
        rng: Random generator.

    Returns:
        The weather.

    Examples:
        >>> snap = ColdSnap(dt.date(2027, 1, 3), days=2, colder_by_c=12.0)
        >>> day = dt.date(2027, 1, 1)
        >>> plain = draw_weather(first_day=day, days=5, latitude=42.0, longitude=-93.6,
        ...                      rng=np.random.default_rng(1))
        >>> cold = draw_weather(first_day=day, days=5, latitude=42.0, longitude=-93.6,
        ...                     cold_snaps=[snap], rng=np.random.default_rng(1))
        >>> (plain.anomaly_c - cold.anomaly_c).round(1).tolist()
        [0.0, 0.0, 12.0, 12.0, 0.0]
    """
    c = climate or Climate()
    shocks = rng.normal(0.0, c.anomaly_sd_c * np.sqrt(1 - c.anomaly_persistence**2), days)
    anomaly = np.empty(days)
    previous = rng.normal(0.0, c.anomaly_sd_c)
    for i in range(days):  # a short loop over days, not meters
        previous = c.anomaly_persistence * previous + shocks[i]
        anomaly[i] = previous
    cloudiness = rng.beta(0.9, 1.1, days)
    for snap in cold_snaps:
        begin = max((snap.first_day - first_day).days, 0)
        end = min((snap.first_day - first_day).days + snap.days, days)
        anomaly[begin:end] -= snap.colder_by_c
    return Weather(first_day, latitude, longitude, c, anomaly, cloudiness)
