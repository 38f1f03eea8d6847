"""Meter accuracy tests: percent registration, weighted averages and pass/fail (pure).

A test record holds what a portable or shop test set measured on one meter: the test set and
its calibration, and per *stage* (as found, as left), per *test point* (full load, light load,
0.5 power factor) and per *element* (``all`` for the elements in series; ``A``/``B``/``C`` for
polyphase per-element runs) the meter's percent registration. :func:`evaluate_test` judges a
record against

* the meter's **accuracy class** (ANSI C12.20 classes 0.1 / 0.2 / 0.5, ANSI C12.1 "1 %"
  meters): every point's error must be within the class limit at that point, and
* the utility's **in-service tolerance** on the weighted average registration (98-102 % by
  default, ``standards.md`` §5.2), computed with a configurable :class:`AverageFormula`
  ((4·FL + LL) / 5 by default),

plus the creep and register checks. A test made with a test set whose calibration is out of
date is refused (:class:`TestSetCalibrationError`): such a result cannot support a refund or a
back-bill.

Pure module: standard library and ``meterops.nomenclature`` / ``meterops.errors`` only; it must
not import ``meterops.db``, ``models``, ``web``, ``cli`` or ``config``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from meterops.errors import InvalidInputError
from meterops.nomenclature import ACCURACY_CLASSES, CURRENT_CLASSES, METER_FORMS

__all__ = [
    "ALL_ELEMENTS",
    "AVERAGE_FORMULAS",
    "CLASS_LIMITS",
    "DEFAULT_FORMULA",
    "ELEMENT_NAMES",
    "AccuracyParams",
    "AccuracyTest",
    "AverageFormula",
    "ClassLimits",
    "InServiceTolerance",
    "PointCheck",
    "PointResult",
    "RegisterCheck",
    "Stage",
    "StageEvaluation",
    "TestEvaluation",
    "TestLocation",
    "TestPoint",
    "TestSet",
    "TestSetCalibrationError",
    "Verdict",
    "check_test_set",
    "currents_for_class",
    "elements_for_form",
    "evaluate_test",
    "parse_formula",
    "registration_from_pulses",
    "registration_from_wattmeter",
    "registration_pct",
    "weighted_average",
]

_ROUND = 6
"""Decimals kept before comparing with a limit, so 102.0 computed as 101.99999999 still passes."""


class TestPoint(StrEnum):
    """A test point (``standards.md`` §5.1)."""

    __test__ = False  # not a pytest test class

    FULL_LOAD = "FL"
    """100 % of test amperes, unity power factor."""
    LIGHT_LOAD = "LL"
    """10 % of test amperes, unity power factor."""
    POWER_FACTOR = "PF"
    """100 % of test amperes, 0.5 power factor lagging (current lags 60°)."""


class Stage(StrEnum):
    """When the registration was measured."""

    AS_FOUND = "as_found"
    """Before any adjustment: decides in-service compliance, refunds and back-bills."""
    AS_LEFT = "as_left"
    """After adjustment (or the same as found when nothing was adjusted)."""


class TestLocation(StrEnum):
    """Where the test was made."""

    __test__ = False

    FIELD = "field"
    SHOP = "shop"


class Verdict(StrEnum):
    """Overall result of a test record."""

    PASS = "pass"  # noqa: S105 - a verdict, not a password
    """Within class at every point, within in-service tolerance, no creep, register right."""
    FAIL_CLASS = "fail_class"
    """Within in-service tolerance but outside the accuracy class at some point: adjust."""
    FAIL_IN_SERVICE = "fail_in_service"
    """Average registration outside the in-service tolerance: refund or back-bill case."""
    FAIL_CREEP = "fail_creep"
    """The meter registers with voltage applied and no load."""
    FAIL_REGISTER = "fail_register"
    """The register (display) does not agree with the energy passed."""


ALL_ELEMENTS: Final = "all"
"""Element name of a run with all elements in series (the usual single-phase test)."""
ELEMENT_NAMES: Final = ("A", "B", "C")
"""Element names of per-element polyphase runs."""


def elements_for_form(form: str) -> tuple[str, ...]:
    """Element names a per-element test of this form has.

    Args:
        form: ANSI form designation, e.g. ``"9S"``.

    Returns:
        ``()`` for single-element forms (only ``all`` applies), else ``("A", "B"[, "C"])``.
        A 2½-element form has three current elements.

    Raises:
        InvalidInputError: Unknown form.

    Examples:
        >>> elements_for_form("2S"), elements_for_form("5S"), elements_for_form("9S")
        ((), ('A', 'B'), ('A', 'B', 'C'))
    """
    info = METER_FORMS.get(form)
    if info is None:
        raise InvalidInputError(
            f"unknown meter form {form!r}; known forms: {', '.join(METER_FORMS)}",
            code="meter_shop.unknown_form",
        )
    if info.elements <= 1:
        return ()
    count = 2 if info.elements == 2 else 3  # 2.5 and 3 elements: three
    return ELEMENT_NAMES[:count]


def currents_for_class(current_class: str) -> dict[TestPoint, float]:
    """Test currents of a current class: FL and PF at 100 % TA, LL at 10 % TA.

    Args:
        current_class: e.g. ``"CL200"``.

    Returns:
        Current per test point. [A]

    Examples:
        >>> currents_for_class("CL200")
        {<TestPoint.FULL_LOAD: 'FL'>: 30.0, <TestPoint.LIGHT_LOAD: 'LL'>: 3.0, \
<TestPoint.POWER_FACTOR: 'PF'>: 30.0}
    """
    cls = CURRENT_CLASSES.get(current_class)
    if cls is None:
        raise InvalidInputError(
            f"unknown current class {current_class!r}; known: {', '.join(CURRENT_CLASSES)}",
            code="meter_shop.unknown_current_class",
        )
    ta = cls.test_amperes_a
    return {
        TestPoint.FULL_LOAD: ta,
        TestPoint.LIGHT_LOAD: round(ta * 0.1, 6),
        TestPoint.POWER_FACTOR: ta,
    }


# --------------------------------------------------------------------------------------------
# Percent registration


def registration_pct(*, meter_energy_wh: float, reference_energy_wh: float) -> float:
    """Percent registration = 100 × meter energy / reference standard energy.

    Args:
        meter_energy_wh: Energy registered by the meter under test. [Wh]
        reference_energy_wh: Energy measured by the reference standard over the same run. [Wh]

    Returns:
        Percent registration. [%]

    Examples:
        >>> registration_pct(meter_energy_wh=1003.0, reference_energy_wh=1000.0)
        100.3
    """
    if reference_energy_wh <= 0:
        raise InvalidInputError(
            f"reference energy must be positive, got {reference_energy_wh} Wh",
            code="meter_shop.reference_energy",
        )
    return 100.0 * meter_energy_wh / reference_energy_wh


def registration_from_pulses(*, kh_wh: float, pulses: float, reference_energy_wh: float) -> float:
    """Percent registration from counted test pulses (or disk revolutions).

    Args:
        kh_wh: Meter constant Kh, energy per pulse or revolution. [Wh]
        pulses: Pulses (revolutions) counted during the run.
        reference_energy_wh: Energy of the reference standard over the same run. [Wh]

    Returns:
        100 × Kh × pulses / reference energy. [%]

    Examples:
        >>> round(registration_from_pulses(kh_wh=7.2, pulses=10, reference_energy_wh=72.0), 6)
        100.0
    """
    return registration_pct(meter_energy_wh=kh_wh * pulses, reference_energy_wh=reference_energy_wh)


def registration_from_wattmeter(
    *, kh_wh: float, revolutions: float, power_w: float, duration_s: float
) -> float:
    """Percent registration against an indicating wattmeter: 100 × Kh × revs × 3600 / (P × t).

    Args:
        kh_wh: Meter constant. [Wh/rev]
        revolutions: Revolutions (pulses) timed.
        power_w: Steady power shown by the wattmeter. [W]
        duration_s: Time for those revolutions. [s]

    Returns:
        Percent registration. [%]

    Examples:
        >>> registration_from_wattmeter(kh_wh=7.2, revolutions=10, power_w=720.0, duration_s=360.0)
        100.0
    """
    if power_w <= 0 or duration_s <= 0:
        raise InvalidInputError(
            f"power and duration must be positive, got {power_w} W and {duration_s} s",
            code="meter_shop.wattmeter",
        )
    return 100.0 * kh_wh * revolutions * 3600.0 / (power_w * duration_s)


# --------------------------------------------------------------------------------------------
# Averages


@dataclass(frozen=True, slots=True)
class AverageFormula:
    """A weighted average of test-point registrations: Σ wᵢ·Rᵢ / Σ wᵢ.

    Attributes:
        name: Short name used in configuration and reports.
        weights: Weight per test point (points absent from the mapping are not used).
    """

    name: str
    weights: Mapping[TestPoint, float]

    def __post_init__(self) -> None:
        if not self.weights or any(w <= 0 for w in self.weights.values()):
            raise InvalidInputError(
                f"average formula {self.name!r} needs positive weights, got {dict(self.weights)}",
                code="meter_shop.formula",
            )

    @property
    def text(self) -> str:
        """The formula written out, e.g. ``(4·FL + LL) / 5``."""
        terms = [
            (f"{w:g}·{p.value}" if w != 1 else p.value)
            for p, w in sorted(self.weights.items(), key=lambda kv: list(TestPoint).index(kv[0]))
        ]
        return f"({' + '.join(terms)}) / {sum(self.weights.values()):g}"


def _formula(name: str, **weights: float) -> AverageFormula:
    return AverageFormula(name, MappingProxyType({TestPoint(k): w for k, w in weights.items()}))


AVERAGE_FORMULAS: Final[MappingProxyType[str, AverageFormula]] = MappingProxyType(
    {
        f.name: f
        for f in (
            _formula("weighted", FL=4, LL=1),
            _formula("mean_fl_ll", FL=1, LL=1),
            _formula("full_load", FL=1),
            _formula("polyphase", FL=4, LL=2, PF=1),
            _formula("north_dakota_polyphase", FL=4, LL=1, PF=2),
        )
    }
)
"""Named averaging methods (ANSI C12.1 as codified in 04 NCAC 11 R08-11; ND 69-09-02-27)."""

DEFAULT_FORMULA: Final = AVERAGE_FORMULAS["weighted"]
"""(4·FL + LL) / 5."""

_TERM = re.compile(r"^\s*(?:(\d+(?:\.\d+)?)\s*[*·x]?\s*)?(FL|LL|PF)\s*$", re.IGNORECASE)


def parse_formula(text: str) -> AverageFormula:
    """A formula from a name in :data:`AVERAGE_FORMULAS` or a sum like ``"4*FL + 2*LL + PF"``.

    A trailing ``/ N`` is accepted and ignored: the divisor is always the sum of the weights.

    Args:
        text: Name or weighted sum of FL, LL and PF.

    Returns:
        The formula.

    Raises:
        InvalidInputError: Text that is neither.

    Examples:
        >>> parse_formula("(4*FL + LL) / 5").text
        '(4·FL + LL) / 5'
        >>> parse_formula("polyphase").text
        '(4·FL + 2·LL + PF) / 7'
    """
    if text in AVERAGE_FORMULAS:
        return AVERAGE_FORMULAS[text]
    body = text.strip()
    body = re.sub(r"/\s*\d+(?:\.\d+)?\s*$", "", body).strip()
    if body.startswith("(") and body.endswith(")"):
        body = body[1:-1]
    weights: dict[TestPoint, float] = {}
    for term in body.split("+"):
        match = _TERM.match(term)
        if match is None:
            raise InvalidInputError(
                f"cannot read average formula {text!r}: term {term.strip()!r} is not "
                f"'<weight>*FL|LL|PF'; named formulas: {', '.join(AVERAGE_FORMULAS)}",
                code="meter_shop.formula",
            )
        point = TestPoint(match.group(2).upper())
        weights[point] = weights.get(point, 0.0) + float(match.group(1) or 1)
    return AverageFormula(text, MappingProxyType(weights))


def weighted_average(
    registrations: Mapping[TestPoint, float], formula: AverageFormula = DEFAULT_FORMULA
) -> float:
    """Weighted average registration of the points a formula uses.

    Args:
        registrations: Percent registration per test point. [%]
        formula: The averaging method.

    Returns:
        Σ wᵢ·Rᵢ / Σ wᵢ. [%]

    Raises:
        InvalidInputError: A point the formula needs is missing.

    Examples:
        >>> weighted_average({TestPoint.FULL_LOAD: 100.5, TestPoint.LIGHT_LOAD: 99.0})
        100.2
    """
    missing = [p.value for p in formula.weights if p not in registrations]
    if missing:
        raise InvalidInputError(
            f"average {formula.text} needs test points {missing} that the test does not have",
            code="meter_shop.missing_point",
            details={"missing": missing, "formula": formula.name},
        )
    total = sum(formula.weights.values())
    return sum(w * registrations[p] for p, w in formula.weights.items()) / total


# --------------------------------------------------------------------------------------------
# Limits


@dataclass(frozen=True, slots=True)
class ClassLimits:
    """Largest allowed error per test point for one accuracy class.

    The C12.20 per-point tables are not public (``standards.md`` §5.1 marks them unverified),
    so by default every point of a C12.20 class is held to the class percent; the C12.1 "1 %"
    class allows 2 % at 0.5 PF, as written into utility policy. Utilities with the purchased
    tables pass their own :class:`ClassLimits` in :class:`AccuracyParams`.

    Attributes:
        accuracy_class: Class name (``"0.1"``, ``"0.2"``, ``"0.5"``, ``"1.0"``).
        max_error_pct: Largest absolute error per test point. [%]
    """

    accuracy_class: str
    max_error_pct: Mapping[TestPoint, float]


def _limits(name: str, pf_factor: float) -> ClassLimits:
    pct = ACCURACY_CLASSES[name].max_error_pct
    return ClassLimits(
        name,
        MappingProxyType(
            {
                TestPoint.FULL_LOAD: pct,
                TestPoint.LIGHT_LOAD: pct,
                TestPoint.POWER_FACTOR: pct * pf_factor,
            }
        ),
    )


CLASS_LIMITS: Final[MappingProxyType[str, ClassLimits]] = MappingProxyType(
    {
        "0.1": _limits("0.1", 1.0),
        "0.2": _limits("0.2", 1.0),
        "0.5": _limits("0.5", 1.0),
        "1.0": _limits("1.0", 2.0),
    }
)
"""Default per-point limits of each accuracy class in ``nomenclature.ACCURACY_CLASSES``."""


@dataclass(frozen=True, slots=True)
class InServiceTolerance:
    """The utility's in-service tolerance on the weighted average registration.

    Attributes:
        low_pct: Lowest acceptable average registration (inclusive). [%]
        high_pct: Highest acceptable average registration (inclusive). [%]
    """

    low_pct: float = 98.0
    high_pct: float = 102.0

    def __post_init__(self) -> None:
        if not self.low_pct < 100.0 < self.high_pct:
            raise InvalidInputError(
                f"in-service tolerance must contain 100 %, got {self.low_pct}-{self.high_pct} %",
                code="meter_shop.tolerance",
            )

    def contains(self, registration: float) -> bool:
        """Whether a registration is inside the tolerance (limits included)."""
        value = round(registration, _ROUND)
        return self.low_pct <= value <= self.high_pct


@dataclass(frozen=True, slots=True)
class AccuracyParams:
    """How tests are judged (a utility's policy).

    Attributes:
        formula: Averaging method for the in-service test.
        tolerance: In-service tolerance on the average.
        class_limits: Per-point limits by accuracy class name.
        max_creep_pulses: Most test pulses allowed during the creep test (no load). [count]
        register_resolution_kwh: Smallest register step: the register check allows this much
            difference on top of the tolerance. [kWh]
    """

    formula: AverageFormula = DEFAULT_FORMULA
    tolerance: InServiceTolerance = field(default_factory=InServiceTolerance)
    class_limits: Mapping[str, ClassLimits] = field(default_factory=lambda: CLASS_LIMITS)
    max_creep_pulses: int = 1
    register_resolution_kwh: float = 1.0


# --------------------------------------------------------------------------------------------
# Records


@dataclass(frozen=True, slots=True)
class TestSet:
    """A portable or shop test set (the reference standard) and its calibration.

    Attributes:
        serial_number: The test set's serial number.
        calibrated_on: Date of its last calibration against a traceable standard.
        calibration_due_on: Date after which results are not accepted.
        model: Make and model, e.g. ``"WECO 2350"`` (optional).
    """

    __test__ = False

    serial_number: str
    calibrated_on: dt.date
    calibration_due_on: dt.date
    model: str | None = None


class TestSetCalibrationError(InvalidInputError):
    """A test made with a test set whose calibration was out of date; the record is refused.

    Args:
        test_set: The test set.
        tested_on: Date of the test.
    """

    __test__ = False
    default_code = "meter_shop.test_set_out_of_calibration"

    def __init__(self, test_set: TestSet, tested_on: dt.date) -> None:
        super().__init__(
            f"test set {test_set.serial_number} was out of calibration on {tested_on} "
            f"(calibrated {test_set.calibrated_on}, due {test_set.calibration_due_on}); "
            "recalibrate it and test the meter again",
            details={
                "test_set": test_set.serial_number,
                "tested_on": tested_on.isoformat(),
                "calibrated_on": test_set.calibrated_on.isoformat(),
                "calibration_due_on": test_set.calibration_due_on.isoformat(),
            },
        )


def check_test_set(test_set: TestSet, tested_on: dt.date) -> None:
    """Refuse a test outside the test set's calibration period (due date included).

    Raises:
        TestSetCalibrationError: Tested before calibration or after the due date.
    """
    if not test_set.calibrated_on <= tested_on <= test_set.calibration_due_on:
        raise TestSetCalibrationError(test_set, tested_on)


@dataclass(frozen=True, slots=True)
class PointResult:
    """The registration measured at one test point.

    Attributes:
        stage: As found or as left.
        point: Test point.
        element: ``"all"`` (elements in series) or ``"A"``/``"B"``/``"C"``.
        registration_pct: Percent registration. [%]
    """

    stage: Stage
    point: TestPoint
    element: str
    registration_pct: float


@dataclass(frozen=True, slots=True)
class RegisterCheck:
    """Register (display) check: the register must advance by the energy passed.

    Attributes:
        start_kwh: Register before the run. [kWh]
        end_kwh: Register after the run. [kWh]
        reference_kwh: Energy the reference standard measured. [kWh]
    """

    start_kwh: float
    end_kwh: float
    reference_kwh: float


@dataclass(frozen=True, slots=True)
class AccuracyTest:
    """One accuracy test of one meter.

    Attributes:
        meter_serial: Serial number of the meter under test.
        tested_at_utc: When the test was made (aware UTC).
        test_set: The reference standard used.
        location: Field or shop.
        technician: Who tested (user name or badge id).
        form: Meter form, e.g. ``"2S"``.
        current_class: Current class, e.g. ``"CL200"``.
        accuracy_class: ``"0.1"``, ``"0.2"``, ``"0.5"`` or ``"1.0"``.
        results: Registrations per stage, point and element.
        creep_pulses: Pulses counted in the creep test (None = not tested). [count]
        register_check: Register check (None = not tested).
        reason: Why the meter was tested (``complaint``, ``sample``, ``suspected_tamper`` …).
    """

    __test__ = False

    meter_serial: str
    tested_at_utc: dt.datetime
    test_set: TestSet
    location: TestLocation
    technician: str
    form: str
    current_class: str
    accuracy_class: str
    results: tuple[PointResult, ...]
    creep_pulses: int | None = None
    register_check: RegisterCheck | None = None
    reason: str = "routine"

    def stage_registrations(self, stage: Stage) -> dict[TestPoint, float]:
        """Registration per test point of a stage: the ``all`` run, else the element mean.

        Per-element runs of a polyphase meter are averaged with equal weights when no run
        with all elements in series was made.
        """
        out: dict[TestPoint, float] = {}
        for point in TestPoint:
            rows = [r for r in self.results if r.stage == stage and r.point == point]
            series = [r.registration_pct for r in rows if r.element == ALL_ELEMENTS]
            if series:
                out[point] = series[-1]
            elif rows:
                out[point] = sum(r.registration_pct for r in rows) / len(rows)
        return out


@dataclass(frozen=True, slots=True)
class PointCheck:
    """One point judged against its class limit.

    Attributes:
        stage: Stage.
        point: Test point.
        element: Element name.
        registration_pct: Registration. [%]
        error_pct: Registration − 100. [%]
        limit_pct: Largest allowed absolute error. [%]
        passed: Whether ``|error| ≤ limit``.
    """

    stage: Stage
    point: TestPoint
    element: str
    registration_pct: float
    error_pct: float
    limit_pct: float
    passed: bool


@dataclass(frozen=True, slots=True)
class StageEvaluation:
    """Judgement of one stage.

    Attributes:
        stage: Stage.
        average_registration_pct: Weighted average registration (None when a point the
            formula needs was not tested). [%]
        within_class: Every point within its class limit.
        within_tolerance: Average inside the in-service tolerance (None without an average).
        points: Every point judged.
    """

    stage: Stage
    average_registration_pct: float | None
    within_class: bool
    within_tolerance: bool | None
    points: tuple[PointCheck, ...]


@dataclass(frozen=True, slots=True)
class TestEvaluation:
    """Judgement of a test record.

    Attributes:
        as_found: As-found stage (None when not tested).
        as_left: As-left stage (None when the meter was not adjusted or not re-tested).
        creep_passed: Creep check (None when not tested).
        register_passed: Register check (None when not tested).
        verdict: Overall verdict; the first failing check in the order in-service, creep,
            register, class.
        formula: Text of the averaging formula used.
    """

    __test__ = False

    as_found: StageEvaluation | None
    as_left: StageEvaluation | None
    creep_passed: bool | None
    register_passed: bool | None
    verdict: Verdict
    formula: str


def _evaluate_stage(
    test: AccuracyTest, stage: Stage, params: AccuracyParams
) -> StageEvaluation | None:
    rows = [r for r in test.results if r.stage == stage]
    if not rows:
        return None
    limits = params.class_limits.get(test.accuracy_class)
    if limits is None:
        raise InvalidInputError(
            f"meter {test.meter_serial}: no limits for accuracy class {test.accuracy_class!r}; "
            f"known: {', '.join(params.class_limits)}",
            code="meter_shop.unknown_accuracy_class",
        )
    checks: list[PointCheck] = []
    for row in rows:
        limit = limits.max_error_pct[row.point]
        error = round(row.registration_pct - 100.0, _ROUND)
        checks.append(
            PointCheck(
                stage,
                row.point,
                row.element,
                row.registration_pct,
                error,
                limit,
                abs(error) <= limit,
            )
        )
    registrations = test.stage_registrations(stage)
    average: float | None = None
    if all(point in registrations for point in params.formula.weights):
        average = weighted_average(registrations, params.formula)
    return StageEvaluation(
        stage,
        average,
        all(c.passed for c in checks),
        None if average is None else params.tolerance.contains(average),
        tuple(checks),
    )


def _register_passed(check: RegisterCheck, params: AccuracyParams) -> bool:
    registered = check.end_kwh - check.start_kwh
    half_width = max(
        params.tolerance.high_pct - 100.0, 100.0 - params.tolerance.low_pct
    )  # the register may err as much as the meter
    allowed = params.register_resolution_kwh + check.reference_kwh * half_width / 100.0
    return abs(registered - check.reference_kwh) <= allowed + 1e-9


def evaluate_test(test: AccuracyTest, *, params: AccuracyParams | None = None) -> TestEvaluation:
    """Judge a test record: class limits, in-service tolerance, creep and register.

    The as-found stage decides in-service compliance (the customer was billed on it); the
    as-left stage, when present, decides whether the meter may go back into service within
    its class. Without an as-left stage the as-found stage is used for both.

    Args:
        test: The record.
        params: The utility's policy (defaults: (4·FL + LL) / 5, 98-102 %, class limits of
            :data:`CLASS_LIMITS`, at most one creep pulse).

    Returns:
        The evaluation with a verdict.

    Raises:
        TestSetCalibrationError: The test set was out of calibration on the test date.
        InvalidInputError: Unknown form or class, or an element the form does not have.

    Examples:
        >>> import datetime as dt
        >>> ts = TestSet("TS1", dt.date(2026, 1, 5), dt.date(2027, 1, 5))
        >>> rows = (
        ...     PointResult(Stage.AS_FOUND, TestPoint.FULL_LOAD, "all", 100.3),
        ...     PointResult(Stage.AS_FOUND, TestPoint.LIGHT_LOAD, "all", 99.8),
        ... )
        >>> test = AccuracyTest("M1", dt.datetime(2026, 6, 1, tzinfo=dt.UTC), ts,
        ...     TestLocation.FIELD, "tech1", "2S", "CL200", "0.5", rows)
        >>> ev = evaluate_test(test)
        >>> round(ev.as_found.average_registration_pct, 2), ev.verdict.value
        (100.2, 'pass')
    """
    params = params or AccuracyParams()
    check_test_set(test.test_set, test.tested_at_utc.astimezone(dt.UTC).date())
    allowed_elements = {ALL_ELEMENTS, *elements_for_form(test.form)}
    for row in test.results:
        if row.element not in allowed_elements:
            raise InvalidInputError(
                f"meter {test.meter_serial}: form {test.form} has no element {row.element!r}; "
                f"allowed: {sorted(allowed_elements)}",
                code="meter_shop.unknown_element",
            )
    as_found = _evaluate_stage(test, Stage.AS_FOUND, params)
    as_left = _evaluate_stage(test, Stage.AS_LEFT, params)
    creep = None if test.creep_pulses is None else test.creep_pulses <= params.max_creep_pulses
    register = (
        None if test.register_check is None else _register_passed(test.register_check, params)
    )
    final = as_left or as_found
    if as_found is not None and as_found.within_tolerance is False:
        verdict = Verdict.FAIL_IN_SERVICE
    elif creep is False:
        verdict = Verdict.FAIL_CREEP
    elif register is False:
        verdict = Verdict.FAIL_REGISTER
    elif final is not None and not final.within_class:
        verdict = Verdict.FAIL_CLASS
    else:
        verdict = Verdict.PASS
    return TestEvaluation(as_found, as_left, creep, register, verdict, params.formula.text)
