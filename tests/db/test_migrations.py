"""Migrations build the schema the models describe, on the active backend."""

from sqlalchemy import Engine, inspect

from meterops.db import migrate
from meterops.db.base import Base


def test_the_migrated_database_is_at_head_and_matches_the_models(engine: Engine) -> None:
    assert migrate.current_revision(engine) == migrate.head_revision()
    migrate.check(engine)  # raises when a model change has no migration


def test_every_model_table_exists(engine: Engine) -> None:
    tables = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
