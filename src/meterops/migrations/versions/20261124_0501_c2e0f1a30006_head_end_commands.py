"""remote commands: installs, time sync, demand reset, arm

Revision ID: c2e0f1a30006
Revises: b1f0e1d20005
Create Date: 2026-11-24 05:00:00+00:00
"""

from collections.abc import Sequence

revision: str = "c2e0f1a30006"
down_revision: str | None = "b1f0e1d20005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
