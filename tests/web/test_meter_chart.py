"""The meter page's interval chart and read history, and the intervals JSON API.

A simulated town ingested through the real paths; one meter gets a gap (estimated by a VEE
run) and a manual edit, then the page and the API are asked through FastAPI's TestClient.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass

import polars as pl
import pytest
from fastapi.testclient import TestClient

from meterops.config import Settings
from meterops.db.engine import session_scope
from meterops.vee.service import edit_interval, run_vee
from meterops.web.app import create_app
from tests.fixtures.web import create_web_user, signed_in
from tests.vee.town import NOW, ZONE, build_town, write_reads


@dataclass
class Scene:
    client: TestClient
    serial: str
    day: dt.date
    gap: list[dt.datetime]
    edited: dt.datetime


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    folder = tmp_path_factory.mktemp("meter_chart")
    with build_town(folder, days=3, ingest=False) as town:
        town.ingest(town.day_files(0))
        town.ingest(town.day_files(1))
        reads = town.interval_reads(2)
        kwh = reads.filter(pl.col("channel") == "kwh_delivered")
        serial = str(kwh["serial_number"][0])
        held = kwh.filter(pl.col("serial_number") == serial).slice(30, 3)
        rest = reads.join(held, on=["serial_number", "channel", "interval_start_utc"], how="anti")
        others = [p for p in town.day_files(2) if p.name != "intervals.cmep"]
        town.ingest([*others, write_reads(folder, "rest.csv", rest)])
        day = town.day(2)
        edited = kwh.filter(pl.col("serial_number") == serial)["interval_start_utc"][60]
        with session_scope(town.sessions) as session:
            run_vee(session, town.store, first_day=day, last_day=day, zone=ZONE, now=NOW)
            edit_interval(
                session, town.store, serial=serial, channel="kwh_delivered", at_utc=edited,
                value=9.5, reason_code="field_read", actor="carol",
                now=NOW + dt.timedelta(minutes=1),
            )  # fmt: skip
        settings = Settings(
            database_url=town.database_url,
            reads_uri=town.store.uri,
            data_dir=folder / "var",
            utility_timezone=ZONE.key,
        )
        with TestClient(create_app(settings), base_url="https://testserver") as client:
            signed_in(client, create_web_user(town.database_url, "chart-supervisor"))
            yield Scene(client, serial, day, held["interval_start_utc"].to_list(), edited)


def test_the_page_charts_estimates_edits_and_flags_as_svg(scene: Scene) -> None:
    page = scene.client.get(f"/meters/{scene.serial}", params={"from": scene.day, "to": scene.day})
    assert page.status_code == 200
    html = page.text
    assert "<svg" in html
    assert "vee/vee.css" in html
    assert len(re.findall(r'class="bar estimated', html)) == 3
    assert len(re.findall(r'class="bar edited', html)) == 1
    assert len(re.findall(r'class="bar actual', html)) == 96 - 4
    # The estimated intervals carry the missing-interval flag and say so in their tooltips
    # (the bar's and the flag marker's).
    assert html.count("estimate · MISSING_INTERVAL, ESTIMATED</title>") == 2 * 3
    assert len(re.findall(r'<circle class="flag"', html)) >= 3
    # CSP: no inline script or style.
    assert "<script>" not in html
    assert "style=" not in html
    assert "<style" not in html
    assert "script-src 'self'" in page.headers["content-security-policy"]


def test_the_page_lists_the_versions_of_a_chosen_interval(scene: Scene) -> None:
    page = scene.client.get(
        f"/meters/{scene.serial}",
        params={"from": scene.day, "to": scene.day, "channel": "kwh_delivered",
                "at": scene.edited.isoformat()},
    )  # fmt: skip
    assert page.status_code == 200
    table = page.text.split('id="history"', 1)[1]
    assert "field_read" in table
    assert "carol" in table
    assert re.search(r"<td>0</td><td>raw</td>", table)
    assert re.search(r'<tr class="current"><td>1</td><td>edit</td>', table)


def test_the_page_without_reads_for_the_days(scene: Scene) -> None:
    page = scene.client.get(
        f"/meters/{scene.serial}", params={"from": "2020-01-01", "to": "2020-01-02"}
    )
    assert page.status_code == 200
    assert "No interval reads stored" in page.text


def test_the_intervals_api(scene: Scene) -> None:
    response = scene.client.get(
        f"/api/v1/meters/{scene.serial}/intervals",
        params={"from": scene.day, "to": scene.day, "channel": "kwh_delivered"},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["zone"] == ZONE.key
    rows = body["intervals"]
    assert len(rows) == 96
    estimates = [r for r in rows if r["version_kind"] == "estimate"]
    assert len(estimates) == 3
    assert {r["method"] for r in estimates} == {"linear_interpolation"}
    assert all("ESTIMATED" in r["flags"] for r in estimates)
    edits = [r for r in rows if r["version_kind"] == "edit"]
    assert [(r["value"], r["reason_code"], r["actor"]) for r in edits] == [
        (9.5, "field_read", "carol")
    ]
    history = scene.client.get(
        f"/api/v1/meters/{scene.serial}/intervals/history",
        params={"channel": "kwh_delivered", "at": scene.edited.isoformat()},
    ).json()
    assert [(h["version"], h["is_current"]) for h in history] == [(0, False), (1, True)]


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"from": "2026-03-06", "to": "2026-03-05"}, 422),
        ({"from": "2026-01-01", "to": "2026-03-05"}, 422),
        ({"from": "2026-03-05"}, 422),
    ],
)
def test_bad_ranges_are_refused(scene: Scene, params: dict[str, str], status: int) -> None:
    response = scene.client.get(f"/api/v1/meters/{scene.serial}/intervals", params=params)
    assert response.status_code == status


def test_an_unknown_meter_is_refused_like_another_territorys(scene: Scene) -> None:
    response = scene.client.get(
        "/api/v1/meters/NOPE/intervals", params={"from": "2026-03-05", "to": "2026-03-05"}
    )
    assert response.status_code == 403
