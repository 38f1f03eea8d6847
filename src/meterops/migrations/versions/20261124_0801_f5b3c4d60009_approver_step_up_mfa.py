"""auth: TOTP second factor and session step-up

The user's TOTP secret, when a code confirmed it, and the last time step accepted (no code
twice); the session's last step-up. Approvals of held remote commands need a step-up from
the last 5 minutes (CMD-03).

Revision ID: f5b3c4d60009
Revises: e4a2b3c50008
Create Date: 2026-11-24 08:01:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import meterops.db.base

revision: str = "f5b3c4d60009"
down_revision: str | None = "e4a2b3c50008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mfa_secret", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column(
                "mfa_confirmed_at_utc", meterops.db.base.UtcDateTime(timezone=True), nullable=True
            )
        )
        batch_op.add_column(sa.Column("mfa_last_step", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "stepped_up_at_utc", meterops.db.base.UtcDateTime(timezone=True), nullable=True
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.drop_column("stepped_up_at_utc")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("mfa_last_step")
        batch_op.drop_column("mfa_confirmed_at_utc")
        batch_op.drop_column("mfa_secret")
