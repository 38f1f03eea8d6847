"""fleet: meter exchanges (installation history) for the wrong-multiplier check

Exchanges are stored in the existing ``installations`` table (the removed meter's
installation is closed, the new one opened), so no table is added. The CHECK constraints of
``diagnostic_exceptions.kind`` and ``.cause`` list the values of ``diagnostics.kinds``; this
revision admits the ``wrong_multiplier`` exception kind and cause.

Revision ID: b7d5e6f80011
Revises: a6c4d5e70010
Create Date: 2026-11-25 08:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b7d5e6f80011"
down_revision: str | None = "a6c4d5e70010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KINDS = (
    "non_communicating",
    "zero_consumption",
    "inactive_usage",
    "tamper",
    "reverse_energy",
    "hot_socket",
    "voltage_out_of_range",
    "suspect_reads",
    "register_mismatch",
    "high_bill",
    "program_mismatch",
    "consumption_drop",
    "crossed_meters",
)
_CAUSES = (
    "collector_down",
    "weak_mesh_path",
    "radio_module_failure",
    "power_outage",
    "meter_removed",
    "tamper",
    "bypass_theft",
    "unprovisioned_meter",
    "account_misconfiguration",
    "vacant_premise",
    "stopped_register",
    "ct_polarity",
    "clock_error",
    "tou_misprogram",
    "hot_socket",
    "service_voltage",
    "meter_fault",
    "customer_usage",
    "undetermined",
    "crossed_meters",
)
_NEW = "wrong_multiplier"


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def _replace(kinds: Sequence[str], causes: Sequence[str]) -> None:
    with op.batch_alter_table("diagnostic_exceptions", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_diagnostic_exceptions_exception_kind"), type_="check")
        batch_op.drop_constraint(op.f("ck_diagnostic_exceptions_diagnostic_cause"), type_="check")
        batch_op.create_check_constraint("exception_kind", sa.text(_in("kind", kinds)))
        batch_op.create_check_constraint("diagnostic_cause", sa.text(_in("cause", causes)))


def upgrade() -> None:
    _replace((*_KINDS, _NEW), (*_CAUSES, _NEW))


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM diagnostic_exceptions WHERE kind = :k").bindparams(k=_NEW))
    op.execute(
        sa.text("UPDATE diagnostic_exceptions SET cause = NULL WHERE cause = :c").bindparams(c=_NEW)
    )
    _replace(_KINDS, _CAUSES)
