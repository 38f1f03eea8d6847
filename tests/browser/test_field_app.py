"""The technician's day on a phone, end to end (issue 7's first "Done means").

A real Chromium with a Pixel 7's viewport and touch drives the field app served by uvicorn over
a dispatched day (``field_world``) and a simulated head-end over the same simulated world:
the technician signs in, opens the route (next stop first, the map), completes an exchange
with a photo (a real JPEG made here), follows the head-end until the new meter is verified,
goes offline, completes another stop from the cached app (its results wait in IndexedDB),
comes back online, and the results arrive once: one stored action per idempotency key, sending
a key again changes nothing, and the orders' statuses are the expected ones. Screenshots of
each step are saved under ``test-artifacts/field/``.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw
from sqlalchemy import func, select

from meterops.cli.demo import DemoDispatcher
from meterops.commands.dispatcher import Dispatcher
from meterops.commands.policy import CommandPolicy
from meterops.config import Settings
from meterops.db.engine import make_engine, make_session_factory, session_scope
from meterops.models.auth import WebSession
from meterops.models.field import FieldAction, FieldPhoto, FieldVerification
from meterops.models.org import User
from meterops.models.workorders import WorkOrder
from meterops.web.app import create_app
from tests.browser.conftest import serve
from tests.browser.field_world import PASSWORD, FieldDay, build_field_day

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "field"
PIXEL_7 = {
    "viewport": {"width": 412, "height": 839},
    "screen": {"width": 412, "height": 915},
    "device_scale_factor": 2.625,
    "is_mobile": True,
    "has_touch": True,
    "locale": "en-US",
    "timezone_id": "America/Chicago",
    "user_agent": (
        "Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Mobile Safari/537.36"
    ),
}
"""Playwright's "Pixel 7" device descriptor, in the utility's time zone."""
WAIT_MS = 60_000


@pytest.fixture(scope="module")
def field_day(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> FieldDay:
    return build_field_day(module_database_url, tmp_path_factory.mktemp("field_day"))


@pytest.fixture(scope="module")
def site(
    field_day: FieldDay, module_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("field_site")
    settings = Settings(database_url=module_database_url, data_dir=folder / "var")
    app = create_app(settings)
    # Concurrent requests (the service worker keeps a day's pages at once) each read, then
    # write: on SQLite they must queue for the write lock (make_engine(immediate=True); a
    # no-op here once create_app asks for it itself).
    app.state.engine.dispose()
    app.state.engine = make_engine(module_database_url, immediate=True)
    app.state.session_factory = make_session_factory(app.state.engine)
    app.state.head_end = field_day.head_end
    with serve(app) as url:
        site_apps[url] = app
        yield url


site_apps: dict[str, Any] = {}


@pytest.fixture
def remote_worker(site: str, field_day: FieldDay) -> Iterator[None]:
    """The remote-commands outbox worker, as ``meterops remote dispatch`` runs beside the app.

    It sends the phone's pings and reads to the head-end and confirms them.
    """
    worker = DemoDispatcher(
        Dispatcher(
            site_apps[site].state.session_factory,
            field_day.head_end,
            policy=CommandPolicy(),
            worker="field-test",
            clock=lambda: dt.datetime.now(dt.UTC),
        ),
        interval_s=0.2,
    )
    worker.start()
    try:
        yield
    finally:
        worker.stop()


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    """A page in a Pixel 7 context; fails the test on console errors and unexpected 4xx/5xx."""
    context = browser.new_context(**PIXEL_7)
    # Generous: a shared CI machine (PostgreSQL under load) can be slow; nothing here is timed.
    context.set_default_timeout(WAIT_MS)
    context.set_default_navigation_timeout(WAIT_MS)
    page = context.new_page()
    errors: list[str] = []
    allowed: set[int] = set()

    def on_console(message: Any) -> None:
        if message.type != "error":
            return
        if any(f"status of {status} " in message.text for status in allowed):
            return
        errors.append(f"{message.text} ({message.location.get('url')})")

    def on_response(response: Any) -> None:
        if response.status >= 400 and response.status not in allowed:
            try:
                body = response.text()[:300]
            except Exception:  # noqa: BLE001 - the body is only a hint in the failure message
                body = ""
            errors.append(f"{response.status} {response.url} {body}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("response", on_response)
    page.allow_status = allowed.add
    yield page
    context.close()
    assert errors == [], f"browser errors: {errors}"


def shot(page: Any, name: str, focus: str | None = None) -> None:
    """What the phone's screen shows (``focus`` scrolled into view) under test-artifacts."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    if focus is not None:
        page.locator(focus).first.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def jpeg(path: Path) -> Path:
    """A small real JPEG: a meter-like dial on a grey background."""
    image = Image.new("RGB", (640, 480), (120, 128, 136))
    draw = ImageDraw.Draw(image)
    draw.ellipse((170, 90, 470, 390), fill=(235, 235, 225), outline=(20, 20, 20), width=8)
    draw.line((320, 240, 400, 160), fill=(200, 40, 30), width=10)
    draw.rectangle((250, 300, 390, 340), fill=(10, 10, 10))
    image.save(path, "JPEG", quality=85)
    return path


