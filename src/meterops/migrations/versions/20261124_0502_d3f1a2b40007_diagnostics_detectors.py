"""diagnostics: more detectors

The CHECK constraints of ``diagnostic_exceptions.kind`` and ``.cause`` list the values of
``diagnostics.kinds``; this revision admits the new exception kinds and causes.

Revision ID: d3f1a2b40007
Revises: c2e0f1a30006
Create Date: 2026-11-24 05:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d3f1a2b40007"
down_revision: str | None = "c2e0f1a30006"
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
)
_NEW_KINDS = ("consumption_drop", "crossed_meters")
_NEW_CAUSES = ("crossed_meters",)
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
)


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def _replace(kinds: Sequence[str], causes: Sequence[str]) -> None:
    with op.batch_alter_table("diagnostic_exceptions", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_diagnostic_exceptions_exception_kind"), type_="check")
        batch_op.drop_constraint(op.f("ck_diagnostic_exceptions_diagnostic_cause"), type_="check")
        batch_op.create_check_constraint("exception_kind", sa.text(_in("kind", kinds)))
        batch_op.create_check_constraint("diagnostic_cause", sa.text(_in("cause", causes)))


def upgrade() -> None:
    _replace((*_KINDS, *_NEW_KINDS), (*_CAUSES, *_NEW_CAUSES))


def downgrade() -> None:
    delete = sa.text("DELETE FROM diagnostic_exceptions WHERE kind = :kind")
    for kind in _NEW_KINDS:
        op.execute(delete.bindparams(kind=kind))
    clear = sa.text("UPDATE diagnostic_exceptions SET cause = NULL WHERE cause = :cause")
    for cause in _NEW_CAUSES:
        op.execute(clear.bindparams(cause=cause))
    _replace(_KINDS, _CAUSES)
