"""CT-rated exchanges placed in a chosen span (``simulator.exchanges.exchange_ct_sites``).

A benchmark or test that judges one diagnostics run needs the exchanges inside that run's
window; the scenario's rate-based exchanges fall anywhere in the middle of the horizon.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import polars as pl
import pytest

from meterops.simulator import FaultRates, World, county
from meterops.simulator.exchanges import (
    EXCHANGE_FAULT_DETAIL,
    exchange_ct_sites,
    exchange_rows,
)
from tests.simulator.conftest import NO_FAULTS

START = dt.date(2026, 7, 6)  # a Monday
DAYS = 28
ZONE = dt.timezone(dt.timedelta(hours=-5))  # America/Chicago in July (CDT)


def _world(rates: FaultRates = NO_FAULTS, seed: int = 3) -> World:
    return World(
        county(seed=seed, start=START, faults=rates, service_points=3_000, horizon_days=DAYS),
        keep_days=1,
    )


def test_the_exchanges_fall_on_weekdays_of_the_span_with_their_ground_truth() -> None:
    world = _world()
    installed = exchange_ct_sites(world, wrong=2, genuine=2, first_day=16, last_day=18)
    assert len(installed) == 4
    rows = exchange_rows(world, as_of=START + dt.timedelta(days=DAYS - 1))
    assert sorted(rows["installed_serial"]) == sorted(installed)
    for text in rows["exchanged_at"]:
        local = dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
        day = local.astimezone(ZONE).date()
        assert START + dt.timedelta(days=16) <= day <= START + dt.timedelta(days=18)
        assert day.weekday() < 5
    for serial, final in rows.select("removed_serial", "removed_final_read_kwh").iter_rows():
        digits = int(world.register_digits[world.meter_index(serial)])
        assert 0 <= final < 10**digits  # the dial rolls over as the register reads do
    truth = world.ground_truth()
    wrong = truth.filter(pl.col("kind") == "wrong_multiplier")
    assert [json.loads(p)["recorded_at"] for p in wrong["parameters"]] == [
        EXCHANGE_FAULT_DETAIL
    ] * 2
    assert set(wrong["meter_serial"]) == set(installed[:2])
    vacant = truth.filter(pl.col("kind") == "vacant_premise")
    assert set(installed[2:]) <= set(vacant["meter_serial"])
    # the back office records the fault's wrong ratio (the truth's recorded_ct_ratio)
    recorded = dict(rows.select("installed_serial", "installed_multiplier").iter_rows())
    for serial, parameters in wrong.select("meter_serial", "parameters").iter_rows():
        ratio = json.loads(parameters)["recorded_ct_ratio"]
        assert recorded[serial] == pytest.approx(ratio, rel=1e-3) or ratio == 1.0


def test_the_other_faults_and_the_draws_are_unchanged() -> None:
    rates = dataclasses.replace(
        FaultRates().scaled(40), wrong_multiplier_share=0.15, ct_polarity_share=0.1
    )
    plain, placed = _world(rates), _world(rates)
    before = plain.ground_truth()
    installed = exchange_ct_sites(placed, wrong=1, genuine=1, first_day=10, last_day=12)
    after = placed.ground_truth()
    added = after.filter(pl.col("meter_serial").is_in(installed))
    assert added.height >= len(installed)
    kept = after.filter(~pl.col("meter_serial").is_in(installed).fill_null(value=False))
    assert kept.drop("fault_id", strict=False).equals(before.drop("fault_id", strict=False))
    # the same seed places the same exchanges at the same moments
    again = _world(rates)
    assert exchange_ct_sites(again, wrong=1, genuine=1, first_day=10, last_day=12) == installed
    last = START + dt.timedelta(days=DAYS - 1)
    assert exchange_rows(again, as_of=last).equals(exchange_rows(placed, as_of=last))


def test_only_clean_ct_sites_are_exchanged_and_fewer_when_fewer_qualify() -> None:
    # at × 40 every CT-rated site carries a standing wrong ratio or a reversed CT
    world = World(
        county(
            seed=3,
            start=START,
            faults=FaultRates().scaled(40),
            service_points=3_000,
            horizon_days=DAYS,
        ),
        keep_days=1,
    )
    assert exchange_ct_sites(world, wrong=3, genuine=3, first_day=16, last_day=18) == []
    moderated = dataclasses.replace(
        FaultRates().scaled(40), wrong_multiplier_share=0.15, ct_polarity_share=0.1
    )
    world = World(
        county(seed=3, start=START, faults=moderated, service_points=3_000, horizon_days=DAYS),
        keep_days=1,
    )
    installed = exchange_ct_sites(world, wrong=3, genuine=3, first_day=16, last_day=18)
    assert len(installed) == 6
    truth = world.ground_truth()
    sites = set(
        truth.filter(pl.col("meter_serial").is_in(installed))["service_point_number"].to_list()
    )
    others = truth.filter(
        pl.col("service_point_number").is_in(sorted(sites))
        & ~pl.col("meter_serial").is_in(installed)
    )
    assert others.is_empty()  # no other fault at an exchanged site


@pytest.mark.parametrize(
    ("wrong", "first_day", "last_day", "message"),
    [
        (-1, 10, 12, "counts must be >= 0"),
        (1, 12, 10, "must hold a weekday"),
        (1, 20, DAYS, "inside the horizon"),
        (1, 5, 6, "must hold a weekday"),  # Saturday and Sunday
    ],
)
def test_a_bad_span_or_count_is_refused(
    wrong: int, first_day: int, last_day: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        exchange_ct_sites(_world(), wrong=wrong, genuine=0, first_day=first_day, last_day=last_day)
