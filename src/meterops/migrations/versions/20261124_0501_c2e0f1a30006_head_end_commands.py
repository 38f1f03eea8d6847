"""remote commands: installs, time sync, demand reset, arm

The CHECK constraints of ``command_requests.kind`` and ``remote_commands.kind`` list the values
of ``models.commands.CommandType``; this revision admits time syncs, demand resets and
arm-for-customer-press reconnects. (Installs are head-end commands the field app follows; they
are not requested through the remote-commands outbox.)

Revision ID: c2e0f1a30006
Revises: b1f0e1d20005
Create Date: 2026-11-24 05:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c2e0f1a30006"
down_revision: str | None = "b1f0e1d20005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KINDS = ("ping", "on_demand_read", "disconnect", "reconnect", "program_push")
_NEW_KINDS = ("time_sync", "demand_reset", "arm_reconnect")
_TABLES = ("command_requests", "remote_commands")


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def _replace(kinds: Sequence[str]) -> None:
    for table in _TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(op.f(f"ck_{table}_command_type"), type_="check")
            batch_op.create_check_constraint("command_type", sa.text(_in("kind", kinds)))


def upgrade() -> None:
    _replace((*_KINDS, *_NEW_KINDS))


def downgrade() -> None:
    kinds: sa.BindParameter[list[str]] = sa.bindparam("kinds", expanding=True)
    # The requests' commands (their reconciliation reads too) go first, then the requests.
    op.execute(
        sa.text(
            "DELETE FROM remote_commands WHERE request_id IN "
            "(SELECT id FROM command_requests WHERE kind IN :kinds)"
        ).bindparams(kinds, kinds=list(_NEW_KINDS))
    )
    op.execute(
        sa.text("DELETE FROM command_requests WHERE kind IN :kinds").bindparams(
            kinds, kinds=list(_NEW_KINDS)
        )
    )
    _replace(_KINDS)
