"""sign-in: web sessions and sign-in attempts

Revision ID: a7c3e9d10004
Revises: 5a0b1c2d3003
Create Date: 2026-11-24 02:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import meterops.db.base

revision: str = "a7c3e9d10004"
down_revision: str | None = "5a0b1c2d3003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "web_sessions",
        sa.Column("token_digest", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at_utc", meterops.db.base.UtcDateTime(), nullable=False),
        sa.Column("last_seen_at_utc", meterops.db.base.UtcDateTime(), nullable=False),
        sa.Column("expires_at_utc", meterops.db.base.UtcDateTime(), nullable=False),
        sa.Column("ended_at_utc", meterops.db.base.UtcDateTime(), nullable=True),
        sa.Column("end_reason", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_web_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_digest", name=op.f("pk_web_sessions")),
    )
    op.create_index("ix_web_sessions_user_id", "web_sessions", ["user_id"], unique=False)
    op.create_table(
        "sign_in_attempts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("attempted_at_utc", meterops.db.base.UtcDateTime(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("client_address", sa.String(length=64), nullable=False),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_attempts")),
    )
    op.create_index(
        "ix_sign_in_attempts_username_at",
        "sign_in_attempts",
        ["username", "attempted_at_utc"],
        unique=False,
    )
    op.create_index(
        "ix_sign_in_attempts_client_at",
        "sign_in_attempts",
        ["client_address", "attempted_at_utc"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_sign_in_attempts_client_at", table_name="sign_in_attempts")
    op.drop_index("ix_sign_in_attempts_username_at", table_name="sign_in_attempts")
    op.drop_table("sign_in_attempts")
    op.drop_index("ix_web_sessions_user_id", table_name="web_sessions")
    op.drop_table("web_sessions")
