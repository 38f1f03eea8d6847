"""The meter page's communication trend, events timeline, verdicts, orders and customer.

A simulated town ingested through the real paths (its comm stats included); head-end events
for two meters are ingested as a head-end CSV file; one meter gets two diagnostics exceptions
and two work orders (one cancelled, one assigned to a technician). Users of every role sign in
through the app's own form and the page is asked through FastAPI's TestClient.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from html import unescape
from pathlib import Path

import polars as pl
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select

from meterops.auth import service as auth
from meterops.auth.service import CurrentUser
from meterops.config import Settings
from meterops.db.engine import session_scope
from meterops.diagnostics.kinds import ActionKind, Cause, ExceptionKind
from meterops.ingest.formats.headend_csv import write_headend_csv
from meterops.models import (
    Account,
    Customer,
    Installation,
    Meter,
    Premise,
    ServicePoint,
    Technician,
    Territory,
)
from meterops.models.diagnostics import DiagnosticException, ExceptionStatus
from meterops.models.org import Role, User
from meterops.reads.schema import PARSED_EVENTS
from meterops.reads.store import Table
from meterops.web.app import create_app
from meterops.web.ui.charts import success_percent
from meterops.web.ui.meter_panels import MeterPageRepository, can_see_customer
from meterops.workorders import service as workorders_service
from meterops.workorders.lifecycle import WorkOrderStatus
from meterops.workorders.schemas import OrderRequest
from meterops.workorders.service import WorkOrderPolicy
from meterops.workorders.types import WorkOrderType
from tests.fixtures.web import sign_in
from tests.vee.town import NOW, ZONE, Town, build_town

PASSWORD = "correct horse battery"
POLICY = WorkOrderPolicy(utility_timezone=ZONE.key)


@dataclass
class MeterFacts:
    """A town with one meter given events, verdicts and orders; what the tests look for."""

    town: Town
    settings: Settings
    serial: str
    meter_id: int
    other_serial: str
    customer_name: str
    account_number: str
    customer_number: str
    cancelled: str
    assigned: str
    exception_id: int
    last_day: dt.date
    address: str
    premise_number: str


@dataclass
class Scene(MeterFacts):
    client: TestClient


def _events(serial: str, other: str, day: dt.date) -> pl.DataFrame:
    noon = dt.datetime.combine(day, dt.time(12), tzinfo=ZONE).astimezone(dt.UTC)
    rows = [
        (serial, noon, "3.26.0.185", "PWR_OFF", "alarm", '{"phase": "A"}'),
        (serial, noon + dt.timedelta(minutes=42), "3.26.0.216", "PWR_ON", "info", None),
        (serial, noon + dt.timedelta(days=1), "3.12.93.219", "TAMPER", "critical", None),
        (other, noon, "3.26.0.185", "PWR_OFF_OTHER", "alarm", None),
    ]
    return pl.DataFrame(
        [
            {
                "serial_number": s,
                "event_time_utc": t,
                "cim_event_type": c,
                "vendor_code": v,
                "severity": sev,
                "details": d,
                "source_line": i + 2,
            }
            for i, (s, t, c, v, sev, d) in enumerate(rows)
        ],
        schema=PARSED_EVENTS.schema,
    )


def _user(town: Town, name: str, role: Role, territories: list[str]) -> None:
    with session_scope(town.sessions) as session:
        auth.create_user(
            session,
            username=name,
            display_name=name.title(),
            role=role,
            password=PASSWORD,
            territory_codes=territories,
            actor="test",
        )


@contextmanager
def meter_scene(folder: Path, *, cookie_secure: bool = False) -> Iterator[MeterFacts]:
    """The town, a meter's events ingested, users of every role, orders and exceptions."""
    with build_town(folder, days=3) as town:
        with session_scope(town.sessions) as session:
            found = session.execute(
                select(Meter.id, Meter.serial_number, Account, Customer, Premise)
                .join(Installation, Installation.meter_id == Meter.id)
                .join(ServicePoint, ServicePoint.id == Installation.service_point_id)
                .join(Premise, Premise.id == ServicePoint.premise_id)
                .join(Account, Account.service_point_id == Installation.service_point_id)
                .join(Customer, Customer.id == Account.customer_id)
                .where(Installation.removed_at_utc.is_(None), Account.move_out_date.is_(None))
                .order_by(Meter.id)
            ).all()
            meter_id, serial, account, customer, premise = found[0]
            address, premise_number = premise.address_line, premise.premise_number
            other = found[1][1]
            account_number, customer_number = account.account_number, customer.customer_number
            customer_name = customer.name
            session.add(Territory(code="FAR", name="Far away", timezone=ZONE.key))
        events = folder / "events.csv"
        events.write_bytes(write_headend_csv(_events(serial, other, town.day(1)), kind="events"))
        town.ingest([events])
        for name, role, territories in (
            ("ann", Role.ANALYST, ["PRAI1"]),
            ("dan", Role.DISPATCHER, ["PRAI1"]),
            ("far", Role.DISPATCHER, ["FAR"]),
            ("tom", Role.TECHNICIAN, ["PRAI1"]),
            ("tim", Role.TECHNICIAN, ["PRAI1"]),
        ):
            _user(town, name, role, territories)
        with session_scope(town.sessions) as session:
            territory_id = session.scalars(
                select(Territory.id).where(Territory.code == "PRAI1")
            ).one()
            for number, user in (("T1", "tom"), ("T2", "tim")):
                session.add(
                    Technician(
                        employee_number=number,
                        name=f"Tech {number}",
                        skills=["residential"],
                        certifications=[],
                        territory_id=territory_id,
                        depot_latitude=41.6,
                        depot_longitude=-93.6,
                        shift_start=dt.time(7),
                        shift_end=dt.time(15, 30),
                        break_minutes=30,
                        max_stops=20,
                        user_id=session.scalars(select(User.id).where(User.username == user)).one(),
                    )
                )
            session.flush()
            request = OrderRequest(order_type=WorkOrderType.EXCHANGE, meter_serial=serial)
            cancelled = workorders_service.create_order(
                session, request, actor="dan", now=NOW, policy=POLICY
            ).order_number
            workorders_service.transition(
                session, cancelled, WorkOrderStatus.CANCELLED, actor="dan",
                now=NOW + dt.timedelta(minutes=5), reason="customer asked to wait",
            )  # fmt: skip
            assigned = workorders_service.create_order(
                session, request, actor="dan", now=NOW + dt.timedelta(hours=1), policy=POLICY
            ).order_number
            order = workorders_service.get_order(session, assigned)
            order.technician_id = session.scalars(
                select(Technician.id).where(Technician.employee_number == "T1")
            ).one()
            for status in (WorkOrderStatus.SCHEDULED, WorkOrderStatus.ASSIGNED):
                workorders_service.move(
                    session, order, status, actor="dispatch", now=NOW + dt.timedelta(hours=2)
                )
            exception = DiagnosticException(
                meter_id=meter_id,
                kind=ExceptionKind.NON_COMMUNICATING,
                status=ExceptionStatus.OPEN,
                first_seen_utc=NOW - dt.timedelta(days=2),
                last_seen_utc=NOW,
                opened_at_utc=NOW,
                evidence={"hours_silent": 30},
                cause=Cause.RADIO_MODULE_FAILURE,
                rule_id="radio_dead@1",
                confidence=0.85,
                action=ActionKind.REMOTE,
                remote_command="ping",
                summary="The radio stopped answering while its neighbours kept reading.",
                verdict_evidence={},
                work_order_number=assigned,
            )
            session.add(exception)
            session.add(
                DiagnosticException(
                    meter_id=meter_id,
                    kind=ExceptionKind.ZERO_CONSUMPTION,
                    status=ExceptionStatus.CLOSED,
                    first_seen_utc=NOW - dt.timedelta(days=9),
                    last_seen_utc=NOW - dt.timedelta(days=8),
                    opened_at_utc=NOW - dt.timedelta(days=8),
                    closed_at_utc=NOW - dt.timedelta(days=7),
                    close_reason="recovered: consumption again",
                    evidence={},
                )
            )
            session.flush()
            exception_id = exception.id
        settings = Settings(
            database_url=town.database_url,
            reads_uri=town.store.uri,
            data_dir=folder / "var",
            utility_timezone=ZONE.key,
            cookie_secure=cookie_secure,
        )
        yield MeterFacts(
            town, settings, serial, meter_id, other, customer_name, account_number,
            customer_number, cancelled, assigned, exception_id, town.day(2), address,
            premise_number,
        )  # fmt: skip


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    with (
        meter_scene(tmp_path_factory.mktemp("meter_page")) as facts,
        TestClient(create_app(facts.settings)) as client,
    ):
        upload_photo(client, facts.assigned)
        yield Scene(**vars(facts), client=client)


