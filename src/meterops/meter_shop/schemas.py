"""Pydantic I/O models of the meter_shop capability (API and CLI payloads)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict

from meterops.meter_shop.accuracy import Stage, TestLocation, TestPoint, Verdict

__all__ = [
    "AccuracyTestRead",
    "ImportReport",
    "LotRead",
    "PlanReport",
    "ReplacementRead",
    "SampleRead",
    "TestPointRead",
]


class _Read(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class TestPointRead(_Read):
    """One measured point of a test."""

    __test__ = False

    stage: Stage
    point: TestPoint
    element: str
    registration_pct: float
    error_pct: float
    limit_pct: float
    passed: bool


class AccuracyTestRead(_Read):
    """A stored accuracy test with its evaluation."""

    id: int
    meter_serial: str
    tested_at_utc: dt.datetime
    location: TestLocation
    technician: str
    reason: str
    form: str
    current_class: str
    accuracy_class: str
    test_set_serial: str
    test_set_calibrated_on: dt.date
    test_set_calibration_due_on: dt.date
    formula: str
    as_found_average_pct: float | None
    as_left_average_pct: float | None
    within_tolerance: bool | None
    creep_pulses: int | None
    creep_passed: bool | None
    register_passed: bool | None
    verdict: Verdict
    points: list[TestPointRead]


class ImportReport(BaseModel):
    """What importing one test file did."""

    file: str
    layout: str
    sha256: str
    tests: int
    created: int
    already_stored: int
    duplicate_file: bool
    verdicts: dict[str, int]


class LotRead(_Read):
    """A lot of an in-service testing programme year."""

    programme_year: int
    lot_key: str
    vendor: str
    model: str
    firmware_revision: str | None
    install_year: int
    lot_size: int
    sample_size: int
    code_letter: str | None
    k: float | None
    tested: int
    mean_registration_pct: float | None
    std_registration_pct: float | None
    outside_tolerance: int
    decision: str


class PlanReport(BaseModel):
    """What planning a programme year did."""

    programme_year: int
    plan: str
    seed: int
    lots: int
    meters: int
    sampled: int


class ReplacementRead(BaseModel):
    """A meter of a rejected lot."""

    lot_key: str
    serial_number: str


class SampleRead(BaseModel):
    """A meter drawn into a lot's sample, in test order."""

    lot_key: str
    sample_order: int
    serial_number: str
    tested: bool
