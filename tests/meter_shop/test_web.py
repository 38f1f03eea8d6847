"""Meter shop JSON API and pages through the real app (TestClient) on the test backend."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from meterops.config import Settings
from meterops.db.engine import make_engine, make_session_factory, session_scope
from meterops.models import Installation
from meterops.web.app import create_app
from tests.fixtures.builders import create_installed_meter, create_meter
from tests.fixtures.web import create_web_user, signed_in

FILES = Path(__file__).parent / "files"


@pytest.fixture(scope="module")
def client(
    module_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    engine = make_engine(module_database_url)
    with session_scope(make_session_factory(engine)) as session:
        for serial, form in [
            ("SHOP0001", "2S"),
            ("SHOP0002", "2S"),
            ("SHOP0003", "9S"),
            ("SHOP0004", "2S"),
            ("SHOP0005", "2S"),
            ("SHOP0006", "16S"),
        ]:
            create_meter(session, serial_number=serial, form=form)
        for i in range(12):
            create_installed_meter(
                session,
                serial_number=f"WEB{i:05d}",
                vendor="Sensus",
                model="iConA",
                firmware_revision="2.0",
            )
        session.execute(
            update(Installation).values(installed_at_utc=dt.datetime(2020, 6, 1, tzinfo=dt.UTC))
        )
    engine.dispose()
    folder = tmp_path_factory.mktemp("shop-web")
    settings = Settings(database_url=module_database_url, data_dir=folder / "var")
    with TestClient(create_app(settings), base_url="https://testserver") as test_client:
        yield signed_in(test_client, create_web_user(module_database_url, "shop-supervisor"))


def test_upload_a_file_and_read_the_tests_back(client: TestClient) -> None:
    data = (FILES / "weco_board_export.csv").read_bytes()
    response = client.post(
        "/api/v1/meter-shop/test-files", params={"file_name": "board.csv"}, content=data
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["layout"], report["created"]) == ("weco-board", 3)
    again = client.post(
        "/api/v1/meter-shop/test-files", params={"file_name": "board.csv"}, content=data
    ).json()
    assert again["duplicate_file"] is True
    tests = client.get("/api/v1/meter-shop/meters/SHOP0005/tests").json()
    assert tests[0]["verdict"] == "fail_in_service"
    assert tests[0]["as_left_average_pct"] == pytest.approx((4 * 100.04 + 99.95) / 5)
    assert client.get("/api/v1/meter-shop/meters/NOPE/tests").status_code == 404


def test_a_bad_upload_is_422_with_located_issues(client: TestClient) -> None:
    response = client.post(
        "/api/v1/meter-shop/test-files",
        params={"file_name": "bad_rows.csv"},
        content=(FILES / "bad_rows.csv").read_bytes(),
    )
    assert response.status_code == 422
    body = response.json()
    assert body["error"]["code"] == "meter_shop.file_refused"
    issues = body["error"]["details"]["issues"]
    assert {(i["line"], i["field"]) for i in issues} == {
        (3, "registration_pct"),
        (4, "form"),
        (5, "tested_at_utc"),
    }


def test_plan_lots_and_see_them_on_the_page(client: TestClient) -> None:
    assert client.get("/api/v1/meter-shop/lots", params={"year": 2026}).status_code == 404
    empty = unescape(client.get("/meter-shop").text)
    assert "No in-service testing lots are planned" in empty
    plan = client.post("/api/v1/meter-shop/lots/plan", json={"year": 2026, "aql_pct": 2.5})
    assert plan.status_code == 200, plan.text
    assert plan.json()["sampled"] == 3  # a lot of 12: code letter B, n = 3, k = 1.12
    assert client.post("/api/v1/meter-shop/lots/plan", json={"year": 2026}).status_code == 409
    lots = client.post("/api/v1/meter-shop/lots/status", params={"year": 2026}).json()
    assert [(lot["lot_key"], lot["decision"]) for lot in lots] == [
        ("Sensus|iConA|2.0|2020", "incomplete")
    ]
    samples = client.get("/api/v1/meter-shop/lots/samples").json()
    assert all(not s["tested"] for s in samples)
    assert client.get("/api/v1/meter-shop/lots/replacements").json() == []
    page = unescape(client.get("/meter-shop", params={"year": 2026}).text)
    assert "In-service testing 2026" in page
    assert 'data-lot="Sensus|iConA|2.0|2020"' in page
    assert "incomplete" in page


def test_the_tests_page_and_its_htmx_fragment(client: TestClient) -> None:
    client.post(
        "/api/v1/meter-shop/test-files",
        params={"file_name": "shop_tests.csv"},
        content=(FILES / "shop_tests.csv").read_bytes(),
    )
    page = unescape(client.get("/meter-shop/tests", params={"serial": "SHOP0003"}).text)
    assert "<html" in page
    assert "WECO-2350-118" in page
    assert "out of class" in page  # element C +0.31 % on class 0.2, as found
    fragment = unescape(
        client.get(
            "/meter-shop/tests", params={"serial": "SHOP0002"}, headers={"HX-Request": "true"}
        ).text
    )
    assert "<html" not in fragment
    assert "fail in service" in fragment
    assert "outside the in-service tolerance" in fragment
    assert "<script" not in page.split("</head>")[1]
    assert " style=" not in page
