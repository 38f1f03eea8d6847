import datetime as dt
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from meterops.timeutil import (
    AmbiguousTimeError,
    NonexistentTimeError,
    intervals_in_local_day,
    local_date_expr,
    local_day_bounds_utc,
    localize,
)

ZONES = ["America/New_York", "America/Phoenix", "Australia/Adelaide", "Europe/London"]


@pytest.mark.parametrize(
    ("zone", "day", "expected"),
    [
        ("America/New_York", dt.date(2024, 3, 10), 92),
        ("America/New_York", dt.date(2024, 11, 3), 100),
        ("America/Phoenix", dt.date(2024, 3, 10), 96),
        ("Australia/Adelaide", dt.date(2024, 4, 7), 100),
        ("Australia/Adelaide", dt.date(2024, 10, 6), 92),
        ("Europe/London", dt.date(2024, 3, 31), 92),
        ("Europe/London", dt.date(2024, 10, 27), 100),
    ],
)
def test_dst_days_have_92_or_100_quarter_hours(zone: str, day: dt.date, expected: int) -> None:
    assert intervals_in_local_day(day, ZoneInfo(zone), 900) == expected


def test_the_repeated_hour_is_never_guessed() -> None:
    zone = ZoneInfo("America/Chicago")
    wall = dt.datetime(2024, 11, 3, 1, 30)
    with pytest.raises(AmbiguousTimeError, match="occurs twice"):
        localize(wall, zone)
    first = localize(wall, zone, ambiguous="earliest")
    second = localize(wall, zone, ambiguous="latest")
    assert second - first == dt.timedelta(hours=1)


def test_the_skipped_hour_does_not_exist() -> None:
    with pytest.raises(NonexistentTimeError, match="spring forward"):
        localize(dt.datetime(2024, 3, 10, 2, 30), ZoneInfo("America/Chicago"))


def test_an_aware_time_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        localize(dt.datetime(2024, 1, 1, tzinfo=dt.UTC), ZoneInfo("UTC"))


@given(
    day=st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2040, 12, 31)),
    zone=st.sampled_from(ZONES),
)
def test_local_days_tile_time_without_gaps_or_overlaps(day: dt.date, zone: str) -> None:
    z = ZoneInfo(zone)
    _, end = local_day_bounds_utc(day, z)
    next_start, _ = local_day_bounds_utc(day + dt.timedelta(days=1), z)
    assert end == next_start
    assert intervals_in_local_day(day, z, 900) in (92, 94, 96, 98, 100)


def test_local_date_of_utc_timestamps() -> None:
    frame = pl.DataFrame(
        {
            "t": [
                dt.datetime(2024, 7, 1, 4, 59, tzinfo=dt.UTC),
                dt.datetime(2024, 7, 1, 5, 0, tzinfo=dt.UTC),
            ]
        }
    )
    dates = frame.select(local_date_expr("t", "America/Chicago")).to_series().to_list()
    assert dates == [dt.date(2024, 6, 30), dt.date(2024, 7, 1)]
