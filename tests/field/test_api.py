"""The field API over HTTP: signed in with the real form, CSRF on every POST, uploads refused."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from meterops.auth import service as auth_service
from meterops.config import Settings
from meterops.db.engine import make_engine, make_session_factory, session_scope
from meterops.timeutil import utc_now
from meterops.web.app import create_app
from tests.field.conftest import DAY, build_field_day
from tests.fixtures.web import csrf_token, sign_in

PASSWORD = "correct horse battery staple 7"


@pytest.fixture(scope="module")
def site(
    module_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TestClient, list[str], Path]]:
    engine = make_engine(module_database_url)
    factory = make_session_factory(engine)
    with session_scope(factory) as session:
        day = build_field_day(session)
        for name in ("tina", "otto"):
            auth_service.set_password(
                session, username=name, password=PASSWORD, actor="test", now=utc_now()
            )
        orders = day.orders
    engine.dispose()
    folder = tmp_path_factory.mktemp("field-web")
    settings = Settings(database_url=module_database_url, data_dir=folder)
    with TestClient(create_app(settings), base_url="https://testserver") as client:
        assert sign_in(client, "tina", PASSWORD).status_code in {302, 303}
        yield client, orders, folder


def png(size: tuple[int, int] = (64, 48)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, "green").save(buffer, "PNG")
    return buffer.getvalue()


def test_today_answers_the_contract_shape(site: tuple[TestClient, list[str], Path]) -> None:
    client, orders, _ = site
    body = client.get("/api/v1/field/today", params={"day": DAY.isoformat()}).json()
    assert set(body) == {"technician", "day", "csrf_token", "stops"}
    assert sorted(s["order_number"] for s in body["stops"]) == sorted(orders)
    stop = body["stops"][0]
    assert stop["next"] is True
    for key in ("sequence", "eta", "latitude", "meter_serial", "verdict", "customer", "done"):
        assert key in stop


def test_a_post_without_the_csrf_token_is_refused(site: tuple[TestClient, list[str], Path]) -> None:
    client, orders, _ = site
    answer = client.post(
        f"/api/v1/field/orders/{orders[1]}/actions",
        json={"idempotency_key": str(uuid.uuid4()), "kind": "note", "payload": {"text": "x"}},
    )
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "permission_denied.csrf"


def test_an_action_synced_twice_happens_once(site: tuple[TestClient, list[str], Path]) -> None:
    client, orders, _ = site
    headers = {"X-CSRF-Token": csrf_token(client)}
    action = {
        "idempotency_key": str(uuid.uuid4()),
        "kind": "arrive",
        "recorded_at": "2026-07-06T14:05:00Z",
        "payload": {},
    }
    url = f"/api/v1/field/orders/{orders[1]}/actions"
    first = client.post(url, json=action, headers=headers)
    assert first.status_code == 201, first.text
    assert first.json()["order"]["status"] == "on_site"
    second = client.post(url, json=action, headers=headers)
    assert second.status_code == 200
    assert second.json()["duplicate"] is True
    assert second.json()["action_id"] == first.json()["action_id"]
    clash = client.post(url, json={**action, "kind": "note"}, headers=headers)
    assert clash.status_code == 409


def test_photo_uploads_are_sniffed_bounded_and_served_as_jpeg(
    site: tuple[TestClient, list[str], Path],
) -> None:
    client, orders, folder = site
    headers = {"X-CSRF-Token": csrf_token(client)}
    url = f"/api/v1/field/orders/{orders[1]}/photos"

    def upload(name: str, data: bytes, key: str | None = None) -> object:
        return client.post(
            url,
            files={"file": (name, data, "image/jpeg")},
            data={"idempotency_key": key or str(uuid.uuid4()), "kind": "before"},
            headers=headers,
        )

    html = upload("meter.jpg", b"<html><script>alert(document.cookie)</script></html>")
    assert html.status_code == 415  # type: ignore[attr-defined]
    assert html.json()["error"]["details"]["detected"] == "html"  # type: ignore[attr-defined]
    svg = upload("meter.jpg", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>')
    assert svg.status_code == 415  # type: ignore[attr-defined]
    key = str(uuid.uuid4())
    stored = upload("../../etc/passwd.jpg", png(), key)
    assert stored.status_code == 201, stored.text  # type: ignore[attr-defined]
    body = stored.json()  # type: ignore[attr-defined]
    assert (body["width"], body["height"]) == (64, 48)
    again = upload("other.jpg", png(), key)
    assert again.status_code == 200
    assert again.json()["id"] == body["id"]
    photo = client.get(body["url"])
    assert photo.status_code == 200
    assert photo.headers["content-type"] == "image/jpeg"
    assert photo.content.startswith(b"\xff\xd8\xff")
    files = list((folder / "photos").rglob("*"))
    assert all("passwd" not in f.name for f in files)
    detail = client.get(f"/api/v1/field/orders/{orders[1]}").json()
    assert [p["id"] for p in detail["photos"]] == [body["id"]]


def test_another_technician_is_refused_the_order(
    site: tuple[TestClient, list[str], Path],
) -> None:
    client, orders, _ = site
    with TestClient(client.app, base_url="https://testserver") as other:
        assert sign_in(other, "otto", PASSWORD).status_code in {302, 303}
        answer = other.get(f"/api/v1/field/orders/{orders[0]}")
        assert answer.status_code == 403
        assert answer.json()["error"]["code"] == "permission_denied.territory"


def test_the_same_action_sent_at_once_from_eight_threads_happens_once(
    site: tuple[TestClient, list[str], Path],
) -> None:
    client, orders, _ = site
    headers = {"X-CSRF-Token": csrf_token(client)}
    body = {"idempotency_key": str(uuid.uuid4()), "kind": "note", "payload": {"text": "gate code"}}
    url = f"/api/v1/field/orders/{orders[1]}/actions"
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: client.post(url, json=body, headers=headers), range(8)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] * 7 + [201], [a.text for a in answers if a.status_code >= 300]
    assert len({a.json()["action_id"] for a in answers}) == 1
    detail = client.get(f"/api/v1/field/orders/{orders[1]}").json()
    notes = [a for a in detail["actions"] if a["payload"].get("text") == "gate code"]
    assert len(notes) == 1
