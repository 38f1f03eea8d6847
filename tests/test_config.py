from pathlib import Path

import pytest
from pydantic import ValidationError

from meterops.config import Settings


def test_zero_configuration_keeps_everything_under_var(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("METEROPS_DATA_DIR", "METEROPS_DATABASE_URL", "METEROPS_READS_URI"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.database_url == "sqlite:///var/meterops.db"
    assert settings.reads_uri == "var/reads"
    assert settings.host == "127.0.0.1"
    assert len(settings.secret_key.get_secret_value()) >= 32


def test_environment_variables_override_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METEROPS_DATA_DIR", "/srv/meterops")
    monkeypatch.setenv("METEROPS_UTILITY_TIMEZONE", "America/Phoenix")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.database_url == "sqlite:////srv/meterops/meterops.db"
    assert settings.zone.key == "America/Phoenix"


def test_a_secret_can_come_from_a_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret = tmp_path / "key"
    secret.write_text("s3cret-from-file\n")
    monkeypatch.delenv("METEROPS_SECRET_KEY", raising=False)
    monkeypatch.setenv("METEROPS_SECRET_KEY_FILE", str(secret))
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.secret_key.get_secret_value() == "s3cret-from-file"
    assert "s3cret" not in repr(settings)


def test_an_unknown_time_zone_is_refused_with_an_example() -> None:
    with pytest.raises(ValidationError, match="America/New_York"):
        Settings(utility_timezone="Mars/Olympus", _env_file=None)  # type: ignore[call-arg]


def test_shipped_ingest_defaults_match_the_reliability_figures() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.late_data_horizon_days == 60
    assert settings.future_tolerance_s == 300
