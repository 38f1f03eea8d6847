"""Test-wide fixtures: the real public data folder, scratch folders, database backends.

``../shared/data`` holds real public files (Green Button, NEM12, Solomon). Tests that need
them use the ``shared_data`` fixture: it skips with a message when the folder is absent (a
user's fresh clone), and fails instead when ``METEROPS_REQUIRE_SHARED_DATA=1`` (CI), so that
CI can never pass by skipping them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# CI (``.ci/run``) explores the same examples on every run, so its verdict on a commit is
# reproducible; a developer's run explores new ones and keeps any failure in .hypothesis/.
# A failure found there becomes an ``@example`` in the test.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.load_profile(os.environ.get("METEROPS_HYPOTHESIS_PROFILE", "default"))

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite expected files of golden test cases (review the diff!)",
    )


@pytest.fixture(scope="session")
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data``; skip (or fail in CI) when it is absent."""
    if SHARED_DATA.is_dir():
        return SHARED_DATA
    message = f"real public data folder {SHARED_DATA} not found"
    if os.environ.get("METEROPS_REQUIRE_SHARED_DATA") == "1":
        pytest.fail(f"{message}; CI requires it (METEROPS_REQUIRE_SHARED_DATA=1)")
    pytest.skip(f"{message}; tests against real files are skipped")


# --------------------------------------------------------------------------------------------
# Database backends: SQLite always; PostgreSQL when METEROPS_TEST_DATABASE_URL is set (CI).

import uuid  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402

from sqlalchemy import Engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from meterops.db import migrate  # noqa: E402
from meterops.db.engine import make_engine  # noqa: E402

POSTGRES_URL = os.environ.get("METEROPS_TEST_DATABASE_URL", "")


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("METEROPS_REQUIRE_POSTGRES") == "1" and not POSTGRES_URL:
        raise pytest.UsageError(
            "METEROPS_REQUIRE_POSTGRES=1 but METEROPS_TEST_DATABASE_URL is not set"
        )


def pytest_report_header(config: pytest.Config) -> str:
    backend = "postgresql" if POSTGRES_URL else "sqlite"
    return f"meterops database backend: {backend}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if POSTGRES_URL:
        return
    skip = pytest.mark.skip(reason="PostgreSQL-only test; set METEROPS_TEST_DATABASE_URL")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@contextmanager
def fresh_database(folder: Path) -> Iterator[str]:
    """A fresh, migrated database on the active backend; yields its URL.

    PostgreSQL: a schema of its own inside the test database (dropped afterwards).
    SQLite: a file in ``folder``.
    """
    if POSTGRES_URL:
        schema = f"test_{uuid.uuid4().hex[:12]}"
        admin = make_engine(POSTGRES_URL)
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
        rendered = url.render_as_string(hide_password=False)
        try:
            engine = make_engine(rendered)
            migrate.upgrade(engine)
            engine.dispose()
            yield rendered
        finally:
            with admin.begin() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
    else:
        url = f"sqlite:///{folder / 'meterops.db'}"
        engine = make_engine(url)
        migrate.upgrade(engine)
        engine.dispose()
        yield url


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a fresh, migrated database shared by the run (tests roll back)."""
    with fresh_database(tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture(scope="module")
def module_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh, migrated database for one test module whose tests commit for real."""
    with fresh_database(tmp_path_factory.mktemp("moddb")) as url:
        yield url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    """Engine on the migrated test database."""
    eng = make_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session inside a transaction that is rolled back after the test.

    Code under test may call ``commit()`` (adapters do): it commits a savepoint, and the
    outer transaction still rolls everything back.
    """
    connection = engine.connect()
    transaction = connection.begin()
    db = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield db
    finally:
        db.close()
        transaction.rollback()
        connection.close()
