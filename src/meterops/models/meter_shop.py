"""ORM: accuracy test records, test sets, imported test files and in-service testing lots.

A :class:`AccuracyTestRecord` is one test of one meter (unique per meter and test time) with
its :class:`AccuracyTestPoint` rows (per stage, test point and element). The test set's
calibration dates are copied onto the record as they were on the test day, since a
:class:`MeterTestSet` is recalibrated over the years. A :class:`MeterTestFile` journals each
imported file by content hash, so the same file is stored once.

A :class:`SampleLot` is one homogeneous lot of one programme year with its plan and decision;
:class:`LotSample` rows are its sampled meters in test order.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from meterops.db.base import Base, BigIntPK
from meterops.meter_shop.accuracy import Stage, TestLocation, TestPoint, Verdict
from meterops.models._types import str_enum
from meterops.models.meters import Meter

__all__ = [
    "AccuracyTestPoint",
    "AccuracyTestRecord",
    "LotSample",
    "MeterTestFile",
    "MeterTestSet",
    "SampleLot",
]


class MeterTestSet(Base):
    """A test set (reference standard) with its latest known calibration."""

    __tablename__ = "meter_test_sets"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    serial_number: Mapped[str] = mapped_column(String(64), unique=True)
    model: Mapped[str | None] = mapped_column(String(64))
    calibrated_on: Mapped[dt.date]
    calibration_due_on: Mapped[dt.date]


class MeterTestFile(Base):
    """An imported test-set result file (journal; one row per distinct content)."""

    __tablename__ = "meter_test_files"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    file_name: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    layout: Mapped[str] = mapped_column(String(32))
    tests_in_file: Mapped[int]
    tests_created: Mapped[int]
    imported_by: Mapped[str] = mapped_column(String(64))
    imported_at_utc: Mapped[dt.datetime]


class AccuracyTestRecord(Base):
    """One accuracy test of one meter, with its evaluation."""

    __tablename__ = "meter_accuracy_tests"
    __table_args__ = (UniqueConstraint("meter_id", "tested_at_utc"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    meter_id: Mapped[int] = mapped_column(ForeignKey("meters.id"), index=True)
    file_id: Mapped[int | None] = mapped_column(ForeignKey("meter_test_files.id"), index=True)
    test_set_id: Mapped[int] = mapped_column(ForeignKey("meter_test_sets.id"), index=True)
    tested_at_utc: Mapped[dt.datetime] = mapped_column(index=True)
    location: Mapped[TestLocation] = mapped_column(str_enum(TestLocation, "test_location"))
    technician: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(64))
    form: Mapped[str] = mapped_column(String(8))
    current_class: Mapped[str] = mapped_column(String(8))
    accuracy_class: Mapped[str] = mapped_column(String(8))
    test_set_calibrated_on: Mapped[dt.date]
    test_set_calibration_due_on: Mapped[dt.date]
    creep_pulses: Mapped[int | None]
    register_start_kwh: Mapped[float | None]
    register_end_kwh: Mapped[float | None]
    register_reference_kwh: Mapped[float | None]
    formula: Mapped[str] = mapped_column(String(64))
    as_found_average_pct: Mapped[float | None]
    as_left_average_pct: Mapped[float | None]
    within_tolerance: Mapped[bool | None]
    creep_passed: Mapped[bool | None]
    register_passed: Mapped[bool | None]
    verdict: Mapped[Verdict] = mapped_column(str_enum(Verdict, "test_verdict"), index=True)

    meter: Mapped[Meter] = relationship(lazy="raise")
    test_set: Mapped[MeterTestSet] = relationship(lazy="raise")
    points: Mapped[list[AccuracyTestPoint]] = relationship(
        lazy="raise", back_populates="test", order_by="AccuracyTestPoint.id"
    )


class AccuracyTestPoint(Base):
    """The registration at one stage, test point and element of a test."""

    __tablename__ = "meter_accuracy_test_points"
    __table_args__ = (UniqueConstraint("test_id", "stage", "point", "element"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    test_id: Mapped[int] = mapped_column(ForeignKey("meter_accuracy_tests.id"), index=True)
    stage: Mapped[Stage] = mapped_column(str_enum(Stage, "test_stage"))
    point: Mapped[TestPoint] = mapped_column(str_enum(TestPoint, "test_point"))
    element: Mapped[str] = mapped_column(String(8))
    registration_pct: Mapped[float]
    error_pct: Mapped[float]
    limit_pct: Mapped[float]
    passed: Mapped[bool]

    test: Mapped[AccuracyTestRecord] = relationship(lazy="raise", back_populates="points")


class SampleLot(Base):
    """A homogeneous lot of one programme year: plan, sample size and decision."""

    __tablename__ = "meter_sample_lots"
    __table_args__ = (UniqueConstraint("programme_year", "lot_key"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    programme_year: Mapped[int] = mapped_column(index=True)
    lot_key: Mapped[str] = mapped_column(String(200))
    vendor: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(64))
    firmware_revision: Mapped[str | None] = mapped_column(String(32))
    install_year: Mapped[int]
    lot_size: Mapped[int]
    sample_size: Mapped[int]
    code_letter: Mapped[str | None] = mapped_column(String(2))
    k: Mapped[float | None]
    plan: Mapped[dict[str, Any]]
    seed: Mapped[int]
    tested: Mapped[int] = mapped_column(default=0)
    mean_registration_pct: Mapped[float | None]
    std_registration_pct: Mapped[float | None]
    outside_tolerance: Mapped[int] = mapped_column(default=0)
    decision: Mapped[str] = mapped_column(String(16), default="incomplete")
    planned_at_utc: Mapped[dt.datetime]
    planned_by: Mapped[str] = mapped_column(String(64))


class LotSample(Base):
    """A meter drawn into a lot's sample."""

    __tablename__ = "meter_lot_samples"
    __table_args__ = (UniqueConstraint("lot_id", "meter_id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("meter_sample_lots.id"), index=True)
    meter_id: Mapped[int] = mapped_column(ForeignKey("meters.id"), index=True)
    sample_order: Mapped[int]
