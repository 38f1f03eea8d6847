"""ingest: the file identity a content hash was taken of (ING-01 without re-hashing)

``import_journal.file_identity`` holds the device, inode, size and modification and change
times (nanoseconds) of a file when its content hash was taken, when its change time was old
enough to vouch for the bytes (``journal.fingerprint``). A later ingest of the same path whose
identity is unchanged reuses the hash instead of reading the file again. Existing rows keep
None: their files are hashed as before.

Revision ID: c8e6f7a90012
Revises: b7d5e6f80011
Create Date: 2026-11-25 09:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c8e6f7a90012"
down_revision: str | None = "b7d5e6f80011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("import_journal", schema=None) as batch_op:
        batch_op.add_column(sa.Column("file_identity", sa.String(length=120), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_import_journal_file_identity"), ["file_identity"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("import_journal", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_import_journal_file_identity"))
        batch_op.drop_column("file_identity")
