"""The one Settings object (environment prefix ``METEROPS_``).

Only composition roots (``web/app.py``, ``cli/main.py``, workers, the simulator CLI) read
settings; everything below them receives explicit parameters. With no configuration at all,
meterops keeps a SQLite file and the Delta Lake read tables under ``./var/``.

Secrets accept a ``<NAME>_FILE`` variant that names a file holding the value (for container
secrets), e.g. ``METEROPS_SECRET_KEY_FILE=/run/secrets/meterops_key``.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "get_settings"]

_SECRET_FIELDS = ("secret_key",)


class Settings(BaseSettings):
    """meterops configuration; every field can be set as ``METEROPS_<FIELD>``.

    Attributes:
        data_dir: Folder for the SQLite file, the Delta tables, photos and exports.
        database_url: SQLAlchemy URL of the operational database. Default: a SQLite file in
            ``data_dir``. PostgreSQL: ``postgresql+psycopg://user:pass@host/dbname``.
        reads_uri: Where the Delta Lake read tables live (a folder or an object-store URI).
        utility_timezone: IANA zone of the utility's territory, used at the edges only
            (local-time file formats, TOU periods, displays).
        host: Address the web app binds to.
        port: Port the web app binds to.
        secret_key: Key for signing sessions and CSRF tokens. Generated per process when
            unset, which is fine for a demo and wrong for production.
        late_data_horizon_days: Reads older than this many days at arrival are quarantined
            with reason ``beyond_horizon`` instead of being stored as late.
        future_tolerance_s: Reads stamped further than this in the future are quarantined.
        map_tile_url: Leaflet tile URL template for maps, e.g.
            ``https://tile.openstreetmap.org/{z}/{x}/{y}.png`` or a utility's own tile server.
            Empty (the default) draws maps without tiles: routes, stops and meters on a plain
            background, which works offline on a utility LAN.
        headend_url: Address of the head-end service (its HTTP API), through which meterops
            pings meters before visits and sends remote commands. Empty: no head-end calls.
        reconnect_deadline_hours: Hours within which a reconnect order after payment is due
            (the regulator's rule).
        bundle_radius_m: Orders at the same premise or within this distance are one stop.
        session_idle_minutes: A signed-in session ends after this long without a request.
        session_absolute_hours: A session ends this long after sign-in, however active.
        cookie_secure: Send the session cookie over HTTPS only. Keep it on in production (behind
            TLS); browsers also accept secure cookies on ``http://127.0.0.1`` for the demo.
        worker_threads: Worker threads of the web app for requests' database work (writers
            on PostgreSQL: half of them at once). More threads than a few per core only add
            waiting for Python's interpreter lock; requests beyond them wait in the event
            loop.
    """

    model_config = SettingsConfigDict(
        env_prefix="METEROPS_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    data_dir: Path = Path("var")
    database_url: str = ""
    reads_uri: str = ""
    utility_timezone: str = "America/Chicago"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    secret_key: SecretStr = SecretStr("")
    late_data_horizon_days: int = Field(default=60, ge=0)
    future_tolerance_s: int = Field(default=300, ge=0)
    map_tile_url: str = ""
    headend_url: str = ""
    reconnect_deadline_hours: float = Field(default=24.0, gt=0, le=24 * 14)
    bundle_radius_m: float = Field(default=30.0, ge=0, le=1000)
    session_idle_minutes: int = Field(default=30, ge=1, le=24 * 60)
    session_absolute_hours: int = Field(default=12, ge=1, le=7 * 24)
    cookie_secure: bool = True
    worker_threads: int = Field(default=8, ge=2, le=200)

    @model_validator(mode="before")
    @classmethod
    def _read_secret_files(cls, values: Any) -> Any:
        """Fill secrets from ``METEROPS_<NAME>_FILE`` when the plain variable is absent."""
        if not isinstance(values, dict):
            return values
        for name in _SECRET_FIELDS:
            path = os.environ.get(f"METEROPS_{name.upper()}_FILE")
            if path and not values.get(name):
                values[name] = Path(path).read_text(encoding="utf-8").strip()
        return values

    @field_validator("utility_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            msg = f"unknown IANA time zone {value!r}; use a name such as 'America/New_York'"
            raise ValueError(msg) from exc
        return value

    @model_validator(mode="after")
    def _derive_defaults(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{(self.data_dir / 'meterops.db').as_posix()}"
        if not self.reads_uri:
            self.reads_uri = (self.data_dir / "reads").as_posix()
        if not self.secret_key.get_secret_value():
            self.secret_key = SecretStr(secrets.token_urlsafe(32))
        return self

    @property
    def photos_dir(self) -> Path:
        """Folder for technicians' photos (outside any web root)."""
        return self.data_dir / "photos"

    @property
    def zone(self) -> ZoneInfo:
        """The utility's time zone object."""
        return ZoneInfo(self.utility_timezone)


def get_settings(**overrides: Any) -> Settings:
    """Settings from the environment (and ``.env``), with explicit overrides on top."""
    return Settings(**overrides)
