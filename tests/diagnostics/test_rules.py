"""Verdict rules: data, a fallback for every kind, look-alikes told apart by their facts."""

from __future__ import annotations

import json

import polars as pl
import pytest

from meterops.diagnostics.facts import FACT_NAMES
from meterops.diagnostics.kinds import ActionKind, Cause, ExceptionKind
from meterops.diagnostics.rules import (
    OPERATORS,
    RULES,
    SHORT_SILENCE_HOURS,
    diagnose,
    evaluate,
)
from meterops.workorders.types import ORDER_TYPES, WorkOrderType


def test_every_kind_ends_with_a_rule_without_conditions() -> None:
    for kind in ExceptionKind:
        rules = [rule for rule in RULES if rule.kind is kind]
        assert rules, kind
        assert rules[-1].when == (), kind


def test_rules_use_known_facts_operators_and_field_rules_name_an_order_type() -> None:
    ids = [rule.rule_id for rule in RULES]
    assert len(ids) == len(set(ids))
    for rule in RULES:
        for condition in rule.when:
            assert condition.fact in FACT_NAMES, rule.rule_id
            assert condition.op in OPERATORS, rule.rule_id
        assert set(rule.facts) <= set(FACT_NAMES), rule.rule_id
        assert (rule.action is ActionKind.FIELD) == (rule.order_type is not None), rule.rule_id
        if rule.subject == "collector":
            assert rule.order_type is not None
            assert ORDER_TYPES[rule.order_type].subject.value == "collector", rule.rule_id
        if rule.action is ActionKind.REMOTE:
            assert rule.remote_command, rule.rule_id


SILENT = {"mode": "silent", "silent_hours": 30.0, "never_reported": False, "rssi_change_db": -0.5}


