"""Run Alembic migrations programmatically (``meterops db upgrade``, tests, the demo)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

__all__ = ["alembic_config", "check", "current_revision", "head_revision", "upgrade"]


def alembic_config(url: str | None = None) -> Config:
    """Alembic config pointing at the packaged migrations."""
    ini = Path(str(resources.files("meterops.migrations") / "alembic.ini"))
    config = Config(str(ini))
    config.set_main_option("script_location", str(ini.parent))
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Upgrade the database behind ``engine`` to ``revision``."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def check(engine: Engine) -> None:
    """Raise when the ORM models have changes no migration covers (``alembic check``)."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.check(config)


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None for an empty database)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    """The newest revision in the packaged migrations."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()
