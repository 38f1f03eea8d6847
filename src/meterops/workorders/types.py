"""Work-order types as data: default duration, required skill, parts, checklist, urgency.

One :class:`OrderTypeSpec` per :class:`WorkOrderType` in :data:`ORDER_TYPES`. Services, the
planner, the CSV importer, the API (``GET /workorder-types``) and ``docs/workorders.md`` read
this one table; nothing else hard-codes a duration or a skill.

Skills are the technician skills of the fleet file (``residential``, ``ct_rated``,
``network_collector``, ``meter_shop``). Meter work at a transformer-rated (CT) service point
needs ``ct_rated`` instead of ``residential`` (:func:`required_skill`). Parts that come out of
the truck stock are named ``meter:<form>`` and ``radio_module`` (:func:`stock_items`).

Pure module: standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final

__all__ = [
    "ORDER_TYPES",
    "RADIO_MODULE",
    "DeadlineRule",
    "OrderTypeSpec",
    "Skill",
    "StockItemKind",
    "Subject",
    "WorkOrderType",
    "meter_item",
    "required_skill",
    "stock_items",
]

RADIO_MODULE: Final = "radio_module"
"""Truck-stock item name of a spare radio (communication) module."""


class WorkOrderType(StrEnum):
    """What the technician goes to do."""

    INSTALL = "install"
    EXCHANGE = "exchange"
    NON_COMM_INVESTIGATION = "non_comm_investigation"
    RADIO_MODULE_REPLACEMENT = "radio_module_replacement"
    COLLECTOR_WORK = "collector_work"
    FIELD_DISCONNECT = "field_disconnect"
    FIELD_RECONNECT = "field_reconnect"
    ACCURACY_TEST = "accuracy_test"
    HIGH_BILL_INVESTIGATION = "high_bill_investigation"
    HOT_SOCKET_INSPECTION = "hot_socket_inspection"
    TAMPER_INVESTIGATION = "tamper_investigation"
    CT_SITE_CHECK = "ct_site_check"


class Skill(StrEnum):
    """Technician skills (the ``skills`` column of the fleet's technicians file)."""

    RESIDENTIAL = "residential"
    CT_RATED = "ct_rated"
    NETWORK_COLLECTOR = "network_collector"
    METER_SHOP = "meter_shop"


class Subject(StrEnum):
    """What an order is about (and where its location comes from)."""

    METER = "meter"
    SERVICE_POINT = "service_point"
    """A socket without (a known) meter: installs."""
    COLLECTOR = "collector"


class DeadlineRule(StrEnum):
    """How an order's deadline follows from its creation when none is given."""

    NONE = "none"
    SAME_DAY = "same_day"
    """By the end of the local day it was created (hot sockets)."""
    REGULATOR_HOURS = "regulator_hours"
    """Within the hours a regulator allows after the trigger (reconnect after payment)."""


class StockItemKind(StrEnum):
    """What a truck carries that orders use up."""

    METER = "meter"
    RADIO_MODULE = "radio_module"


@dataclass(frozen=True, slots=True)
class OrderTypeSpec:
    """One work-order type.

    Attributes:
        code: The type.
        name: Plain name for people.
        subject: What the order is about.
        duration_min: Default time on site. [min]
        skill: Skill needed at a self-contained service.
        ct_skill: Skill needed when the service point is transformer-rated (None: ``skill``).
        certifications: Certifications the technician must hold (e.g. arc-flash training).
        parts: Parts and tools to bring; ``{form}`` stands for the meter's form.
        uses: Truck-stock item the visit uses up, if any.
        checklist: Steps on site, in order.
        priority: Default priority, 1 (most urgent) to 5.
        deadline: Default deadline rule.
        cancel_when_meter_answers: The order exists because the meter does not communicate:
            a meter that answers a ping before the visit has recovered and the order is
            cancelled.
    """

    code: WorkOrderType
    name: str
    subject: Subject
    duration_min: int
    skill: Skill
    ct_skill: Skill | None
    certifications: tuple[str, ...]
    parts: tuple[str, ...]
    uses: StockItemKind | None
    checklist: tuple[str, ...]
    priority: int
    deadline: DeadlineRule = DeadlineRule.NONE
    cancel_when_meter_answers: bool = False


_T = WorkOrderType
_SAFE_START = "Inspect the meter base (hot socket, jaws, lugs) before pulling the meter"
_CONFIRM = "Confirm the premise and meter serial"
_PHOTO = "Photograph the meter and the base before and after"
_READS = "Record the register read before and after"

_TYPE_LIST: Final = (
    OrderTypeSpec(
        _T.INSTALL,
        "Meter install",
        Subject.SERVICE_POINT,
        30,
        Skill.RESIDENTIAL,
        Skill.CT_RATED,
        (),
        ("meter {form}", "seals", "locking ring"),
        StockItemKind.METER,
        (
            "Confirm the premise and service point number",
            _SAFE_START,
            "Install the meter and watch it boot",
            "Confirm the first read and registration on the head-end",
            _PHOTO,
        ),
        4,
    ),
    OrderTypeSpec(
        _T.EXCHANGE,
        "Meter exchange",
        Subject.METER,
        25,
        Skill.RESIDENTIAL,
        Skill.CT_RATED,
        (),
        ("meter {form}", "seals", "locking ring"),
        StockItemKind.METER,
        (
            _CONFIRM,
            _SAFE_START,
            _READS,
            "Exchange the meter and watch the new one boot",
            "Confirm registration on the head-end before leaving",
            _PHOTO,
        ),
        4,
    ),
    OrderTypeSpec(
        _T.NON_COMM_INVESTIGATION,
        "Non-communicating meter investigation",
        Subject.METER,
        40,
        Skill.RESIDENTIAL,
        Skill.CT_RATED,
        (),
        ("spare radio module", "field tool with optical probe"),
        None,
        (
            _CONFIRM,
            "Check the head-end event log and last read before touching the meter",
            "Check power at the meter and the display",
            "Read signal strength and parent node with the field tool",
            "Replace the radio module or re-seat the meter as needed",
            "Confirm the meter answers a ping from the head-end",
        ),
        3,
        cancel_when_meter_answers=True,
    ),
    OrderTypeSpec(
        _T.RADIO_MODULE_REPLACEMENT,
        "Radio module replacement",
        Subject.METER,
        30,
        Skill.RESIDENTIAL,
        Skill.CT_RATED,
        (),
        ("radio module", "seals"),
        StockItemKind.RADIO_MODULE,
        (
            _CONFIRM,
            _SAFE_START,
            "Replace the radio module and record both module serials",
            "Confirm registration and a ping on the head-end",
            _PHOTO,
        ),
        3,
        cancel_when_meter_answers=True,
    ),
    OrderTypeSpec(
        _T.COLLECTOR_WORK,
        "Collector or router work",
        Subject.COLLECTOR,
        120,
        Skill.NETWORK_COLLECTOR,
        None,
        (),
        ("collector spares", "bucket truck or ladder"),
        None,
        (
            "Check the collector's backhaul and power",
            "Inspect the antenna and its aim",
            "Repair, replace or relocate as the work order says",
            "Confirm the collector reports and its meters register",
        ),
        2,
    ),
    OrderTypeSpec(
        _T.FIELD_DISCONNECT,
        "Field disconnect",
        Subject.METER,
        20,
        Skill.RESIDENTIAL,
        Skill.CT_RATED,
        (),
        ("seals", "locking ring", "disconnect sleeves"),
        None,
        (
            _CONFIRM,
            _READS,
            "Disconnect (switch, sleeves or pull) and seal",
            "Leave the notice the tariff requires",
            _PHOTO,
        ),
        3,
    ),
    OrderTypeSpec(
        _T.FIELD_RECONNECT,
        "Field reconnect",
        Subject.METER,
        20,
        Skill.RESIDENTIAL,
        Skill.CT_RATED,
        (),
        ("seals", "locking ring"),
        None,
        (
            _CONFIRM,
            "Check for voltage on the load side before closing",
            "Reconnect and confirm the meter registers load",
            _READS,
        ),
        1,
        DeadlineRule.REGULATOR_HOURS,
    ),
    OrderTypeSpec(
        _T.ACCURACY_TEST,
        "Field accuracy test",
        Subject.METER,
        60,
        Skill.METER_SHOP,
        None,
        (),
        ("portable meter test set", "test switch leads"),
        None,
        (
            _CONFIRM,
            "Test full load, light load and power factor per ANSI C12.20",
            "Record as-found errors and the test set's serial",
            "Pull the meter for the shop when it fails",
        ),
        4,
    ),
    OrderTypeSpec(
        _T.HIGH_BILL_INVESTIGATION,
        "High-bill investigation",
        Subject.METER,
        60,
        Skill.RESIDENTIAL,
        Skill.CT_RATED,
        (),
        ("portable meter test set",),
        None,
        (
            _CONFIRM,
            "Compare the dial read with the billed read",
            "Test the meter's accuracy on site",
            "Explain the consumption pattern to the customer if present",
        ),
        3,
    ),
    OrderTypeSpec(
        _T.HOT_SOCKET_INSPECTION,
        "Hot-socket and meter-base inspection",
        Subject.METER,
        45,
        Skill.RESIDENTIAL,
        Skill.CT_RATED,
        ("nfpa70e",),
        ("meter {form}", "jaw repair kit", "infrared thermometer"),
        StockItemKind.METER,
        (
            "Wear arc-rated PPE; check the base temperature before touching it",
            "Inspect jaws, lugs and the meter for heat damage",
            "Exchange the meter and repair or tag the base",
            _PHOTO,
        ),
        1,
        DeadlineRule.SAME_DAY,
    ),
    OrderTypeSpec(
        _T.TAMPER_INVESTIGATION,
        "Tamper investigation",
        Subject.METER,
        45,
        Skill.RESIDENTIAL,
        Skill.CT_RATED,
        (),
        ("seals", "camera"),
        None,
        (
            _CONFIRM,
            "Photograph the seals, cover and base as found",
            "Look for bypass jumpers and a tilted or inverted meter",
            _READS,
            "Re-seal and record the new seal numbers",
        ),
        2,
    ),
    OrderTypeSpec(
        _T.CT_SITE_CHECK,
        "CT-rated site check",
        Subject.METER,
        90,
        Skill.CT_RATED,
        None,
        ("nfpa70e",),
        ("phase rotation meter", "CT ratio tester", "clamp meter"),
        None,
        (
            _CONFIRM,
            "Check the CT ratio and multiplier against the records",
            "Check CT polarity and phase rotation (vector diagram)",
            "Compare secondary currents with the meter's instantaneous values",
        ),
        3,
    ),
)
del _T

ORDER_TYPES: Final[MappingProxyType[WorkOrderType, OrderTypeSpec]] = MappingProxyType(
    {spec.code: spec for spec in _TYPE_LIST}
)
"""Every work-order type by code."""


def required_skill(spec: OrderTypeSpec, *, transformer_rated: bool) -> Skill:
    """The skill an order of this type needs at a service.

    Examples:
        >>> required_skill(ORDER_TYPES[WorkOrderType.EXCHANGE], transformer_rated=True).value
        'ct_rated'
        >>> required_skill(ORDER_TYPES[WorkOrderType.EXCHANGE], transformer_rated=False).value
        'residential'
    """
    if transformer_rated and spec.ct_skill is not None:
        return spec.ct_skill
    return spec.skill


def meter_item(form: str) -> str:
    """Truck-stock item name of a meter of a form (``meter:2S``)."""
    return f"meter:{form}"


def stock_items(spec: OrderTypeSpec, *, meter_form: str | None) -> tuple[str, ...]:
    """Truck-stock items an order of this type uses up.

    A meter of unknown form cannot be matched with stock, so it uses nothing tracked.

    Examples:
        >>> stock_items(ORDER_TYPES[WorkOrderType.EXCHANGE], meter_form="2S")
        ('meter:2S',)
        >>> stock_items(ORDER_TYPES[WorkOrderType.RADIO_MODULE_REPLACEMENT], meter_form="2S")
        ('radio_module',)
    """
    if spec.uses is StockItemKind.RADIO_MODULE:
        return (RADIO_MODULE,)
    if spec.uses is StockItemKind.METER and meter_form:
        return (meter_item(meter_form),)
    return ()
