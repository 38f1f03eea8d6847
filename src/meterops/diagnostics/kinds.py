"""The vocabulary of diagnostics: exception kinds, causes and action kinds.

Stable snake_case values: they are stored in the database, shown in the API and scored
against the simulator's ground truth by tests.

Pure module: standard library only.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["ActionKind", "Cause", "ExceptionKind"]


class ExceptionKind(StrEnum):
    """What a detector found on a meter (one open exception per meter and kind)."""

    NON_COMMUNICATING = "non_communicating"
    """No reads for a configurable time, or too few reads arriving (intermittent)."""
    ZERO_CONSUMPTION = "zero_consumption"
    """Reads arrive but register no energy, on an active account."""
    INACTIVE_USAGE = "inactive_usage"
    """Energy delivered to a service point without an active account."""
    TAMPER = "tamper"
    """Cover removed, tilt or magnetic tamper events."""
    REVERSE_ENERGY = "reverse_energy"
    """Reverse energy or reverse rotation events where no export is expected."""
    HOT_SOCKET = "hot_socket"
    """High-temperature alarms."""
    VOLTAGE_OUT_OF_RANGE = "voltage_out_of_range"
    """Hourly voltage outside the service band, or under/over-voltage events."""
    SUSPECT_READS = "suspect_reads"
    """Many reads flagged by VEE or the source, or daily clock errors."""
    REGISTER_MISMATCH = "register_mismatch"
    """The register's advance differs from the sum of the interval reads."""
    HIGH_BILL = "high_bill"
    """Energy (or the on-peak share of a TOU customer) well above the customer's norm."""
    PROGRAM_MISMATCH = "program_mismatch"
    """The meter's program bills other TOU periods than its tariff's filed definition."""
    CONSUMPTION_DROP = "consumption_drop"
    """An occupied premise's weather-adjusted use stepped down and stayed down."""
    CROSSED_METERS = "crossed_meters"
    """Two neighbouring meters that look installed in each other's socket."""
    WRONG_MULTIPLIER = "wrong_multiplier"
    """At a CT-rated site's meter exchange the billed use stepped by the multipliers' ratio."""


class Cause(StrEnum):
    """Root causes a verdict can name (the documented taxonomy)."""

    COLLECTOR_DOWN = "collector_down"
    WEAK_MESH_PATH = "weak_mesh_path"
    RADIO_MODULE_FAILURE = "radio_module_failure"
    POWER_OUTAGE = "power_outage"
    METER_REMOVED = "meter_removed"
    TAMPER = "tamper"
    BYPASS_THEFT = "bypass_theft"
    UNPROVISIONED_METER = "unprovisioned_meter"
    """The head-end reports the meter under another serial, or never heard of it."""
    ACCOUNT_MISCONFIGURATION = "account_misconfiguration"
    """Energy used where the back office has no active account (move-in not recorded)."""
    VACANT_PREMISE = "vacant_premise"
    STOPPED_REGISTER = "stopped_register"
    CT_POLARITY = "ct_polarity"
    WRONG_MULTIPLIER = "wrong_multiplier"
    """The back office bills a CT-rated meter with a multiplier that is not the site's."""
    CROSSED_METERS = "crossed_meters"
    """Two meters installed in each other's socket (the back office links them swapped)."""
    CLOCK_ERROR = "clock_error"
    TOU_MISPROGRAM = "tou_misprogram"
    HOT_SOCKET = "hot_socket"
    SERVICE_VOLTAGE = "service_voltage"
    """A voltage problem of the service or transformer (not the meter)."""
    METER_FAULT = "meter_fault"
    """The meter's own metrology or data is wrong (exchange and test)."""
    CUSTOMER_USAGE = "customer_usage"
    """The usage is real (no fault found): explain to the customer."""
    UNDETERMINED = "undetermined"
    """No rule matched: an analyst looks at the evidence."""


class ActionKind(StrEnum):
    """Where a verdict's action happens."""

    NONE = "none"
    """Nothing to do but watch (e.g. an outage the outage system handles)."""
    REMOTE = "remote"
    """A head-end command: ping, on-demand read, re-provision, push program, time sync."""
    BACK_OFFICE = "back_office"
    """A correction in the back office: account, serial, multiplier."""
    FIELD = "field"
    """A visit: a work order with its type, skill and parts."""
    ANALYST = "analyst"
    """A person reviews the evidence (no rule is sure enough)."""
