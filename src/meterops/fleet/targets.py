"""Where each fleet kind's rows go: model, natural key, column mapping, defaults, references.

Data for ``fleet/service.py``; the columns themselves are declared in ``fleet/spec.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from meterops.db.base import Base
from meterops.models import (
    Account,
    Collector,
    CommModule,
    Customer,
    Feeder,
    FirmwareRevision,
    Meter,
    MeterProgram,
    Premise,
    ServicePoint,
    Technician,
    Territory,
    Transformer,
)
from meterops.models.accounts import PaymentPlan

__all__ = ["REFERENCES", "TARGETS", "Target"]


@dataclass(frozen=True, slots=True)
class Target:
    """Where a kind's rows go: model, natural key, and file column → model attribute."""

    model: type[Base]
    key: tuple[str, ...]
    columns: dict[str, str]
    defaults: dict[str, Any]


TARGETS: dict[str, Target] = {
    "territories": Target(
        Territory, ("code",), {"territory_code": "code", "name": "name", "timezone": "timezone"}, {}
    ),
    "feeders": Target(
        Feeder,
        ("code",),
        {
            "feeder_code": "code",
            "name": "name",
            "substation": "substation",
            "territory_id": "territory_id",
        },
        {},
    ),
    "transformers": Target(
        Transformer,
        ("code",),
        {
            "transformer_code": "code",
            "feeder_id": "feeder_id",
            "kva": "kva",
            "phases": "phases",
            "latitude": "latitude",
            "longitude": "longitude",
        },
        {"phases": 1},
    ),
    "premises": Target(
        Premise,
        ("premise_number",),
        {
            "premise_number": "premise_number",
            "address_line": "address_line",
            "city": "city",
            "state": "state",
            "postal_code": "postal_code",
            "latitude": "latitude",
            "longitude": "longitude",
            "premise_type": "premise_type",
            "territory_id": "territory_id",
        },
        {"premise_type": "residential"},
    ),
    "service_points": Target(
        ServicePoint,
        ("service_point_number",),
        {
            "service_point_number": "service_point_number",
            "premise_id": "premise_id",
            "transformer_id": "transformer_id",
            "service_type": "service_type",
            "voltage_v": "voltage_v",
            "phases": "phases",
            "wires": "wires",
            "transformer_rated": "transformer_rated",
            "compatible_forms": "compatible_forms",
        },
        {"transformer_rated": False},
    ),
    "collectors": Target(
        Collector,
        ("code",),
        {
            "collector_code": "code",
            "kind": "kind",
            "vendor": "vendor",
            "model": "model",
            "latitude": "latitude",
            "longitude": "longitude",
            "backhaul": "backhaul",
            "territory_id": "territory_id",
            "active": "active",
        },
        {"active": True},
    ),
    "firmware": Target(
        FirmwareRevision,
        ("vendor", "model", "revision"),
        {
            "vendor": "vendor",
            "model": "model",
            "revision": "revision",
            "released_on": "released_on",
            "status": "status",
        },
        {"status": "approved"},
    ),
    "meters": Target(
        Meter,
        ("serial_number",),
        {
            "serial_number": "serial_number",
            "vendor": "vendor",
            "model": "model",
            "form": "form",
            "meter_class": "meter_class",
            "accuracy_class": "accuracy_class",
            "firmware_revision": "firmware_revision",
            "program_id": "program_id",
            "ct_ratio": "ct_ratio",
            "pt_ratio": "pt_ratio",
            "bidirectional": "bidirectional",
            "disconnect_switch": "has_disconnect_switch",
            "register_digits": "register_digits",
            "register_decimals": "register_decimals",
            "kh": "kh",
            "manufactured_on": "manufactured_on",
            "received_on": "received_on",
            "lot_number": "lot_number",
        },
        {
            "accuracy_class": "0.5",
            "ct_ratio": 1.0,
            "pt_ratio": 1.0,
            "bidirectional": False,
            "disconnect_switch": False,
            "register_digits": 5,
            "register_decimals": 0,
        },
    ),
    "comm_modules": Target(
        CommModule,
        ("module_serial",),
        {
            "module_serial": "module_serial",
            "vendor": "vendor",
            "model": "model",
            "technology": "technology",
            "firmware_revision": "firmware_revision",
        },
        {"technology": "rf_mesh"},
    ),
    "accounts": Target(
        Account,
        ("account_number",),
        {
            "account_number": "account_number",
            "customer_id": "customer_id",
            "service_point_id": "service_point_id",
            "move_in_date": "move_in_date",
            "move_out_date": "move_out_date",
            "rate_code": "rate_code",
            "medical_life_support": "medical_life_support",
            "critical_facility": "critical_facility",
            "net_metering": "net_metering",
        },
        {"medical_life_support": False, "critical_facility": False, "net_metering": False},
    ),
    "payment_plans": Target(
        PaymentPlan,
        ("plan_number",),
        {
            "plan_number": "plan_number",
            "account_id": "account_id",
            "start_date": "start_date",
            "end_date": "end_date",
            "status": "status",
        },
        {"status": "open"},
    ),
    "technicians": Target(
        Technician,
        ("employee_number",),
        {
            "employee_number": "employee_number",
            "name": "name",
            "skills": "skills",
            "certifications": "certifications",
            "territory_id": "territory_id",
            "depot_latitude": "depot_latitude",
            "depot_longitude": "depot_longitude",
            "shift_start": "shift_start",
            "shift_end": "shift_end",
            "break_minutes": "break_minutes",
            "max_stops": "max_stops",
            "active": "active",
        },
        {"skills": [], "certifications": [], "break_minutes": 30, "max_stops": 30, "active": True},
    ),
}

# file column → (referenced model, its key attribute, resolved column name)
REFERENCES: dict[str, tuple[type[Base], str, str]] = {
    "territory_code": (Territory, "code", "territory_id"),
    "feeder_code": (Feeder, "code", "feeder_id"),
    "premise_number": (Premise, "premise_number", "premise_id"),
    "transformer_code": (Transformer, "code", "transformer_id"),
    "program_code": (MeterProgram, "program_code", "program_id"),
    "service_point_number": (ServicePoint, "service_point_number", "service_point_id"),
    "customer_number": (Customer, "customer_number", "customer_id"),
    "meter_serial": (Meter, "serial_number", "meter_id"),
    "account_number": (Account, "account_number", "account_id"),
}
