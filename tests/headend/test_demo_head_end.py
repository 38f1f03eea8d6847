"""The demo serves a simulated head-end of its own world; its dispatcher sends commands to it."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from meterops.cli import context
from meterops.cli.demo import demo_app
from meterops.cli.main import main
from meterops.commands import schemas
from meterops.commands import service as commands_service
from meterops.commands.policy import CommandPolicy
from meterops.config import Settings
from meterops.db.engine import session_scope
from meterops.headend.simulated import SimClock, SimulatedHeadEnd
from meterops.models import Meter
from meterops.models.commands import CommandType, RemoteCommandState

pytestmark = pytest.mark.slow


def test_the_demo_app_pings_and_reads_its_meters_through_the_outbox(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("METEROPS_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("METEROPS_DATABASE_URL", raising=False)
    monkeypatch.delenv("METEROPS_READS_URI", raising=False)
    context.settings.cache_clear()  # another test may have read other settings
    context.engine.cache_clear()
    try:
        assert main(["demo", "--days", "1", "--no-serve"]) == 0
    finally:
        context.settings.cache_clear()
        context.engine.cache_clear()
    folder = tmp_path / "demo"
    built = json.loads((folder / "demo.json").read_text())
    settings = Settings(data_dir=folder, cookie_secure=False, utility_timezone="America/Chicago")
    clock = SimClock(dt.datetime.now(dt.UTC))
    app, runner = demo_app(
        settings,
        seed=built["seed"],
        days=built["days"],
        built_on=dt.date.fromisoformat(built["built_on"]),
        clock=clock,
    )
    runner.dispatcher.clock = clock.now
    head_end = app.state.head_end
    assert isinstance(head_end, SimulatedHeadEnd)
    with TestClient(app) as client:
        assert client.get("/health").status_code == 200
    sessions = app.state.session_factory
    with session_scope(sessions) as session:
        serials = list(
            session.scalars(select(Meter.serial_number).order_by(Meter.serial_number).limit(8))
        )
        actor = commands_service.resolve_actor(session, "dispatch")
        ids = []
        for i, serial in enumerate(serials):
            kind = CommandType.PING if i % 2 == 0 else CommandType.ON_DEMAND_READ
            made = commands_service.request(
                session,
                schemas.CommandRequestCreate(
                    kind=kind,
                    serial_numbers=[serial],
                    reason="demo check",
                    idempotency_key=f"demo-check-{i:04d}",
                ),
                actor=actor,
                now=clock.now(),
                policy=CommandPolicy(),
            )
            ids.append(made.id)
    # The back office's meters are the head-end's meters (same world, same serials).
    known = [s for s in serials if head_end.link(s, clock.now()).installed]
    assert len(known) >= 6
    runner.cycle()
    clock.advance(dt.timedelta(minutes=10))
    runner.cycle()
    with session_scope(sessions) as session:
        commands = [commands_service.get_request(session, i).commands[0] for i in ids]
    confirmed = [c for c in commands if c.state is RemoteCommandState.CONFIRMED]
    assert all(c.headend_command_id for c in commands)
    assert len(confirmed) >= 5
    for command in confirmed:
        if command.kind is CommandType.PING:
            assert -100 < command.result["rssi_dbm"] < -20
        else:
            assert command.result["kwh_delivered"] >= 0
