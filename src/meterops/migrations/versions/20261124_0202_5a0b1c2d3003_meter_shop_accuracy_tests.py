"""meter shop: accuracy tests and in-service testing

Revision ID: 5a0b1c2d3003
Revises: c0a1d2e3f002
Create Date: 2026-11-24 02:00:00+00:00
"""

from collections.abc import Sequence

revision: str = "5a0b1c2d3003"
down_revision: str | None = "c0a1d2e3f002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
