"""Each detector on hand-made frames: it fires on the condition and not on its look-alike."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import pytest

from meterops.diagnostics import detect
from meterops.diagnostics.detect.comm import OUTAGE_PERIODS
from meterops.diagnostics.frames import EXCEPTIONS
from meterops.diagnostics.params import DetectParams
from meterops.kit.frames import check_frame
from meterops.vee.flags import FLAGS
from tests.diagnostics import frames as f

P = DetectParams()
H = dt.timedelta(hours=1)
D = dt.timedelta(days=1)
AS_OF = f.T0 + 10 * D  # local midnight starting 2026-07-11
LAST_DAY = dt.date(2026, 7, 10)


def _evidence(frame: pl.DataFrame, meter_id: int) -> dict[str, object]:
    row = frame.filter(pl.col("meter_id") == meter_id)
    assert row.height == 1
    loaded: dict[str, object] = json.loads(row["evidence"][0])
    return loaded


def _last_reads(**by_meter: dt.datetime | None) -> pl.DataFrame:
    return pl.DataFrame(
        {"meter_id": [int(k[1:]) for k in by_meter], "last_read_utc": list(by_meter.values())},
        schema={"meter_id": pl.Int64, "last_read_utc": pl.Datetime("us", "UTC")},
    )


# -- summary ----------------------------------------------------------------------------------


def test_daily_summary_leaves_outage_intervals_out_of_energy_and_counts_suspect_flags() -> None:
    outage, spike = FLAGS["POWER_OUTAGE"].mask, FLAGS["SPIKE"].mask
    reads = pl.concat(
        [
            f.interval_reads(1, "kwh_delivered", f.T0, [1.0, 2.0, 4.0], flags=[0, outage, spike]),
            f.interval_reads(1, "kwh_received", f.T0, [0.5]),
            f.interval_reads(1, "voltage_min_v", f.T0, [240.0], step_s=3600),
        ]
    )
    out = detect.summarise_intervals(reads, zone=f.ZONE)
    assert out.select(
        "day",
        "kwh_delivered",
        "kwh_received",
        "reads_received",
        "outage_intervals",
        "suspect_intervals",
    ).row(0) == (dt.date(2026, 7, 1), 5.0, 0.5, 3, 1, 1)
    last = detect.last_read_times(reads.filter(pl.col("channel") == "kwh_delivered"))
    assert last["last_read_utc"][0] == f.T0 + dt.timedelta(minutes=45)


# -- non-communicating ------------------------------------------------------------------------


def _noncomm(
    *,
    meters: pl.DataFrame,
    last: pl.DataFrame,
    stats: pl.DataFrame | None = None,
    events: pl.DataFrame | None = None,
) -> pl.DataFrame:
    out = detect.detect_non_communicating(
        meters=meters,
        last_reads=last,
        comm_stats=stats if stats is not None else f.comm_stats([]),
        events=events if events is not None else f.events([]),
        window_start_utc=f.T0,
        as_of_utc=AS_OF,
        params=P,
    )
    check_frame(out, EXCEPTIONS, check_nulls=True)
    return out


def test_a_meter_silent_for_longer_than_the_limit_is_non_communicating() -> None:
    out = _noncomm(
        meters=f.meters(3),
        last=_last_reads(m1=AS_OF - 30 * H, m2=AS_OF - 2 * H, m3=None),
    )
    assert out["meter_id"].to_list() == [1, 3]
    first = _evidence(out, 1)
    assert first["mode"] == "silent"
    assert first["silent_hours"] == 30.0
    assert _evidence(out, 3)["never_reported"] is True
    assert out.filter(pl.col("meter_id") == 1)["first_seen_utc"][0] == AS_OF - 30 * H


def test_a_meter_with_too_few_reads_is_intermittent() -> None:
    stats = f.comm_stats([(1, day, 40, -95.0, "C1") for day in (8, 9, 10)])
    out = _noncomm(meters=f.meters(1), last=_last_reads(m1=AS_OF - H), stats=stats)
    evidence = _evidence(out, 1)
    assert evidence["mode"] == "intermittent"
    assert evidence["read_success"] == pytest.approx(40 / 96, abs=1e-3)


def test_a_meter_on_a_transformer_in_outage_is_not_a_non_comm() -> None:
    gone = AS_OF - 30 * H
    meters = f.meters(
        4, transformer_code=["TX1", "TX1", "TX1", "TX2"], feeder_code=["F1", "F1", "F2", "F3"]
    )
    last = _last_reads(m1=gone, m2=gone, m3=gone, m4=gone)
    gasps = f.events([(1, gone, "last_gasp"), (2, gone, "power_loss")])
    out = _noncomm(meters=meters, last=last, events=gasps)
    assert out["meter_id"].to_list() == [4]


def test_a_restored_outage_or_a_removed_meter_does_not_suppress() -> None:
    gone = AS_OF - 30 * H
    meters = f.meters(2)
    last = _last_reads(m1=gone, m2=gone)
    restored = f.events([(1, gone, "last_gasp"), (1, gone + H, "power_restored")])
    assert _noncomm(meters=meters, last=last, events=restored)["meter_id"].to_list() == [1, 2]
    removed = f.events([(1, gone, "last_gasp"), (1, gone, "meter_removed"), (2, gone, "last_gasp")])
    assert _noncomm(meters=meters, last=last, events=removed)["meter_id"].to_list() == [1]


def _periods(*rows: tuple[int, dt.datetime, dt.datetime | None]) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=OUTAGE_PERIODS, orient="row")


def test_a_recorded_outage_explains_a_silence_that_began_inside_it() -> None:
    gone = AS_OF - 30 * H
    meters = f.meters(4)
    last = _last_reads(m1=gone, m2=gone, m3=AS_OF - 80 * H, m4=gone)
    outages = _periods(
        (1, gone - H / 2, None),  # still out: not a non-comm
        (2, gone, gone + 2 * H),  # restored 28 h ago and still silent: a non-comm
        (3, gone, None),  # silent two days before the outage began: the outage does not explain it
    )
    out = detect.detect_non_communicating(
        meters=meters,
        last_reads=last,
        comm_stats=f.comm_stats([]),
        events=f.events([]),
        window_start_utc=f.T0,
        as_of_utc=AS_OF,
        params=P,
        outages=outages,
    )
    assert out["meter_id"].to_list() == [2, 3, 4]
    recent = _periods((1, gone, AS_OF - 20 * H))  # restored 20 h ago: give it time
    out = detect.detect_non_communicating(
        meters=f.meters(1),
        last_reads=_last_reads(m1=gone),
        comm_stats=f.comm_stats([]),
        events=f.events([]),
        window_start_utc=f.T0,
        as_of_utc=AS_OF,
        params=P,
        outages=recent,
    )
    assert out.is_empty()


def test_missing_reads_during_a_recorded_outage_are_not_intermittent() -> None:
    stats = f.comm_stats([(1, day, 40, -95.0, "C1") for day in (8, 9, 10)])
    out = detect.detect_non_communicating(
        meters=f.meters(1),
        last_reads=_last_reads(m1=AS_OF - H),
        comm_stats=stats,
        events=f.events([]),
        window_start_utc=f.T0,
        as_of_utc=AS_OF,
        params=P,
        outages=_periods((1, AS_OF - 40 * H, AS_OF - 10 * H)),
    )
    assert out.is_empty()


# -- consumption --------------------------------------------------------------------------------


def test_zero_on_an_active_account_with_reads_arriving_is_flagged_from_the_last_use() -> None:
    rows = [(1, d, 20.0 if d < 6 else 0.0) for d in range(1, 11)]
    rows += [(2, d, 20.0) for d in range(1, 11)]
    out = detect.detect_zero_consumption(
        daily=f.daily(rows), meters=f.meters(2), last_day=LAST_DAY, zone=f.ZONE, params=P
    )
    assert out["meter_id"].to_list() == [1]
    assert out["first_seen_utc"][0] == f.T0 + 5 * D
    assert _evidence(out, 1)["prior_kwh_per_day"] == pytest.approx(20 * 5 / 7, abs=0.01)


def test_zero_without_reads_or_on_an_inactive_account_is_not_zero_consumption() -> None:
    rows = [(m, d, 0.0) for m in (1, 2) for d in range(1, 11)]
    frame = f.daily(rows, reads_received=[96] * 10 + [10] * 10)
    meters = f.meters(3, account_active=[False, True, True])
    out = detect.detect_zero_consumption(
        daily=frame, meters=meters, last_day=LAST_DAY, zone=f.ZONE, params=P
    )
    assert out.is_empty()


def test_usage_without_an_account_is_flagged_and_a_vacant_premise_is_not() -> None:
    rows = [(1, d, 12.0) for d in range(1, 11)] + [(2, d, 0.0) for d in range(1, 11)]
    meters = f.meters(2, account_active=[False, False])
    out = detect.detect_inactive_usage(
        daily=f.daily(rows), meters=meters, last_day=LAST_DAY, zone=f.ZONE, params=P
    )
    assert out["meter_id"].to_list() == [1]
    assert _evidence(out, 1)["kwh_per_day"] == 12.0


def test_high_bill_is_against_own_history_adjusted_by_the_fleet() -> None:
    days = range(1, 15)
    # Everyone uses 20 % more in the recent week (a heat wave); meter 1 uses 2.5 times more.
    rows = [(m, d, 20.0 * (1.2 if d > 7 else 1.0)) for m in range(2, 8) for d in days]
    rows += [(1, d, 20.0 * (2.5 if d > 7 else 1.0)) for d in days]
    out = detect.detect_high_bill(
        daily=f.daily(rows),
        meters=f.meters(7),
        registers=None,
        last_day=dt.date(2026, 7, 14),
        zone=f.ZONE,
        params=P,
    )
    assert out["meter_id"].to_list() == [1]
    evidence = _evidence(out, 1)
    assert evidence["basis"] == "usage"
    assert evidence["fleet_ratio"] == pytest.approx(1.2)
    assert evidence["adjusted_ratio"] == pytest.approx(2.5 / 1.2, abs=1e-3)


def test_a_tou_meter_with_a_far_larger_on_peak_share_than_its_rate_peers_is_a_high_bill() -> None:
    rows = []
    for meter in range(1, 8):
        on_peak = 40.0 if meter == 1 else 20.0
        for day, factor in ((1, 0.0), (8, 1.0)):
            rows += [
                (meter, day, 1000.0 + on_peak * factor, "on_peak"),
                (meter, day, 1000.0 + (100.0 - on_peak) * factor, "off_peak"),
            ]
    meters = f.meters(7, rate_code=["RTOU"] * 7)
    out = detect.detect_high_bill(
        daily=f.daily([]),
        meters=meters,
        registers=f.registers(rows),
        last_day=dt.date(2026, 7, 8),
        zone=f.ZONE,
        params=P,
    )
    assert out["meter_id"].to_list() == [1]
    evidence = _evidence(out, 1)
    assert evidence["basis"] == "tou_on_peak_share"
    assert evidence["on_peak_share"] == 0.4
    assert evidence["peer_median_share"] == 0.2


# -- events -------------------------------------------------------------------------------------


def test_tamper_events_of_each_kind_raise_a_tamper_exception() -> None:
    ev = f.events(
        [
            (1, f.T0, "cover_removed"),
            (1, f.T0 + H, "tilt_tamper"),
            (2, f.T0, "magnetic_tamper"),
            (3, f.T0, "demand_reset"),
        ]
    )
    out = detect.detect_tamper(events=ev, params=P)
    assert out["meter_id"].to_list() == [1, 2]
    assert _evidence(out, 1) == {"events": 2, "event_names": ["cover_removed", "tilt_tamper"]}
    assert out["last_seen_utc"][0] == f.T0 + H


def test_reverse_energy_on_a_net_metered_bidirectional_meter_is_expected() -> None:
    ev = f.events([(1, f.T0, "reverse_energy"), (2, f.T0, "reverse_rotation")])
    meters = f.meters(2, bidirectional=[False, True], net_metering=[False, True])
    out = detect.detect_reverse_energy(events=ev, meters=meters, params=P)
    assert out["meter_id"].to_list() == [1]


def test_high_temperature_alarms_raise_a_hot_socket() -> None:
    ev = f.events([(2, f.T0, "high_temperature"), (1, f.T0, "temperature_cleared")])
    assert detect.detect_hot_socket(events=ev, params=P)["meter_id"].to_list() == [2]


# -- voltage ------------------------------------------------------------------------------------


def test_hours_below_the_band_of_the_snapped_nominal_are_out_of_range() -> None:
    low = [240.0] * 20 + [200.0] * 4
    reads = pl.concat(
        [
            f.interval_reads(1, "voltage_min_v", f.T0, low, step_s=3600),
            f.interval_reads(2, "voltage_min_v", f.T0, [121.0] * 24, step_s=3600),
            f.interval_reads(3, "voltage_min_v", f.T0, [240.0] * 20 + [0.0] * 4, step_s=3600),
        ]
    )
    out = detect.detect_voltage_out_of_range(voltage_reads=reads, events=f.events([]), params=P)
    assert out["meter_id"].to_list() == [1]
    evidence = _evidence(out, 1)
    assert evidence["nominal_v"] == 240.0
    assert evidence["hours_low"] == 4
    assert evidence["lowest_v"] == 200.0


# -- quality ------------------------------------------------------------------------------------


def test_clock_errors_on_several_days_and_many_flags_are_suspect_reads() -> None:
    ev = f.events(
        [(1, f.T0 + 2 * H, "clock_error", {"offset_s": -95}), (1, f.T0 + D + 2 * H, "clock_error")]
    )
    frame = f.daily([(1, 1, 10.0), (2, 1, 10.0), (3, 1, 10.0)], suspect_intervals=[0, 10, 1])
    out = detect.detect_suspect_reads(daily=frame, events=ev, zone=f.ZONE, params=P)
    assert out["meter_id"].to_list() == [1, 2]
    assert _evidence(out, 1)["clock_error_days"] == 2
    assert _evidence(out, 1)["clock_offset_s"] == 95.0
    assert _evidence(out, 2)["suspect_share"] == pytest.approx(10 / 96, abs=1e-4)


def test_a_register_that_advances_unlike_its_intervals_is_a_mismatch_rollover_included() -> None:
    regs = f.registers(
        [(1, 1, 100.0, None), (1, 4, 160.0, None), (2, 1, 99990.0, None), (2, 4, 50.0, None)]
    )
    frame = f.daily([(m, d, 20.0) for m in (1, 2) for d in (1, 2, 3)])
    out = detect.detect_register_mismatch(
        registers=regs, daily=frame, meters=f.meters(2), zone=f.ZONE, params=P
    )
    assert out.is_empty()  # 60 kWh both ways; meter 2 rolled over 99990 -> 50
    regs = f.registers([(1, 1, 100.0, None), (1, 4, 130.0, None)])
    out = detect.detect_register_mismatch(
        registers=regs, daily=frame, meters=f.meters(2), zone=f.ZONE, params=P
    )
    assert _evidence(out, 1) == {
        "register_advance_kwh": 30.0,
        "interval_sum_kwh": 60.0,
        "difference_kwh": -30.0,
        "days": 3,
    }


def test_days_with_missing_intervals_are_not_compared() -> None:
    regs = f.registers([(1, 1, 100.0, None), (1, 4, 130.0, None)])
    frame = f.daily([(1, d, 20.0) for d in (1, 2, 3)], reads_received=[96, 50, 96])
    out = detect.detect_register_mismatch(
        registers=regs, daily=frame, meters=f.meters(1), zone=f.ZONE, params=P
    )
    assert out.is_empty()


def test_a_day_without_any_reads_does_not_hide_zero_consumption() -> None:
    rows = [(1, d, 20.0 if d < 7 else 0.0) for d in range(1, 11) if d != 9]  # day 9 never came
    out = detect.detect_zero_consumption(
        daily=f.daily(rows), meters=f.meters(1), last_day=LAST_DAY, zone=f.ZONE, params=P
    )
    assert out["meter_id"].to_list() == [1]
    assert out["first_seen_utc"][0] == f.T0 + 6 * D
    assert _evidence(out, 1)["prior_kwh_per_day"] == pytest.approx(20.0)  # days 1 to 6
