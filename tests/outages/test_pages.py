"""The outage page (``/outages``) and its live map's GeoJSON (``/outages/map.geojson``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from meterops.config import Settings
from meterops.db.engine import make_engine, make_session_factory, session_scope
from meterops.models.commands import OutageIncident, OutageLevel, OutageMember
from meterops.models.grid import Feeder
from meterops.models.org import Territory
from meterops.models.premises import Premise
from meterops.web.app import create_app
from tests.fixtures.builders import (
    create_installed_meter,
    create_service_point,
    create_transformer,
)
from tests.fixtures.web import AccessWorld, build_access_world, signed_in


@pytest.fixture(scope="module")
def world(module_database_url: str) -> tuple[Settings, AccessWorld, int, int]:
    """The access world, plus in ``own`` a transformer outage of two meters and a restored one."""
    access = build_access_world(module_database_url)
    engine = make_engine(module_database_url)
    with session_scope(make_session_factory(engine)) as session:
        own_feeder = session.scalars(
            select(Feeder)
            .join(Territory, Territory.id == Feeder.territory_id)
            .where(Territory.code == access.own.territory)
        ).first()
        assert own_feeder is not None
        transformer = create_transformer(session, feeder=own_feeder)
        serials = []
        for latitude in (41.70, 41.80):
            point = create_service_point(session, transformer=transformer)
            premise = session.get(Premise, point.premise_id)
            assert premise is not None
            premise.latitude, premise.longitude = latitude, -93.50
            meter, _ = create_installed_meter(session, service_point=point)
            serials.append((meter.id, meter.serial_number))
        now = dt.datetime.now(dt.UTC)
        open_incident = OutageIncident(
            level=OutageLevel.TRANSFORMER,
            device_code=transformer.code,
            feeder_code=own_feeder.code,
            started_at_utc=now - dt.timedelta(minutes=20),
            affected_meters=2,
            last_gasps=2,
            confidence=0.95,
            detected_at_utc=now,
        )
        restored = OutageIncident(
            level=OutageLevel.TRANSFORMER,
            device_code=transformer.code,
            feeder_code=own_feeder.code,
            started_at_utc=now - dt.timedelta(days=2),
            restored_at_utc=now - dt.timedelta(days=1),
            affected_meters=2,
            last_gasps=1,
            confidence=0.8,
            detected_at_utc=now - dt.timedelta(days=2),
        )
        session.add_all([open_incident, restored])
        session.flush()
        for incident in (open_incident, restored):
            session.add_all(
                OutageMember(incident_id=incident.id, meter_id=meter_id, serial_number=serial)
                for meter_id, serial in serials
            )
        session.flush()
        ids = open_incident.id, restored.id
    engine.dispose()
    settings = Settings(database_url=module_database_url, cookie_secure=False)
    return settings, access, ids[0], ids[1]


def _client(world: tuple[Settings, AccessWorld, int, int], role: str) -> Iterator[TestClient]:
    with TestClient(create_app(world[0])) as client:
        yield signed_in(client, world[1].users[role])


@pytest.fixture
def supervisor(world: tuple[Settings, AccessWorld, int, int]) -> Iterator[TestClient]:
    yield from _client(world, "supervisor")


def test_page_loads_the_map_without_inline_script(
    supervisor: TestClient, world: tuple[Settings, AccessWorld, int, int]
) -> None:
    page = supervisor.get("/outages")
    assert page.status_code == 200
    assert 'data-outage-map data-geojson="/outages/map.geojson"' in page.text
    assert "vendor/leaflet/leaflet.js" in page.text
    assert "outages/map.js" in page.text
    assert "<script>" not in page.text
    assert " style=" not in page.text
    # Open: the transformer outage and the access world's meter outage of ``own``.
    assert "2 open incidents." in page.text


def test_map_places_open_incidents_of_own_territories_at_their_meters(
    supervisor: TestClient, world: tuple[Settings, AccessWorld, int, int]
) -> None:
    _, access, open_id, restored_id = world
    answer = supervisor.get("/outages/map.geojson")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/geo+json")
    collection = answer.json()
    by_id = {f["properties"]["id"]: f for f in collection["features"]}
    assert restored_id not in by_id
    feature = by_id[open_id]
    longitude, latitude = feature["geometry"]["coordinates"]
    assert latitude == pytest.approx(41.75)
    assert longitude == pytest.approx(-93.50)
    assert feature["properties"]["affected_meters"] == 2
    assert feature["properties"]["level"] == "transformer"
    meter_level = by_id[access.own.incident_id]
    assert meter_level["properties"]["device_code"] == access.own.serial_number
    assert access.other.incident_id not in by_id
    assert collection["unplaced"] == 0


def test_technicians_get_neither_page_nor_map(
    world: tuple[Settings, AccessWorld, int, int],
) -> None:
    for client in _client(world, "technician"):
        assert client.get("/outages").status_code == 403
        refused = client.get("/outages/map.geojson")
        assert refused.status_code == 403
        assert "permission_denied.role" in refused.text


def test_signed_out_map_is_refused(world: tuple[Settings, AccessWorld, int, int]) -> None:
    with TestClient(create_app(world[0])) as client:
        assert client.get("/outages/map.geojson").status_code == 401