def upload_photo(client: TestClient, order_number: str) -> None:
    """The order's technician (tom) takes a photo through the field API."""
    assert sign_in(client, "tom", PASSWORD).status_code == 303
    token = client.get("/api/v1/field/today").json()["csrf_token"]
    picture = io.BytesIO()
    Image.new("RGB", (320, 240), (120, 128, 136)).save(picture, "JPEG")
    response = client.post(
        f"/api/v1/field/orders/{order_number}/photos",
        files={"file": ("meter.jpg", picture.getvalue(), "image/jpeg")},
        data={"idempotency_key": "meter-page-photo-1", "kind": "nameplate"},
        headers={"X-CSRF-Token": token},
    )
    assert response.status_code == 201, response.text


def page_as(scene: Scene, username: str, **params: str) -> str:
    response = sign_in(scene.client, username, PASSWORD, f"/meters/{scene.serial}")
    assert response.status_code == 303, response.text
    page = scene.client.get(
        f"/meters/{scene.serial}", params={"to": scene.last_day.isoformat(), **params}
    )
    assert page.status_code == 200, page.text
    return unescape(page.text)


def section(html: str, name: str) -> str:
    return html.split(f'id="{name}"', 1)[1].split("</section>", 1)[0]


def test_the_communication_trend_draws_rssi_and_read_success_per_day(scene: Scene) -> None:
    html = page_as(scene, "dan")
    comm = section(html, "comm")
    stats = scene.town.store.records(Table.COMM_STATS, ids=[scene.meter_id])
    assert stats.height == 3
    assert comm.count('<circle class="point success"') == 3
    assert comm.count('<rect class="point rssi"') == stats["rssi_dbm"].is_not_null().sum()
    for row in stats.iter_rows(named=True):
        share = success_percent(row["reads_received"], row["reads_expected"])
        assert f"read success {share:.1f} %" in comm
        assert f"RSSI {row['rssi_dbm']:.1f} dBm" in comm
    # Axes with units and a plain legend.
    assert ">dBm</text>" in comm
    assert ">%</text>" in comm
    assert "RSSI at the mesh parent, dBm (left axis)" in comm
    assert "read success, % of expected reads received (right axis)" in comm
    assert re.search(r'<polyline class="line rssi" points="[\d., ]+"/>', comm)
    received, expected = int(stats["reads_received"].sum()), int(stats["reads_expected"].sum())
    assert f"({received} of {expected} reads)" in comm


