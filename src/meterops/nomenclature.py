"""Domain vocabulary as data: channels and units, IEC 61968-9 event codes, ANSI meter forms.

This module is the single definition of names that cross capability boundaries. It imports only
the standard library, so every pure module may use it. ``docs/nomenclature.md`` explains the
terms for people; the tables here are what code reads.

Sources: ``standards.md`` §2.6-2.8 (CIM ReadingType and EndDeviceEventType enumerations, from the
Connexo implementation of IEC 61968-9 Annex E), §5.1 (current classes and test amperes) and §6
(ANSI C12.10 form designations).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final

__all__ = [
    "ACCURACY_CLASSES",
    "CHANNELS",
    "CIM_EVENTS",
    "CURRENT_CLASSES",
    "EVENT_BY_NAME",
    "METER_FORMS",
    "SERVICE_TYPES",
    "AccuracyClass",
    "Channel",
    "ChannelKind",
    "CimEventType",
    "CurrentClass",
    "FlowDirection",
    "MeterForm",
    "ServiceType",
    "ServiceTypeInfo",
    "Severity",
    "compatible_forms",
    "decode_cim_event_code",
]


# --------------------------------------------------------------------------------------------
# Channels and units


class ChannelKind(StrEnum):
    """What a channel measures; VEE suites are chosen by kind."""

    ENERGY = "energy"
    DEMAND = "demand"
    REACTIVE_ENERGY = "reactive_energy"
    VOLTAGE = "voltage"
    TEMPERATURE = "temperature"
    VOLUME = "volume"


class FlowDirection(StrEnum):
    """Direction of energy flow (CIM ReadingType field 5: 1 forward, 19 reverse, 4 net)."""

    DELIVERED = "delivered"
    RECEIVED = "received"
    NET = "net"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Channel:
    """A canonical measurement channel.

    Attributes:
        name: Canonical name used in every frame's ``channel`` column.
        kind: What it measures.
        unit: Unit of ``value`` after normalisation at ingest.
        flow: Direction of energy flow, or ``NONE``.
        cim_measurement_kind: CIM ReadingType field 7 (12 energy, 8 demand, 54 voltage …).
        cim_unit: CIM ReadingType field 17 (72 Wh, 38 W, 73 VArh, 29 V, 23 °C).
        cim_multiplier: CIM ReadingType field 16, power of ten (3 = kilo).
        description: Plain-language meaning.
    """

    name: str
    kind: ChannelKind
    unit: str
    flow: FlowDirection
    cim_measurement_kind: int
    cim_unit: int
    cim_multiplier: int
    description: str

    @property
    def is_energy(self) -> bool:
        """True for accumulating channels, whose interval values add up to a register advance."""
        return self.kind in (ChannelKind.ENERGY, ChannelKind.REACTIVE_ENERGY, ChannelKind.VOLUME)


_CHANNEL_LIST: Final = (
    Channel(
        "kwh_delivered",
        ChannelKind.ENERGY,
        "kWh",
        FlowDirection.DELIVERED,
        12,
        72,
        3,
        "Active energy delivered to the customer (forward, import) in the interval.",
    ),
    Channel(
        "kwh_received",
        ChannelKind.ENERGY,
        "kWh",
        FlowDirection.RECEIVED,
        12,
        72,
        3,
        "Active energy received from the customer (reverse, export), e.g. rooftop solar.",
    ),
    Channel(
        "kwh_net",
        ChannelKind.ENERGY,
        "kWh",
        FlowDirection.NET,
        12,
        72,
        3,
        "Delivered minus received energy in the interval.",
    ),
    Channel(
        "kvarh_delivered",
        ChannelKind.REACTIVE_ENERGY,
        "kVArh",
        FlowDirection.DELIVERED,
        12,
        73,
        3,
        "Reactive energy, quadrants I+IV.",
    ),
    Channel(
        "kvarh_received",
        ChannelKind.REACTIVE_ENERGY,
        "kVArh",
        FlowDirection.RECEIVED,
        12,
        73,
        3,
        "Reactive energy received (export).",
    ),
    Channel(
        "kw_demand",
        ChannelKind.DEMAND,
        "kW",
        FlowDirection.DELIVERED,
        8,
        38,
        3,
        "Average demand over the interval (energy × 60 / interval minutes).",
    ),
    Channel(
        "voltage_v",
        ChannelKind.VOLTAGE,
        "V",
        FlowDirection.NONE,
        54,
        29,
        0,
        "Average RMS service voltage in the interval.",
    ),
    Channel(
        "voltage_min_v",
        ChannelKind.VOLTAGE,
        "V",
        FlowDirection.NONE,
        54,
        29,
        0,
        "Minimum RMS service voltage in the interval.",
    ),
    Channel(
        "voltage_max_v",
        ChannelKind.VOLTAGE,
        "V",
        FlowDirection.NONE,
        54,
        29,
        0,
        "Maximum RMS service voltage in the interval.",
    ),
    Channel(
        "gas_therm_delivered",
        ChannelKind.ENERGY,
        "therm",
        FlowDirection.DELIVERED,
        12,
        169,
        0,
        "Natural gas delivered (Green Button gas feeds).",
    ),
    Channel(
        "water_ft3_delivered",
        ChannelKind.VOLUME,
        "ft³",
        FlowDirection.DELIVERED,
        58,
        119,
        0,
        "Water delivered (CMEP water rows).",
    ),
    Channel(
        "temperature_c",
        ChannelKind.TEMPERATURE,
        "°C",
        FlowDirection.NONE,
        46,
        23,
        0,
        "Meter internal temperature.",
    ),
)

CHANNELS: Final[MappingProxyType[str, Channel]] = MappingProxyType(
    {channel.name: channel for channel in _CHANNEL_LIST}
)
"""Canonical channels by name."""


# --------------------------------------------------------------------------------------------
# IEC 61968-9 EndDeviceEventType codes used by the product


class Severity(StrEnum):
    """How urgently an event needs attention."""

    INFO = "info"
    WARNING = "warning"
    ALARM = "alarm"
    CRITICAL = "critical"


@dataclass(frozen=True, slots=True)
class CimEventType:
    """An IEC 61968-9 EndDeviceEventType the product reacts to.

    Attributes:
        code: Four-part ``type.domain.subDomain.eventOrAction`` code.
        name: Our stable snake_case name.
        severity: Default severity.
        description: Plain-language meaning.
        verified: ``False`` where ``standards.md`` marks the code as composed or unverified;
            confirm it against the utility's head-end before relying on it.
    """

    code: str
    name: str
    severity: Severity
    description: str
    verified: bool = True


_EVENT_LIST: Final = (
    CimEventType(
        "3.26.0.47", "power_loss", Severity.ALARM, "Primary power down at the meter (outage)."
    ),
    CimEventType("3.26.0.85", "power_failed", Severity.ALARM, "Power failed at the meter."),
    CimEventType(
        "3.26.136.47",
        "last_gasp",
        Severity.ALARM,
        "Last gasp from the communication module: power lost.",
    ),
    CimEventType("3.26.0.216", "power_restored", Severity.INFO, "Power restored at the meter."),
    CimEventType(
        "3.26.136.216",
        "power_restored_nic",
        Severity.INFO,
        "Power restored, reported by the communication module.",
    ),
    CimEventType("3.12.0.257", "tamper", Severity.ALARM, "Tamper detected (generic)."),
    CimEventType(
        "3.12.17.257", "tilt_tamper", Severity.ALARM, "Inversion or tilt tamper detected."
    ),
    CimEventType("3.12.29.212", "cover_removed", Severity.ALARM, "Meter cover removed."),
    CimEventType(
        "3.12.66.257",
        "magnetic_tamper",
        Severity.ALARM,
        "Magnetic tamper detected.",
        verified=False,
    ),
    CimEventType(
        "3.12.93.219",
        "reverse_rotation",
        Severity.WARNING,
        "Reverse rotation (energy flowing backwards through the meter).",
    ),
    CimEventType("3.12.48.219", "reverse_energy", Severity.WARNING, "Reverse energy flow."),
    CimEventType(
        "3.6.0.212",
        "meter_removed",
        Severity.ALARM,
        "Meter removed from its socket.",
        verified=False,
    ),
    CimEventType(
        "3.31.0.68", "switch_disconnected", Severity.INFO, "Service switch opened (disconnected)."
    ),
    CimEventType(
        "3.31.0.42", "switch_connected", Severity.INFO, "Service switch closed (connected)."
    ),
    CimEventType(
        "3.31.0.84", "switch_disconnect_failed", Severity.WARNING, "Service switch failed to open."
    ),
    CimEventType(
        "3.31.0.67", "switch_connect_failed", Severity.WARNING, "Service switch failed to close."
    ),
    CimEventType(
        "3.31.0.11",
        "switch_armed_for_closure",
        Severity.INFO,
        "Service switch armed; the customer closes it with the button.",
    ),
    CimEventType(
        "3.31.1.143",
        "load_side_voltage",
        Severity.CRITICAL,
        "Voltage present on the load side while the switch is open.",
    ),
    CimEventType("3.1.0.85", "comm_failure", Severity.WARNING, "Communication failed."),
    CimEventType(
        "3.35.0.40",
        "high_temperature",
        Severity.CRITICAL,
        "Meter temperature out of range (possible hot socket).",
    ),
    CimEventType("3.35.0.28", "temperature_cleared", Severity.INFO, "Temperature back in range."),
    CimEventType("3.26.38.150", "under_voltage", Severity.WARNING, "Voltage below limit."),
    CimEventType("3.26.38.93", "over_voltage", Severity.WARNING, "Voltage above limit."),
    CimEventType("3.26.38.37", "voltage_normal", Severity.INFO, "Voltage back to normal."),
    CimEventType("3.21.38.223", "voltage_sag", Severity.INFO, "Voltage sag ended."),
    CimEventType("3.21.38.248", "voltage_swell", Severity.INFO, "Voltage swell ended."),
    CimEventType("3.2.22.150", "low_battery", Severity.WARNING, "Clock battery low."),
    CimEventType("3.8.0.215", "demand_reset", Severity.INFO, "Demand reset occurred."),
    CimEventType("3.36.0.79", "clock_error", Severity.WARNING, "Meter clock error."),
    CimEventType("3.36.114.24", "time_changed", Severity.INFO, "Meter time changed."),
    CimEventType("3.7.19.242", "test_mode_started", Severity.INFO, "Test mode started."),
    CimEventType("3.7.19.243", "test_mode_stopped", Severity.INFO, "Test mode stopped."),
    CimEventType(
        "3.7.83.24",
        "program_changed",
        Severity.INFO,
        "Meter program (configuration) changed.",
        verified=False,
    ),
    CimEventType("3.11.17.52", "firmware_changed", Severity.INFO, "Firmware changed."),
    CimEventType("3.18.72.85", "nvram_failure", Severity.CRITICAL, "Non-volatile memory failed."),
    CimEventType("3.18.85.85", "ram_failure", Severity.CRITICAL, "RAM failed."),
    CimEventType("3.18.92.85", "rom_failure", Severity.CRITICAL, "ROM failed."),
)

CIM_EVENTS: Final[MappingProxyType[str, CimEventType]] = MappingProxyType(
    {event.code: event for event in _EVENT_LIST}
)
"""Event types the product knows, by CIM code. Unknown codes are stored as received."""

EVENT_BY_NAME: Final[MappingProxyType[str, CimEventType]] = MappingProxyType(
    {event.name: event for event in _EVENT_LIST}
)
"""The same event types by our name."""


def decode_cim_event_code(code: str) -> tuple[int, int, int, int]:
    """Split a four-part CIM EndDeviceEventType code into its integers.

    Args:
        code: ``type.domain.subDomain.eventOrAction``, e.g. ``"3.26.0.47"``.

    Returns:
        ``(type, domain, sub_domain, event_or_action)``.

    Raises:
        ValueError: When the code does not have four dot-separated non-negative integers.

    Examples:
        >>> decode_cim_event_code("3.26.136.47")
        (3, 26, 136, 47)
    """
    parts = code.split(".")
    if len(parts) != 4 or not all(part.isdigit() for part in parts):
        msg = (
            f"CIM event code {code!r} must have four dot-separated non-negative integers "
            "(type.domain.subDomain.eventOrAction), e.g. '3.26.0.47'"
        )
        raise ValueError(msg)
    a, b, c, d = (int(part) for part in parts)
    return a, b, c, d


# --------------------------------------------------------------------------------------------
# Current classes, accuracy classes, service types and ANSI meter forms


@dataclass(frozen=True, slots=True)
class CurrentClass:
    """ANSI current class: maximum current and the test amperes (TA) used for FL/LL tests.

    Attributes:
        name: e.g. ``"CL200"``.
        max_current_a: Class amperes. [A]
        test_amperes_a: Test amperes (full load = 100 % TA; light load = 10 % TA). [A]
        self_contained: True for self-contained classes, False for transformer-rated.
    """

    name: str
    max_current_a: float
    test_amperes_a: float
    self_contained: bool


CURRENT_CLASSES: Final[MappingProxyType[str, CurrentClass]] = MappingProxyType(
    {
        c.name: c
        for c in (
            CurrentClass("CL2", 2.0, 0.5, self_contained=False),
            CurrentClass("CL10", 10.0, 2.5, self_contained=False),
            CurrentClass("CL20", 20.0, 2.5, self_contained=False),
            CurrentClass("CL100", 100.0, 15.0, self_contained=True),
            CurrentClass("CL200", 200.0, 30.0, self_contained=True),
            CurrentClass("CL320", 320.0, 50.0, self_contained=True),
        )
    }
)
"""Current classes by name (``standards.md`` §5.1)."""


@dataclass(frozen=True, slots=True)
class AccuracyClass:
    """Accuracy class: the percent error allowed at the reference test points.

    Attributes:
        name: ``"0.1"``, ``"0.2"``, ``"0.5"`` (ANSI C12.20) or ``"1.0"`` (ANSI C12.1).
        max_error_pct: Allowed error at full load, unity power factor. [%]
        standard: The standard that defines it.
    """

    name: str
    max_error_pct: float
    standard: str


ACCURACY_CLASSES: Final[MappingProxyType[str, AccuracyClass]] = MappingProxyType(
    {
        a.name: a
        for a in (
            AccuracyClass("0.1", 0.1, "ANSI C12.20"),
            AccuracyClass("0.2", 0.2, "ANSI C12.20"),
            AccuracyClass("0.5", 0.5, "ANSI C12.20"),
            AccuracyClass("1.0", 1.0, "ANSI C12.1"),
        )
    }
)
"""Accuracy classes by name."""


class ServiceType(StrEnum):
    """Electric service arrangements at a service point."""

    SINGLE_PHASE_2W = "1ph_2w"
    """Single phase, 2 wires, 120 V."""
    SINGLE_PHASE_3W = "1ph_3w"
    """Single phase, 3 wires, 120/240 V: the residential norm."""
    NETWORK_3W = "network_3w"
    """Two phases and neutral of a 120/208 V wye (network service)."""
    THREE_PHASE_3W_DELTA = "3ph_3w_delta"
    """Three phase, 3-wire delta."""
    THREE_PHASE_4W_WYE = "3ph_4w_wye"
    """Three phase, 4-wire wye (e.g. 120/208 V, 277/480 V)."""
    THREE_PHASE_4W_DELTA = "3ph_4w_delta"
    """Three phase, 4-wire delta."""


@dataclass(frozen=True, slots=True)
class ServiceTypeInfo:
    """Electrical facts of a service type.

    Attributes:
        service_type: The service type.
        phases: Number of phase conductors.
        wires: Number of wires including neutral.
        nominal_voltages_v: Usual nominal voltages (line-to-neutral / line-to-line). [V]
        blondel_elements: Elements needed for exact measurement (wires − 1).
    """

    service_type: ServiceType
    phases: int
    wires: int
    nominal_voltages_v: tuple[int, ...]
    blondel_elements: int


SERVICE_TYPES: Final[MappingProxyType[ServiceType, ServiceTypeInfo]] = MappingProxyType(
    {
        s.service_type: s
        for s in (
            ServiceTypeInfo(ServiceType.SINGLE_PHASE_2W, 1, 2, (120,), 1),
            ServiceTypeInfo(ServiceType.SINGLE_PHASE_3W, 1, 3, (120, 240), 2),
            ServiceTypeInfo(ServiceType.NETWORK_3W, 2, 3, (120, 208), 2),
            ServiceTypeInfo(ServiceType.THREE_PHASE_3W_DELTA, 3, 3, (240, 480), 2),
            ServiceTypeInfo(ServiceType.THREE_PHASE_4W_WYE, 3, 4, (120, 208, 277, 480), 3),
            ServiceTypeInfo(ServiceType.THREE_PHASE_4W_DELTA, 3, 4, (120, 240), 3),
        )
    }
)
"""Service types with their phases, wires and nominal voltages."""


@dataclass(frozen=True, slots=True)
class MeterForm:
    """An ANSI C12.10 meter form.

    Attributes:
        name: Form designation, e.g. ``"2S"``.
        elements: Measuring elements (2.5 for the non-Blondel "2½-element" forms).
        services: Service types the form is designed to measure.
        self_contained: True when the meter carries the load current itself; False for
            transformer-rated forms (CTs, often PTs, and a multiplier).
        typical_classes: Current classes the form is usually built in.
        blondel: Whether the form measures exactly under any unbalance.
        notes: Field facts worth a technician's attention.
    """

    name: str
    elements: float
    services: tuple[ServiceType, ...]
    self_contained: bool
    typical_classes: tuple[str, ...]
    blondel: bool
    notes: str = ""

    @property
    def transformer_rated(self) -> bool:
        """True when the form needs instrument transformers."""
        return not self.self_contained


_S = ServiceType
_FORM_LIST: Final = (
    MeterForm(
        "1S",
        1,
        (_S.SINGLE_PHASE_2W,),
        True,
        ("CL100", "CL200"),
        True,
        "Mostly signs and small loads.",
    ),
    MeterForm(
        "2S",
        1,
        (_S.SINGLE_PHASE_3W,),
        True,
        ("CL200", "CL320"),
        True,
        "Residential norm; on a 120/208 V network service it registers about 75 %.",
    ),
    MeterForm("3S", 1, (_S.SINGLE_PHASE_2W, _S.SINGLE_PHASE_3W), False, ("CL10", "CL20"), True),
    MeterForm(
        "4S",
        1,
        (_S.SINGLE_PHASE_3W,),
        False,
        ("CL10", "CL20"),
        True,
        "Single phase 3-wire with two CTs (over 200/320 A).",
    ),
    MeterForm("5S", 2, (_S.THREE_PHASE_3W_DELTA, _S.NETWORK_3W), False, ("CL10", "CL20"), True),
    MeterForm(
        "6S",
        2.5,
        (_S.THREE_PHASE_4W_WYE,),
        False,
        ("CL10", "CL20"),
        False,
        "Non-Blondel; relies on balanced voltages.",
    ),
    MeterForm(
        "8S",
        2.5,
        (_S.THREE_PHASE_4W_DELTA,),
        False,
        ("CL10", "CL20"),
        False,
        "Largely superseded by 9S on solid-state meters.",
    ),
    MeterForm(
        "9S",
        3,
        (_S.THREE_PHASE_4W_WYE, _S.THREE_PHASE_4W_DELTA),
        False,
        ("CL10", "CL20"),
        True,
        "Most common CT/PT polyphase form.",
    ),
    MeterForm(
        "12S",
        2,
        (_S.NETWORK_3W, _S.THREE_PHASE_3W_DELTA),
        True,
        ("CL200", "CL320"),
        True,
        "Needs the 5th terminal; a mis-seated 5th blade can halve registration.",
    ),
    MeterForm("14S", 2.5, (_S.THREE_PHASE_4W_WYE,), True, ("CL200",), False),
    MeterForm("15S", 2, (_S.THREE_PHASE_4W_DELTA,), True, ("CL200", "CL320"), False),
    MeterForm(
        "16S", 3, (_S.THREE_PHASE_4W_WYE, _S.THREE_PHASE_4W_DELTA), True, ("CL200", "CL320"), True
    ),
    MeterForm("25S", 2, (_S.NETWORK_3W,), True, ("CL200",), True, "Alternative to 12S."),
    MeterForm(
        "35S",
        2,
        (
            _S.THREE_PHASE_3W_DELTA,
            _S.THREE_PHASE_4W_WYE,
            _S.THREE_PHASE_4W_DELTA,
            _S.SINGLE_PHASE_3W,
        ),
        False,
        ("CL10", "CL20"),
        False,
        "ABB universal form replacing 5S.",
    ),
    MeterForm(
        "36S", 2.5, (_S.THREE_PHASE_4W_WYE,), False, ("CL10", "CL20"), False, "6S replacement."
    ),
    MeterForm(
        "45S",
        2,
        (
            _S.THREE_PHASE_3W_DELTA,
            _S.THREE_PHASE_4W_WYE,
            _S.THREE_PHASE_4W_DELTA,
            _S.SINGLE_PHASE_3W,
        ),
        False,
        ("CL10", "CL20"),
        False,
        "GE universal form replacing 5S.",
    ),
)
del _S

METER_FORMS: Final[MappingProxyType[str, MeterForm]] = MappingProxyType(
    {form.name: form for form in _FORM_LIST}
)
"""ANSI meter forms by designation (``standards.md`` §6; rarer forms unverified there)."""


def compatible_forms(service_type: ServiceType | str, *, transformer_rated: bool) -> list[str]:
    """Forms that a socket of the given service type can take.

    Args:
        service_type: The service point's service type.
        transformer_rated: True for a CT-rated socket (transformer-rated forms only), False for
            a self-contained socket.

    Returns:
        Form designations, sorted by name.

    Examples:
        >>> compatible_forms("1ph_3w", transformer_rated=False)
        ['2S']
        >>> compatible_forms("3ph_4w_wye", transformer_rated=True)
        ['35S', '36S', '45S', '6S', '9S']
    """
    service = ServiceType(service_type)
    return sorted(
        form.name
        for form in _FORM_LIST
        if service in form.services and form.transformer_rated == transformer_rated
    )
