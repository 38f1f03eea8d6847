"""diagnostics: exceptions and verdicts

Revision ID: d1a9c0e5f001
Revises: 9ab587be65a9
Create Date: 2026-11-24 02:00:00+00:00
"""

from collections.abc import Sequence

revision: str = "d1a9c0e5f001"
down_revision: str | None = "9ab587be65a9"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
