"""The work-order and dispatch JSON API over a simulated territory and head-end."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.dispatch.conftest import Site, web_site


@pytest.fixture(scope="module")
def site(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with web_site(module_database_url, tmp_path_factory.mktemp("dispatch-web")) as found:
        yield found


def create(client: TestClient, serial: str, order_type: str, **fields: object) -> str:
    response = client.post(
        "/api/v1/orders", json={"order_type": order_type, "meter_serial": serial, **fields}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["order_number"])


def test_orders_are_created_listed_read_booked_and_moved(site: Site) -> None:
    client = site.client
    serial = site.healthy()[0]
    number = create(client, serial, "high_bill_investigation", evidence_summary="bill doubled")
    again = client.post(
        "/api/v1/orders", json={"order_type": "high_bill_investigation", "meter_serial": serial}
    )
    assert again.status_code == 409
    assert again.json()["error"]["details"]["order_number"] == number

    order = client.get(f"/api/v1/orders/{number}").json()
    assert order["meter_serial"] == serial
    assert order["duration_min"] == 60
    listed = client.get("/api/v1/orders", params={"type": "high_bill_investigation"}).json()
    assert [o["order_number"] for o in listed] == [number]
    assert client.get("/api/v1/orders/WO-999999").status_code == 403  # as another territory's

    window = {"start_utc": "2026-12-01T15:00:00Z", "end_utc": "2026-12-01T17:00:00Z"}
    booked = client.put(f"/api/v1/orders/{number}/appointment", json=window)
    assert booked.status_code == 200
    assert booked.json()["appointment_start_utc"].startswith("2026-12-01T15:00")

    illegal = client.post(f"/api/v1/orders/{number}/transition", json={"status": "completed"})
    assert illegal.status_code == 409
    no_reason = client.post(f"/api/v1/orders/{number}/transition", json={"status": "cancelled"})
    assert no_reason.status_code == 422
    done = client.post(
        f"/api/v1/orders/{number}/transition",
        json={"status": "cancelled", "reason": "customer found the leak"},
    )
    assert done.json()["status"] == "cancelled"
    history = client.get(f"/api/v1/orders/{number}/history").json()
    assert [e["action"] for e in history] == [
        "workorder.create",
        "workorder.appointment",
        "workorder.status",
    ]
    board = client.get("/api/v1/orders/board").json()
    cancelled = next(c for c in board["columns"] if c["status"] == "cancelled")
    assert number in [o["order_number"] for o in cancelled["orders"]]
    types = client.get("/api/v1/orders/types").json()
    assert {t["code"] for t in types} >= {"exchange", "field_reconnect", "ct_site_check"}


def test_a_programme_csv_is_imported_whole_or_refused_with_lines(site: Site) -> None:
    client = site.client
    serials = site.healthy()[1:4]
    bad = f"order_type,meter_serial\nexchange,{serials[0]}\nexchange,NO-SUCH-METER\n"
    refused = client.post(
        "/api/v1/orders/import",
        content=bad.encode(),
        params={"file": "campaign.csv"},
        headers={"content-type": "text/csv"},
    )
    assert refused.status_code == 422
    issues = refused.json()["error"]["details"]["issues"]
    assert issues[0]["file"] == "campaign.csv"
    assert issues[0]["line"] == 3
    assert client.get("/api/v1/orders", params={"campaign": "AMI2"}).json() == []
    good = "order_type,meter_serial,campaign\n" + "".join(f"exchange,{s},AMI2\n" for s in serials)
    imported = client.post("/api/v1/orders/import", content=good.encode()).json()
    assert imported["rows"] == 3
    assert len(imported["result"]["created"]) == 3


def test_a_day_is_optimised_after_pings_reassigned_dispatched_and_changed(site: Site) -> None:
    client = site.client
    day = site.day.isoformat()
    recovered_serial, dead_serial = site.dead()[:2]
    recovered = create(client, recovered_serial, "non_comm_investigation")
    dead = create(client, dead_serial, "radio_module_replacement")
    planned = [create(client, s, "exchange") for s in site.healthy()[10:18]]
    site.world.replace_radio_module(recovered_serial, at=site.clock.now())

    result = client.post(f"/api/v1/dayplans/{day}/optimize", params={"seconds": 2})

    assert result.status_code == 200, result.text
    body = result.json()
    assert body["pings"]["recovered"] == [recovered]
    [plan] = body["plans"]
    on_routes = {
        o["order_number"] for r in plan["routes"] for v in r["visits"] for o in v["orders"]
    }
    assert recovered not in on_routes
    assert {dead, *planned} <= on_routes
    kpis = client.get(f"/api/v1/dayplans/{day}/kpis").json()[0]["kpis"]
    assert kpis["work_orders_served"] == len(on_routes)
    assert 0 < kpis["drive_time_share"] < 1
    assert kpis["on_time_share"] == 1.0

    holder = next(
        r["technician"]
        for r in plan["routes"]
        for v in r["visits"]
        if planned[0] in {o["order_number"] for o in v["orders"]}
    )
    target = next(r["technician"] for r in plan["routes"] if r["technician"] != holder)
    moved = client.post(f"/api/v1/orders/{planned[0]}/reassign", json={"technician": target})
    assert moved.status_code == 200, moved.text
    mine = next(r for r in moved.json()["routes"] if r["technician"] == target)
    assert planned[0] in {o["order_number"] for v in mine["visits"] for o in v["orders"]}
    assert client.get(f"/api/v1/orders/{planned[0]}").json()["technician"] == target

    dispatched = client.post(f"/api/v1/dayplans/{day}/dispatch").json()
    assert dispatched[0]["status"] == "dispatched"
    assert client.get(f"/api/v1/orders/{dead}").json()["status"] == "assigned"
    assert client.post(f"/api/v1/dayplans/{day}/optimize").status_code == 409

    # Due within the planned day whatever the wall clock says (the reconnect deadline counts
    # from creation, which may be after the day's start in the utility's zone).
    due = dt.datetime.combine(site.day, dt.time(21, 0), tzinfo=dt.UTC).isoformat()
    reconnect = create(client, site.healthy()[20], "field_reconnect", priority=1, due_at_utc=due)
    inserted = client.post(f"/api/v1/dayplans/{day}/insert", json={"order_number": reconnect})
    assert inserted.status_code == 200, inserted.text
    assert inserted.json()["placed"] is True
    assert client.get(f"/api/v1/orders/{reconnect}").json()["status"] == "assigned"

    cancelled = client.post(
        f"/api/v1/orders/{planned[1]}/cancel", json={"reason": "customer moved out"}
    )
    assert cancelled.json()["status"] == "cancelled"
    after = client.get(f"/api/v1/dayplans/{day}").json()[0]
    left = {o["order_number"] for r in after["routes"] for v in r["visits"] for o in v["orders"]}
    assert planned[1] not in left
    assert reconnect in left
    assert after["kpis"]["work_orders_served"] == len(left)

    geojson = client.get(f"/api/v1/dayplans/{day}/geojson").json()
    assert geojson["type"] == "FeatureCollection"
    stops = {
        n
        for f in geojson["features"]
        if f["properties"]["kind"] == "stop"
        for n in f["properties"]["orders"]
    }
    assert stops == left


def test_a_morning_ping_without_head_end_is_refused(site: Site) -> None:
    app = site.client.app
    saved = app.state.head_end  # type: ignore[attr-defined]
    app.state.head_end = None  # type: ignore[attr-defined]
    try:
        response = site.client.post(f"/api/v1/dayplans/{site.day.isoformat()}/pings")
    finally:
        app.state.head_end = saved  # type: ignore[attr-defined]
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "dispatch.no_headend"


def test_technicians_are_listed_and_their_stock_and_days_set(site: Site) -> None:
    client = site.client
    people = client.get("/api/v1/technicians").json()
    assert [p["employee_number"] for p in people] == ["T0001", "T0002", "T0003", "T0004"]
    stocked = client.put(
        "/api/v1/technicians/T0001/stock", json={"item": "radio_module", "quantity": 4}
    )
    assert stocked.json()["stock"] == {"radio_module": 4}
    bad = client.put("/api/v1/technicians/T0001/stock", json={"item": "beer", "quantity": 4})
    assert bad.status_code == 422
    off = client.put(
        "/api/v1/technicians/T0004/days/2026-12-24", json={"available": False, "note": "leave"}
    )
    assert off.status_code == 204
    nobody = client.put("/api/v1/technicians/NOBODY/days/2026-12-24", json={})
    assert nobody.status_code == 403  # refused as another territory's: ids cannot be probed
