"""accounts: open payment plans

Revision ID: e4a2b3c50008
Revises: d3f1a2b40007
Create Date: 2026-11-24 08:00:00+00:00
"""

from collections.abc import Sequence

revision: str = "e4a2b3c50008"
down_revision: str | None = "d3f1a2b40007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
