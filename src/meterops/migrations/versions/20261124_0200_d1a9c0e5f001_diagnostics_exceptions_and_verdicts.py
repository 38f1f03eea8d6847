"""diagnostics: exceptions and verdicts

Revision ID: d1a9c0e5f001
Revises: 9ab587be65a9
Create Date: 2026-11-24 02:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import meterops.db.base

revision: str = "d1a9c0e5f001"
down_revision: str | None = "9ab587be65a9"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_UTC = meterops.db.base.UtcDateTime(timezone=True)


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32)


def upgrade() -> None:
    op.create_table(
        "diagnostic_exceptions",
        sa.Column("id", _ID, nullable=False),
        sa.Column("meter_id", _ID, nullable=False),
        sa.Column(
            "kind",
            _enum(
                "exception_kind",
                "non_communicating",
                "zero_consumption",
                "inactive_usage",
                "tamper",
                "reverse_energy",
                "hot_socket",
                "voltage_out_of_range",
                "suspect_reads",
                "register_mismatch",
                "high_bill",
                "program_mismatch",
            ),
            nullable=False,
        ),
        sa.Column("status", _enum("exception_status", "open", "closed"), nullable=False),
        sa.Column("first_seen_utc", _UTC, nullable=False),
        sa.Column("last_seen_utc", _UTC, nullable=False),
        sa.Column("opened_at_utc", _UTC, nullable=False),
        sa.Column("closed_at_utc", _UTC, nullable=True),
        sa.Column("close_reason", sa.String(length=200), nullable=True),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column(
            "cause",
            _enum(
                "diagnostic_cause",
                "collector_down",
                "weak_mesh_path",
                "radio_module_failure",
                "power_outage",
                "meter_removed",
                "tamper",
                "bypass_theft",
                "unprovisioned_meter",
                "account_misconfiguration",
                "vacant_premise",
                "stopped_register",
                "ct_polarity",
                "clock_error",
                "tou_misprogram",
                "hot_socket",
                "service_voltage",
                "meter_fault",
                "customer_usage",
                "undetermined",
            ),
            nullable=True,
        ),
        sa.Column("rule_id", sa.String(length=100), nullable=True),
        sa.Column("confidence", sa.Double(), nullable=True),
        sa.Column(
            "action",
            _enum("diagnostic_action", "none", "remote", "back_office", "field", "analyst"),
            nullable=True,
        ),
        sa.Column("order_type", sa.String(length=32), nullable=True),
        sa.Column("remote_command", sa.String(length=32), nullable=True),
        sa.Column("summary", sa.String(length=2000), nullable=True),
        sa.Column("verdict_evidence", sa.JSON(), nullable=True),
        sa.Column("work_order_number", sa.String(length=32), nullable=True),
        sa.Column(
            "created_at_utc",
            _UTC,
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column(
            "updated_at_utc",
            _UTC,
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["meter_id"], ["meters.id"], name=op.f("fk_diagnostic_exceptions_meter_id_meters")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_diagnostic_exceptions")),
    )
    with op.batch_alter_table("diagnostic_exceptions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_diagnostic_exceptions_meter_id"), ["meter_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_diagnostic_exceptions_status"), ["status"], unique=False
        )
        batch_op.create_index(
            "uq_diagnostic_exceptions_open_meter_kind",
            ["meter_id", "kind"],
            unique=True,
            sqlite_where=sa.text("status = 'open'"),
            postgresql_where=sa.text("status = 'open'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("diagnostic_exceptions", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_diagnostic_exceptions_open_meter_kind",
            sqlite_where=sa.text("status = 'open'"),
            postgresql_where=sa.text("status = 'open'"),
        )
        batch_op.drop_index(batch_op.f("ix_diagnostic_exceptions_status"))
        batch_op.drop_index(batch_op.f("ix_diagnostic_exceptions_meter_id"))
    op.drop_table("diagnostic_exceptions")
