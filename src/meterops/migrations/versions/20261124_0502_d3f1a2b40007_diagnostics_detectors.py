"""diagnostics: more detectors

Revision ID: d3f1a2b40007
Revises: c2e0f1a30006
Create Date: 2026-11-24 05:00:00+00:00
"""

from collections.abc import Sequence

revision: str = "d3f1a2b40007"
down_revision: str | None = "c2e0f1a30006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
