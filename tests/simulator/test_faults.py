"""Every fault leaves the traces it leaves in reality, and the counts follow the rates."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

import numpy as np
import polars as pl
import pytest

from meterops.nomenclature import EVENT_BY_NAME
from meterops.simulator import FaultKind, World, simulate_days, small_town
from meterops.simulator.faults import CROSSED_RADIUS_M, draw_faults
from meterops.simulator.fleetfiles import fleet_frames
from meterops.simulator.params import Stream, stream

from .conftest import BUSY_DAYS, BUSY_RATES, NO_FAULTS


def _faults(
    world: World,
    kind: FaultKind,
    *,
    starting_before_day: int | None = None,
    starting_after_day: int | None = None,
) -> list[dict[str, Any]]:
    truth = world.ground_truth().filter(pl.col("kind") == str(kind))
    if starting_before_day is not None:
        truth = truth.filter(pl.col("start_utc") < world.day(starting_before_day).start_utc)
    if starting_after_day is not None:
        truth = truth.filter(pl.col("start_utc") >= world.day(starting_after_day).start_utc)
    rows = truth.to_dicts()
    for row in rows:
        row["parameters"] = json.loads(row["parameters"])
    return rows


def _reads(
    world: World, days: range, serials: list[str], channel: str = "kwh_delivered"
) -> pl.DataFrame:
    return pl.concat([world.day(d).interval_reads for d in days]).filter(
        pl.col("serial_number").is_in(serials) & (pl.col("channel") == channel)
    )


def _events(world: World, days: range) -> pl.DataFrame:
    return pl.concat([world.day(d).events for d in days])


def _reported(world: World, back_office_serial: str) -> str:
    return world.reported_serial[world.backoffice_serial.index(back_office_serial)]


ALL_DAYS = range(BUSY_DAYS)


def test_incident_counts_match_the_configured_rates_within_10_percent() -> None:
    world = World(
        small_town(seed=21, faults=BUSY_RATES, service_points=3_000, horizon_days=40), keep_days=1
    )
    truth = world.ground_truth().group_by("kind").len()
    counts = dict(zip(truth["kind"].to_list(), truth["len"].to_list(), strict=True))
    years = 40 / 365
    meters = world.territory.sites.count
    ct_meters = int(world.facts.ct_rated.sum())
    expected = {
        FaultKind.RADIO_FAILURE: BUSY_RATES.radio_failure_per_meter_year * meters * years,
        FaultKind.WEAK_MESH_PATH: BUSY_RATES.weak_path_per_meter_year * meters * years,
        FaultKind.METER_REMOVED: BUSY_RATES.meter_removed_per_meter_year * meters * years,
        FaultKind.THEFT_BYPASS: BUSY_RATES.theft_per_meter_year * meters * years,
        FaultKind.TAMPER_WITHOUT_THEFT: BUSY_RATES.tamper_without_theft_per_meter_year
        * meters
        * years,
        FaultKind.HOT_SOCKET: BUSY_RATES.hot_socket_per_meter_year * meters * years,
        FaultKind.STOPPED_REGISTER: BUSY_RATES.stopped_register_per_meter_year * meters * years,
        FaultKind.TRANSFORMER_OUTAGE: BUSY_RATES.transformer_outage_per_transformer_year
        * world.territory.transformers.height
        * years,
        FaultKind.COLLECTOR_DOWN: BUSY_RATES.collector_down_per_collector_year
        * int(world.epochs[0].infra.is_collector.sum())
        * years,
        FaultKind.CLOCK_DRIFT: BUSY_RATES.clock_drift_share * meters,
        FaultKind.WRONG_MULTIPLIER: BUSY_RATES.wrong_multiplier_share * ct_meters,
        FaultKind.CT_POLARITY_REVERSED: BUSY_RATES.ct_polarity_share * ct_meters,
        FaultKind.UNKNOWN_SERIAL: BUSY_RATES.unknown_serial_per_1000 * meters / 1000,
        FaultKind.CROSSED_METERS: 2 * BUSY_RATES.crossed_pairs_per_1000 * meters / 1000,
    }
    for kind, value in expected.items():
        assert value >= 9, f"{kind}: test needs at least ~10 expected to check 10 %"
        assert abs(counts.get(str(kind), 0) - value) <= 0.1 * value, (kind, counts, value)
    # The incidents spread over the horizon, not bunched at its start.
    radio = world.ground_truth().filter(pl.col("kind") == "radio_failure")["start_utc"]
    middle = world.day_start_us[20]
    early = (radio.dt.epoch("us") < middle).sum()
    assert abs(early - radio.len() / 2) <= 0.1 * radio.len() + 1


def test_with_every_rate_at_zero_only_vacancies_are_in_the_ground_truth() -> None:
    result = simulate_days(small_town(seed=8, faults=NO_FAULTS, service_points=300), days=1)
    assert set(result.ground_truth["kind"].unique().to_list()) <= {"vacant_premise"}


def test_a_failed_radio_leaves_the_meter_silent_from_its_failure_on(busy_world: World) -> None:
    fault = _faults(busy_world, FaultKind.RADIO_FAILURE, starting_before_day=2)[0]
    serial = _reported(busy_world, fault["meter_serial"])
    reads = _reads(busy_world, ALL_DAYS, [serial])
    assert reads["interval_start_utc"].max() < fault["start_utc"]
    stats = pl.concat([busy_world.day(d).comm_stats for d in range(2, BUSY_DAYS)]).filter(
        pl.col("serial_number") == serial
    )
    assert stats["reads_received"].sum() == 0
    assert stats["rssi_dbm"].null_count() == stats.height
    failures = _events(busy_world, range(2, BUSY_DAYS)).filter(
        (pl.col("serial_number") == serial)
        & (pl.col("cim_event_type") == EVENT_BY_NAME["comm_failure"].code)
    )
    assert failures.height == BUSY_DAYS - 2
    # The meter keeps measuring: its neighbours and the register do not know it is silent.
    assert (
        busy_world.day(BUSY_DAYS - 1).registers_end_wh[busy_world.meter_index(serial), 0]
        > busy_world.day(0).registers_end_wh[busy_world.meter_index(serial), 0]
    )


def test_a_collector_down_silences_every_meter_beneath_it_for_the_outage(
    busy_world: World,
) -> None:
    fault = next(
        f
        for f in _faults(busy_world, FaultKind.COLLECTOR_DOWN, starting_before_day=BUSY_DAYS - 1)
        if f["end_utc"] - f["start_utc"] > dt.timedelta(hours=1)
    )
    day = busy_world.day_ordinal(int(fault["start_utc"].timestamp() * 1e6))
    output = busy_world.day(day)
    children = output.comm_stats.filter(pl.col("collector_code") == fault["collector_code"])
    assert children.height >= 20
    reads = output.interval_reads.filter(
        pl.col("serial_number").is_in(children["serial_number"].to_list())
        & (pl.col("channel") == "kwh_delivered")
        & (pl.col("interval_start_utc") >= fault["start_utc"])
        & (pl.col("interval_start_utc") < fault["end_utc"] - dt.timedelta(minutes=15))
    )
    assert reads.height == 0
    status = output.collector_status.filter(
        (pl.col("node_id") == fault["collector_code"]) & (pl.col("status") == "down")
    )
    assert status.height >= 1


def test_a_transformer_outage_sends_last_gasps_and_restores_and_stops_the_load(
    busy_world: World,
) -> None:
    fault = next(
        f
        for f in _faults(
            busy_world,
            FaultKind.TRANSFORMER_OUTAGE,
            starting_after_day=1,
            starting_before_day=BUSY_DAYS - 1,
        )
        if f["end_utc"] - f["start_utc"] > dt.timedelta(minutes=45)
    )
    sites = busy_world.territory.service_points.filter(
        pl.col("transformer_code") == fault["transformer_code"]
    )["service_point_number"]
    stats = pl.concat([busy_world.day(d).comm_stats for d in ALL_DAYS])
    serials = [
        busy_world.reported_serial[
            int(busy_world.inst_meter[busy_world.inst_site == busy_world.site_index(sp)][0])
        ]
        for sp in sites.to_list()
    ]
    events = _events(busy_world, ALL_DAYS).filter(pl.col("serial_number").is_in(serials))
    restored = events.filter(pl.col("cim_event_type") == EVENT_BY_NAME["power_restored"].code)
    lost = events.filter(pl.col("cim_event_type") == EVENT_BY_NAME["power_loss"].code)
    gasps = events.filter(pl.col("cim_event_type") == EVENT_BY_NAME["last_gasp"].code)
    at_start = lost.filter(pl.col("event_time_utc") == fault["start_utc"])
    assert at_start.height >= len(serials) - 2  # a dead radio or pulled meter stays quiet
    assert gasps.filter(pl.col("event_time_utc") >= fault["start_utc"]).height > 0
    assert restored.filter(pl.col("event_time_utc") >= fault["end_utc"]).height >= 1
    inside = _reads(busy_world, ALL_DAYS, serials).filter(
        (pl.col("interval_start_utc") >= fault["start_utc"])
        & (pl.col("interval_start_utc") < fault["end_utc"] - dt.timedelta(minutes=15))
    )
    assert inside.height > 0
    assert inside["value"].max() == 0.0
    assert (inside["quality_flags"] & 8 == 8).all()
    assert stats.height > 0


def test_theft_drops_the_registered_consumption_and_only_some_leave_tamper_events(
    busy_world: World,
) -> None:
    thefts = _faults(
        busy_world, FaultKind.THEFT_BYPASS, starting_after_day=1, starting_before_day=BUSY_DAYS - 2
    )
    ratios = []
    for fault in thefts:
        serial = _reported(busy_world, fault["meter_serial"])
        reads = _reads(busy_world, ALL_DAYS, [serial])
        before = reads.filter(pl.col("interval_start_utc") < fault["start_utc"])
        after = reads.filter(pl.col("interval_start_utc") >= fault["start_utc"])
        if before.height > 96 and after.height > 96:
            ratios.append(
                (
                    after["value"].mean() / before["value"].mean(),
                    fault["parameters"]["registered_share"],
                )
            )
    assert len(ratios) >= 3
    measured = np.array([r for r, _ in ratios])
    configured = np.array([s for _, s in ratios])
    assert np.mean(measured) < 0.75
    assert np.corrcoef(measured, configured)[0, 1] > 0.3
    tamper_codes = [
        EVENT_BY_NAME[n].code for n in ("cover_removed", "magnetic_tamper", "tilt_tamper")
    ]
    events = _events(busy_world, ALL_DAYS).filter(pl.col("cim_event_type").is_in(tamper_codes))
    for fault in thefts:
        serial = _reported(busy_world, fault["meter_serial"])
        expected = fault["parameters"]["tamper_event"] is not None
        assert (events.filter(pl.col("serial_number") == serial).height > 0) == expected


def test_a_stopped_register_reads_zero_on_an_occupied_premise_while_it_keeps_talking(
    busy_world: World,
) -> None:
    fault = _faults(busy_world, FaultKind.STOPPED_REGISTER, starting_before_day=2)[0]
    serial = _reported(busy_world, fault["meter_serial"])
    after = _reads(busy_world, range(2, BUSY_DAYS), [serial])
    assert after.height >= 3 * 96
    assert after["value"].max() == 0.0
    accounts = fleet_frames(busy_world, as_of=busy_world.date_of(BUSY_DAYS))["accounts"]
    mine = accounts.filter(pl.col("service_point_number") == fault["service_point_number"])
    assert mine.filter(pl.col("move_out_date").is_null()).height == 1


def test_a_vacant_premise_reads_zero_and_has_no_open_account(busy_world: World) -> None:
    vacancy = next(
        v
        for v in _faults(busy_world, FaultKind.VACANT_PREMISE)
        if v["end_utc"] > busy_world.day(BUSY_DAYS - 1).start_utc + dt.timedelta(days=1)
        and v["start_utc"] < busy_world.day(0).start_utc
    )
    site = busy_world.site_index(vacancy["service_point_number"])
    if busy_world.customers.solar_kw[site] > 0:
        pytest.skip("a vacant solar home still exports")
    serial = busy_world.reported_serial[int(busy_world.inst_meter[busy_world.inst_site == site][0])]
    assert _reads(busy_world, ALL_DAYS, [serial])["value"].max() == 0.0
    accounts = fleet_frames(busy_world, as_of=busy_world.date_of(0))["accounts"]
    open_accounts = accounts.filter(
        (pl.col("service_point_number") == vacancy["service_point_number"])
        & pl.col("move_out_date").is_null()
    )
    assert open_accounts.height == 0


def test_a_hot_socket_raises_temperature_alarms_and_then_the_meter_fails(
    busy_world: World,
) -> None:
    horizon = range(busy_world.scenario.horizon_days)
    events = _events(busy_world, horizon)
    high = EVENT_BY_NAME["high_temperature"].code
    last = busy_world.day(horizon[-1]).start_utc
    failed = [
        f
        for f in _faults(busy_world, FaultKind.HOT_SOCKET)
        if dt.datetime.fromisoformat(f["parameters"]["failure_utc"]) < last
        and f["start_utc"] >= busy_world.day(0).start_utc
    ]
    assert failed
    for fault in failed:
        serial = _reported(busy_world, fault["meter_serial"])
        failure = dt.datetime.fromisoformat(fault["parameters"]["failure_utc"])
        mine = events.filter(pl.col("serial_number") == serial)
        assert (
            mine.filter(
                (pl.col("cim_event_type") == EVENT_BY_NAME["power_failed"].code)
                & (pl.col("event_time_utc") == failure)
            ).height
            == 1
        )
        reads = _reads(busy_world, horizon, [serial])
        assert reads.filter(pl.col("interval_start_utc") >= failure).height == 0
        alarms = mine.filter(pl.col("cim_event_type") == high)
        assert alarms.height == 0 or alarms["event_time_utc"].max() < failure
    alarms_total = events.filter(pl.col("cim_event_type") == high)
    assert alarms_total.height >= len(failed)


def test_a_drifting_clock_raises_clock_errors_with_its_offset(busy_world: World) -> None:
    errors = _events(busy_world, ALL_DAYS).filter(
        pl.col("cim_event_type") == EVENT_BY_NAME["clock_error"].code
    )
    drifting = {
        _reported(busy_world, f["meter_serial"]): f["parameters"]["drift_s_per_day"]
        for f in _faults(busy_world, FaultKind.CLOCK_DRIFT)
    }
    assert set(errors["serial_number"].to_list()) <= set(drifting)
    for row in errors.head(10).to_dicts():
        offset = json.loads(row["details"])["offset_s"]
        assert np.sign(offset) == np.sign(drifting[row["serial_number"]])
        assert abs(offset) > 60


def test_the_misprogrammed_cohort_puts_the_evening_shoulder_into_on_peak(
    busy_world: World,
) -> None:
    cohort = {
        _reported(busy_world, f["meter_serial"])
        for f in _faults(busy_world, FaultKind.TOU_MISPROGRAM)
    }
    assert cohort
    meters = fleet_frames(busy_world, as_of=busy_world.date_of(0))["meters"]
    wrong = meters.filter(pl.col("program_code") == "RES-TOU-2024B")
    assert set(wrong["firmware_revision"].unique().to_list()) == {"4.2.17"}
    first, last = busy_world.day(0).register_reads, busy_world.day(BUSY_DAYS - 1).register_reads
    on = (pl.col("channel") == "kwh_delivered") & (pl.col("tou_period") == "on_peak")
    total = (pl.col("channel") == "kwh_delivered") & pl.col("tou_period").is_null()

    def on_share(serials: set[str]) -> float:
        def advance(condition: pl.Expr) -> float:
            a = first.filter(condition & pl.col("serial_number").is_in(serials))
            b = last.filter(condition & pl.col("serial_number").is_in(serials))
            joined = a.join(b, on="serial_number")
            return float((joined["value_right"] - joined["value"]).clip(0, 500).sum())

        return advance(on) / advance(total)

    correct = set(meters.filter(pl.col("program_code") == "RES-TOU-2024")["serial_number"])
    assert on_share(cohort) > on_share(correct) + 0.05


def test_a_wrong_multiplier_is_in_the_back_office_only(busy_world: World) -> None:
    meters = fleet_frames(busy_world, as_of=busy_world.date_of(0))["meters"]
    for fault in _faults(busy_world, FaultKind.WRONG_MULTIPLIER):
        row = meters.filter(pl.col("serial_number") == fault["meter_serial"]).row(0, named=True)
        true_ratio = busy_world.territory.sites.ct_ratio[
            busy_world.site_index(row["service_point_number"])
        ]
        assert row["ct_ratio"] == pytest.approx(fault["parameters"]["recorded_ct_ratio"])
        assert row["ct_ratio"] != pytest.approx(true_ratio)
        assert row["multiplier"] == pytest.approx(row["ct_ratio"] * row["pt_ratio"])


def test_a_reversed_ct_registers_about_a_third_and_reports_reverse_energy(
    busy_world: World,
) -> None:
    fault = _faults(busy_world, FaultKind.CT_POLARITY_REVERSED)[0]
    share = fault["parameters"]["phase_share"]
    serial = _reported(busy_world, fault["meter_serial"])
    site = busy_world.site_index(fault["service_point_number"])
    quiet = World(busy_world.scenario.replace(faults=NO_FAULTS), keep_days=2)
    normal = _reads(quiet, range(2), [quiet.reported_serial[site]])["value"].sum()
    reversed_ = _reads(busy_world, range(2), [serial])["value"].sum()
    assert reversed_ / normal == pytest.approx(1 - 2 * share, abs=0.12)
    events = _events(busy_world, ALL_DAYS).filter(
        (pl.col("serial_number") == serial)
        & (pl.col("cim_event_type") == EVENT_BY_NAME["reverse_energy"].code)
    )
    assert events.height >= 1


def test_crossed_meters_measure_each_others_customer(busy_world: World) -> None:
    crossed = _faults(busy_world, FaultKind.CROSSED_METERS)
    a = crossed[0]
    b = next(f for f in crossed if f["meter_serial"] == a["parameters"]["partner_meter_serial"])
    assert b["parameters"]["partner_meter_serial"] == a["meter_serial"]
    assert a["parameters"]["partner_meter_serial"] == b["meter_serial"]
    # The ground truth names the service point where each meter really is.
    assert a["parameters"]["installed_at_service_point"] == a["service_point_number"]
    assert a["parameters"]["back_office_service_point"] == b["service_point_number"]
    meters = fleet_frames(busy_world, as_of=busy_world.date_of(0))["meters"]
    recorded = meters.filter(pl.col("serial_number") == a["meter_serial"])
    assert recorded["service_point_number"][0] == b["service_point_number"]
    # Meter a carries the load of b's customer: compare with a world without faults.
    quiet = World(busy_world.scenario.replace(faults=NO_FAULTS), keep_days=1)
    site_b = busy_world.site_index(a["service_point_number"])
    b_alone = _reads(quiet, range(1), [quiet.reported_serial[site_b]])
    a_crossed = _reads(busy_world, range(1), [_reported(busy_world, a["meter_serial"])])
    assert a_crossed["value"].sum() == pytest.approx(b_alone["value"].sum(), rel=0.35)


def test_an_unknown_serial_reports_while_the_recorded_meter_never_does(
    busy_world: World,
) -> None:
    fault = _faults(busy_world, FaultKind.UNKNOWN_SERIAL)[0]
    reported = fault["parameters"]["reported_serial"]
    meters = fleet_frames(busy_world, as_of=busy_world.date_of(0))["meters"]
    assert reported not in set(meters["serial_number"].to_list())
    assert fault["meter_serial"] in set(meters["serial_number"].to_list())
    reads = busy_world.day(0).interval_reads["serial_number"]
    assert (reads == reported).any()
    assert not (reads == fault["meter_serial"]).any()


def test_a_weak_path_loses_rssi_day_after_day(busy_world: World) -> None:
    fault = next(
        f
        for f in _faults(busy_world, FaultKind.WEAK_MESH_PATH, starting_before_day=1)
        if f["parameters"]["degradation_db_per_day"] > 1.0
    )
    serial = _reported(busy_world, fault["meter_serial"])
    rssi = [
        busy_world.day(d).comm_stats.filter(pl.col("serial_number") == serial)["rssi_dbm"][0]
        for d in range(BUSY_DAYS)
    ]
    heard = [r for r in rssi if r is not None]
    assert len(heard) >= 2
    slope = np.polyfit(np.arange(len(heard)), heard, 1)[0]
    assert slope < -0.3


def test_a_pulled_meter_reports_its_removal_and_goes_silent(busy_world: World) -> None:
    fault = _faults(busy_world, FaultKind.METER_REMOVED, starting_before_day=BUSY_DAYS - 1)[0]
    serial = _reported(busy_world, fault["meter_serial"])
    events = _events(busy_world, ALL_DAYS).filter(pl.col("serial_number") == serial)
    removed = events.filter(pl.col("cim_event_type") == EVENT_BY_NAME["meter_removed"].code)
    assert removed["event_time_utc"].to_list() == [fault["start_utc"]]
    reads = _reads(busy_world, ALL_DAYS, [serial])
    assert reads.filter(pl.col("interval_start_utc") >= fault["start_utc"]).height == 0


def test_tamper_without_theft_raises_tamper_events_but_keeps_the_consumption(
    busy_world: World,
) -> None:
    faults = _faults(
        busy_world,
        FaultKind.TAMPER_WITHOUT_THEFT,
        starting_after_day=1,
        starting_before_day=BUSY_DAYS - 1,
    )
    assert faults
    events = _events(busy_world, ALL_DAYS)
    quiet = World(busy_world.scenario.replace(faults=NO_FAULTS), keep_days=BUSY_DAYS)
    for fault in faults[:5]:
        serial = _reported(busy_world, fault["meter_serial"])
        code = EVENT_BY_NAME[fault["parameters"]["tamper_event"]].code
        mine = events.filter(
            (pl.col("serial_number") == serial) & (pl.col("cim_event_type") == code)
        )
        assert mine.height >= 1
        assert mine["event_time_utc"].min() >= fault["start_utc"]
        site = busy_world.site_index(fault["service_point_number"])
        untouched = _reads(quiet, ALL_DAYS, [quiet.reported_serial[site]])["value"].sum()
        tampered = _reads(busy_world, ALL_DAYS, [serial])["value"].sum()
        assert tampered == pytest.approx(untouched, rel=0.25)


def test_crossed_meters_are_neighbours_when_the_geometry_is_known(
    busy_world: World,
) -> None:
    world = busy_world
    sites = world.territory.sites
    facts = dataclasses.replace(
        world.facts,
        site_x_m=sites.x_m,
        site_y_m=sites.y_m,
    )
    rates = dataclasses.replace(BUSY_RATES, crossed_pairs_per_1000=40.0)
    faults = draw_faults(facts, rates, stream(world.scenario.seed, Stream.FAULTS))
    rows = faults.rows(FaultKind.CROSSED_METERS)
    a, b = faults.meter[rows], faults.partner[rows]
    assert a.size >= 10
    assert (faults.site[rows] == b).all()
    assert np.hypot(sites.x_m[a] - sites.x_m[b], sites.y_m[a] - sites.y_m[b]).max() <= (
        CROSSED_RADIUS_M
    )
    # neighbours mostly share a transformer, but a street's transformer boundary does not stop
    # an installer: some pairs straddle one (only those show in transformer outages)
    same = sites.transformer[a] == sites.transformer[b]
    assert same.any()
    assert not same.all()
    assert len(set(a.tolist())) == a.size  # a meter is crossed once at most
    assert facts.swappable[a].all()
    again = draw_faults(facts, rates, stream(world.scenario.seed, Stream.FAULTS))
    assert (again.meter == faults.meter).all()  # seeded
    # without geometry the pairs are numbering neighbours (as before)
    plain = draw_faults(
        dataclasses.replace(facts, site_x_m=None),
        rates,
        stream(world.scenario.seed, Stream.FAULTS),
    )
    rows = plain.rows(FaultKind.CROSSED_METERS)
    assert (np.abs(plain.meter[rows] - plain.partner[rows]) == 1).all()
