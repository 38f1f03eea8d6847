"""``meterops users``: create with a password from stdin, list, set a password, disable."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from meterops.cli.main import app
from tests.web.conftest import import_fleet


@pytest.fixture
def env(module_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import_fleet(module_database_url, tmp_path / "fleet")
    monkeypatch.setenv("METEROPS_DATABASE_URL", module_database_url)
    monkeypatch.setenv("METEROPS_DATA_DIR", str(tmp_path / "var"))


def test_users_lifecycle_from_the_command_line(env: None) -> None:
    runner = CliRunner()
    created = runner.invoke(
        app,
        [
            "users",
            "create",
            "Tom",
            "--role",
            "technician",
            "--name",
            "Tom Tech",
            "--territory",
            "NORTH",
            "--password-stdin",
        ],
        input="a long enough passphrase\n",
    )
    assert created.exit_code == 0, created.output
    assert "created user tom (technician)" in created.output
    listed = runner.invoke(app, ["users", "list"])
    assert "Tom Tech" in listed.output
    assert "NORTH" in listed.output
    weak = runner.invoke(app, ["users", "set-password", "tom", "--password-stdin"], input="short\n")
    assert weak.exit_code != 0
    assert "at least 12 characters" in str(weak.exception or weak.output)
    ok = runner.invoke(
        app, ["users", "set-password", "tom", "--password-stdin"], input="another fine passphrase\n"
    )
    assert ok.exit_code == 0, ok.output
    disabled = runner.invoke(app, ["users", "disable", "tom"])
    assert disabled.exit_code == 0
    assert "tom" in runner.invoke(app, ["users", "list"]).output
