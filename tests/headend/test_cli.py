"""``meterops headend-sim serve`` builds a simulated head-end service and runs it."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from meterops.headend import cli


def test_serve_runs_the_simulated_head_end_on_the_given_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    served: dict[str, Any] = {}

    def fake_run(app: FastAPI, *, host: str, port: int, log_level: str) -> None:
        served.update(app=app, host=host, port=port)

    monkeypatch.setattr("uvicorn.run", fake_run)
    result = CliRunner().invoke(
        cli.app, ["serve", "--seed", "5", "--port", "9911", "--manual-clock"]
    )
    assert result.exit_code == 0, result.output
    assert served["port"] == 9911
    client = TestClient(served["app"])
    now = client.get("/v1/now").json()["now_utc"]
    assert now.startswith("2026-07-02")
    later = client.post("/v1/sim/clock", json={"seconds": 3600}).json()["now_utc"]
    assert later > now
    reads = client.get("/v1/interval-reads", params={"since": "2026-07-01T00:00:00Z"})
    assert reads.status_code == 200
    assert reads.text.startswith("serial_number,channel,interval_start_utc")


def test_the_seed_is_required() -> None:
    result = CliRunner().invoke(cli.app, ["serve"])
    assert result.exit_code != 0
