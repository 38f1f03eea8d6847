"""Pydantic I/O models of the assets capability (API and CLI payloads)."""

from __future__ import annotations

import datetime as dt

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from meterops.assets.lifecycle import AssetStatus
from meterops.nomenclature import ACCURACY_CLASSES, CURRENT_CLASSES, METER_FORMS

__all__ = [
    "CommModuleRead",
    "ExchangeRequest",
    "ExchangeResult",
    "FleetSummary",
    "InstallationRead",
    "MeterCreate",
    "MeterDetail",
    "MeterRead",
    "ServicePointRead",
    "StatusChange",
]


class _Read(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class MeterCreate(BaseModel):
    """A new meter received from the manufacturer."""

    serial_number: str = Field(min_length=1, max_length=32)
    vendor: str = Field(min_length=1, max_length=64)
    model: str = Field(min_length=1, max_length=64)
    form: str
    meter_class: str
    accuracy_class: str = "0.5"
    firmware_revision: str | None = None
    program_code: str | None = None
    ct_ratio: float = Field(default=1.0, gt=0)
    pt_ratio: float = Field(default=1.0, gt=0)
    bidirectional: bool = False
    has_disconnect_switch: bool = False
    register_digits: int = Field(default=5, ge=3, le=9)
    register_decimals: int = Field(default=0, ge=0, le=3)
    kh: float | None = Field(default=None, gt=0)
    manufactured_on: dt.date | None = None
    received_on: dt.date | None = None
    lot_number: str | None = None
    lifecycle_status: AssetStatus = AssetStatus.RECEIVED

    @field_validator("form")
    @classmethod
    def _known_form(cls, value: str) -> str:
        if value not in METER_FORMS:
            msg = f"unknown meter form {value!r}; known forms: {sorted(METER_FORMS)}"
            raise ValueError(msg)
        return value

    @field_validator("meter_class")
    @classmethod
    def _known_class(cls, value: str) -> str:
        if value not in CURRENT_CLASSES:
            msg = f"unknown current class {value!r}; known: {sorted(CURRENT_CLASSES)}"
            raise ValueError(msg)
        return value

    @field_validator("accuracy_class")
    @classmethod
    def _known_accuracy(cls, value: str) -> str:
        if value not in ACCURACY_CLASSES:
            msg = f"unknown accuracy class {value!r}; known: {sorted(ACCURACY_CLASSES)}"
            raise ValueError(msg)
        return value


class MeterRead(_Read):
    """A meter as the API returns it."""

    serial_number: str
    vendor: str
    model: str
    form: str
    meter_class: str
    accuracy_class: str
    firmware_revision: str | None
    ct_ratio: float
    pt_ratio: float
    multiplier: float
    bidirectional: bool
    has_disconnect_switch: bool
    register_digits: int
    register_decimals: int
    kh: float | None
    manufactured_on: dt.date | None
    received_on: dt.date | None
    lot_number: str | None
    lifecycle_status: AssetStatus


class ServicePointRead(_Read):
    """A service point with its premise's address and location."""

    service_point_number: str
    service_type: str
    voltage_v: int
    phases: int
    wires: int
    transformer_rated: bool
    compatible_forms: list[str]
    premise_number: str
    address_line: str
    city: str
    latitude: float
    longitude: float
    transformer_code: str | None
    feeder_code: str | None


class InstallationRead(_Read):
    """One installation period of a meter at a service point."""

    service_point_number: str
    installed_at_utc: dt.datetime
    installed_by: str
    install_read_kwh: float | None
    removed_at_utc: dt.datetime | None
    removed_by: str | None
    removal_read_kwh: float | None
    removal_reason: str | None
    work_order_ref: str | None


class CommModuleRead(_Read):
    """The communication module fitted to a meter."""

    module_serial: str
    vendor: str
    model: str
    technology: str
    firmware_revision: str | None
    linked_at_utc: dt.datetime


class MeterDetail(BaseModel):
    """Everything the meter page shows."""

    meter: MeterRead
    program_code: str | None
    service_point: ServicePointRead | None
    comm_module: CommModuleRead | None
    installations: list[InstallationRead]


class StatusChange(BaseModel):
    """A lifecycle move that is not an installation or removal."""

    target: AssetStatus
    reason: str = Field(min_length=1, max_length=500)


class ExchangeRequest(BaseModel):
    """Replace the meter at a service point, with both reads."""

    old_serial: str
    new_serial: str
    at: AwareDatetime
    old_final_read_kwh: float = Field(ge=0)
    new_initial_read_kwh: float = Field(ge=0)
    reason: str = Field(min_length=1, max_length=200)
    work_order_ref: str | None = None


class ExchangeResult(BaseModel):
    """The two installation records an exchange closes and opens."""

    service_point_number: str
    removed: InstallationRead
    installed: InstallationRead


class FleetSummary(BaseModel):
    """Meter counts over the fleet."""

    meters: int
    by_status: dict[str, int]
    by_form: dict[str, int]
