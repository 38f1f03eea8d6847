"""Safety checklist and exchange checks (pure)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meterops.errors import InvalidInputError
from meterops.field.checklist import (
    RANGE_B,
    ExchangeFacts,
    NewMeterFacts,
    check_exchange,
    checklist_for,
    evaluate_safety,
)

PASSING = {"socket_condition": "pass", "jaws_and_lugs": "pass", "no_heat_damage": "pass"}


@pytest.mark.parametrize(
    ("service", "volts", "codes"),
    [
        ("1ph_2w", 120, ["voltage_line_to_neutral"]),
        ("1ph_3w", 240, ["voltage_line_to_line", "voltage_line_to_neutral"]),
        ("3ph_3w_delta", 480, ["voltage_line_to_line"]),
        ("3ph_4w_wye", 208, ["voltage_line_to_line", "voltage_line_to_neutral"]),
    ],
)
def test_voltage_checks_follow_the_service(service: str, volts: int, codes: list[str]) -> None:
    items = checklist_for(service, volts)
    assert [i.code for i in items if i.kind == "volts"] == codes


def test_a_lost_neutral_fails_the_line_to_neutral_check() -> None:
    items = checklist_for("1ph_3w", 240)
    outcome = evaluate_safety(
        {**PASSING, "voltage_line_to_line": 240, "voltage_line_to_neutral": 155}, items
    )
    assert not outcome.passed
    assert [code for code, _ in outcome.failures] == ["voltage_line_to_neutral"]


def test_a_burn_mark_fails_and_a_missing_answer_names_the_field() -> None:
    items = checklist_for(None, None)
    assert not evaluate_safety({**PASSING, "no_heat_damage": "fail"}, items).passed
    with pytest.raises(InvalidInputError, match=r"payload\.items\.jaws_and_lugs: missing"):
        evaluate_safety({"socket_condition": "pass", "no_heat_damage": "pass"}, items)
    with pytest.raises(InvalidInputError, match=r"payload\.items\.voltage_line_to_line"):
        evaluate_safety({**PASSING, "voltage_line_to_line": "high"}, checklist_for("1ph_3w", 240))


@given(volts=st.floats(0, 600, allow_nan=False))
def test_a_voltage_passes_exactly_inside_range_b(volts: float) -> None:
    items = checklist_for("1ph_2w", 120)
    outcome = evaluate_safety({**PASSING, "voltage_line_to_neutral": volts}, items)
    low, high = 120 * (1 + RANGE_B[0]), 120 * (1 + RANGE_B[1])
    inside = round(low, 1) <= volts <= round(high, 1)
    assert outcome.passed is inside


def facts(**overrides: object) -> ExchangeFacts:
    base: dict[str, object] = {
        "order_meter_serial": "OLD",
        "compatible_forms": ("2S",),
        "truck_stock": {"meter:2S": 2},
        "old_install_read_kwh": 100.0,
        "old_register_digits": 5,
        "old_register_decimals": 0,
        "old_days_installed": 30.0,
        "old_max_kwh_per_day": 1152.0,
        "new_meter": NewMeterFacts("NEW", "2S", "in_stock", None, 5),
    }
    base.update(overrides)
    return ExchangeFacts(**base)  # type: ignore[arg-type]


def codes(found: ExchangeFacts, **payload: object) -> list[tuple[str, str]]:
    args: dict[str, object] = {
        "old_serial": "OLD",
        "old_final_read_kwh": 1500.0,
        "new_serial": "NEW",
        "new_initial_read_kwh": 0.0,
        **payload,
    }
    return [(p.field, p.code) for p in check_exchange(facts=found, **args)]  # type: ignore[arg-type]


def test_a_good_exchange_has_no_problem() -> None:
    assert codes(facts()) == []


def test_each_rule_names_its_field() -> None:
    assert codes(facts(), old_serial="OTHER") == [("payload.old_serial", "field.wrong_meter")]
    assert codes(facts(new_meter=None)) == [("payload.new_serial", "field.unknown_meter")]
    assert codes(facts(new_meter=NewMeterFacts("NEW", "12S", "in_stock", None, 5))) == [
        ("payload.new_serial", "field.form_mismatch"),
        ("payload.new_serial", "field.not_on_truck"),
    ]
    assert codes(facts(truck_stock={"meter:2S": 0})) == [
        ("payload.new_serial", "field.not_on_truck")
    ]
    assert codes(facts(truck_stock=None)) == []  # stock not tracked for this technician
    assert codes(facts(new_meter=NewMeterFacts("NEW", "2S", "installed", "SP9", 5))) == [
        ("payload.new_serial", "field.meter_installed")
    ]
    assert codes(facts(), old_final_read_kwh=None, new_initial_read_kwh=None) == [
        ("payload.old_final_read_kwh", "field.read_required"),
        ("payload.new_initial_read_kwh", "field.read_required"),
    ]


def test_implausible_reads_are_refused() -> None:
    # 60 000 kWh in 30 days is more than a CL200 meter at 240 V can register.
    assert codes(facts(), old_final_read_kwh=60_100.0) == [
        ("payload.old_final_read_kwh", "field.read_implausible")
    ]
    [(field, _)] = codes(facts(), old_final_read_kwh=50.0)  # below the install read of 100
    assert field == "payload.old_final_read_kwh"
    assert codes(facts(), new_initial_read_kwh=123_456.0)[0] == (
        "payload.new_initial_read_kwh",
        "register.out_of_range",
    )
