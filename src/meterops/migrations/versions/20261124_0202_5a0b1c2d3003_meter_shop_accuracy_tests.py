"""meter shop: accuracy tests and in-service testing

Revision ID: 5a0b1c2d3003
Revises: c0a1d2e3f002
Create Date: 2026-11-24 02:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import meterops.db.base

revision: str = "5a0b1c2d3003"
down_revision: str | None = "c0a1d2e3f002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "meter_sample_lots",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("programme_year", sa.Integer(), nullable=False),
        sa.Column("lot_key", sa.String(length=200), nullable=False),
        sa.Column("vendor", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.Column("firmware_revision", sa.String(length=32), nullable=True),
        sa.Column("install_year", sa.Integer(), nullable=False),
        sa.Column("lot_size", sa.Integer(), nullable=False),
        sa.Column("sample_size", sa.Integer(), nullable=False),
        sa.Column("code_letter", sa.String(length=2), nullable=True),
        sa.Column("k", sa.Double(), nullable=True),
        sa.Column("plan", sa.JSON(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("tested", sa.Integer(), nullable=False),
        sa.Column("mean_registration_pct", sa.Double(), nullable=True),
        sa.Column("std_registration_pct", sa.Double(), nullable=True),
        sa.Column("outside_tolerance", sa.Integer(), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("planned_at_utc", meterops.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("planned_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meter_sample_lots")),
        sa.UniqueConstraint(
            "programme_year", "lot_key", name=op.f("uq_meter_sample_lots_programme_year_lot_key")
        ),
    )
    with op.batch_alter_table("meter_sample_lots", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_meter_sample_lots_programme_year"), ["programme_year"], unique=False
        )

    op.create_table(
        "meter_test_files",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("layout", sa.String(length=32), nullable=False),
        sa.Column("tests_in_file", sa.Integer(), nullable=False),
        sa.Column("tests_created", sa.Integer(), nullable=False),
        sa.Column("imported_by", sa.String(length=64), nullable=False),
        sa.Column("imported_at_utc", meterops.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meter_test_files")),
        sa.UniqueConstraint("sha256", name=op.f("uq_meter_test_files_sha256")),
    )
    op.create_table(
        "meter_test_sets",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("serial_number", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=64), nullable=True),
        sa.Column("calibrated_on", sa.Date(), nullable=False),
        sa.Column("calibration_due_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meter_test_sets")),
        sa.UniqueConstraint("serial_number", name=op.f("uq_meter_test_sets_serial_number")),
    )
    op.create_table(
        "meter_accuracy_tests",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("meter_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("file_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column(
            "test_set_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("tested_at_utc", meterops.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column(
            "location",
            sa.Enum(
                "field",
                "shop",
                name="test_location",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("technician", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("form", sa.String(length=8), nullable=False),
        sa.Column("current_class", sa.String(length=8), nullable=False),
        sa.Column("accuracy_class", sa.String(length=8), nullable=False),
        sa.Column("test_set_calibrated_on", sa.Date(), nullable=False),
        sa.Column("test_set_calibration_due_on", sa.Date(), nullable=False),
        sa.Column("creep_pulses", sa.Integer(), nullable=True),
        sa.Column("register_start_kwh", sa.Double(), nullable=True),
        sa.Column("register_end_kwh", sa.Double(), nullable=True),
        sa.Column("register_reference_kwh", sa.Double(), nullable=True),
        sa.Column("formula", sa.String(length=64), nullable=False),
        sa.Column("as_found_average_pct", sa.Double(), nullable=True),
        sa.Column("as_left_average_pct", sa.Double(), nullable=True),
        sa.Column("within_tolerance", sa.Boolean(), nullable=True),
        sa.Column("creep_passed", sa.Boolean(), nullable=True),
        sa.Column("register_passed", sa.Boolean(), nullable=True),
        sa.Column(
            "verdict",
            sa.Enum(
                "pass",
                "fail_class",
                "fail_in_service",
                "fail_creep",
                "fail_register",
                name="test_verdict",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["file_id"],
            ["meter_test_files.id"],
            name=op.f("fk_meter_accuracy_tests_file_id_meter_test_files"),
        ),
        sa.ForeignKeyConstraint(
            ["meter_id"], ["meters.id"], name=op.f("fk_meter_accuracy_tests_meter_id_meters")
        ),
        sa.ForeignKeyConstraint(
            ["test_set_id"],
            ["meter_test_sets.id"],
            name=op.f("fk_meter_accuracy_tests_test_set_id_meter_test_sets"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meter_accuracy_tests")),
        sa.UniqueConstraint(
            "meter_id", "tested_at_utc", name=op.f("uq_meter_accuracy_tests_meter_id_tested_at_utc")
        ),
    )
    with op.batch_alter_table("meter_accuracy_tests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_meter_accuracy_tests_file_id"), ["file_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_meter_accuracy_tests_meter_id"), ["meter_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_meter_accuracy_tests_test_set_id"), ["test_set_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_meter_accuracy_tests_tested_at_utc"), ["tested_at_utc"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_meter_accuracy_tests_verdict"), ["verdict"], unique=False
        )

    op.create_table(
        "meter_lot_samples",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("lot_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("meter_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("sample_order", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["lot_id"],
            ["meter_sample_lots.id"],
            name=op.f("fk_meter_lot_samples_lot_id_meter_sample_lots"),
        ),
        sa.ForeignKeyConstraint(
            ["meter_id"], ["meters.id"], name=op.f("fk_meter_lot_samples_meter_id_meters")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meter_lot_samples")),
        sa.UniqueConstraint(
            "lot_id", "meter_id", name=op.f("uq_meter_lot_samples_lot_id_meter_id")
        ),
    )
    with op.batch_alter_table("meter_lot_samples", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_meter_lot_samples_lot_id"), ["lot_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_meter_lot_samples_meter_id"), ["meter_id"], unique=False
        )

    op.create_table(
        "meter_accuracy_test_points",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("test_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "stage",
            sa.Enum(
                "as_found",
                "as_left",
                name="test_stage",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "point",
            sa.Enum(
                "FL",
                "LL",
                "PF",
                name="test_point",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("element", sa.String(length=8), nullable=False),
        sa.Column("registration_pct", sa.Double(), nullable=False),
        sa.Column("error_pct", sa.Double(), nullable=False),
        sa.Column("limit_pct", sa.Double(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["test_id"],
            ["meter_accuracy_tests.id"],
            name=op.f("fk_meter_accuracy_test_points_test_id_meter_accuracy_tests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meter_accuracy_test_points")),
        sa.UniqueConstraint(
            "test_id",
            "stage",
            "point",
            "element",
            name=op.f("uq_meter_accuracy_test_points_test_id_stage_point_element"),
        ),
    )
    with op.batch_alter_table("meter_accuracy_test_points", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_meter_accuracy_test_points_test_id"), ["test_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("meter_accuracy_test_points", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_meter_accuracy_test_points_test_id"))

    op.drop_table("meter_accuracy_test_points")
    with op.batch_alter_table("meter_lot_samples", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_meter_lot_samples_meter_id"))
        batch_op.drop_index(batch_op.f("ix_meter_lot_samples_lot_id"))

    op.drop_table("meter_lot_samples")
    with op.batch_alter_table("meter_accuracy_tests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_meter_accuracy_tests_verdict"))
        batch_op.drop_index(batch_op.f("ix_meter_accuracy_tests_tested_at_utc"))
        batch_op.drop_index(batch_op.f("ix_meter_accuracy_tests_test_set_id"))
        batch_op.drop_index(batch_op.f("ix_meter_accuracy_tests_meter_id"))
        batch_op.drop_index(batch_op.f("ix_meter_accuracy_tests_file_id"))

    op.drop_table("meter_accuracy_tests")
    op.drop_table("meter_test_sets")
    op.drop_table("meter_test_files")
    with op.batch_alter_table("meter_sample_lots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_meter_sample_lots_programme_year"))

    op.drop_table("meter_sample_lots")
