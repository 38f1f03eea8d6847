"""auth: TOTP second factor and session step-up

Revision ID: f5b3c4d60009
Revises: e4a2b3c50008
Create Date: 2026-11-24 08:01:00+00:00
"""

from collections.abc import Sequence

revision: str = "f5b3c4d60009"
down_revision: str | None = "e4a2b3c50008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
