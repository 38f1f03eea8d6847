"""``meterops highbill weather-import``: a good file is kept, a bad one refused with its line."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from meterops.billing import cli as billing_cli
from meterops.cli import context
from meterops.errors import ValidationReportError


def _app(monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """Test root."""

    app.add_typer(billing_cli.app, name="highbill")
    monkeypatch.setenv("METEROPS_DATA_DIR", str(data_dir))
    context.settings.cache_clear()
    return app


def test_weather_import_keeps_a_good_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    source = tmp_path / "noaa.csv"
    source.write_text("date,temperature_f\n2027-01-01,14\n2027-01-02,23\n", encoding="utf-8")
    try:
        result = CliRunner().invoke(
            _app(monkeypatch, tmp_path / "var"),
            ["highbill", "weather-import", str(source), "--territory", "PJ"],
        )
    finally:
        context.settings.cache_clear()
    assert result.exit_code == 0, result.output
    kept = (tmp_path / "var" / "weather" / "PJ.csv").read_text(encoding="utf-8")
    assert kept.splitlines()[0] == "date,temperature_c"
    assert kept.splitlines()[1] == "2027-01-01,-10.0"


def test_weather_import_refuses_a_bad_row(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    source = tmp_path / "noaa.csv"
    source.write_text("date,temperature_c\n2027-01-01,x\n", encoding="utf-8")
    try:
        result = CliRunner().invoke(
            _app(monkeypatch, tmp_path / "var"),
            ["highbill", "weather-import", str(source), "--territory", "PJ"],
        )
    finally:
        context.settings.cache_clear()
    assert result.exit_code != 0
    assert isinstance(result.exception, ValidationReportError)
    assert "noaa.csv, line 2, field 'temperature_c'" in str(result.exception)
    assert not (tmp_path / "var" / "weather" / "PJ.csv").exists()
