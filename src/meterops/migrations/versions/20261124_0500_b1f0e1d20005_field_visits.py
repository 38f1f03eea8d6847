"""field: visits, actions, photos

Revision ID: b1f0e1d20005
Revises: a7c3e9d10004
Create Date: 2026-11-24 05:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import meterops.db.base

revision: str = "b1f0e1d20005"
down_revision: str | None = "a7c3e9d10004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "field_actions",
        sa.Column("id", _ID, nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        sa.Column("work_order_id", _ID, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("payload_digest", sa.String(length=64), nullable=False),
        sa.Column("recorded_at_utc", meterops.db.base.UtcDateTime(), nullable=True),
        sa.Column("received_at_utc", meterops.db.base.UtcDateTime(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["work_order_id"],
            ["work_orders.id"],
            name=op.f("fk_field_actions_work_order_id_work_orders"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_field_actions")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_field_actions_idempotency_key")),
    )
    op.create_index(
        op.f("ix_field_actions_work_order_id"), "field_actions", ["work_order_id"], unique=False
    )
    op.create_table(
        "field_photos",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        sa.Column("work_order_id", _ID, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("path", sa.String(length=200), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("source_type", sa.String(length=8), nullable=False),
        sa.Column("uploaded_at_utc", meterops.db.base.UtcDateTime(), nullable=False),
        sa.Column("uploaded_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["work_order_id"],
            ["work_orders.id"],
            name=op.f("fk_field_photos_work_order_id_work_orders"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_field_photos")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_field_photos_idempotency_key")),
    )
    op.create_index(
        op.f("ix_field_photos_work_order_id"), "field_photos", ["work_order_id"], unique=False
    )
    op.create_table(
        "field_verifications",
        sa.Column("id", _ID, nullable=False),
        sa.Column("work_order_id", _ID, nullable=False),
        sa.Column("action_id", _ID, nullable=False),
        sa.Column("new_serial", sa.String(length=32), nullable=False),
        sa.Column("old_serial", sa.String(length=32), nullable=True),
        sa.Column("service_point_number", sa.String(length=32), nullable=False),
        sa.Column("request_key", sa.String(length=160), nullable=False),
        sa.Column("headend_command_id", sa.String(length=64), nullable=True),
        sa.Column(
            "state",
            sa.Enum(
                "pending",
                "verified",
                "failed",
                "timed_out",
                "not_needed",
                name="verification_state",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("submitted_at_utc", meterops.db.base.UtcDateTime(), nullable=False),
        sa.Column("deadline_utc", meterops.db.base.UtcDateTime(), nullable=False),
        sa.Column("registered_at_utc", meterops.db.base.UtcDateTime(), nullable=True),
        sa.Column("first_read", sa.JSON(), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("checked_at_utc", meterops.db.base.UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["action_id"],
            ["field_actions.id"],
            name=op.f("fk_field_verifications_action_id_field_actions"),
        ),
        sa.ForeignKeyConstraint(
            ["work_order_id"],
            ["work_orders.id"],
            name=op.f("fk_field_verifications_work_order_id_work_orders"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_field_verifications")),
        sa.UniqueConstraint("work_order_id", name=op.f("uq_field_verifications_work_order_id")),
    )


def downgrade() -> None:
    op.drop_table("field_verifications")
    op.drop_index(op.f("ix_field_photos_work_order_id"), table_name="field_photos")
    op.drop_table("field_photos")
    op.drop_index(op.f("ix_field_actions_work_order_id"), table_name="field_actions")
    op.drop_table("field_actions")
