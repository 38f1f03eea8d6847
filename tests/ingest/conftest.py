"""Fixtures shared by the ingest tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from meterops.ingest import journal


@pytest.fixture
def hashed(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The paths whose bytes ``journal.fingerprint`` reads and hashes, in order."""
    paths: list[Path] = []
    fingerprint = journal.fingerprint

    def spy(path: Path) -> journal.Fingerprint:
        paths.append(path)
        return fingerprint(path)

    monkeypatch.setattr(journal, "fingerprint", spy)
    return paths