@pytest.mark.parametrize(
    ("kind", "facts", "cause"),
    [
        # A collector outage is not many radio failures.
        (
            ExceptionKind.NON_COMMUNICATING,
            {**SILENT, "collector_silent_share": 0.9, "collector_meters": 200},
            Cause.COLLECTOR_DOWN,
        ),
        (
            ExceptionKind.NON_COMMUNICATING,
            {**SILENT, "collector_silent_share": 0.01, "collector_meters": 200},
            Cause.RADIO_MODULE_FAILURE,
        ),
        (
            ExceptionKind.NON_COMMUNICATING,
            {**SILENT, "collector_down": True, "silent_before_collector_down": False},
            Cause.COLLECTOR_DOWN,
        ),
        # A radio silent for days before its collector went down is still a radio failure.
        (
            ExceptionKind.NON_COMMUNICATING,
            {**SILENT, "collector_down": True, "silent_before_collector_down": True},
            Cause.RADIO_MODULE_FAILURE,
        ),
        (
            ExceptionKind.NON_COMMUNICATING,
            {**SILENT, "rssi_fade_db": 9.0, "rssi_trend_t": -8.0, "collector_fading_share": 0.0},
            Cause.WEAK_MESH_PATH,
        ),
        (
            ExceptionKind.NON_COMMUNICATING,
            {"mode": "intermittent", "rssi_fade_db": 6.0, "rssi_trend_t": -5.0},
            Cause.WEAK_MESH_PATH,
        ),
        # Two single reports 9 dB apart over a flat fitted trend is scatter, not a fade.
        (
            ExceptionKind.NON_COMMUNICATING,
            {
                **SILENT,
                "rssi_change_db": -9.0,
                "rssi_fade_db": 0.8,
                "rssi_trend_t": -0.6,
                "comm_failure_events": 3,
            },
            Cause.RADIO_MODULE_FAILURE,
        ),
        (
            ExceptionKind.NON_COMMUNICATING,
            {"mode": "intermittent", "rssi_change_db": -5.0, "rssi_fade_db": 1.0},
            Cause.UNDETERMINED,
        ),
        # Too few reads over a healthy signal is not a weak path: read it remotely first.
        (
            ExceptionKind.NON_COMMUNICATING,
            {"mode": "intermittent", "rssi_change_db": 0.5, "rssi_dbm": -70.0},
            Cause.UNDETERMINED,
        ),
        (
            ExceptionKind.NON_COMMUNICATING,
            {**SILENT, "meter_removed_events": 1, "outage_after_last_read": True},
            Cause.METER_REMOVED,
        ),
        (
            ExceptionKind.NON_COMMUNICATING,
            {
                **SILENT,
                "never_reported": True,
                "comm_stats_days": 0,
                "comm_failure_events": 0,
                "unknown_serials_reported": 3,
            },
            Cause.UNPROVISIONED_METER,
        ),
        # A vacant premise is not a stopped register.
        (
            ExceptionKind.ZERO_CONSUMPTION,
            {"prior_kwh_per_day": 25.0, "kwh_received": 0.0},
            Cause.STOPPED_REGISTER,
        ),
        (
            ExceptionKind.ZERO_CONSUMPTION,
            {"prior_kwh_per_day": None, "kwh_received": 35.0},
            Cause.VACANT_PREMISE,
        ),
        (
            ExceptionKind.NON_COMMUNICATING,
            {**SILENT, "rssi_change_db": None, "comm_failure_events": 12},
            Cause.RADIO_MODULE_FAILURE,
        ),
        (ExceptionKind.TAMPER, {"usage_ratio_since_tamper": 0.3}, Cause.BYPASS_THEFT),
        (ExceptionKind.TAMPER, {"usage_ratio_since_tamper": 1.02}, Cause.TAMPER),
        (ExceptionKind.REVERSE_ENERGY, {"transformer_rated": True}, Cause.CT_POLARITY),
        (ExceptionKind.SUSPECT_READS, {"clock_error_days": 5}, Cause.CLOCK_ERROR),
        (ExceptionKind.HIGH_BILL, {"basis": "tou_on_peak_share"}, Cause.TOU_MISPROGRAM),
        # A heavy on-peak customer on a program that bins right is not a TOU misprogram.
        (
            ExceptionKind.HIGH_BILL,
            {"basis": "tou_on_peak_share", "program_tou_share": 0.01, "program_tou_flagged": 22},
            Cause.CUSTOMER_USAGE,
        ),
        (
            ExceptionKind.HIGH_BILL,
            {"basis": "tou_on_peak_share", "program_tou_share": 0.8, "program_tou_flagged": 330},
            Cause.TOU_MISPROGRAM,
        ),
        (
            ExceptionKind.HIGH_BILL,
            {"basis": "tou_on_peak_share", "program_mismatch": True, "program_tou_share": 0.01},
            Cause.TOU_MISPROGRAM,
        ),
        (ExceptionKind.HIGH_BILL, {"basis": "usage"}, Cause.CUSTOMER_USAGE),
        # A radio the head-end logs as failing is not an unknown serial.
        (
            ExceptionKind.NON_COMMUNICATING,
            {
                **SILENT,
                "never_reported": True,
                "comm_stats_days": 21,
                "comm_failure_events": 21,
                "unknown_serials_reported": 3,
            },
            Cause.RADIO_MODULE_FAILURE,
        ),
    ],
)
def test_the_first_rule_that_holds_names_the_cause(
    kind: ExceptionKind, facts: dict[str, object], cause: Cause
) -> None:
    rule, _ = evaluate(kind, facts)
    assert rule.cause is cause


def test_a_null_fact_never_satisfies_a_condition() -> None:
    rule, why = evaluate(ExceptionKind.TAMPER, {"usage_ratio_since_tamper": None})
    assert rule.cause is Cause.TAMPER
    assert why == []


def test_diagnose_gives_each_exception_its_verdict_with_the_evidence() -> None:
    exceptions = pl.DataFrame(
        {
            "meter_id": [1, 2],
            "kind": ["reverse_energy", "hot_socket"],
            "evidence": [json.dumps({"events": 3}), json.dumps({"events": 1})],
        }
    )
    facts = pl.DataFrame(
        {"meter_id": [1, 2], "transformer_rated": [True, False], "reverse_events": [3, 0]}
    )
    out = diagnose(exceptions, facts)
    assert out["cause"].to_list() == ["ct_polarity", "hot_socket"]
    assert out["order_type"].to_list() == [
        WorkOrderType.CT_SITE_CHECK.value,
        WorkOrderType.HOT_SOCKET_INSPECTION.value,
    ]
    first = json.loads(out["verdict_evidence"][0])
    assert first["conditions"] == ["transformer_rated = True (== True)"]
    assert first["facts"] == {"transformer_rated": True, "reverse_events": 3}
    assert first["detector"] == {"events": 3}
    assert "Because transformer_rated = True" in out["summary"][0]


