"""fleet: meter exchanges (installation history) for the wrong-multiplier check

Revision ID: b7d5e6f80011
Revises: a6c4d5e70010
Create Date: 2026-11-25 08:00:00+00:00
"""

from collections.abc import Sequence

revision: str = "b7d5e6f80011"
down_revision: str | None = "a6c4d5e70010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
