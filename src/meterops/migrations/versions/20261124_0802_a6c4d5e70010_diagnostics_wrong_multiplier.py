"""diagnostics: no schema change

Reserved for the wrong-multiplier exception kind, which was not built; kept so that
databases already at this revision still upgrade.

Revision ID: a6c4d5e70010
Revises: f5b3c4d60009
Create Date: 2026-11-24 08:02:00+00:00
"""

from collections.abc import Sequence

revision: str = "a6c4d5e70010"
down_revision: str | None = "f5b3c4d60009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
