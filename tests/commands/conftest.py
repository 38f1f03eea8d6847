"""Fixtures of the remote-operations tests: a loaded world and sessions on the test's connection."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.commands.world import Loaded, load_world


@pytest.fixture
def loaded(session: Session, tmp_path: Path) -> Loaded:
    """The small simulated world, imported (modules may override it)."""
    return load_world(session, tmp_path)


@pytest.fixture
def sessions(session: Session) -> sessionmaker[Session]:
    """Sessions on the test's connection: their commits are savepoints of the test."""
    return sessionmaker(
        bind=session.connection(), join_transaction_mode="create_savepoint", expire_on_commit=False
    )
