"""Travel times and distances between locations, from a pluggable source.

:class:`TravelTimeSource` is the one interface the routing core asks for matrices. The default
:class:`GreatCircleTravel` needs no network: great-circle (haversine) distance times a road
circuity factor, driven at speeds that grow with trip length (slow streets for the first
kilometres, arterials and highways beyond). :class:`EuclideanTravel` serves planar benchmark
instances. The OSRM table client lives in :mod:`meterops.routing.osrm`.

The speed model is cumulative (the first ``up_to_m`` metres of every trip at the first band's
speed, the next at the second's, ...), so travel time is a concave, increasing function of road
distance: it is subadditive and keeps the triangle inequality of the distances, which breaks
and insertions rely on (a detour never saves time).

Pure module: standard library, numpy and other pure ``meterops.routing`` modules; it must not
import ``httpx``, ``pyvrp``, ``meterops.db``, ``models``, ``web``, ``cli`` or ``config``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from meterops.errors import InvalidInputError
from meterops.routing.problem import Location

__all__ = [
    "EARTH_RADIUS_M",
    "EuclideanTravel",
    "GreatCircleTravel",
    "SpeedBand",
    "TravelMatrices",
    "TravelTimeSource",
    "drive_time_s",
    "haversine_m",
]

#: Mean Earth radius (IUGG) [m].
EARTH_RADIUS_M = 6_371_008.8

FloatMatrix = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True, eq=False)
class TravelMatrices:
    """Travel from each origin (rows) to each destination (columns).

    Attributes:
        duration_s: Travel time [s].
        distance_m: Road distance [m] (planar units for benchmark instances).
    """

    duration_s: FloatMatrix
    distance_m: FloatMatrix


@runtime_checkable
class TravelTimeSource(Protocol):
    """Anything that can tell how long and how far it is between points."""

    def matrices(
        self, origins: Sequence[Location], destinations: Sequence[Location]
    ) -> TravelMatrices:
        """Travel from every origin to every destination.

        Args:
            origins: Row points.
            destinations: Column points.

        Returns:
            Matrices of shape ``(len(origins), len(destinations))``.
        """
        ...


def haversine_m(
    lat1: npt.ArrayLike, lon1: npt.ArrayLike, lat2: npt.ArrayLike, lon2: npt.ArrayLike
) -> FloatMatrix:
    """Great-circle distance on a spherical Earth [m].

    Args:
        lat1: Latitude of the first points [deg].
        lon1: Longitude of the first points [deg].
        lat2: Latitude of the second points [deg].
        lon2: Longitude of the second points [deg].

    Returns:
        Distances, broadcast over the inputs [m].

    Examples:
        >>> round(float(haversine_m(0.0, 0.0, 0.0, 1.0)))
        111195
    """
    phi1, phi2 = np.radians(lat1), np.radians(lat2)
    dphi = phi2 - phi1
    dlmb = np.radians(lon2) - np.radians(lon1)
    a = np.sin(dphi / 2) ** 2 + np.cos(phi1) * np.cos(phi2) * np.sin(dlmb / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0))))


@dataclass(frozen=True, slots=True)
class SpeedBand:
    """One band of the cumulative speed model.

    Attributes:
        up_to_m: The band covers road distance from the previous band's end up to here [m].
        speed_kmh: Average speed in the band, stops and lights included [km/h].
    """

    up_to_m: float
    speed_kmh: float


#: Urban streets for the first 2 km, suburban arterials to 10 km, highways beyond.
DEFAULT_BANDS = (
    SpeedBand(up_to_m=2_000.0, speed_kmh=25.0),
    SpeedBand(up_to_m=10_000.0, speed_kmh=45.0),
    SpeedBand(up_to_m=math.inf, speed_kmh=75.0),
)


def _check_bands(bands: Sequence[SpeedBand]) -> None:
    if not bands or not math.isinf(bands[-1].up_to_m):
        raise InvalidInputError(
            "speed bands must be non-empty and the last must reach infinity",
            code="routing.invalid_speed_bands",
        )
    previous = 0.0
    previous_speed = 0.0
    for band in bands:
        if band.up_to_m <= previous or band.speed_kmh <= 0:
            raise InvalidInputError(
                "speed bands need increasing 'up_to_m' and speeds > 0",
                code="routing.invalid_speed_bands",
            )
        if band.speed_kmh < previous_speed:
            # A slower band after a faster one would make time convex in distance and could
            # break the triangle inequality that breaks and insertions rely on.
            raise InvalidInputError(
                "speed bands must not slow down with distance",
                code="routing.invalid_speed_bands",
            )
        previous, previous_speed = band.up_to_m, band.speed_kmh


def drive_time_s(distance_m: FloatMatrix, bands: Sequence[SpeedBand]) -> FloatMatrix:
    """Travel time for road distances under a cumulative speed model [s].

    Args:
        distance_m: Road distances [m].
        bands: Speed bands, ending with an infinite band.

    Returns:
        Travel times of the same shape [s].
    """
    time_s = np.zeros_like(distance_m, dtype=np.float64)
    lower = 0.0
    for band in bands:
        covered = np.clip(distance_m - lower, 0.0, band.up_to_m - lower)
        time_s += covered / (band.speed_kmh / 3.6)
        lower = band.up_to_m
    return time_s


@dataclass(frozen=True, slots=True)
class GreatCircleTravel:
    """Great-circle distance times a circuity factor, driven at banded speeds.

    Attributes:
        circuity: Road distance over straight-line distance (1.3 is typical for suburban
            networks; 1.2 for grids, 1.4-1.6 for rural roads).
        bands: Cumulative speed bands (see the module docstring).
        fixed_s: Time added to every trip between distinct points (parking, walking to the
            meter) [s].
    """

    circuity: float = 1.3
    bands: tuple[SpeedBand, ...] = DEFAULT_BANDS
    fixed_s: float = 0.0

    def __post_init__(self) -> None:
        if self.circuity < 1.0:
            raise InvalidInputError(
                f"circuity must be >= 1, got {self.circuity}", code="routing.invalid_circuity"
            )
        if self.fixed_s < 0:
            raise InvalidInputError("fixed_s must be >= 0", code="routing.invalid_fixed_time")
        _check_bands(self.bands)

    def matrices(
        self, origins: Sequence[Location], destinations: Sequence[Location]
    ) -> TravelMatrices:
        """Travel matrices between geographic points (``x`` = lon, ``y`` = lat).

        Raises:
            InvalidInputError: A point is not a valid latitude/longitude.
        """
        lat_o, lon_o = _lat_lon(origins)
        lat_d, lon_d = _lat_lon(destinations)
        straight = haversine_m(lat_o[:, None], lon_o[:, None], lat_d[None, :], lon_d[None, :])
        distance = straight * self.circuity
        duration = drive_time_s(distance, self.bands)
        duration = np.where(distance > 0, duration + self.fixed_s, 0.0)
        return TravelMatrices(duration_s=duration, distance_m=distance)


def _lat_lon(points: Sequence[Location]) -> tuple[FloatMatrix, FloatMatrix]:
    lat = np.array([p.lat for p in points], dtype=np.float64)
    lon = np.array([p.lon for p in points], dtype=np.float64)
    bad = np.flatnonzero(~(np.abs(lat) <= 90) | ~(np.abs(lon) <= 180))
    if bad.size:
        i = int(bad[0])
        raise InvalidInputError(
            f"location {i} ({points[i].lat}, {points[i].lon}) is not a latitude/longitude",
            code="routing.invalid_location",
            details={"index": i},
        )
    return lat, lon


@dataclass(frozen=True, slots=True)
class EuclideanTravel:
    """Planar Euclidean distance driven at a constant speed (benchmark instances).

    Attributes:
        speed: Distance units per second (Solomon: 1, time equals distance).
        decimals: When set, distances are truncated to this many decimals (the DIMACS
            convention of the Solomon best-known solutions uses 1).
    """

    speed: float = 1.0
    decimals: int | None = None

    def matrices(
        self, origins: Sequence[Location], destinations: Sequence[Location]
    ) -> TravelMatrices:
        """Travel matrices between planar points."""
        xo = np.array([[p.x, p.y] for p in origins], dtype=np.float64).reshape(-1, 2)
        xd = np.array([[p.x, p.y] for p in destinations], dtype=np.float64).reshape(-1, 2)
        distance = np.sqrt(((xo[:, None, :] - xd[None, :, :]) ** 2).sum(axis=-1))
        if self.decimals is not None:
            scale = 10.0**self.decimals
            # The small epsilon keeps exact decimals (e.g. 5.0 stored as 4.9999999) intact.
            distance = np.floor(distance * scale + 1e-9) / scale
        return TravelMatrices(duration_s=distance / self.speed, distance_m=distance)
