"""``meterops demo --no-serve`` builds a working utility from scratch, then reuses it."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from meterops.cli.main import main
from meterops.config import Settings
from meterops.web.app import create_app
from tests.fixtures.web import sign_in

pytestmark = pytest.mark.slow


def test_demo_builds_signs_in_and_reuses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("METEROPS_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("METEROPS_DATABASE_URL", raising=False)
    monkeypatch.delenv("METEROPS_READS_URI", raising=False)
    assert main(["demo", "--days", "2", "--no-serve"]) == 0
    out = capsys.readouterr().out
    assert "meterops demo ready" in out
    for step in ("reads validated", "exceptions with verdicts", "day plan(s)"):
        assert step in out, step
    assert "refused:" not in out  # every simulated head-end file goes in
    folder = tmp_path / "demo"
    credentials_file = folder / "credentials.json"
    assert stat.S_IMODE(credentials_file.stat().st_mode) == 0o600
    credentials = json.loads(credentials_file.read_text())
    assert set(credentials) == {"tech", "dispatch", "analyst", "super", "admin"}
    assert credentials["dispatch"] in out

    settings = Settings(data_dir=folder, cookie_secure=False)
    with TestClient(create_app(settings)) as client:
        assert client.get("/").status_code == 401  # nothing without signing in
        signed = sign_in(client, "dispatch", credentials["dispatch"])
        assert signed.status_code == 303
        assert client.get("/api/v1/me").json()["role"] == "dispatcher"
        assert client.get("/").status_code == 200
        summary = client.get("/api/v1/fleet/summary").json()
        assert summary["meters"] > 1_500  # small_town: about 2,000 meters

    assert main(["demo", "--days", "2", "--no-serve"]) == 0
    assert "reusing the demo utility" in capsys.readouterr().out
