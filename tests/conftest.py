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