def test_the_events_timeline_shows_the_meters_events_in_local_time(scene: Scene) -> None:
    events = section(page_as(scene, "dan"), "events")
    assert events.count('<circle class="event ') == 3
    assert events.count('<circle class="event critical"') == 1
    assert "PWR_OFF_OTHER" not in events  # another meter's event
    day = scene.town.day(1).isoformat()
    rows = re.findall(r"<tr class=\"severity-(\w+)\"><td>([^<]+)</td>", events)
    # Newest first, in the utility's zone.
    assert rows == [
        ("critical", f"{scene.town.day(2).isoformat()} 12:00:00 CST"),
        ("info", f"{day} 12:42:00 CST"),
        ("alarm", f"{day} 12:00:00 CST"),
    ]
    assert "phase=A" in events


def test_verdicts_link_to_the_exception_the_queue_and_the_order(scene: Scene) -> None:
    verdicts = section(page_as(scene, "ann"), "verdicts")
    assert f'href="/diagnostics/exceptions/{scene.exception_id}"' in verdicts
    assert f'href="/api/v1/diagnostics/exceptions/{scene.exception_id}">JSON' in verdicts
    assert 'href="/diagnostics?kind=non_communicating&status=all"' in verdicts
    assert f'href="/orders/{scene.assigned}"' in verdicts
    assert "radio module failure" in verdicts
    assert "0.85" in verdicts
    assert "closed (recovered: consumption again)" in verdicts


