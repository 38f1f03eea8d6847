"""Billing determinants on small hand-checked frames, and invariants against a plain reference."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meterops.determinants.engine import (
    DeterminantAccumulator,
    DeterminantParams,
    Netting,
    compute_determinants,
)
from meterops.errors import InvalidInputError
from meterops.vee.flags import flag_mask
from tests.determinants.frames import (
    UTC,
    ZONE,
    local,
    night_schedule,
    periods,
    reads,
    reference,
    seasonal_schedule,
)

PARAMS = DeterminantParams(zone=ZONE)


def tou(frame: pl.DataFrame, column: str = "delivered_kwh") -> dict[str, float]:
    return dict(zip(frame["tou_period"].to_list(), frame[column].to_list(), strict=True))


# -- TOU energy ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "hours", "night", "daytime"),
    [
        (dt.date(2024, 3, 10), 23, 7 * 4, 16 * 4),  # spring forward: 02:00-03:00 skipped
        (dt.date(2024, 3, 11), 24, 8 * 4, 16 * 4),
        (dt.date(2024, 11, 3), 25, 9 * 4, 16 * 4),  # fall back: 01:00-02:00 twice
    ],
)
def test_tou_energy_on_dst_days_counts_the_local_day(
    day: dt.date, hours: int, night: int, daytime: int
) -> None:
    start = local(day.year, day.month, day.day)
    nxt = day + dt.timedelta(days=1)
    end = local(nxt.year, nxt.month, nxt.day)
    assert (end - start) == dt.timedelta(hours=hours)
    n = hours * 4
    frame = reads(1, start, [1.0] * n)
    result = compute_determinants(
        frame,
        periods(
            {"meter_id": 1, "period_start_utc": start, "period_end_utc": end, "schedule_key": "N"}
        ),
        schedules={"N": night_schedule()},
        params=PARAMS,
    )
    # night = 22:00-06:00 crossing midnight: 00:00-06:00 (5, 6 or 7 wall hours) + 22:00-24:00
    assert tou(result.by_tou) == {"day": daytime, "night": night}
    row = result.by_period.row(0, named=True)
    assert row["delivered_kwh"] == n
    assert row["expected_intervals"] == n
    assert row["intervals"] == n
    assert row["missing_intervals"] == 0


def test_period_crossing_midnight_keeps_the_interval_beginning_rule() -> None:
    start = local(2024, 7, 1, 21, 45)  # 21:45, 22:00, ..., 06:00 next day
    frame = reads(1, start, [1.0] * 34)
    result = compute_determinants(
        frame,
        periods(
            {
                "meter_id": 1,
                "period_start_utc": start,
                "period_end_utc": start + dt.timedelta(hours=9),
                "schedule_key": "N",
            }
        ),
        schedules={"N": night_schedule()},
        params=PARAMS,
    )
    # 21:45 is day; 22:00..05:45 (32 intervals) night; 06:00 is day again
    assert tou(result.by_tou) == {"day": 2.0, "night": 32.0}


def test_holiday_uses_the_holiday_day_type() -> None:
    schedule = {"S": seasonal_schedule()}
    on_july_3 = local(2024, 7, 3)  # Wednesday
    on_july_4 = local(2024, 7, 4)  # Thursday, Independence Day
    frame = pl.concat([reads(1, on_july_3, [1.0] * 96), reads(2, on_july_4, [1.0] * 96)])
    result = compute_determinants(
        frame,
        periods(
            {
                "meter_id": 1,
                "period_start_utc": on_july_3,
                "period_end_utc": on_july_4,
                "schedule_key": "S",
            },
            {
                "meter_id": 2,
                "period_start_utc": on_july_4,
                "period_end_utc": local(2024, 7, 5),
                "schedule_key": "S",
            },
        ),
        schedules=schedule,
        params=PARAMS,
    )
    by = result.by_tou.partition_by("meter_id", as_dict=True)
    assert tou(by[(1,)]) == {"off_peak": 76.0, "on_peak": 20.0}  # 14:00-19:00
    assert tou(by[(2,)]) == {"off_peak": 96.0, "on_peak": 0.0}
    # without a calendar the 4th is an ordinary Thursday
    plain = compute_determinants(
        reads(2, on_july_4, [1.0] * 96),
        periods(
            {
                "meter_id": 2,
                "period_start_utc": on_july_4,
                "period_end_utc": local(2024, 7, 5),
                "schedule_key": "S",
            }
        ),
        schedules={"S": seasonal_schedule(calendar=None)},
        params=PARAMS,
    )
    assert tou(plain.by_tou) == {"off_peak": 76.0, "on_peak": 20.0}


def test_season_boundary_switches_the_daily_schedule() -> None:
    start, end = local(2024, 9, 30), local(2024, 10, 2)  # Monday summer, Tuesday winter
    frame = reads(1, start, [1.0] * 48 + [2.0] * 48 + [10.0] * 96)
    result = compute_determinants(
        frame,
        periods(
            {"meter_id": 1, "period_start_utc": start, "period_end_utc": end, "schedule_key": "S"}
        ),
        schedules={"S": seasonal_schedule()},
        params=PARAMS,
    )
    # Sep 30 (summer): on 14:00-19:00 = 20 intervals at 2.0; Oct 1 (winter): 17:00-20:00 = 12 x 10
    assert tou(result.by_tou) == {"on_peak": 40.0 + 120.0, "off_peak": 48 + 28 * 2 + 84 * 10}


def test_multiplier_scales_energy_and_demand() -> None:
    start = local(2024, 7, 1)
    frame = reads(1, start, [1.0] * 4)
    result = compute_determinants(
        frame,
        periods(
            {
                "meter_id": 1,
                "period_start_utc": start,
                "period_end_utc": start + dt.timedelta(hours=1),
                "multiplier": 80.0,
            }
        ),
        schedules={},
        params=PARAMS,
    )
    row = result.by_period.row(0, named=True)
    assert row["delivered_kwh"] == 320.0
    assert row["block_demand_kw"] == 320.0  # 80 kWh per 15 min = 320 kW
    assert row["rolling_demand_kw"] is None  # 15-min data cannot give 5-min rolling demand
    assert "rolling demand" in row["demand_note"]


# -- Demand -------------------------------------------------------------------------------------


def test_block_and_rolling_demand_with_subintervals() -> None:
    t0 = local(2024, 7, 1, 16)  # 16:00 CDT, 5-minute data
    values = [1, 1, 1, 0, 3, 3, 3, 0, 0, 0, 0, 0]  # 16:00 .. 16:55
    result = compute_determinants(
        reads(7, t0, values, interval_s=300),
        periods(
            {"meter_id": 7, "period_start_utc": t0, "period_end_utc": t0 + dt.timedelta(hours=1)}
        ),
        schedules={},
        params=DeterminantParams(zone=ZONE, demand_window_min=15, demand_subinterval_min=5),
    )
    row = result.by_period.row(0, named=True)
    # block windows: 16:00 -> 3 kWh, 16:15 -> 6 kWh (0+3+3), 16:30 -> 3, 16:45 -> 0
    assert row["block_demand_kw"] == pytest.approx(6 * 4)
    assert row["block_demand_start_utc"] == local(2024, 7, 1, 16, 15)
    # rolling: 16:20-16:35 = 3+3+3 = 9 kWh
    assert row["rolling_demand_kw"] == pytest.approx(9 * 4)
    assert row["rolling_demand_start_utc"] == local(2024, 7, 1, 16, 20)
    assert row["demand_note"] is None


def test_demand_per_tou_period_belongs_to_the_last_interval() -> None:
    t0 = local(2024, 7, 1, 13, 45)  # on-peak from 14:00 (summer weekday)
    values = [5, 5, 5, 0, 0, 0, 1, 1, 1]  # 13:45 .. 14:25 (5-min)
    result = compute_determinants(
        reads(1, t0, values, interval_s=300),
        periods(
            {
                "meter_id": 1,
                "period_start_utc": t0,
                "period_end_utc": t0 + dt.timedelta(minutes=45),
                "schedule_key": "S",
            }
        ),
        schedules={"S": seasonal_schedule()},
        params=PARAMS,
    )
    by = {r["tou_period"]: r for r in result.by_tou.iter_rows(named=True)}
    # block 13:45-14:00 is off-peak (15 kWh -> 60 kW); 14:00-14:15 on-peak 0; 14:15-14:30: 3
    assert by["off_peak"]["block_demand_kw"] == pytest.approx(60)
    assert by["on_peak"]["block_demand_kw"] == pytest.approx(12)
    assert by["on_peak"]["block_demand_start_utc"] == local(2024, 7, 1, 14, 15)
    # rolling window 13:50-14:05 ends in on-peak: 5+5+0 = 10 kWh -> 40 kW
    assert by["on_peak"]["rolling_demand_kw"] == pytest.approx(40)
    assert by["on_peak"]["rolling_demand_start_utc"] == local(2024, 7, 1, 13, 50)


def test_excluded_reads_are_left_out_and_counted() -> None:
    t0 = local(2024, 7, 1)
    suspect = flag_mask(["SOURCE_SUSPECT"])
    estimated = flag_mask(["ESTIMATED"])
    frame = reads(1, t0, [1.0, 50.0, 1.0, 1.0], flags=[0, suspect, estimated, 0])
    p = periods(
        {"meter_id": 1, "period_start_utc": t0, "period_end_utc": t0 + dt.timedelta(hours=1)}
    )
    row = compute_determinants(frame, p, schedules={}, params=PARAMS).by_period.row(0, named=True)
    assert row["delivered_kwh"] == 3.0
    assert (row["intervals"], row["excluded_intervals"], row["estimated_intervals"]) == (3, 1, 1)
    assert row["missing_intervals"] == 0
    kept = compute_determinants(
        frame, p, schedules={}, params=DeterminantParams(zone=ZONE, include_excluded=True)
    ).by_period.row(0, named=True)
    assert kept["delivered_kwh"] == 53.0


# -- Net metering -------------------------------------------------------------------------------


def _nem_frame() -> tuple[pl.DataFrame, dt.datetime]:
    t0 = local(2024, 7, 1, 12)
    delivered = reads(3, t0, [2.0, 0.0, 1.0, 0.0])
    received = reads(3, t0, [0.0, 3.0, 1.5, 0.5], channel="kwh_received")
    voltage = reads(3, t0, [240.0] * 4, channel="voltage_min_v")  # never mixed in
    return pl.concat([delivered, received, voltage]), t0


@pytest.mark.parametrize(
    ("netting", "billed_import", "billed_export"),
    [
        (Netting.INTERVAL, 2.0, 3.0 + 0.5 + 0.5),
        (Netting.BILLING_PERIOD, 0.0, 2.0),
        (Netting.TOU_PERIOD, 0.0, 2.0),
    ],
)
def test_net_metering_delivered_received_net(
    netting: Netting, billed_import: float, billed_export: float
) -> None:
    frame, t0 = _nem_frame()
    p = periods(
        {
            "meter_id": 3,
            "period_start_utc": t0,
            "period_end_utc": t0 + dt.timedelta(hours=1),
            "net_metering": True,
        }
    )
    row = compute_determinants(
        frame, p, schedules={}, params=DeterminantParams(zone=ZONE, netting=netting)
    ).by_period.row(0, named=True)
    assert (row["delivered_kwh"], row["received_kwh"], row["net_kwh"]) == (3.0, 5.0, -2.0)
    assert row["billed_import_kwh"] == pytest.approx(billed_import)
    assert row["billed_export_kwh"] == pytest.approx(billed_export)
    # received energy never raises demand
    assert row["block_demand_kw"] == pytest.approx(2.0 * 4)  # the largest delivered quarter


def test_non_nem_account_is_billed_delivered_only() -> None:
    frame, t0 = _nem_frame()
    p = periods(
        {"meter_id": 3, "period_start_utc": t0, "period_end_utc": t0 + dt.timedelta(hours=1)}
    )
    row = compute_determinants(frame, p, schedules={}, params=PARAMS).by_period.row(0, named=True)
    assert (row["billed_import_kwh"], row["billed_export_kwh"]) == (3.0, 0.0)
    assert row["received_kwh"] == 5.0  # still visible


# -- Billing periods ----------------------------------------------------------------------------


def test_billing_periods_per_account_split_the_meter_reads() -> None:
    t0 = local(2024, 7, 1)
    move = local(2024, 7, 1, 12)
    frame = reads(4, t0, [1.0] * 48 + [2.0] * 48)
    p = periods(
        {"meter_id": 4, "account_id": 10, "period_start_utc": t0, "period_end_utc": move},
        {
            "meter_id": 4,
            "account_id": 11,
            "period_start_utc": move,
            "period_end_utc": local(2024, 7, 2),
            "net_metering": True,
        },
    )
    result = compute_determinants(frame, p, schedules={}, params=PARAMS)
    rows = {r["account_id"]: r for r in result.by_period.iter_rows(named=True)}
    assert rows[10]["delivered_kwh"] == 48.0
    assert rows[11]["delivered_kwh"] == 96.0
    assert rows[10]["expected_intervals"] == rows[11]["expected_intervals"] == 48
    assert rows[11]["block_demand_kw"] == 8.0


def test_missing_intervals_and_meters_without_reads() -> None:
    t0 = local(2024, 7, 1)
    frame = reads(1, t0, [1.0] * 90)
    p = periods(
        {"meter_id": 1, "period_start_utc": t0, "period_end_utc": local(2024, 7, 2)},
        {"meter_id": 2, "period_start_utc": t0, "period_end_utc": local(2024, 7, 2)},
    )
    result = compute_determinants(frame, p, schedules={}, params=PARAMS)
    one, two = result.by_period.sort("meter_id").iter_rows(named=True)
    assert (one["intervals"], one["missing_intervals"]) == (90, 6)
    assert (two["intervals"], two["missing_intervals"], two["delivered_kwh"]) == (0, 96, 0.0)
    assert two["block_demand_kw"] is None
    assert "no delivered-energy reads" in two["demand_note"]


def test_batches_give_the_same_result_as_one_frame() -> None:
    t0 = local(2024, 3, 9)
    frame = pl.concat([reads(m, t0, [float(i % 7) for i in range(3 * 92)]) for m in (1, 5, 9)])
    p = periods(
        *(
            {
                "meter_id": m,
                "period_start_utc": t0,
                "period_end_utc": local(2024, 3, 12),
                "schedule_key": "S",
            }
            for m in (1, 5, 9)
        )
    )
    schedules = {"S": seasonal_schedule()}
    whole = compute_determinants(frame, p, schedules=schedules, params=PARAMS)
    acc = DeterminantAccumulator(p, schedules=schedules, params=PARAMS)
    for part in frame.sample(fraction=1.0, shuffle=True, seed=3).iter_slices(100):
        acc.add(part)
    streamed = acc.finish()
    assert streamed.by_period.equals(whole.by_period)
    assert streamed.by_tou.equals(whole.by_tou)


def test_bad_inputs_are_refused_with_clear_errors() -> None:
    t0 = local(2024, 7, 1)
    with pytest.raises(InvalidInputError, match="no TOU schedule for keys"):
        compute_determinants(
            reads(1, t0, [1.0]),
            periods(
                {
                    "meter_id": 1,
                    "period_start_utc": t0,
                    "period_end_utc": local(2024, 7, 2),
                    "schedule_key": "X",
                }
            ),
            schedules={},
            params=PARAMS,
        )
    with pytest.raises(InvalidInputError, match="must end after it starts"):
        compute_determinants(
            reads(1, t0, [1.0]),
            periods({"meter_id": 1, "period_start_utc": t0, "period_end_utc": t0}),
            schedules={},
            params=PARAMS,
        )
    with pytest.raises(InvalidInputError, match="must divide"):
        DeterminantParams(zone=ZONE, demand_window_min=15, demand_subinterval_min=4)


# -- Invariants ---------------------------------------------------------------------------------

_quarters = st.integers(min_value=0, max_value=40).map(lambda v: v / 4)


@st.composite
def _cases(draw: st.DrawFn) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    interval_s = draw(st.sampled_from([300, 900]))
    day = draw(
        st.sampled_from(
            [dt.date(2024, 3, 10), dt.date(2024, 7, 4), dt.date(2024, 9, 30), dt.date(2024, 11, 3)]
        )
    )
    t0 = local(day.year, day.month, day.day, 10)
    n = draw(st.integers(min_value=1, max_value=120))
    parts = []
    for channel in ("kwh_delivered", "kwh_received"):
        values = draw(st.lists(_quarters, min_size=n, max_size=n))
        keep = draw(st.lists(st.booleans(), min_size=n, max_size=n))
        frame = reads(1, t0, values, interval_s=interval_s, channel=channel)
        parts.append(frame.filter(pl.Series(keep)))
    # Period bounds anywhere on the minute, also inside an interval (real billing periods start
    # at local midnight, but the engine must not count a window that runs past either bound).
    start = t0 + dt.timedelta(minutes=draw(st.integers(-20, 150)))
    end = start + dt.timedelta(minutes=draw(st.integers(1, 720)))
    p = periods(
        {
            "meter_id": 1,
            "period_start_utc": start,
            "period_end_utc": end,
            "schedule_key": "S",
            "net_metering": draw(st.booleans()),
        }
    )
    return pl.concat(parts), p, interval_s


@settings(max_examples=60, deadline=None)
@given(_cases())
def test_invariants_against_the_reference(case: tuple[pl.DataFrame, pl.DataFrame, int]) -> None:
    frame, p, interval_s = case
    schedule = seasonal_schedule()
    result = compute_determinants(frame, p, schedules={"S": schedule}, params=PARAMS)
    row = result.by_period.row(0, named=True)
    by_tou = result.by_tou
    # sum of TOU periods = total; net = delivered - received (per period and per TOU period)
    assert by_tou["delivered_kwh"].sum() == pytest.approx(row["delivered_kwh"])
    assert by_tou["received_kwh"].sum() == pytest.approx(row["received_kwh"])
    assert row["net_kwh"] == pytest.approx(row["delivered_kwh"] - row["received_kwh"])
    assert (
        by_tou["net_kwh"] - (by_tou["delivered_kwh"] - by_tou["received_kwh"])
    ).abs().max() == pytest.approx(0)
    # rolling >= block wherever both exist
    if row["rolling_demand_kw"] is not None and row["block_demand_kw"] is not None:
        assert row["rolling_demand_kw"] >= row["block_demand_kw"]
    for r in by_tou.iter_rows(named=True):
        if r["rolling_demand_kw"] is not None and r["block_demand_kw"] is not None:
            assert r["rolling_demand_kw"] >= r["block_demand_kw"]
    # and everything equals the plain-loop reference
    ref = reference(
        frame,
        meter_id=1,
        start=row["period_start_utc"],
        end=row["period_end_utc"],
        schedule=schedule,
        window_s=900,
        sub_s=300,
        slot_s=interval_s,
    )
    for r in by_tou.iter_rows(named=True):
        e = ref.energy.get(r["tou_period"], [0.0] * 4)
        assert r["delivered_kwh"] == pytest.approx(e[0])
        assert r["received_kwh"] == pytest.approx(e[1])
        assert r["billed_import_kwh"] == pytest.approx(e[2] if p["net_metering"][0] else e[0])
        block = ref.block.get(r["tou_period"])
        assert (r["block_demand_kw"], r["block_demand_start_utc"]) == (
            (block[0] * 4, block[1]) if block else (None, None)
        )
    block = ref.block.get("*")
    assert (row["block_demand_kw"], row["block_demand_start_utc"]) == (
        (block[0] * 4, block[1]) if block else (None, None)
    )
    if interval_s == 300:
        rolling = ref.rolling.get("*")
        assert (row["rolling_demand_kw"], row["rolling_demand_start_utc"]) == (
            (rolling[0] * 4, rolling[1]) if rolling else (None, None)
        )
    else:
        assert row["rolling_demand_kw"] is None
    assert sum(v[0] for v in ref.energy.values()) == pytest.approx(row["delivered_kwh"])
    assert (
        row["intervals"]
        == frame.filter(
            (pl.col("channel") == "kwh_delivered")
            & pl.col("interval_start_utc").is_between(
                row["period_start_utc"], row["period_end_utc"], closed="left"
            )
        ).height
    )
    assert UTC is not None


def test_finer_data_arriving_later_refines_the_grid() -> None:
    t0 = local(2024, 7, 1, 16)
    coarse = reads(1, t0, [1.0, 2.0, 3.0, 4.0])  # 15-minute meter
    fine = reads(2, t0, [0.5] * 11 + [2.0], interval_s=300)  # 5-minute meter
    p = periods(
        {"meter_id": 1, "period_start_utc": t0, "period_end_utc": t0 + dt.timedelta(hours=1)},
        {"meter_id": 2, "period_start_utc": t0, "period_end_utc": t0 + dt.timedelta(hours=1)},
    )
    acc = DeterminantAccumulator(p, schedules={}, params=PARAMS)
    acc.add(coarse)
    acc.add(fine)
    one, two = acc.finish().by_period.sort("meter_id").iter_rows(named=True)
    assert (one["delivered_kwh"], one["interval_s"], one["expected_intervals"]) == (10.0, 900, 4)
    assert one["block_demand_kw"] == 16.0
    assert one["block_demand_start_utc"] == local(2024, 7, 1, 16, 45)
    assert one["rolling_demand_kw"] is None
    assert (two["delivered_kwh"], two["interval_s"], two["expected_intervals"]) == (7.5, 300, 12)
    assert two["block_demand_kw"] == pytest.approx((0.5 + 0.5 + 2.0) * 4)
    assert two["rolling_demand_kw"] == pytest.approx((0.5 + 0.5 + 2.0) * 4)


def test_off_grid_reads_count_for_energy_not_demand() -> None:
    t0 = local(2024, 7, 1, 16)
    frame = pl.concat([reads(1, t0, [1.0, 1.0]), reads(1, t0 + dt.timedelta(minutes=37), [9.0])])
    p = periods(
        {"meter_id": 1, "period_start_utc": t0, "period_end_utc": t0 + dt.timedelta(hours=1)}
    )
    row = compute_determinants(frame, p, schedules={}, params=PARAMS).by_period.row(0, named=True)
    assert row["delivered_kwh"] == 11.0
    assert row["irregular_intervals"] == 1
    assert row["block_demand_kw"] == 4.0


def test_a_window_running_past_an_unaligned_period_end_does_not_count() -> None:
    # Found by Hypothesis (24 Nov 2026): the period ends 5 min into the only interval, so the
    # interval's energy belongs to the period (interval-beginning rule) but no 15-min window
    # lies inside it.
    t0 = dt.datetime(2024, 3, 10, 20, 0, tzinfo=dt.UTC)
    frame = reads(1, t0, [2.0], interval_s=900, channel="kwh_delivered")
    p = periods(
        {
            "meter_id": 1,
            "period_start_utc": t0 - dt.timedelta(hours=5),
            "period_end_utc": t0 + dt.timedelta(minutes=5),
            "schedule_key": "S",
            "net_metering": False,
        }
    )
    result = compute_determinants(frame, p, schedules={"S": seasonal_schedule()}, params=PARAMS)
    row = result.by_period.row(0, named=True)
    assert row["delivered_kwh"] == 2.0
    assert row["block_demand_kw"] is None
    for r in result.by_tou.iter_rows(named=True):
        assert r["block_demand_kw"] is None


@pytest.mark.parametrize(
    ("start_min", "end_min", "block", "rolling"),
    [
        (0, 15, 12.0, 12.0),  # [0, 15) ends exactly at the period end: it counts
        (0, 14, None, None),  # it runs a minute past the end: no window lies inside
        (0, 20, 12.0, 28.0),  # rolling [5, 20) ends at the end and counts; block [15, 30) not
        (0, 19, 12.0, 12.0),  # rolling [5, 20) runs past the end: only [0, 15) remains
        (1, 15, None, None),  # the period starts inside the first interval: that read is out
        (1, 20, None, 28.0),  # ... and block [0, 15) with it; rolling [5, 20) lies inside
    ],
)
def test_demand_windows_lie_inside_unaligned_period_bounds(
    end_min: int, start_min: int, block: float | None, rolling: float | None
) -> None:
    t0 = dt.datetime(2024, 7, 1, 21, 0, tzinfo=dt.UTC)
    frame = reads(1, t0, [1.0, 1.0, 1.0, 5.0], interval_s=300, channel="kwh_delivered")
    p = periods(
        {
            "meter_id": 1,
            "period_start_utc": t0 + dt.timedelta(minutes=start_min),
            "period_end_utc": t0 + dt.timedelta(minutes=end_min),
            "schedule_key": None,
            "net_metering": False,
        }
    )
    row = compute_determinants(frame, p, schedules={}, params=PARAMS).by_period.row(0, named=True)
    assert (row["block_demand_kw"], row["rolling_demand_kw"]) == (block, rolling)
