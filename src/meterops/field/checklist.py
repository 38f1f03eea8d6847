"""The technician's safety checklist, found-cause codes and exchange checks, as data.

Before a meter is pulled the meter base is inspected (hot-socket inspection): the socket's
condition, its jaws and lugs, burn marks or heat damage, and the service voltage measured
line-to-line and line-to-neutral. A voltage is within limits when it lies in ANSI C84.1
Range B of the nominal voltage (−8.3 % … +5.8 %): outside it, the service or its neutral has a
problem and the meter stays in (a lost neutral shows as one leg high and the other low).

Which voltage checks apply follows from the service type (:mod:`meterops.nomenclature`):
a 2-wire 120 V service has no line-to-line check, a 3-wire delta has no neutral.

The exchange checks (:func:`check_exchange`) are pure functions of the facts the service
gathers (the order's meter, the new meter's inventory record, the truck's stock, the socket's
forms, the old installation's read); each problem names the payload field it is about.

Pure module: standard library, :mod:`meterops.errors`, :mod:`meterops.nomenclature` and
:mod:`meterops.assets.registers` only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from meterops.assets.registers import register_advance
from meterops.errors import InvalidInputError, MeterOpsError

__all__ = [
    "FOUND_CAUSES",
    "RANGE_B",
    "SAFETY_ITEMS",
    "ChecklistItem",
    "ExchangeFacts",
    "FoundCause",
    "ItemKind",
    "NewMeterFacts",
    "Problem",
    "SafetyOutcome",
    "check_exchange",
    "checklist_for",
    "evaluate_safety",
    "max_kwh_per_day",
    "nominal_voltages",
]

RANGE_B: Final = (-0.083, 0.058)
"""ANSI C84.1 Range B service-voltage band, as fractions of the nominal voltage."""


class ItemKind(StrEnum):
    """How a checklist item is answered."""

    PASS_FAIL = "pass_fail"  # noqa: S105 (an answer kind, not a password)
    """``"pass"`` or ``"fail"``."""
    VOLTS = "volts"
    """A measured voltage [V]."""


@dataclass(frozen=True, slots=True)
class ChecklistItem:
    """One safety check.

    Attributes:
        code: Stable code (the key in the ``safety`` action's ``items``).
        label: What the technician checks, in plain words.
        kind: Pass/fail or a voltage.
        nominal_v: For voltage checks: the nominal voltage of this service. [V]
        low_v: Lowest voltage within limits. [V]
        high_v: Highest voltage within limits. [V]
    """

    code: str
    label: str
    kind: ItemKind
    nominal_v: float | None = None
    low_v: float | None = None
    high_v: float | None = None


SAFETY_ITEMS: Final[tuple[ChecklistItem, ...]] = (
    ChecklistItem(
        "socket_condition",
        "Meter socket and enclosure sound: not loose, cracked, corroded or pulled from the wall",
        ItemKind.PASS_FAIL,
    ),
    ChecklistItem(
        "jaws_and_lugs",
        "Jaws grip firmly and lugs are tight, not pitted or discoloured",
        ItemKind.PASS_FAIL,
    ),
    ChecklistItem(
        "no_heat_damage",
        "No burn marks, melted insulation or other heat damage on the meter or the base",
        ItemKind.PASS_FAIL,
    ),
)
"""The pass/fail items every inspection has (voltage checks depend on the service)."""


@dataclass(frozen=True, slots=True)
class FoundCause:
    """What the technician found on site."""

    code: str
    label: str


FOUND_CAUSES: Final[tuple[FoundCause, ...]] = (
    FoundCause("meter_failed", "Meter failed (display, metrology or memory)"),
    FoundCause("radio_module_failed", "Radio (communication) module failed"),
    FoundCause("weak_signal", "Weak mesh signal at the meter"),
    FoundCause("meter_base_damaged", "Meter base or socket damaged"),
    FoundCause("hot_socket", "Hot socket (heat damage at the jaws)"),
    FoundCause("tamper", "Tampering or bypass found"),
    FoundCause("meter_missing", "Meter missing from the socket"),
    FoundCause("customer_wiring", "Problem on the customer's side of the meter"),
    FoundCause("service_voltage", "Service voltage out of limits (utility side)"),
    FoundCause("programme_exchange", "Planned exchange (no fault)"),
    FoundCause("no_fault_found", "No fault found"),
    FoundCause("no_access", "No access to the meter"),
)
"""Found-cause codes, as the phone offers them."""

_FOUND_CODES: Final = frozenset(cause.code for cause in FOUND_CAUSES)

# (line-to-line, line-to-neutral) nominal voltages by service type and service voltage.
_WYE_LN: Final = {208: 120.0, 480: 277.0, 600: 347.0}


def nominal_voltages(service_type: str, voltage_v: float) -> tuple[float | None, float | None]:
    """Nominal line-to-line and line-to-neutral voltages of a service.

    Args:
        service_type: A :class:`meterops.nomenclature.ServiceType` value (``1ph_3w`` …).
        voltage_v: The service point's voltage as recorded (the higher nominal). [V]

    Returns:
        ``(line_to_line, line_to_neutral)`` [V]; None where the service has no such pair.

    Examples:
        >>> nominal_voltages("1ph_3w", 240)
        (240.0, 120.0)
        >>> nominal_voltages("1ph_2w", 120)
        (None, 120.0)
        >>> nominal_voltages("3ph_4w_wye", 480)
        (480.0, 277.0)
        >>> nominal_voltages("3ph_3w_delta", 480)
        (480.0, None)
    """
    volts = float(voltage_v)
    if service_type == "1ph_2w":
        return None, volts
    if service_type == "3ph_3w_delta":
        return volts, None
    if service_type in {"1ph_3w", "3ph_4w_delta"}:
        return volts, volts / 2
    if service_type in {"network_3w", "3ph_4w_wye"}:
        return volts, _WYE_LN.get(round(volts), round(volts / math.sqrt(3), 1))
    return volts, None


def _volts_item(code: str, label: str, nominal: float) -> ChecklistItem:
    low, high = RANGE_B
    return ChecklistItem(
        code,
        f"{label} voltage within {nominal * (1 + low):.0f}–{nominal * (1 + high):.0f} V "
        f"(nominal {nominal:.0f} V)",
        ItemKind.VOLTS,
        nominal_v=nominal,
        low_v=round(nominal * (1 + low), 1),
        high_v=round(nominal * (1 + high), 1),
    )


def checklist_for(service_type: str | None, voltage_v: float | None) -> tuple[ChecklistItem, ...]:
    """The safety checklist of a service point: the base items, then its voltage checks.

    Args:
        service_type: Service type value, or None when the order has no service point.
        voltage_v: Recorded service voltage [V], or None.

    Examples:
        >>> [item.code for item in checklist_for("1ph_3w", 240)]
        ['socket_condition', 'jaws_and_lugs', 'no_heat_damage', 'voltage_line_to_line', \
'voltage_line_to_neutral']
        >>> [item.code for item in checklist_for(None, None)]
        ['socket_condition', 'jaws_and_lugs', 'no_heat_damage']
    """
    items = list(SAFETY_ITEMS)
    if service_type is None or voltage_v is None:
        return tuple(items)
    line_to_line, line_to_neutral = nominal_voltages(service_type, voltage_v)
    if line_to_line is not None:
        items.append(_volts_item("voltage_line_to_line", "Line-to-line", line_to_line))
    if line_to_neutral is not None:
        items.append(_volts_item("voltage_line_to_neutral", "Line-to-neutral", line_to_neutral))
    return tuple(items)


@dataclass(frozen=True, slots=True)
class SafetyOutcome:
    """The result of an inspection.

    Attributes:
        passed: Every item passed.
        failures: ``(code, reason)`` of each failed item, in checklist order.
    """

    passed: bool
    failures: tuple[tuple[str, str], ...]


def evaluate_safety(
    items: Mapping[str, object], checklist: tuple[ChecklistItem, ...]
) -> SafetyOutcome:
    """Judge a technician's answers against the checklist.

    Args:
        items: Answers by item code: ``"pass"``/``"fail"`` or a voltage [V].
        checklist: The service point's checklist (:func:`checklist_for`).

    Returns:
        Whether the job may go on, and why not.

    Raises:
        InvalidInputError: An item is missing, unknown, or answered with the wrong kind of
            value (the message names ``payload.items.<code>``).

    Examples:
        >>> checks = checklist_for("1ph_3w", 240)
        >>> answers = {"socket_condition": "pass", "jaws_and_lugs": "pass",
        ...     "no_heat_damage": "pass", "voltage_line_to_line": 241.5,
        ...     "voltage_line_to_neutral": 119}
        >>> evaluate_safety(answers, checks).passed
        True
        >>> evaluate_safety({**answers, "voltage_line_to_neutral": 151}, checks).failures
        (('voltage_line_to_neutral', '151.0 V is outside 110.0–127.0 V'),)
    """
    known = {item.code for item in checklist}
    unknown = sorted(set(items) - known)
    if unknown:
        msg = f"payload.items.{unknown[0]}: not an item of this checklist ({sorted(known)})"
        raise InvalidInputError(msg, code="field.safety_unknown_item")
    failures: list[tuple[str, str]] = []
    for item in checklist:
        field = f"payload.items.{item.code}"
        if item.code not in items:
            msg = f"{field}: missing; every item of the checklist must be answered"
            raise InvalidInputError(msg, code="field.safety_missing_item")
        answer = items[item.code]
        if item.kind is ItemKind.PASS_FAIL:
            if answer not in {"pass", "fail"}:
                msg = f"{field}: expected 'pass' or 'fail', found {answer!r}"
                raise InvalidInputError(msg, code="field.safety_bad_answer")
            if answer == "fail":
                failures.append((item.code, f"failed: {item.label}"))
            continue
        if (
            isinstance(answer, bool)
            or not isinstance(answer, int | float)
            or not math.isfinite(answer)
        ):
            msg = f"{field}: expected a measured voltage in volts, found {answer!r}"
            raise InvalidInputError(msg, code="field.safety_bad_answer")
        volts = float(answer)
        assert item.low_v is not None
        assert item.high_v is not None
        if not item.low_v <= volts <= item.high_v:
            failures.append(
                (item.code, f"{volts:.1f} V is outside {item.low_v:.1f}–{item.high_v:.1f} V")
            )
    return SafetyOutcome(passed=not failures, failures=tuple(failures))


def max_kwh_per_day(meter_class: str, voltage_v: float) -> float:
    """Most energy a meter can register in a day: class current × voltage × 24 h.

    Args:
        meter_class: ANSI class (``CL200``, ``CL320``, ``CL20`` …; unknown: 200 A).
        voltage_v: Service voltage. [V]

    Returns:
        The ceiling. [kWh/day, dial units]

    Examples:
        >>> max_kwh_per_day("CL200", 240)
        1152.0
    """
    digits = "".join(ch for ch in meter_class if ch.isdigit())
    amps = float(digits) if digits else 200.0
    return amps * float(voltage_v) * 24.0 / 1000.0


@dataclass(frozen=True, slots=True)
class NewMeterFacts:
    """The inventory record of the meter to install.

    Attributes:
        serial: Its serial number.
        form: Its ANSI form.
        lifecycle_status: Its asset status (``in_stock`` to be installable).
        installed_at: Service point number it is installed at, if any.
        register_digits: Integer digits on its register.
        register_decimals: Decimal digits on its register.
    """

    serial: str
    form: str
    lifecycle_status: str
    installed_at: str | None
    register_digits: int
    register_decimals: int = 0


@dataclass(frozen=True, slots=True)
class ExchangeFacts:
    """What the back office knows for an exchange on an order.

    Attributes:
        order_meter_serial: The meter the order is about (None: install at an empty socket).
        compatible_forms: Forms the service point's socket takes.
        truck_stock: The technician's truck stock (item → quantity); None when not tracked.
        old_install_read_kwh: The old meter's read when it was installed (None: unknown).
        old_register_digits: Integer digits of the old meter's register.
        old_register_decimals: Decimal digits of the old meter's register.
        old_days_installed: Days since the old meter was installed. [d]
        old_max_kwh_per_day: Most the old meter can register per day (:func:`max_kwh_per_day`).
        new_meter: The new meter's record; None when the serial is not in the inventory.
    """

    order_meter_serial: str | None
    compatible_forms: tuple[str, ...]
    truck_stock: Mapping[str, int] | None
    old_install_read_kwh: float | None
    old_register_digits: int
    old_register_decimals: int
    old_days_installed: float
    old_max_kwh_per_day: float
    new_meter: NewMeterFacts | None


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason an exchange is refused, naming the payload field."""

    field: str
    code: str
    message: str


def _read_problem(field: str, error: MeterOpsError) -> Problem:
    return Problem(field, error.code, f"{field}: {error.message}")


def _old_meter_problems(
    old_serial: str | None, old_final_read_kwh: float | None, facts: ExchangeFacts
) -> list[Problem]:
    problems: list[Problem] = []
    if facts.order_meter_serial is None:  # an install at an empty socket
        if old_serial:
            problems.append(
                Problem(
                    "payload.old_serial",
                    "field.no_old_meter",
                    f"payload.old_serial: the order is an install at an empty socket; "
                    f"{old_serial!r} is not expected",
                )
            )
        return problems
    if old_serial != facts.order_meter_serial:
        problems.append(
            Problem(
                "payload.old_serial",
                "field.wrong_meter",
                f"payload.old_serial: {old_serial!r} is not the order's meter "
                f"({facts.order_meter_serial}); check the nameplate",
            )
        )
    if old_final_read_kwh is None:
        problems.append(
            Problem(
                "payload.old_final_read_kwh",
                "field.read_required",
                "payload.old_final_read_kwh: the old meter's final read is required",
            )
        )
        return problems
    try:
        advance = register_advance(
            previous=facts.old_install_read_kwh or 0.0,
            current=old_final_read_kwh,
            digits=facts.old_register_digits,
            decimals=facts.old_register_decimals,
            label="final read",
        )
    except MeterOpsError as error:
        problems.append(_read_problem("payload.old_final_read_kwh", error))
        return problems
    ceiling = facts.old_max_kwh_per_day * max(facts.old_days_installed, 1.0)
    if facts.old_install_read_kwh is not None and advance > ceiling:
        problems.append(
            Problem(
                "payload.old_final_read_kwh",
                "field.read_implausible",
                f"payload.old_final_read_kwh: {old_final_read_kwh} means "
                f"{advance:.0f} kWh since installation ({facts.old_install_read_kwh}), "
                f"more than the meter can register in {facts.old_days_installed:.0f} "
                f"days ({ceiling:.0f} kWh); check the read",
            )
        )
    return problems


def check_exchange(
    *,
    old_serial: str | None,
    old_final_read_kwh: float | None,
    new_serial: str,
    new_initial_read_kwh: float | None,
    facts: ExchangeFacts,
) -> list[Problem]:
    """Every reason the exchange (or install) cannot be recorded (empty: it can).

    Args:
        old_serial: Serial the technician read on the meter taken out (None for an install
            at an empty socket: ``facts.order_meter_serial`` is None).
        old_final_read_kwh: Its final register read. [kWh, dial]
        new_serial: Serial of the meter put in.
        new_initial_read_kwh: Its initial register read. [kWh, dial]
        facts: The back office's facts.

    Examples:
        >>> new = NewMeterFacts("N1", "2S", "in_stock", None, 5)
        >>> facts = ExchangeFacts("M1", ("2S",), {"meter:2S": 1}, 100.0, 5, 0, 30.0, 1152.0,
        ...     new)
        >>> check_exchange(old_serial="M1", old_final_read_kwh=900.0, new_serial="N1",
        ...     new_initial_read_kwh=0.0, facts=facts)
        []
        >>> [p.field for p in check_exchange(old_serial="M2", old_final_read_kwh=None,
        ...     new_serial="N1", new_initial_read_kwh=0.0, facts=facts)]
        ['payload.old_serial', 'payload.old_final_read_kwh']
    """
    problems = _old_meter_problems(old_serial, old_final_read_kwh, facts)
    new = facts.new_meter
    if new_serial == old_serial:
        problems.append(
            Problem(
                "payload.new_serial",
                "field.same_meter",
                "payload.new_serial: the new meter must be another meter than the old one",
            )
        )
    elif new is None:
        problems.append(
            Problem(
                "payload.new_serial",
                "field.unknown_meter",
                f"payload.new_serial: {new_serial!r} is not in the meter inventory",
            )
        )
    else:
        if new.installed_at is not None:
            problems.append(
                Problem(
                    "payload.new_serial",
                    "field.meter_installed",
                    f"payload.new_serial: meter {new_serial} is installed at service point "
                    f"{new.installed_at}",
                )
            )
        elif new.lifecycle_status != "in_stock":
            problems.append(
                Problem(
                    "payload.new_serial",
                    "field.meter_not_in_stock",
                    f"payload.new_serial: meter {new_serial} is '{new.lifecycle_status}', not "
                    "in stock",
                )
            )
        if new.form not in facts.compatible_forms:
            problems.append(
                Problem(
                    "payload.new_serial",
                    "field.form_mismatch",
                    f"payload.new_serial: meter {new_serial} is form {new.form}; the socket "
                    f"takes {', '.join(facts.compatible_forms) or 'no recorded form'}",
                )
            )
        item = f"meter:{new.form}"
        if facts.truck_stock is not None and facts.truck_stock.get(item, 0) <= 0:
            problems.append(
                Problem(
                    "payload.new_serial",
                    "field.not_on_truck",
                    f"payload.new_serial: the truck carries no {item} (stock is tracked for "
                    "this technician)",
                )
            )
        if new_initial_read_kwh is not None:
            try:
                register_advance(
                    previous=0.0,
                    current=new_initial_read_kwh,
                    digits=new.register_digits,
                    decimals=new.register_decimals,
                    label="initial read",
                )
            except MeterOpsError as error:
                problems.append(_read_problem("payload.new_initial_read_kwh", error))
    if new_initial_read_kwh is None:
        problems.append(
            Problem(
                "payload.new_initial_read_kwh",
                "field.read_required",
                "payload.new_initial_read_kwh: the new meter's initial read is required",
            )
        )
    return problems
