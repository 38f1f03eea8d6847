"""The meter page's neighbours map: its GeoJSON route, who may see it, the page's container.

A simulated town ingested through the real paths; a later day's comm stats, ingested as a
head-end CSV file, put the meter and five siblings (two silent, one with an open exception)
on parent R-TEST of collector C-TEST, one meter on another collector (C-OTHER) and one
meter on the same parent whose premise lies in another territory. One more meter shares the
meter's transformer only; the others' service points are taken off that transformer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import polars as pl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from meterops.auth import service as auth
from meterops.config import Settings
from meterops.db.engine import session_scope
from meterops.diagnostics.kinds import Cause, ExceptionKind
from meterops.ingest.formats.headend_csv import write_headend_csv
from meterops.models import Installation, Meter, Premise, ServicePoint, Territory
from meterops.models.diagnostics import DiagnosticException, ExceptionStatus
from meterops.models.grid import Transformer
from meterops.models.org import Role
from meterops.reads.schema import PARSED_COMM_STATS
from meterops.web.app import create_app
from meterops.web.ui.neighbours import HIDDEN_REASON, Mesh, classify_neighbours, summaries
from tests.fixtures.web import sign_in
from tests.vee.town import NOW, ZONE, build_town

PASSWORD = "correct horse battery"
DAYS = 3
"""Simulated days ingested; the test's comm stats are for the day after them."""


@dataclass
class World:
    client: TestClient
    serial: str
    siblings: list[str]
    silent: list[str]
    other_collector: str
    other_territory: str
    transformer_only: str
    transformer: str
    last_day: dt.date


