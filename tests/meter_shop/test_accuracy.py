"""Accuracy core: registration, averages, class and tolerance boundaries, creep, register."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meterops.errors import InvalidInputError
from meterops.meter_shop.accuracy import (
    AVERAGE_FORMULAS,
    AccuracyParams,
    AccuracyTest,
    InServiceTolerance,
    PointResult,
    RegisterCheck,
    Stage,
    TestLocation,
    TestPoint,
    TestSet,
    TestSetCalibrationError,
    Verdict,
    currents_for_class,
    elements_for_form,
    evaluate_test,
    parse_formula,
    registration_from_pulses,
    registration_pct,
    weighted_average,
)

FL, LL, PF = TestPoint.FULL_LOAD, TestPoint.LIGHT_LOAD, TestPoint.POWER_FACTOR
AF, AL = Stage.AS_FOUND, Stage.AS_LEFT
TESTED = dt.datetime(2026, 6, 1, 15, 0, tzinfo=dt.UTC)
TEST_SET = TestSet("WECO-1", dt.date(2026, 1, 10), dt.date(2027, 1, 10), "WECO 2350")


def make_test(
    *rows: tuple[Stage, TestPoint, str, float],
    accuracy_class: str = "0.5",
    form: str = "2S",
    creep: int | None = None,
    register: RegisterCheck | None = None,
    tested: dt.datetime = TESTED,
    test_set: TestSet = TEST_SET,
) -> AccuracyTest:
    return AccuracyTest(
        meter_serial="M100",
        tested_at_utc=tested,
        test_set=test_set,
        location=TestLocation.FIELD,
        technician="tech7",
        form=form,
        current_class="CL200",
        accuracy_class=accuracy_class,
        results=tuple(PointResult(*row) for row in rows),
        creep_pulses=creep,
        register_check=register,
    )


def test_registration_is_meter_energy_over_reference_energy() -> None:
    assert registration_pct(meter_energy_wh=980.0, reference_energy_wh=1000.0) == 98.0
    # Kh 7.2 Wh, 100 pulses = 720 Wh against 725 Wh of the standard: 99.3103 %
    assert registration_from_pulses(
        kh_wh=7.2, pulses=100, reference_energy_wh=725.0
    ) == pytest.approx(99.310345, abs=1e-6)
    with pytest.raises(InvalidInputError):
        registration_pct(meter_energy_wh=1.0, reference_energy_wh=0.0)


def test_weighted_average_by_hand() -> None:
    regs = {FL: 101.0, LL: 96.0, PF: 100.0}
    assert weighted_average(regs) == pytest.approx((4 * 101 + 96) / 5)  # 100.0
    assert weighted_average(regs, AVERAGE_FORMULAS["mean_fl_ll"]) == pytest.approx(98.5)
    assert weighted_average(regs, AVERAGE_FORMULAS["polyphase"]) == pytest.approx(
        (4 * 101 + 2 * 96 + 100) / 7
    )
    assert weighted_average(regs, AVERAGE_FORMULAS["full_load"]) == 101.0


def test_a_formula_needing_power_factor_refuses_a_test_without_it() -> None:
    with pytest.raises(InvalidInputError, match="PF"):
        weighted_average({FL: 100.0, LL: 100.0}, AVERAGE_FORMULAS["polyphase"])


def test_formulas_parse_from_text_and_names() -> None:
    assert dict(parse_formula("4*FL + 2*LL + PF").weights) == {FL: 4, LL: 2, PF: 1}
    assert dict(parse_formula("(FL + LL) / 2").weights) == {FL: 1, LL: 1}
    assert parse_formula("weighted").text == "(4·FL + LL) / 5"
    with pytest.raises(InvalidInputError, match="term"):
        parse_formula("4*HL + LL")


def test_test_currents_follow_the_current_class() -> None:
    assert currents_for_class("CL20") == {FL: 2.5, LL: 0.25, PF: 2.5}


def test_elements_follow_the_form() -> None:
    assert elements_for_form("2S") == ()
    assert elements_for_form("12S") == ("A", "B")
    assert elements_for_form("6S") == ("A", "B", "C")
    with pytest.raises(InvalidInputError):
        elements_for_form("99S")


# Class boundaries: error exactly at the limit passes, a hair beyond fails.
@pytest.mark.parametrize(
    ("accuracy_class", "limit"), [("0.1", 0.1), ("0.2", 0.2), ("0.5", 0.5), ("1.0", 1.0)]
)
def test_each_accuracy_class_boundary(accuracy_class: str, limit: float) -> None:
    at = make_test(
        (AF, FL, "all", 100 + limit), (AF, LL, "all", 100 - limit), accuracy_class=accuracy_class
    )
    assert evaluate_test(at).verdict is Verdict.PASS
    beyond = make_test(
        (AF, FL, "all", 100 + limit + 0.01), (AF, LL, "all", 100.0), accuracy_class=accuracy_class
    )
    ev = evaluate_test(beyond)
    assert ev.verdict is Verdict.FAIL_CLASS
    assert [c.passed for c in ev.as_found.points] == [False, True]  # type: ignore[union-attr]


def test_c12_1_meters_allow_two_percent_at_half_power_factor() -> None:
    ok = make_test(
        (AF, FL, "all", 100.0), (AF, LL, "all", 100.0), (AF, PF, "all", 98.0), accuracy_class="1.0"
    )
    assert evaluate_test(ok).verdict is Verdict.PASS
    bad = make_test(
        (AF, FL, "all", 100.0), (AF, LL, "all", 100.0), (AF, PF, "all", 97.99), accuracy_class="1.0"
    )
    assert evaluate_test(bad).verdict is Verdict.FAIL_CLASS


@pytest.mark.parametrize(
    ("fl", "ll", "inside"),
    [
        (102.0, 102.0, True),  # average 102.0: on the limit
        (102.0, 102.05, False),  # average 102.01
        (98.0, 98.0, True),
        (97.5, 100.0, True),  # (390 + 100)/5 = 98.0
        (97.5, 99.9, False),  # 97.98
    ],
)
def test_in_service_tolerance_boundaries(fl: float, ll: float, inside: bool) -> None:
    ev = evaluate_test(make_test((AF, FL, "all", fl), (AF, LL, "all", ll), accuracy_class="1.0"))
    assert ev.as_found is not None
    assert ev.as_found.within_tolerance is inside
    assert (ev.verdict is Verdict.FAIL_IN_SERVICE) is (not inside)


def test_a_custom_tolerance_applies() -> None:
    params = AccuracyParams(tolerance=InServiceTolerance(99.0, 101.0))
    test = make_test((AF, FL, "all", 101.5), (AF, LL, "all", 100.0), accuracy_class="1.0")
    assert evaluate_test(test).verdict is Verdict.FAIL_CLASS
    assert evaluate_test(test, params=params).verdict is Verdict.FAIL_IN_SERVICE
    with pytest.raises(InvalidInputError):
        InServiceTolerance(101.0, 103.0)


def test_as_left_decides_the_class_after_adjustment() -> None:
    test = make_test(
        (AF, FL, "all", 101.2),
        (AF, LL, "all", 100.9),  # out of class 0.5, inside 98-102
        (AL, FL, "all", 100.1),
        (AL, LL, "all", 99.95),
    )
    ev = evaluate_test(test)
    assert ev.as_found is not None
    assert ev.as_left is not None
    assert not ev.as_found.within_class
    assert ev.as_left.within_class
    assert ev.verdict is Verdict.PASS


def test_polyphase_per_element_runs_are_judged_and_averaged() -> None:
    test = make_test(
        (AF, FL, "A", 100.2),
        (AF, FL, "B", 100.4),
        (AF, FL, "C", 100.6),
        (AF, LL, "A", 99.9),
        (AF, LL, "B", 100.0),
        (AF, LL, "C", 100.1),
        form="9S",
    )
    ev = evaluate_test(test)
    assert ev.as_found is not None
    assert ev.as_found.average_registration_pct == pytest.approx((4 * 100.4 + 100.0) / 5)
    assert ev.verdict is Verdict.FAIL_CLASS  # element C at +0.6 % on class 0.5
    assert [c.element for c in ev.as_found.points if not c.passed] == ["C"]


def test_an_element_the_form_lacks_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="no element 'C'"):
        evaluate_test(make_test((AF, FL, "C", 100.0), (AF, LL, "all", 100.0), form="5S"))


def test_creep_and_register_checks() -> None:
    base = ((AF, FL, "all", 100.0), (AF, LL, "all", 100.0))
    assert evaluate_test(make_test(*base, creep=1)).creep_passed is True
    assert evaluate_test(make_test(*base, creep=2)).verdict is Verdict.FAIL_CREEP
    good = RegisterCheck(start_kwh=1000.0, end_kwh=1010.0, reference_kwh=10.0)
    assert evaluate_test(make_test(*base, register=good)).register_passed is True
    # 10 kWh passed, register advanced 12: beyond 1 digit + 2 % of 10 = 1.2 kWh
    bad = RegisterCheck(start_kwh=1000.0, end_kwh=1012.0, reference_kwh=10.0)
    assert evaluate_test(make_test(*base, register=bad)).verdict is Verdict.FAIL_REGISTER


def test_a_test_set_out_of_calibration_refuses_the_record() -> None:
    rows = ((AF, FL, "all", 100.0), (AF, LL, "all", 100.0))
    on_due = dt.datetime(2027, 1, 10, 23, 0, tzinfo=dt.UTC)
    assert evaluate_test(make_test(*rows, tested=on_due)).verdict is Verdict.PASS
    late = dt.datetime(2027, 1, 11, 8, 0, tzinfo=dt.UTC)
    with pytest.raises(TestSetCalibrationError, match="WECO-1"):
        evaluate_test(make_test(*rows, tested=late))


registrations = st.floats(min_value=90.0, max_value=110.0, allow_nan=False)


@given(fl=registrations, ll=registrations, pf=registrations)
def test_the_average_lies_between_the_smallest_and_largest_point(
    fl: float, ll: float, pf: float
) -> None:
    for formula in AVERAGE_FORMULAS.values():
        regs = {FL: fl, LL: ll, PF: pf}
        used = [regs[p] for p in formula.weights]
        value = weighted_average(regs, formula)
        assert min(used) - 1e-9 <= value <= max(used) + 1e-9


@given(fl=registrations, ll=registrations, shift=st.floats(-5.0, 5.0))
def test_shifting_every_point_shifts_the_average_by_the_same(
    fl: float, ll: float, shift: float
) -> None:
    before = weighted_average({FL: fl, LL: ll})
    after = weighted_average({FL: fl + shift, LL: ll + shift})
    assert after == pytest.approx(before + shift, abs=1e-9)


@given(fl=registrations, ll=registrations)
def test_a_pass_means_every_point_within_class_and_the_average_within_tolerance(
    fl: float, ll: float
) -> None:
    ev = evaluate_test(make_test((AF, FL, "all", fl), (AF, LL, "all", ll)))
    assert ev.as_found is not None
    if ev.verdict is Verdict.PASS:
        assert all(abs(c.registration_pct - 100) <= 0.5 + 1e-6 for c in ev.as_found.points)
        assert ev.as_found.within_tolerance
    if all(abs(x - 100) <= 0.5 for x in (fl, ll)):
        assert ev.verdict is Verdict.PASS