def stop_page_ready(page: Any) -> None:
    page.locator("[data-loading]").wait_for(state="hidden", timeout=WAIT_MS)


def pass_safety(page: Any) -> None:
    form = page.locator('[data-form="safety"]')
    for choice in form.locator('label.choice.pass input[type="radio"]').all():
        choice.check()
    for volts in form.locator('input[name^="item:"][inputmode="decimal"]').all():
        volts.fill(volts.get_attribute("data-nominal") or "240")
    form.get_by_role("button", name="Record safety check").click()


def first_cause(select: Any) -> str:
    values = [v for v in select.locator("option").evaluate_all("o => o.map(x => x.value)") if v]
    assert values, "no found-cause codes offered"
    select.select_option(values[0])
    return str(values[0])


@pytest.mark.usefixtures("remote_worker")
def test_a_technicians_day_online_and_offline(
    phone: Any, site: str, field_day: FieldDay, module_database_url: str, tmp_path: Path
) -> None:
    page = phone
    day = field_day.day.isoformat()
    exchange = field_day.exchanges[0]
    other = field_day.investigation

    # 1. Sign in on the phone.
    page.goto(f"{site}/sign-in?next=/field?day={day}")
    page.get_by_label("User name").fill(field_day.username)
    page.get_by_label("Password").fill(PASSWORD)
    shot(page, "01-sign-in")
    with _held_until_signed_in(page, module_database_url, field_day.username, r"/field\?day="):
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(re.compile(r"/field\?day="))

    # 2. Today's route: the next stop first, the map, kept for offline use.
    stops = page.locator("[data-stops] li.stop")
    stops.first.wait_for(timeout=WAIT_MS)
    assert stops.count() == 3
    assert "Next" in stops.first.inner_text()
    assert page.locator("[data-map].leaflet-container").count() == 1
    assert page.locator("[data-map] .leaflet-interactive").count() >= 3  # route line and stops
    page.get_by_text("Saved for offline use").wait_for(timeout=WAIT_MS)
    shot(page, "02-route")

    # 3. The exchange stop: confirm, ping, safety.
    page.locator(f'a[href^="/field/stops/{exchange}"]').click()
    stop_page_ready(page)
    assert (
        field_day.old_serials[exchange] in page.locator('[data-field="meter_serial"]').inner_text()
    )
    page.get_by_role("button", name="I'm here, account and meter match").click()
    page.get_by_text("Arrival recorded").wait_for(timeout=WAIT_MS)
    page.get_by_role("button", name="Ping now").click()
    page.locator("[data-command-result]").filter(has_text="Ping · confirmed").wait_for(
        timeout=WAIT_MS
    )
    shot(page, "03-stop", "[data-command-result]")
    pass_safety(page)
    page.get_by_text("Safety check passed").wait_for(timeout=WAIT_MS)

    # 4. The exchange with a photo; the head-end verifies the new meter.
    form = page.locator('[data-form="exchange"]')
    form.get_by_label("Old meter serial").fill(field_day.old_serials[exchange])
    assert form.get_by_text("Matches the order's meter.").is_visible()
    form.get_by_label("Old meter final read (kWh)").fill(str(field_day.final_reads[exchange]))
    form.get_by_label("New meter serial").fill(field_day.new_serials[0])
    form.get_by_label("New meter initial read (kWh)").fill("0")
    form.locator('input[name="photos"]').set_input_files(str(jpeg(tmp_path / "meter.jpg")))
    form.locator("[data-photos] img").wait_for()
    cause = first_cause(form.locator('select[name="found_cause_code"]'))
    form.get_by_label("Notes").fill("AMI 2.0 exchange, base in good shape.")
    shot(page, "04-exchange-form", '[data-form="exchange"] button[type="submit"]')
    form.get_by_role("button", name="Record exchange").click()
    page.get_by_text("Exchange recorded").wait_for(timeout=WAIT_MS)
    page.locator(".verification.verified").wait_for(timeout=WAIT_MS)
    assert page.locator('[data-field="verification"]').inner_text().startswith("Verified")
    shot(page, "05-verified", '[data-section="verification"]')
    complete = page.locator('[data-form="complete"]')
    assert complete.locator('select[name="found_cause_code"]').input_value() == cause
    complete.get_by_role("button", name="Complete stop").click()
    page.get_by_text("Stop completed").wait_for(timeout=WAIT_MS)
    shot(page, "06-completed", '[data-done="complete"]')

    # 5. Offline: the route and the next stop come from the cache; results wait on the phone.
    page.goto(f"{site}/field?day={day}")
    stops.first.wait_for(timeout=WAIT_MS)
    page.get_by_text("Saved for offline use").wait_for(timeout=WAIT_MS)
    assert page.evaluate("navigator.serviceWorker.controller !== null")
    kept = (
        "url => caches.keys().then(ks => caches.open(ks[0])).then(c => c.match(url))"
        ".then(r => r !== undefined)"
    )
    for url in (f"/field/stops/{other}", f"/api/v1/field/orders/{other}"):
        assert page.evaluate(kept, url), f"{url} is not kept for offline use"
    page.context.set_offline(True)
    page.locator(f'a[href^="/field/stops/{other}"]').click()
    stop_page_ready(page)
    assert page.locator("[data-net]").inner_text() == "offline"
    page.get_by_role("button", name="I'm here, account and meter match").click()
    page.get_by_text("Arrival saved on the phone").wait_for()
    pass_safety(page)
    complete = page.locator('[data-form="complete"]')
    first_cause(complete.locator('select[name="found_cause_code"]'))
    complete.get_by_label("Notes").fill("Seal intact, no tamper found.")
    complete.get_by_role("button", name="Complete stop").click()
    page.locator("[data-sync]").filter(has_text="3 waiting to send").wait_for()
    shot(page, "07-offline-waiting", '[data-done="complete"]')
    with _db(module_database_url) as session:
        assert _actions(session, other) == []

    # 6. Online again: everything is sent, once.
    page.context.set_offline(False)
    page.locator("[data-sync]").wait_for(state="hidden", timeout=WAIT_MS)
    page.locator('[data-done="complete"]').filter(has_text="Sent.").wait_for()
    assert page.locator('[data-field="status"]').text_content() == "completed"
    shot(page, "08-synced", '[data-done="complete"]')
    with _db(module_database_url) as session:
        sent = _actions(session, other)
        assert [kind for kind, _ in sent] == ["arrive", "safety", "complete"]
        assert len({key for _, key in sent}) == 3
        mine = _actions(session, exchange)
        assert [kind for kind, _ in mine] == ["arrive", "safety", "exchange", "complete"]
        photos = session.scalar(
            select(func.count())
            .select_from(FieldPhoto)
            .join(WorkOrder, WorkOrder.id == FieldPhoto.work_order_id)
            .where(WorkOrder.id == _id(exchange))
        )
        assert photos == 1
        verification = session.scalars(
            select(FieldVerification).where(FieldVerification.work_order_id == _id(exchange))
        ).one()
        assert verification.state.value == "verified"
        assert verification.new_serial == field_day.new_serials[0]
        statuses = {n: _status(session, n) for n in (exchange, other)}
    assert statuses[exchange] in {"verified", "closed"}
    assert statuses[other] == "completed"

    # 7. The same key sent again (a phone that lost the answer) is a duplicate, not a 2nd result.
    kind, key = sent[-1]
    today = page.request.get(f"{site}/api/v1/field/today?day={day}").json()
    token = today["csrf_token"]
    again = page.request.post(
        f"{site}/api/v1/field/orders/{other}/actions",
        headers={"X-CSRF-Token": token},
        data={
            "idempotency_key": key,
            "kind": kind,
            "recorded_at": "2026-01-01T00:00:00Z",
            "payload": _payload(module_database_url, key),
        },
    )
    assert again.status == 200, again.text()
    assert again.json()["duplicate"] is True
    with _db(module_database_url) as session:
        assert _actions(session, other) == sent

    # 8. The route shows both stops done; the exchange's photo is on record, served back.
    page.goto(f"{site}/field?day={day}")
    stops.first.wait_for(timeout=WAIT_MS)
    shot(page, "09-route-after")
    page.goto(f"{site}/field/stops/{exchange}")
    stop_page_ready(page)
    photo = page.locator('[data-field="photos"] img')
    photo.wait_for()
    photo.scroll_into_view_if_needed()
    loaded = "img => img.complete && img.naturalWidth > 0"
    page.wait_for_function(loaded, arg=photo.element_handle())
    assert photo.evaluate("img => img.naturalWidth") == 640


