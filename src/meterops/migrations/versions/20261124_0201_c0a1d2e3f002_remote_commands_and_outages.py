"""remote commands, approvals, outbox and outages

Revision ID: c0a1d2e3f002
Revises: d1a9c0e5f001
Create Date: 2026-11-24 02:00:00+00:00
"""

from collections.abc import Sequence

revision: str = "c0a1d2e3f002"
down_revision: str | None = "d1a9c0e5f001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
