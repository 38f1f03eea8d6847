"""The simulated CIS's payment arrangements (``simulator.customers.draw_payment_plans``)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from meterops.commands.policy import payment_plan_open_on
from meterops.fleet.parse import parse_fleet_csv
from meterops.simulator.customers import (
    PAYMENT_PLAN_SHARES,
    draw_payment_plans,
    payment_plans_as_of,
)
from meterops.simulator.fleetfiles import fleet_frames
from meterops.simulator.world import World

START = dt.date(2026, 3, 2)
HORIZON = 60


def _accounts(n: int) -> pl.DataFrame:
    """``n`` accounts: residential ones open on START, plus closed and commercial ones."""
    rng = np.random.default_rng(3)
    kind = rng.integers(0, 10, n)
    move_in = [START - dt.timedelta(days=int(d)) for d in rng.integers(1, 3000, n)]
    move_out = [START - dt.timedelta(days=1) if k == 8 else None for k in kind]
    moved_in_later = [
        START + dt.timedelta(days=5) if k == 9 else d for k, d in zip(kind, move_in, strict=True)
    ]
    return pl.DataFrame(
        {
            "account_number": [f"A{i:07d}" for i in range(n)],
            "move_in_date": pl.Series(moved_in_later, dtype=pl.Date),
            "move_out_date": pl.Series(move_out, dtype=pl.Date),
            "rate_code": np.where(kind == 7, "GS", np.array(["RS", "RTOU", "RNEM"])[kind % 3]),
        }
    )


def _draw(accounts: pl.DataFrame, seed: int = 1) -> pl.DataFrame:
    return draw_payment_plans(
        accounts, start=START, horizon_days=HORIZON, rng=np.random.default_rng(seed)
    )


def test_plans_go_to_residential_accounts_open_on_the_first_day_in_the_configured_shares() -> None:
    accounts = _accounts(30_000)
    plans = _draw(accounts)
    joined = plans.join(accounts, on="account_number")
    assert joined.height == plans.height
    assert plans["plan_number"].n_unique() == plans.height
    assert plans["account_number"].n_unique() == plans.height
    assert set(joined["rate_code"].to_list()) <= {"RS", "RTOU", "RNEM"}
    assert (joined["move_in_date"] <= START).all()
    assert joined["move_out_date"].is_null().all()
    assert (joined["start_date"] >= joined["move_in_date"]).all()
    eligible = accounts.filter(
        pl.col("rate_code").is_in(["RS", "RTOU", "RNEM"])
        & (pl.col("move_in_date") <= START)
        & pl.col("move_out_date").is_null()
    ).height
    counts = dict(plans["status"].value_counts().iter_rows())
    for status, share in PAYMENT_PLAN_SHARES.items():
        expected = share * eligible
        assert abs(counts[status] - expected) < 5 * np.sqrt(expected), status


def test_open_plans_run_over_the_whole_horizon_and_closed_ones_ended_before_it() -> None:
    plans = _draw(_accounts(5_000))
    assert (plans["end_date"].is_null() | (plans["end_date"] >= plans["start_date"])).all()
    for status, start, end, closed_on in plans.select(
        "status", "start_date", "end_date", "closed_on"
    ).iter_rows():
        if status == "open":
            assert closed_on is None
            for day in (START, START + dt.timedelta(days=HORIZON)):
                assert payment_plan_open_on("open", start, end, day)
        else:
            assert start < closed_on <= START


def test_the_cis_view_shows_begun_plans_open_until_they_are_closed() -> None:
    plans = _draw(_accounts(5_000))
    defaulted = plans.filter(pl.col("status") == "defaulted").row(0, named=True)
    before = defaulted["closed_on"] - dt.timedelta(days=1)
    view = payment_plans_as_of(plans, before)
    assert view.columns == ["plan_number", "account_number", "start_date", "end_date", "status"]
    assert (view["start_date"] <= before).all()
    status = dict(zip(view["plan_number"], view["status"], strict=True))
    assert status[defaulted["plan_number"]] == "open"
    later = dict(payment_plans_as_of(plans, START).select("plan_number", "status").iter_rows())
    assert later[defaulted["plan_number"]] == "defaulted"
    assert sorted(set(later.values())) == sorted(PAYMENT_PLAN_SHARES)


def test_the_draw_is_seeded() -> None:
    accounts = _accounts(2_000)
    assert _draw(accounts, seed=4).equals(_draw(accounts, seed=4))
    assert not _draw(accounts, seed=4).equals(_draw(accounts, seed=5))


@pytest.mark.parametrize("days_in", [0, 20])
def test_the_fleet_files_carry_plans_of_exported_accounts_and_parse_cleanly(
    quiet_world: World, days_in: int
) -> None:
    as_of = quiet_world.scenario.start + dt.timedelta(days=days_in)
    frames = fleet_frames(quiet_world, as_of=as_of)
    plans = frames["payment_plans"]
    assert plans.height > 0
    assert set(plans["account_number"]) <= set(frames["accounts"]["account_number"])
    assert "open" in set(plans["status"])
    parsed = parse_fleet_csv(plans.write_csv().encode(), file="payment_plans.csv")
    assert parsed.issues == []
    # Every export names the same plans the same way.
    again = fleet_frames(quiet_world, as_of=as_of)["payment_plans"]
    assert again.equals(plans)