def test_the_app_is_installable(phone: Any, site: str) -> None:
    manifest = phone.request.get(f"{site}/field/manifest.webmanifest")
    assert manifest.headers["content-type"].startswith("application/manifest+json")
    body = manifest.json()
    assert (body["start_url"], body["scope"], body["display"]) == ("/field", "/field", "standalone")
    sizes = set()
    for icon in body["icons"]:
        answer = phone.request.get(site + icon["src"])
        assert answer.status == 200
        assert answer.headers["content-type"].startswith(icon["type"])
        if icon["type"] == "image/png":
            width, height = Image.open(io.BytesIO(answer.body())).size
            assert icon["sizes"] == f"{width}x{height}"
            sizes.add(width)
    assert {192, 512} <= sizes
    worker = phone.request.get(f"{site}/field/sw.js")
    assert worker.headers["content-type"].startswith("text/javascript")
    assert worker.headers["service-worker-allowed"] == "/field"
    assert "__VERSION__" not in worker.text()
    assert "/static/field/app.js" in worker.text()  # the shell it caches


def test_a_session_that_ends_offline_keeps_the_queue_until_signed_in_again(
    phone: Any, site: str, field_day: FieldDay, module_database_url: str
) -> None:
    page = phone
    day = field_day.day.isoformat()
    order = field_day.exchanges[1]
    page.goto(f"{site}/sign-in?next=/field?day={day}")
    page.get_by_label("User name").fill(field_day.username)
    page.get_by_label("Password").fill(PASSWORD)
    with _held_until_signed_in(page, module_database_url, field_day.username, r"/field\?day="):
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(re.compile(r"/field\?day="))
    page.get_by_text("Saved for offline use").wait_for(timeout=WAIT_MS)

    # Offline: arrive and pass the safety check; both wait on the phone.
    page.context.set_offline(True)
    page.locator(f'a[href^="/field/stops/{order}"]').click()
    stop_page_ready(page)
    page.get_by_role("button", name="I'm here, account and meter match").click()
    page.get_by_text("Arrival saved on the phone").wait_for()
    pass_safety(page)
    page.locator("[data-sync]").filter(has_text="2 waiting to send").wait_for()

    # Meanwhile the session ends (idle timeout, or signed out elsewhere).
    with _db(module_database_url) as session:
        for web_session in session.scalars(
            select(WebSession)
            .join(User, User.id == WebSession.user_id)
            .where(User.username == field_day.username, WebSession.ended_at_utc.is_(None))
        ):
            web_session.ended_at_utc = web_session.last_seen_at_utc
            web_session.end_reason = "idle"
    page.allow_status(401)
    page.context.set_offline(False)
    banner = page.locator("[data-signin]")
    banner.wait_for(timeout=WAIT_MS)
    assert page.locator("[data-sync]").text_content() == "2 waiting to send"
    shot(page, "10-session-ended", "[data-signin]")
    with _db(module_database_url) as session:
        assert _actions(session, order) == []

    # Signing in again brings the technician back to the stop, and the queue goes out once.
    banner.get_by_role("link", name="Sign in again").click()
    page.get_by_label("User name").fill(field_day.username)
    page.get_by_label("Password").fill(PASSWORD)
    before = _sessions(module_database_url, field_day.username)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(rf"/field/stops/{order}"), wait_until="domcontentloaded")
    # The service worker now fetches the page, out of the test's reach to hold the redirect
    # (see _held_until_signed_in): if the redirect overtook the sign-in's commit, the 401
    # page shows and the technician reloads, as they would.
    _wait_for_session(module_database_url, field_day.username, before)
    if page.locator("[data-stop]").count() == 0:
        page.reload()
    stop_page_ready(page)
    page.locator("[data-sync]").wait_for(state="hidden", timeout=WAIT_MS)
    shot(page, "11-signed-in-again-sent")
    with _db(module_database_url) as session:
        assert [kind for kind, _ in _actions(session, order)] == ["arrive", "safety"]
        assert _status(session, order) == "on_site"

    # The gate is locked after all: the job is recorded as not possible, with the reason.
    form = page.locator('[data-form="unable"]')
    form.get_by_label("Reason").fill("No access: gate locked, nobody home")
    form.get_by_role("button", name="Record unable to complete").click()
    page.get_by_text("Recorded: unable to complete").wait_for(timeout=WAIT_MS)
    shot(page, "12-unable", '[data-form="unable"]')
    with _db(module_database_url) as session:
        assert _status(session, order) == "unable_to_complete"