def test_the_order_history_lists_every_order_with_its_status_changes(scene: Scene) -> None:
    orders = section(page_as(scene, "dan"), "orders")
    assigned = orders.split(f'data-order="{scene.assigned}"')[1].split("</article>")[0]
    cancelled = orders.split(f'data-order="{scene.cancelled}"')[1].split("</article>")[0]
    assert orders.index(scene.assigned) < orders.index(scene.cancelled)  # newest first
    assert "technician T1" in assigned
    assert "created → scheduled" in assigned
    assert "scheduled → assigned" in assigned
    assert "created → cancelled by dan: customer asked to wait" in cancelled


def test_an_analyst_sees_ids_never_the_customers_name_or_address(scene: Scene) -> None:
    html = page_as(scene, "ann")
    assert scene.account_number in html
    assert scene.customer_number in html
    assert scene.customer_name not in html
    assert scene.address not in html
    assert scene.premise_number in html


def test_the_territorys_dispatcher_sees_the_customers_name(scene: Scene) -> None:
    html = page_as(scene, "dan")
    assert scene.customer_name in html
    assert scene.account_number in html
    assert scene.address in html


def test_the_technician_of_the_open_order_sees_the_customers_name(scene: Scene) -> None:
    assert scene.customer_name in page_as(scene, "tom")


@pytest.mark.parametrize(
    ("username", "shown"),
    [("ann", False), ("dan", True), ("far", False), ("tom", True), ("tim", False)],
)
def test_who_may_see_the_customer(scene: Scene, username: str, shown: bool) -> None:
    with session_scope(scene.town.sessions) as session:
        user, codes = next((u, c) for u, c in auth.list_users(session) if u.username == username)
        territories = frozenset(
            session.scalars(select(Territory.id).where(Territory.code.in_(codes)))
        )
        current = CurrentUser(
            id=user.id, username=user.username, display_name=user.display_name,
            role=user.role, territory_ids=territories, csrf_token="",
        )  # fmt: skip
        repository = MeterPageRepository(session)
        assert can_see_customer(repository, scene.meter_id, current) is shown
        assert can_see_customer(repository, scene.meter_id, None) is False


def test_days_without_stats_or_events_say_so(scene: Scene) -> None:
    response = sign_in(scene.client, "dan", PASSWORD)
    assert response.status_code == 303
    page = unescape(
        scene.client.get(
            f"/meters/{scene.serial}", params={"from": "2020-01-01", "to": "2020-01-02"}
        ).text
    )
    assert "No communication statistics stored from 2019-12-04 to 2020-01-02." in page
    assert "No events stored from 2019-12-04 to 2020-01-02." in page
    # The page keeps the strict CSP: no inline script or style.
    assert "<script>" not in page
    assert "style=" not in page


def test_photos_of_field_visits_show_to_the_territorys_desk_and_the_technician(
    scene: Scene,
) -> None:
    for username in ("dan", "tom"):
        orders = section(page_as(scene, username), "orders")
        assigned = orders.split(f'data-order="{scene.assigned}"')[1].split("</article>")[0]
        urls = re.findall(r'<img src="([^"]+)"', assigned)
        assert len(urls) == 1
        assert urls[0].startswith(f"/api/v1/field/orders/{scene.assigned}/photos/")
        assert "nameplate photo of " + scene.assigned in assigned
        image = scene.client.get(urls[0])
        assert image.status_code == 200
        assert image.headers["content-type"] == "image/jpeg"
    orders = section(page_as(scene, "ann"), "orders")
    assert "<img" not in orders
    assert "1 photo of this visit: shown only to the order's technician" in orders
