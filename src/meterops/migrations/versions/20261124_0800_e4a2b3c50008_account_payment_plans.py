"""accounts: open payment plans

One row per payment arrangement the CIS sends (``payment_plans.csv``); the remote-commands
guard ``guard.payment_plan`` refuses a disconnect while the meter's account has an open one.

Revision ID: e4a2b3c50008
Revises: d3f1a2b40007
Create Date: 2026-11-24 08:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import meterops.db.base

revision: str = "e4a2b3c50008"
down_revision: str | None = "d3f1a2b40007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "payment_plans",
        sa.Column("id", _ID, nullable=False),
        sa.Column("plan_number", sa.String(length=32), nullable=False),
        sa.Column("account_id", _ID, nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "completed",
                "defaulted",
                "cancelled",
                name="payment_plan_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "created_at_utc",
            meterops.db.base.UtcDateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column(
            "updated_at_utc",
            meterops.db.base.UtcDateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "end_date IS NULL OR end_date >= start_date",
            name=op.f("ck_payment_plans_payment_plan_dates"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_payment_plans_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_plans")),
        sa.UniqueConstraint("plan_number", name=op.f("uq_payment_plans_plan_number")),
    )
    op.create_index(
        op.f("ix_payment_plans_account_id"), "payment_plans", ["account_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_payment_plans_account_id"), table_name="payment_plans")
    op.drop_table("payment_plans")
