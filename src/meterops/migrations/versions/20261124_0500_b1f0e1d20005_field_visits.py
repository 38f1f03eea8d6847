"""field: visits, actions, photos

Revision ID: b1f0e1d20005
Revises: a7c3e9d10004
Create Date: 2026-11-24 05:00:00+00:00
"""

from collections.abc import Sequence

revision: str = "b1f0e1d20005"
down_revision: str | None = "a7c3e9d10004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
