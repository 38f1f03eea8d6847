"""``meterops remote`` and ``meterops outages`` (through the real entry point) and the JSON API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from meterops.auth import service as auth_service
from meterops.cli import context
from meterops.cli.main import main
from meterops.commands import schemas
from meterops.commands import service as commands_service
from meterops.commands.policy import CommandPolicy
from meterops.config import Settings
from meterops.db.engine import make_engine, make_session_factory, session_scope
from meterops.models.commands import CommandType, OutageIncident, OutageLevel, OutageMember
from meterops.models.org import Role
from tests.commands.world import MONDAY_10, Loaded, add_user, load_world
from tests.fixtures.web import app_with_step_up, csrf_token, sign_in, step_up


@pytest.fixture(scope="module")
def world(
    module_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, Loaded, Path]:
    engine = make_engine(module_database_url)
    folder = tmp_path_factory.mktemp("cli")
    with session_scope(make_session_factory(engine)) as session:
        loaded = load_world(session, folder / "fleet")
        add_user(session, "ann", Role.DISPATCHER, [loaded.territory])
        add_user(session, "sue", Role.SUPERVISOR, [loaded.territory])
        add_user(session, "tom", Role.TECHNICIAN, [loaded.territory])
        meter_id = session.execute(text("SELECT id FROM meters ORDER BY id LIMIT 1")).scalar_one()
        incident = OutageIncident(
            level=OutageLevel.TRANSFORMER,
            device_code="TX-TEST",
            feeder_code="F-TEST",
            started_at_utc=MONDAY_10,
            restored_at_utc=None,
            affected_meters=1,
            last_gasps=1,
            confidence=1.0,
            detected_at_utc=MONDAY_10,
        )
        session.add(incident)
        session.flush()
        session.add(
            OutageMember(
                incident_id=incident.id, meter_id=meter_id, serial_number="S-TEST", last_gasp=True
            )
        )
    engine.dispose()
    return module_database_url, loaded, folder


@pytest.fixture
def cli(world: tuple[str, Loaded, Path], monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    url, _, folder = world
    monkeypatch.setenv("METEROPS_DATABASE_URL", url)
    monkeypatch.setenv("METEROPS_DATA_DIR", str(folder / "var"))
    monkeypatch.setenv("COLUMNS", "200")
    context.settings.cache_clear()
    context.engine.cache_clear()
    yield
    context.engine().dispose()
    context.settings.cache_clear()
    context.engine.cache_clear()


def test_remote_ping_queues_and_status_shows_it(
    cli: None, world: tuple[str, Loaded, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    serial = world[1].all_serials[0]
    assert main(["remote", "ping", serial, "--as", "ann", "--key", "cli-ping-0001", "--json"]) == 0
    read = json.loads(capsys.readouterr().out)
    assert read["state"] == "released"
    assert read["commands"][0]["state"] == "queued"
    # The same key again: the same request.
    assert main(["remote", "ping", serial, "--as", "ann", "--key", "cli-ping-0001", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["id"] == read["id"]
    assert main(["remote", "status", str(read["id"])]) == 0
    assert serial in capsys.readouterr().out


@pytest.mark.parametrize(
    ("command", "kind", "default_reason"),
    [
        ("read", "on_demand_read", "on-demand read"),
        ("time-sync", "time_sync", "time sync"),
        ("reconnect", "reconnect", None),
        ("arm-reconnect", "arm_reconnect", None),
        ("demand-reset", "demand_reset", None),
    ],
)
def test_each_kind_command_requests_its_kind(
    cli: None,
    world: tuple[str, Loaded, Path],
    capsys: pytest.CaptureFixture[str],
    command: str,
    kind: str,
    default_reason: str | None,
) -> None:
    serial = world[1].switch_serials[1]
    args = ["remote", command, serial, "--as", "sue", "--json"]
    if default_reason is None:
        # A disruptive kind names its reason.
        assert main(args) == 2
        capsys.readouterr()
        args += ["--reason", "customer paid"]
    assert main(args) == 0
    read = json.loads(capsys.readouterr().out)
    assert read["kind"] == kind
    assert read["reason"] == (default_reason or "customer paid")


def test_remote_refuses_a_technician_disconnect_with_exit_code_5(
    cli: None, world: tuple[str, Loaded, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    serial = world[1].switch_serials[0]
    code = main(["remote", "disconnect", serial, "--as", "tom", "--reason", "non-payment"])
    assert code == 5
    assert "may not request disconnect" in capsys.readouterr().err


def test_kill_switch_on_and_off_from_the_cli(cli: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["remote", "kill-switch", "on", "--as", "ann", "--reason", "storm drill"]) == 0
    assert "halted" in capsys.readouterr().out
    # A dispatcher may halt, but only a supervisor or admin may resume.
    assert main(["remote", "kill-switch", "off", "--as", "ann", "--reason", "done"]) == 5
    assert main(["remote", "kill-switch", "off", "--as", "sue", "--reason", "done"]) == 0


def test_outages_list_and_show(cli: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["outages", "list", "--json"]) == 0
    incidents = json.loads(capsys.readouterr().out)
    assert [i["device_code"] for i in incidents] == ["TX-TEST"]
    assert main(["outages", "show", str(incidents[0]["id"])]) == 0
    assert "S-TEST" in capsys.readouterr().out


PASSWORD = "a long enough passphrase"


@pytest.fixture(scope="module")
def settings(world: tuple[str, Loaded, Path]) -> Settings:
    url, _, folder = world
    engine = make_engine(url)
    with session_scope(make_session_factory(engine)) as session:
        for name in ("ann", "sue"):
            auth_service.set_password(
                session, username=name, password=PASSWORD, actor="test", now=MONDAY_10
            )
    engine.dispose()
    # TestClient speaks plain http://testserver, where a Secure cookie would never be sent.
    return Settings(database_url=url, data_dir=folder / "var", cookie_secure=False)


@pytest.fixture(scope="module")
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(app_with_step_up(settings)) as test_client:
        yield test_client


def _signed_in(settings: Settings, username: str) -> TestClient:
    """A client signed in as ``username`` that sends its CSRF token with every request."""
    signed = TestClient(app_with_step_up(settings))
    answer = sign_in(signed, username, PASSWORD)
    assert answer.status_code == 303, answer.text
    signed.headers["X-CSRF-Token"] = csrf_token(signed)
    return signed


def test_remote_commands_need_a_signed_in_user_and_the_csrf_token(
    client: TestClient, settings: Settings, world: tuple[str, Loaded, Path]
) -> None:
    body = {
        "kind": "disconnect",
        "serial_numbers": [world[1].switch_serials[0]],
        "reason": "forged",
        "idempotency_key": "api-forged-0001",
    }
    anonymous = client.post("/api/v1/remote/requests", json=body)
    assert anonymous.status_code == 401
    forged = client.post("/api/v1/remote/requests", json=body, headers={"X-Meterops-User": "sue"})
    assert forged.status_code == 401  # a header naming a user is no identity
    with _signed_in(settings, "ann") as ann:
        del ann.headers["X-CSRF-Token"]
        assert ann.post("/api/v1/remote/requests", json=body).status_code == 403
        assert (
            ann.put("/api/v1/remote/kill-switch", json={"active": True, "reason": "x"}).status_code
            == 403
        )


def test_api_request_is_idempotent_and_refuses_a_reused_key(
    client: TestClient, settings: Settings, world: tuple[str, Loaded, Path]
) -> None:
    serials = world[1].all_serials
    body = {
        "kind": "on_demand_read",
        "serial_numbers": [serials[1]],
        "reason": "check",
        "idempotency_key": "api-read-0001",
    }
    ann = _signed_in(settings, "ann")
    first = ann.post("/api/v1/remote/requests", json=body)
    assert first.status_code == 201
    again = ann.post("/api/v1/remote/requests", json=body)
    assert again.json()["id"] == first.json()["id"]
    other = ann.post("/api/v1/remote/requests", json={**body, "serial_numbers": [serials[2]]})
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "commands.idempotency_key_reused"
    got = ann.get(f"/api/v1/remote/requests/{first.json()['id']}")
    assert got.json()["commands"][0]["serial_number"] == serials[1]


def test_api_approval_by_the_requester_or_too_late_is_forbidden(
    client: TestClient, settings: Settings, world: tuple[str, Loaded, Path]
) -> None:
    url, loaded, _ = world
    engine = make_engine(url)
    with session_scope(make_session_factory(engine)) as session:
        ann = commands_service.resolve_actor(session, "ann")
        held = commands_service.request(
            session,
            schemas.CommandRequestCreate(
                kind=CommandType.DISCONNECT,
                serial_numbers=loaded.switch_serials[:12],
                reason="mass",
                idempotency_key="api-mass-0001",
            ),
            actor=ann,
            now=MONDAY_10,
            policy=CommandPolicy(),
        )
    engine.dispose()
    assert held.state == "awaiting_approval"
    own = _signed_in(settings, "ann").post(f"/api/v1/remote/requests/{held.id}/approve")
    assert own.status_code == 403
    sue = _signed_in(settings, "sue")
    assert step_up(sue, url, "sue").status_code == 303
    late = sue.post(f"/api/v1/remote/requests/{held.id}/approve")
    assert late.status_code == 403  # the request was made long before the approval window
    assert "approval window closed" in late.json()["error"]["message"]
    overview = _signed_in(settings, "sue").get("/api/v1/remote/overview").json()
    assert held.id in [r["id"] for r in overview["awaiting_approval"]]


def test_api_kill_switch_and_outages(client: TestClient, settings: Settings) -> None:
    sue = _signed_in(settings, "sue")
    on = sue.put("/api/v1/remote/kill-switch", json={"active": True, "reason": "drill"})
    assert on.json()["active"] is True
    off = sue.put("/api/v1/remote/kill-switch", json={"active": False, "reason": "drill over"})
    assert off.json()["active"] is False
    outages = sue.get("/api/v1/outages").json()
    assert outages[0]["device_code"] == "TX-TEST"
    detail = sue.get(f"/api/v1/outages/{outages[0]['id']}").json()
    assert detail["meters"][0]["serial_number"] == "S-TEST"
    assert sue.get("/api/v1/outages/999999").status_code == 403  # as another territory's


def test_console_and_outages_pages_render(settings: Settings) -> None:
    client = _signed_in(settings, "sue")
    console = client.get("/remote")
    assert console.status_code == 200
    assert "Awaiting a second person" in console.text
    outages = client.get("/outages")
    assert outages.status_code == 200
    assert "TX-TEST" in outages.text


def test_outages_export_writes_cim_and_ping_queues(
    cli: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "outages.xml"
    assert main(["outages", "export", "--out", str(out)]) == 0
    assert b"EndDeviceEvent" in out.read_bytes()
    capsys.readouterr()
    assert main(["outages", "list", "--json"]) == 0
    incident = json.loads(capsys.readouterr().out)[0]["id"]
    assert main(["outages", "ping", str(incident), "--round", "confirm"]) == 0
    assert "queued" in capsys.readouterr().out
    assert main(["outages", "ping", str(incident), "--round", "sideways"]) == 2