@contextmanager
def _held_until_signed_in(
    page: Any, database_url: str, username: str, target: str
) -> Iterator[None]:
    """Hold the redirect after sign-in until the new session is in the database.

    The request's database session is committed after its answer is sent (FastAPI ends
    dependencies with yield after the response unless ``scope="function"``), so the browser's
    redirect can overtake the commit of the sign-in and be refused (401).
    """

    before = _sessions(database_url, username)

    def hold(route: Any) -> None:
        _wait_for_session(database_url, username, before)
        route.continue_()

    pattern = re.compile(target)
    page.route(pattern, hold)
    try:
        yield
    finally:
        page.unroute(pattern)


def _sessions(database_url: str, username: str) -> int:
    """How many sessions the user has had (open or ended)."""
    with _db(database_url) as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(WebSession)
                .join(User, User.id == WebSession.user_id)
                .where(User.username == username)
            )
            or 0
        )


def _wait_for_session(database_url: str, username: str, before: int) -> None:
    """Until the user has more than ``before`` sessions in the database (at most 10 s)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if _sessions(database_url, username) > before:
            return
        time.sleep(0.02)
    pytest.fail(f"no new session of {username} within 10 s")


@contextmanager
def _db(url: str) -> Iterator[Any]:
    engine = make_engine(url, immediate=True)
    try:
        with session_scope(make_session_factory(engine)) as session:
            yield session
    finally:
        engine.dispose()


def _id(order_number: str) -> int:
    return int(order_number.removeprefix("WO-"))


def _actions(session: Any, order_number: str) -> list[tuple[str, str]]:
    rows = session.execute(
        select(FieldAction.kind, FieldAction.idempotency_key)
        .where(FieldAction.work_order_id == _id(order_number))
        .order_by(FieldAction.id)
    ).all()
    return [(kind, key) for kind, key in rows if kind not in {"ping", "read"}]


def _status(session: Any, order_number: str) -> str:
    return str(session.get_one(WorkOrder, _id(order_number)).status.value)


def _payload(url: str, key: str) -> Any:
    with _db(url) as session:
        return session.scalars(
            select(FieldAction.payload).where(FieldAction.idempotency_key == key)
        ).one()