SHORT_QUIET = {**SILENT, "silent_hours": 26.0, "comm_failure_events": 0, "rssi_dbm": -81.0}


def test_a_short_silence_with_the_one_failure_of_a_dropped_day_gets_a_remote_read() -> None:
    # the head-end logs one comm failure for each day without reads, whatever the cause: a
    # day dropped on a long mesh path looks like this as much as a radio that just failed
    rule, why = evaluate(ExceptionKind.NON_COMMUNICATING, {**SHORT_QUIET, "comm_failure_events": 1})
    assert rule.rule_id == "non_communicating.short_silence"
    assert rule.remote_command == "read_on_demand"
    assert "comm_failure_events = 1 (<= 1)" in why


def test_a_short_silence_with_nothing_logged_gets_a_remote_read_not_a_truck() -> None:
    rule, why = evaluate(ExceptionKind.NON_COMMUNICATING, SHORT_QUIET)
    assert rule.rule_id == "non_communicating.short_silence"
    assert rule.cause is Cause.UNDETERMINED
    assert rule.action is ActionKind.REMOTE
    assert rule.remote_command == "read_on_demand"
    assert rule.order_type is None
    assert f"silent_hours = 26.0 (<= {SHORT_SILENCE_HOURS})" in why
    assert "comm_failure_events = 0 (<= 1)" in why


@pytest.mark.parametrize(
    "facts",
    [
        # Silent beyond the threshold with nothing logged: the radio-module visit stays.
        {**SHORT_QUIET, "silent_hours": SHORT_SILENCE_HOURS + 1.0},
        {**SHORT_QUIET, "silent_hours": 30 * 24.0},
        # The head-end logged more than the one failure of a day without reads.
        {**SHORT_QUIET, "comm_failure_events": 2},
        {**SHORT_QUIET, "silent_hours": 6.0, "comm_failure_events": 4},
    ],
)
def test_a_long_silence_or_a_logged_comm_failure_still_sends_the_radio_visit(
    facts: dict[str, object],
) -> None:
    rule, _ = evaluate(ExceptionKind.NON_COMMUNICATING, facts)
    assert rule.cause is Cause.RADIO_MODULE_FAILURE
    assert rule.action is ActionKind.FIELD
    assert rule.order_type is WorkOrderType.RADIO_MODULE_REPLACEMENT


def test_a_short_silence_over_a_fading_signal_is_still_a_weak_mesh_path() -> None:
    fading = {
        **SHORT_QUIET,
        "rssi_change_db": -9.0,
        "rssi_fade_db": 9.5,
        "rssi_trend_t": -7.0,
        "collector_fading_share": 0.01,
    }
    rule, _ = evaluate(ExceptionKind.NON_COMMUNICATING, fading)
    assert rule.cause is Cause.WEAK_MESH_PATH


def test_diagnose_shows_the_silence_and_the_signal_of_a_short_silence() -> None:
    exceptions = pl.DataFrame(
        {"meter_id": [7], "kind": ["non_communicating"], "evidence": [json.dumps({})]}
    )
    facts = pl.DataFrame({"meter_id": [7], **{k: [v] for k, v in SHORT_QUIET.items()}})
    out = diagnose(exceptions, facts)
    assert out["action"].to_list() == ["remote"]
    assert out["remote_command"].to_list() == ["read_on_demand"]
    shown = json.loads(out["verdict_evidence"][0])["facts"]
    assert shown["silent_hours"] == 26.0
    assert shown["comm_failure_events"] == 0
    assert shown["rssi_dbm"] == -81.0
    assert "Read it on demand before a visit" in out["summary"][0]
