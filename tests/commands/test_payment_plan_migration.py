"""The payment-plans migration goes down and up again on the active backend."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command

from meterops.db import migrate
from meterops.db.engine import make_engine
from tests.conftest import fresh_database

BEFORE = "d3f1a2b40007"
"""The revision before ``e4a2b3c50008`` (account payment plans)."""


def test_payment_plans_downgrade_and_upgrade_again(tmp_path: Path) -> None:
    with fresh_database(tmp_path) as url:
        engine = make_engine(url)
        try:
            assert "payment_plans" in sa.inspect(engine).get_table_names()
            config = migrate.alembic_config()
            with engine.begin() as connection:
                config.attributes["connection"] = connection
                command.downgrade(config, BEFORE)
            assert migrate.current_revision(engine) == BEFORE
            tables = sa.inspect(engine).get_table_names()
            assert "payment_plans" not in tables
            assert "accounts" in tables
            migrate.upgrade(engine)
            inspector = sa.inspect(engine)
            assert {c["name"] for c in inspector.get_columns("payment_plans")} == {
                "id",
                "plan_number",
                "account_id",
                "start_date",
                "end_date",
                "status",
                "created_at_utc",
                "updated_at_utc",
            }
            assert [
                u["column_names"] for u in inspector.get_unique_constraints("payment_plans")
            ] == [["plan_number"]]
            migrate.check(engine)  # the models and the migrated schema agree again
        finally:
            engine.dispose()