def _comm_rows(day: dt.date, rows: list[tuple[str, int, str, str]]) -> pl.DataFrame:
    start = dt.datetime.combine(day, dt.time(), tzinfo=ZONE).astimezone(dt.UTC)
    return pl.DataFrame(
        [
            {
                "serial_number": serial,
                "period_start_utc": start,
                "period_s": 86_400,
                "reads_expected": 96,
                "reads_received": received,
                "rssi_dbm": -80.0 if received else None,
                "hop_count": 2,
                "parent_node": parent,
                "collector_code": collector,
                "source_line": i + 2,
            }
            for i, (serial, received, parent, collector) in enumerate(rows)
        ],
        schema=PARSED_COMM_STATS.schema,
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("neighbours")
    with build_town(folder, days=DAYS, meters=12) as town:
        with session_scope(town.sessions) as session:
            placed = session.execute(
                select(Meter.serial_number, ServicePoint.id, ServicePoint.premise_id)
                .join(Installation, Installation.meter_id == Meter.id)
                .join(ServicePoint, ServicePoint.id == Installation.service_point_id)
                .where(Installation.removed_at_utc.is_(None))
                .order_by(Meter.id)
            ).all()
            assert len(placed) >= 9
            serials = [row[0] for row in placed]
            own_point = session.get(ServicePoint, placed[0][1])
            assert own_point is not None
            assert own_point.transformer_id is not None
            transformer = session.get(Transformer, own_point.transformer_id)
            assert transformer is not None
            # Only the meter and serials[8] stay on the meter's transformer.
            keep = {placed[0][1], placed[8][1]}
            session.execute(
                update(ServicePoint).where(ServicePoint.id.not_in(keep)).values(transformer_id=None)
            )
            session.execute(
                update(ServicePoint)
                .where(ServicePoint.id.in_(keep))
                .values(transformer_id=transformer.id)
            )
            far = Territory(code="FAR", name="Far away", timezone=ZONE.key)
            session.add(far)
            session.flush()
            session.execute(
                update(Premise).where(Premise.id == placed[7][2]).values(territory_id=far.id)
            )
            meter_id = session.scalars(
                select(Meter.id).where(Meter.serial_number == serials[3])
            ).one()
            session.add(
                DiagnosticException(
                    meter_id=meter_id,
                    kind=ExceptionKind.NON_COMMUNICATING,
                    status=ExceptionStatus.OPEN,
                    first_seen_utc=NOW - dt.timedelta(days=2),
                    last_seen_utc=NOW,
                    opened_at_utc=NOW,
                    evidence={},
                    cause=Cause.RADIO_MODULE_FAILURE,
                    confidence=0.8,
                )
            )
            transformer_code = transformer.code
        last_day = town.day(DAYS)
        rows = [
            (serials[0], 96, "R-TEST", "C-TEST"),
            *((s, 96, "R-TEST", "C-TEST") for s in (serials[1], serials[2], serials[5])),
            *((s, 0, "R-TEST", "C-TEST") for s in (serials[3], serials[4])),
            (serials[6], 96, "R-OTHER", "C-OTHER"),
            (serials[7], 96, "R-TEST", "C-TEST"),
            (serials[8], 96, "R-ELSE", "C-ELSE"),
        ]
        path = folder / "comm_stats.csv"
        path.write_bytes(write_headend_csv(_comm_rows(last_day, rows), kind="comm_stats"))
        reports = town.ingest([path], now=NOW + dt.timedelta(days=1))
        assert [(r.refused, r.counts.accepted) for r in reports] == [(False, len(rows))], reports
        for name, role, territories in (
            ("dan", Role.DISPATCHER, ["PRAI1"]),
            ("sue", Role.SUPERVISOR, ["PRAI1", "FAR"]),
            ("ann", Role.ANALYST, ["PRAI1"]),
            ("far", Role.DISPATCHER, ["FAR"]),
        ):
            with session_scope(town.sessions) as session:
                auth.create_user(
                    session, username=name, display_name=name.title(), role=role,
                    password=PASSWORD, territory_codes=territories, actor="test",
                )  # fmt: skip
        settings = Settings(
            database_url=town.database_url,
            reads_uri=town.store.uri,
            data_dir=folder / "var",
            utility_timezone=ZONE.key,
            cookie_secure=False,
        )
        with TestClient(create_app(settings)) as client:
            yield World(
                client=client,
                serial=serials[0],
                siblings=[serials[i] for i in (1, 2, 3, 4, 5)],
                silent=[serials[3], serials[4]],
                other_collector=serials[6],
                other_territory=serials[7],
                transformer_only=serials[8],
                transformer=transformer_code,
                last_day=last_day,
            )


def _as(world: World, username: str) -> TestClient:
    world.client.cookies.clear()
    assert sign_in(world.client, username, PASSWORD).status_code == 303
    return world.client


def _geojson(world: World, username: str) -> Any:
    response = _as(world, username).get(
        f"/meters/{world.serial}/neighbours.geojson", params={"to": world.last_day.isoformat()}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/geo+json")
    return response.json()


def _by_serial(collection: Any) -> dict[str, Any]:
    return {f["properties"]["serial_number"]: f for f in collection["features"]}


def test_the_geojson_holds_the_parent_siblings_and_the_transformer_neighbour(
    world: World,
) -> None:
    collection = _geojson(world, "dan")
    features = _by_serial(collection)
    assert set(features) == {world.serial, *world.siblings, world.transformer_only}
    assert collection["mesh"] == {
        "parent_node": "R-TEST",
        "collector_code": "C-TEST",
        "transformer_code": world.transformer,
    }
    own = features[world.serial]["properties"]
    assert own["self"] is True
    assert collection["features"][0]["properties"]["serial_number"] == world.serial
    for serial in world.siblings:
        props = features[serial]["properties"]
        assert props["relations"] == ["parent", "collector"]
        assert props["reading"] is (serial not in world.silent)
    assert features[world.transformer_only]["properties"]["relations"] == ["transformer"]
    assert features[world.silent[0]]["properties"]["cause"] == (
        "non communicating: radio module failure"
    )
    assert features[world.siblings[0]]["properties"]["cause"] is None
    longitude, latitude = features[world.serial]["geometry"]["coordinates"]
    assert -180 <= longitude <= 180
    assert -90 <= latitude <= 90
    assert collection["summary"] == [
        "4 of 6 meters on parent R-TEST still read",
        f"2 of 2 meters on transformer {world.transformer} still read",
        "4 of 6 meters on collector C-TEST still read",
    ]
    assert collection["truncated"] == 0


def test_a_meter_on_another_collector_is_not_a_neighbour(world: World) -> None:
    assert world.other_collector not in _by_serial(_geojson(world, "sue"))


def test_a_meter_of_another_territory_is_drawn_only_for_its_users(world: World) -> None:
    assert world.other_territory not in _by_serial(_geojson(world, "dan"))
    shown = _geojson(world, "sue")
    assert world.other_territory in _by_serial(shown)
    assert shown["summary"][0] == "5 of 7 meters on parent R-TEST still read"


@pytest.mark.parametrize("username", ["ann", "far"])
def test_who_may_not_see_customer_data_gets_no_geojson(world: World, username: str) -> None:
    response = _as(world, username).get(f"/meters/{world.serial}/neighbours.geojson")
    assert response.status_code == 403
    assert "features" not in response.text


def test_the_page_draws_the_map_container_for_the_territorys_dispatcher(world: World) -> None:
    html = _as(world, "dan").get(f"/meters/{world.serial}").text
    assert "data-neighbour-map" in html
    assert f"/meters/{world.serial}/neighbours.geojson?to=" in html
    assert "meter/neighbours.js" in html
    assert "vendor/leaflet/leaflet.js" in html
    assert HIDDEN_REASON not in html


def test_the_page_tells_an_analyst_why_there_is_no_map(world: World) -> None:
    html = _as(world, "ann").get(f"/meters/{world.serial}").text
    assert "data-neighbour-map" not in html
    assert "leaflet.js" not in html
    assert HIDDEN_REASON in html


def test_classify_keeps_only_related_meters_and_orders_them() -> None:
    placed = pl.DataFrame(
        {
            "meter_id": [1, 2, 3, 4],
            "serial_number": ["A", "B", "C", "D"],
            "latitude": [41.0] * 4,
            "longitude": [-93.0] * 4,
            "transformer_code": ["T1", "T2", "T1", "T2"],
            "cause": [None] * 4,
        }
    )
    mesh = pl.DataFrame(
        {
            "meter_id": [1, 2, 3, 4],
            "parent_node": ["R1", "R2", "R9", "R1"],
            "collector_code": ["C1", "C1", "C9", "C1"],
            "reading": [True, False, True, True],
        }
    )
    own = Mesh("R1", "C1", "T1")
    out = classify_neighbours(mesh, placed, meter_id=1, own=own)
    assert out["serial_number"].to_list() == ["A", "D", "C", "B"]
    assert out["relations"].to_list() == [
        ["parent", "transformer", "collector"],
        ["parent", "collector"],
        ["transformer"],
        ["collector"],
    ]
    assert summaries(out, own) == [
        "2 of 2 meters on parent R1 still read",
        "2 of 2 meters on transformer T1 still read",
        "2 of 3 meters on collector C1 still read",
    ]


def test_a_meter_without_comm_stats_is_silent() -> None:
    placed = pl.DataFrame(
        {"meter_id": [1, 2], "serial_number": ["A", "B"], "latitude": [41.0, 41.1],
         "longitude": [-93.0, -93.1], "transformer_code": ["T1", "T1"], "cause": [None, None]},
    )  # fmt: skip
    mesh = pl.DataFrame(
        {"meter_id": [1], "parent_node": ["R1"], "collector_code": ["C1"], "reading": [True]}
    )
    out = classify_neighbours(mesh, placed, meter_id=1, own=Mesh("R1", "C1", "T1"))
    assert out.filter(pl.col("serial_number") == "B")["reading"].to_list() == [False]
