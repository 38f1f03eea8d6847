"""Travel sources: great circle with circuity and speed bands, planar Euclidean."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meterops.errors import InvalidInputError
from meterops.routing import EuclideanTravel, GreatCircleTravel, Location, SpeedBand
from meterops.routing.travel import drive_time_s, haversine_m


def test_one_degree_of_longitude_at_the_equator_is_about_111_km() -> None:
    assert float(haversine_m(0.0, 0.0, 0.0, 1.0)) == pytest.approx(111_195.08, abs=1.0)


def test_road_distance_is_the_great_circle_times_the_circuity() -> None:
    travel = GreatCircleTravel(circuity=1.3)
    a, b = Location.from_lat_lon(45.5, -73.6), Location.from_lat_lon(45.6, -73.6)
    matrices = travel.matrices([a], [b])
    straight = float(haversine_m(45.5, -73.6, 45.6, -73.6))
    assert matrices.distance_m[0, 0] == pytest.approx(1.3 * straight)


def test_speed_bands_are_cumulative() -> None:
    bands = (SpeedBand(1_000.0, 18.0), SpeedBand(math.inf, 36.0))
    # 1 km at 5 m/s (200 s) then 1 km at 10 m/s (100 s).
    assert drive_time_s(np.array([2_000.0]), bands)[0] == pytest.approx(300.0)
    assert drive_time_s(np.array([500.0]), bands)[0] == pytest.approx(100.0)


@settings(max_examples=60, deadline=None)
@given(
    points=st.lists(
        st.tuples(st.floats(45.0, 45.6), st.floats(-74.0, -73.3)), min_size=3, max_size=3
    )
)
def test_travel_time_keeps_the_triangle_inequality(points: list[tuple[float, float]]) -> None:
    locations = [Location.from_lat_lon(lat, lon) for lat, lon in points]
    times = GreatCircleTravel(fixed_s=30.0).matrices(locations, locations).duration_s
    a, b, c = 0, 1, 2
    assert times[a, c] <= times[a, b] + times[b, c] + 1e-6


def test_speed_bands_must_not_slow_down_and_must_reach_infinity() -> None:
    with pytest.raises(InvalidInputError):
        GreatCircleTravel(bands=(SpeedBand(1_000.0, 50.0), SpeedBand(math.inf, 20.0)))
    with pytest.raises(InvalidInputError):
        GreatCircleTravel(bands=(SpeedBand(1_000.0, 50.0),))
    with pytest.raises(InvalidInputError):
        GreatCircleTravel(circuity=0.9)


def test_points_that_are_not_latitude_longitude_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="latitude"):
        GreatCircleTravel().matrices([Location(0.0, 95.0)], [Location(0.0, 0.0)])


def test_the_same_point_is_zero_seconds_away_even_with_a_fixed_time() -> None:
    here = Location.from_lat_lon(45.5, -73.6)
    matrices = GreatCircleTravel(fixed_s=60.0).matrices([here], [here])
    assert matrices.duration_s[0, 0] == 0.0


def test_euclidean_travel_truncates_to_the_requested_decimals() -> None:
    a, b = Location(0.0, 0.0), Location(1.0, 1.0)
    exact = EuclideanTravel().matrices([a], [b]).distance_m[0, 0]
    dimacs = EuclideanTravel(decimals=1).matrices([a], [b]).distance_m[0, 0]
    assert exact == pytest.approx(math.sqrt(2))
    assert dimacs == pytest.approx(1.4)
    assert EuclideanTravel(decimals=1).matrices([a], [Location(3.0, 4.0)]).distance_m[0, 0] == 5.0
