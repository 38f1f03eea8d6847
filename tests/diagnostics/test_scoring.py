"""When a simulated fault counts for recall: the visibility rules of ``diagnostics.scoring``."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from meterops.diagnostics.scoring import (
    VERDICT_COLUMNS,
    VISIT_NEEDS,
    collectors_down,
    confusion_matrix,
    evaluate_verdicts,
    read_truth,
    truth_pairs,
    visits_judged,
)
from meterops.errors import ValidationReportError
from meterops.workorders.types import WorkOrderType

START = dt.datetime(2026, 7, 1, 5, tzinfo=dt.UTC)
AS_OF = START + dt.timedelta(days=21, hours=6)


def _at(days: float) -> str:
    return (START + dt.timedelta(days=days)).isoformat()


def _pairs(*faults: dict[str, Any], detectable_only: bool = True) -> set[tuple[str, str]]:
    frame = truth_pairs(
        faults, window_start_utc=START, as_of_utc=AS_OF, detectable_only=detectable_only
    )
    return set(frame.iter_rows())


def _theft(serial: str, start_days: float, tamper: str | None) -> dict[str, Any]:
    return {
        "kind": "theft_bypass",
        "meter_serial": serial,
        "start_utc": _at(start_days),
        "end_utc": None,
        "parameters": {"registered_share": 0.3, "tamper_event": tamper},
    }


def test_a_bare_bypass_counts_once_it_has_a_baseline_before_it_and_held() -> None:
    found = _pairs(
        _theft("early", 3.0, None),  # no 7-day baseline inside the window
        _theft("ok", 10.0, None),
        _theft("young", 19.0, None),  # under 4 days old at the run
        _theft("tampered", 19.0, "cover_removed"),  # its events show it at once
    )
    assert found == {("ok", "bypass_theft"), ("tampered", "bypass_theft")}
    everything = _pairs(_theft("early", 3.0, None), detectable_only=False)
    assert everything == {("early", "bypass_theft")}  # present: a verdict on it is right


def test_a_crossed_pair_counts_once_one_of_its_premises_went_vacant() -> None:
    def crossed(serial: str, here: str, there: str) -> dict[str, Any]:
        return {
            "kind": "crossed_meters",
            "meter_serial": serial,
            "start_utc": _at(-400),
            "end_utc": None,
            "parameters": {
                "installed_at_service_point": here,
                "back_office_service_point": there,
            },
        }

    def vacant(point: str, start_days: float) -> dict[str, Any]:
        return {
            "kind": "vacant_premise",
            "meter_serial": "x",
            "service_point_number": point,
            "start_utc": _at(start_days),
            "end_utc": None,
        }

    pair = (crossed("a", "SP2", "SP1"), crossed("b", "SP1", "SP2"))
    assert _pairs(*pair) == set()
    assert _pairs(*pair, vacant("SP1", 12.0)) == {("a", "crossed_meters"), ("b", "crossed_meters")}
    assert _pairs(*pair, vacant("SP1", 20.5)) == set()  # too recent to show
    assert _pairs(*pair, vacant("SP9", 12.0)) == set()  # another premise


# -- evaluate: truth file, confusion matrix, visits ---------------------------------------------


_text = st.text(min_size=1, max_size=12)
_times = st.datetimes(min_value=dt.datetime(2020, 1, 1), max_value=dt.datetime(2030, 1, 1)).map(
    lambda d: d.replace(tzinfo=dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
)
_records = st.fixed_dictionaries(
    {
        "fault_id": st.integers(1, 10**6),
        "kind": _text,
        "meter_serial": st.none() | _text,
        "service_point_number": st.none() | _text,
        "start_utc": st.none() | _times,
        "end_utc": st.none() | _times,
        "parameters": st.dictionaries(_text, st.integers() | _text, max_size=3),
    }
)


@given(st.lists(_records, max_size=8))
def test_read_truth_gives_back_every_record_the_simulator_writes(records: list[Any]) -> None:
    text = "".join(json.dumps(r, sort_keys=True) + "\n" for r in records)
    assert read_truth(text, file="faults.jsonl") == records


def test_read_truth_locates_every_issue() -> None:
    good = {
        "kind": "radio_failure",
        "meter_serial": "1",
        "service_point_number": None,
        "start_utc": "2026-07-01T00:00:00Z",
        "end_utc": None,
        "parameters": {},
    }
    lines = [
        json.dumps(good),
        "",
        "[1, 2]",
        json.dumps({**good, "start_utc": "2026-07-01T00:00:00"}),
        json.dumps({**good, "kind": 3, "parameters": "x"}),
        "{oops",
        json.dumps({**good, "end_utc": "yesterday"}),
    ]
    with pytest.raises(ValidationReportError) as caught:
        read_truth("\n".join(lines), file="t.jsonl")
    said = [str(issue) for issue in caught.value.issues]
    assert said[0] == "t.jsonl, line 3: expected a JSON object"
    assert said[1].startswith("t.jsonl, line 4, field 'start_utc': '2026-07-01T00:00:00' is not")
    assert said[2] == "t.jsonl, line 5, field 'kind': 3 is not a str"
    assert said[3] == "t.jsonl, line 5, field 'parameters': 'x' is not a dict"
    assert said[4].startswith("t.jsonl, line 6: not JSON")
    assert said[5].startswith("t.jsonl, line 7, field 'end_utc': 'yesterday' is not an ISO")
    assert len(said) == 6


def _frame(rows: list[tuple[str, str]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={"serial_number": pl.String, "cause": pl.String}, orient="row")


def test_confusion_matrix_counts_misses_mixups_and_strays_but_not_young_faults() -> None:
    truth = _frame([("a", "tamper"), ("b", "hot_socket"), ("c", "tamper")])
    present = _frame([*truth.rows(), ("y", "stopped_register")])
    predicted = _frame([("a", "tamper"), ("b", "tamper"), ("z", "hot_socket"), ("y", "x")])
    got = confusion_matrix(predicted, truth, present=present).rows()
    assert got == [
        ("hot_socket", "tamper", 1),
        ("none", "hot_socket", 1),
        ("tamper", "none", 1),
        ("tamper", "tamper", 1),
    ]


def test_every_cause_a_field_rule_names_needs_a_visit_and_remote_causes_none() -> None:
    assert VISIT_NEEDS["radio_module_failure"] == {WorkOrderType.RADIO_MODULE_REPLACEMENT}
    assert VISIT_NEEDS["ct_polarity"] == {WorkOrderType.CT_SITE_CHECK}
    assert VISIT_NEEDS["tou_misprogram"] == frozenset()
    assert VISIT_NEEDS["crossed_meters"] == frozenset()


def _verdicts(*rows: tuple[str, str, str, str | None, bool]) -> pl.DataFrame:
    return pl.DataFrame(
        [(s, "k", c, a, o, r, "2S", "meter", "C-1") for s, c, a, o, r in rows],
        schema=VERDICT_COLUMNS,
        orient="row",
    )


def test_a_visit_is_right_when_it_brings_the_skill_and_parts_the_true_cause_needs() -> None:
    verdicts = _verdicts(
        ("radio", "radio_module_failure", "field", "radio_module_replacement", False),
        ("weak", "radio_module_failure", "field", "radio_module_replacement", False),
        ("ct", "stopped_register", "field", "exchange", True),
        ("nofault", "stopped_register", "field", "exchange", False),
        ("tou", "stopped_register", "field", "exchange", False),
        ("remote", "tou_misprogram", "remote", None, False),
    )
    present = _frame(
        [
            ("radio", "radio_module_failure"),
            ("weak", "weak_mesh_path"),
            ("ct", "stopped_register"),
            ("tou", "tou_misprogram"),
            ("remote", "tou_misprogram"),
        ]
    )
    visits = visits_judged(verdicts, present)
    assert dict(visits.select("serial_number", "right").iter_rows()) == {
        "radio": True,
        "weak": False,  # a radio to a weak path: the collector crew was needed
        "ct": True,
        "nofault": False,
        "tou": False,  # a push of the program was enough
    }
    ct = visits.row(by_predicate=pl.col("serial_number") == "ct", named=True)
    assert ct["skill"] == "ct_rated"
    assert ct["parts"] == "meter 2S; seals; locking ring"


def test_collector_work_is_one_visit_per_collector_right_when_it_is_down_or_paths_weak() -> None:
    rows = [
        (f"m{i}", "k", "collector_down", "field", "collector_work", False, "2S", "collector", c)
        for i, c in enumerate(["C-1", "C-1", "C-1", "C-2", "C-3"])
    ]
    verdicts = pl.DataFrame(rows, schema=VERDICT_COLUMNS, orient="row")
    present = _frame([("m3", "weak_mesh_path")])
    visits = visits_judged(verdicts, present, collectors_down=["C-1"])
    assert visits.height == 3
    assert visits["serial_number"].is_null().all()
    assert dict(visits.select("collector_code", "right").iter_rows()) == {
        "C-1": True,  # truly down
        "C-2": True,  # a weak path under it needs the collector crew
        "C-3": False,
    }
    faults = [
        {"kind": "collector_down", "collector_code": "C-1", "start_utc": _at(20), "end_utc": None},
        {"kind": "collector_down", "collector_code": "C-2", "start_utc": _at(1), "end_utc": _at(2)},
        {"kind": "radio_failure", "collector_code": None, "start_utc": _at(1), "end_utc": None},
    ]
    assert collectors_down(faults, as_of_utc=AS_OF) == {"C-1"}


def test_evaluate_verdicts_bundles_scores_matrix_and_shares() -> None:
    faults = [
        {
            "kind": "radio_failure",
            "meter_serial": "radio",
            "start_utc": _at(2),
            "end_utc": None,
            "parameters": {},
        },
        {
            "kind": "tou_misprogram",
            "meter_serial": "remote",
            "start_utc": _at(-30),
            "end_utc": None,
            "parameters": {},
        },
    ]
    verdicts = _verdicts(
        ("radio", "radio_module_failure", "field", "radio_module_replacement", False),
        ("remote", "tou_misprogram", "remote", None, False),
        ("other", "stopped_register", "field", "exchange", False),
        ("clock", "clock_error", "remote", None, False),
    )
    result = evaluate_verdicts(verdicts, faults, window_start_utc=START, as_of_utc=AS_OF)
    assert result.exceptions == 4
    assert result.field_verdicts == 2
    assert result.without_visit == 0.5
    assert result.right_visits == 0.5
    assert result.macro_f1 == 1.0  # stopped_register and clock_error: no truth, no F1
    data = result.to_dict()
    assert [v["serial_number"] for v in data["wrong_visits"]] == ["other"]
    assert json.loads(json.dumps(data)) == data
    empty = evaluate_verdicts(verdicts.head(0), [], window_start_utc=START, as_of_utc=AS_OF)
    assert (empty.macro_f1, empty.without_visit, empty.right_visits) == (None, None, None)


def test_a_meter_heard_under_an_unknown_serial_shows_no_other_fault_under_its_own() -> None:
    faults = [
        {"kind": "unknown_serial", "meter_serial": "m", "start_utc": _at(-10), "end_utc": None},
        {"kind": "clock_drift", "meter_serial": "m", "start_utc": _at(-5), "end_utc": None},
        {"kind": "clock_drift", "meter_serial": "n", "start_utc": _at(-5), "end_utc": None},
    ]
    assert _pairs(*faults) == {("m", "unprovisioned_meter"), ("n", "clock_error")}
    assert ("m", "clock_error") in _pairs(*faults, detectable_only=False)


def test_a_wrong_multiplier_counts_when_it_entered_at_an_exchange_with_a_week_each_side() -> None:
    def multiplier(serial: str, start_days: float, recorded_at: str | None) -> dict[str, Any]:
        parameters: dict[str, Any] = {"recorded_ct_ratio": 40.0}
        if recorded_at:
            parameters["recorded_at"] = recorded_at
        return {
            "kind": "wrong_multiplier",
            "meter_serial": serial,
            "start_utc": _at(start_days),
            "end_utc": None,
            "parameters": parameters,
        }

    faults = (
        multiplier("standing", -300.0, None),  # no trace in the data: never recalled
        multiplier("early", 5.0, "exchange"),  # under 8 days of the window before it
        multiplier("ok", 10.0, "exchange"),
        multiplier("young", 15.0, "exchange"),  # under 8 days after it at the run
    )
    assert _pairs(*faults) == {("ok", "wrong_multiplier")}
    everything = _pairs(*faults, detectable_only=False)
    assert {serial for serial, _ in everything} == {"standing", "early", "ok", "young"}
