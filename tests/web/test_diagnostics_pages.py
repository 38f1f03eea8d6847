"""The exception queue's filters (page and API) and the verdict page.

The meter page's scene (a simulated town ingested through the real paths, head-end events,
orders, two exceptions of one meter) with three more exceptions of different causes,
confidences and ages, one of them on a meter moved to a second territory (FAR). Users sign in
through the app's form; FastAPI's TestClient asks. SQLite, and PostgreSQL when
``METEROPS_TEST_DATABASE_URL`` is set (the town's database follows it).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from html import unescape
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from meterops.db.engine import session_scope
from meterops.diagnostics import service as diagnostics_service
from meterops.diagnostics.kinds import ActionKind, Cause, ExceptionKind
from meterops.diagnostics.scoring import visit_parts
from meterops.errors import InvalidInputError
from meterops.models import Installation, Meter, Premise, ServicePoint, Territory
from meterops.models.diagnostics import DiagnosticException, ExceptionStatus
from meterops.models.org import Role
from meterops.timeutil import utc_now
from meterops.web.app import create_app
from meterops.workorders.types import WorkOrderType
from tests.fixtures.web import sign_in
from tests.vee.town import NOW
from tests.web.test_meter_page import PASSWORD, MeterFacts, _user, meter_scene


@dataclass
class Queue:
    """The scene and the ids of its exceptions by name."""

    facts: MeterFacts
    client: TestClient
    ids: dict[str, int]
    far_serial: str
    prai_id: int
    far_id: int


def _exception(
    meter_id: int, kind: ExceptionKind, days: float, **verdict: object
) -> DiagnosticException:
    return DiagnosticException(
        meter_id=meter_id,
        kind=kind,
        status=ExceptionStatus.OPEN,
        first_seen_utc=NOW - dt.timedelta(days=days),
        last_seen_utc=NOW,
        opened_at_utc=NOW - dt.timedelta(days=days),
        evidence={"silent_hours": 30.5},
        **verdict,
    )


@pytest.fixture(scope="module")
def queue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Queue]:
    with meter_scene(tmp_path_factory.mktemp("diagnostics_pages")) as facts:
        _user(facts.town, "sue", Role.SUPERVISOR, ["PRAI1", "FAR"])
        with session_scope(facts.town.sessions) as session:
            prai = session.scalars(select(Territory.id).where(Territory.code == "PRAI1")).one()
            far = session.scalars(select(Territory.id).where(Territory.code == "FAR")).one()
            placed = session.execute(
                select(Meter.id, Meter.serial_number, Premise)
                .join(Installation, Installation.meter_id == Meter.id)
                .join(ServicePoint, ServicePoint.id == Installation.service_point_id)
                .join(Premise, Premise.id == ServicePoint.premise_id)
                .where(Installation.removed_at_utc.is_(None))
                .order_by(Meter.id)
            ).all()
            others = [(i, s, p) for i, s, p in placed if s != facts.serial]
            (tamper_meter, _, _), (bill_meter, _, _) = others[0], others[1]
            far_meter, far_serial, far_premise = others[2]
            far_premise.territory_id = far
            rows = {
                "tamper": _exception(
                    tamper_meter, ExceptionKind.TAMPER, 20, cause=Cause.BYPASS_THEFT,
                    confidence=0.6, action=ActionKind.FIELD, order_type="tamper_investigation",
                    rule_id="tamper.bypass", summary="Tamper events and the use fell.",
                    verdict_evidence={
                        "rule": "tamper.bypass",
                        "conditions": ["usage_ratio_since_tamper = 0.42 (<= 0.7)"],
                        "facts": {"usage_ratio_since_tamper": 0.42, "tamper_events": 2},
                    },
                ),
                "bill": _exception(bill_meter, ExceptionKind.HIGH_BILL, 0.05),
                "far": _exception(
                    far_meter, ExceptionKind.NON_COMMUNICATING, 10,
                    cause=Cause.WEAK_MESH_PATH, confidence=0.75, action=ActionKind.FIELD,
                    order_type="collector_work", rule_id="non_communicating.weak_mesh_path.rssi",
                    summary="The signal faded.",
                    verdict_evidence={
                        "rule": "non_communicating.weak_mesh_path.rssi",
                        "conditions": [
                            "rssi_fade_db = 16.5 (>= 5.0)",
                            "rssi_trend_t = -7.2 (<= -4.0)",
                        ],
                        "facts": {"rssi_fade_db": 16.5, "rssi_trend_t": -7.2, "rssi_dbm": -96.0},
                    },
                ),
            }  # fmt: skip
            session.add_all(rows.values())
            session.flush()
            ids = {name: row.id for name, row in rows.items()}
            ids["radio"] = facts.exception_id
        with TestClient(create_app(facts.settings)) as client:
            yield Queue(facts, client, ids, far_serial, prai, far)


def _as(queue: Queue, username: str) -> TestClient:
    assert sign_in(queue.client, username, PASSWORD).status_code == 303
    return queue.client


def _api(queue: Queue, username: str, **params: object) -> set[int]:
    answer = _as(queue, username).get("/api/v1/diagnostics/exceptions", params=params)
    assert answer.status_code == 200, answer.text
    return {row["id"] for row in answer.json()}


def _page_ids(html: str) -> set[int]:
    return {int(i) for i in re.findall(r'<tr data-exception="(\d+)"', html)}


def _page(queue: Queue, username: str, **params: str) -> str:
    answer = _as(queue, username).get("/diagnostics", params=params)
    assert answer.status_code == 200, answer.text
    return unescape(answer.text)


def test_the_api_filters_narrow_the_queue(queue: Queue) -> None:
    ids = queue.ids
    everything = {ids["radio"], ids["tamper"], ids["bill"], ids["far"]}
    assert _api(queue, "sue", open="true") == everything
    assert _api(queue, "sue", cause="bypass_theft") == {ids["tamper"]}
    assert _api(queue, "sue", cause="none", open="true") == {ids["bill"]}
    assert _api(queue, "sue", min_confidence=0.7) == {ids["radio"], ids["far"]}
    assert _api(queue, "sue", min_confidence=0.8) == {ids["radio"]}
    assert _api(queue, "sue", territory="FAR") == {ids["far"]}
    assert _api(queue, "sue", territory="PRAI1", open="true") == everything - {ids["far"]}
    # Open for at least N days, counted back from the clock to first_seen_utc.
    offset = (utc_now() - NOW).total_seconds() / 86400
    assert _api(queue, "sue", min_age_days=offset + 5, open="true") == {ids["tamper"], ids["far"]}
    assert _api(queue, "sue", min_age_days=offset + 15, open="true") == {ids["tamper"]}
    # Filters combine.
    assert _api(queue, "sue", territory="PRAI1", min_confidence=0.5, kind="tamper") == {
        ids["tamper"]
    }


def test_the_api_never_widens_beyond_the_users_territories(queue: Queue) -> None:
    ids = queue.ids
    assert _api(queue, "dan", open="true") == {ids["radio"], ids["tamper"], ids["bill"]}
    assert _api(queue, "far", open="true") == {ids["far"]}
    refused = queue.client.get("/api/v1/diagnostics/exceptions", params={"territory": "PRAI1"})
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["details"]["field"] == "territory"
    assert "'PRAI1' is not one of your territories (FAR)" in error["message"]


@pytest.mark.parametrize(
    ("name", "value"),
    [("cause", "gremlins"), ("min_confidence", "1.5"), ("min_age_days", "-1")],
)
def test_the_api_refuses_bad_filters_naming_the_field(queue: Queue, name: str, value: str) -> None:
    answer = _as(queue, "sue").get("/api/v1/diagnostics/exceptions", params={name: value})
    assert answer.status_code == 422
    assert name in answer.text


def test_the_service_filters_by_age_at_a_given_moment(queue: Queue) -> None:
    ids = queue.ids
    with session_scope(queue.facts.town.sessions) as session:

        def found(**filters: Any) -> set[int]:
            rows = diagnostics_service.list_exceptions(
                session, as_of_utc=NOW, open_only=True, **filters
            )
            return {row.id for row, _ in rows}

        assert found(min_age_days=5) == {ids["tamper"], ids["far"]}
        assert found(min_age_days=1, territory_ids=[queue.prai_id]) == {
            ids["radio"],
            ids["tamper"],
        }
        assert found(territory="FAR") == {ids["far"]}
        with pytest.raises(InvalidInputError, match="FAR"):
            found(territory="FAR", territory_ids=[queue.prai_id])


def test_the_page_filters_and_says_so_in_words(queue: Queue) -> None:
    ids = queue.ids
    html = _page(queue, "sue", cause="weak_mesh_path", confidence="70", territory="FAR")
    assert _page_ids(html) == {ids["far"]}
    assert (
        "1 open exception: cause weak mesh path; confidence at least 70 %; "
        "territory FAR (Far away), newest first." in html
    )
    assert f'href="/diagnostics/exceptions/{ids["far"]}"' in html
    assert _page_ids(_page(queue, "sue", age="3650")) == set()
    assert _page_ids(_page(queue, "sue", cause="none")) == {ids["bill"]}
    assert _page_ids(_page(queue, "sue", confidence="0.8")) == {ids["radio"]}
    # The dispatcher's territory list holds only their own territory.
    dan = _page(queue, "dan")
    assert '<option value="PRAI1"' in dan
    assert '<option value="FAR"' not in dan


def test_the_page_ignores_bad_filters_with_a_visible_note(queue: Queue) -> None:
    ids = queue.ids
    html = _page(queue, "dan", territory="FAR", confidence="lots", cause="gremlins", age="x")
    assert "Territory 'FAR' is not one of yours: ignored." in html
    assert "Confidence 'lots' is neither a share (0-1) nor a percent: ignored." in html
    assert "Cause 'gremlins' is not a cause of the taxonomy: ignored." in html
    assert "Age 'x' is not a whole number of days: ignored." in html
    assert _page_ids(html) == {ids["radio"], ids["tamper"], ids["bill"]}


def test_htmx_swaps_only_the_table(queue: Queue) -> None:
    answer = _as(queue, "sue").get(
        "/diagnostics", params={"kind": "tamper"}, headers={"HX-Request": "true"}
    )
    assert answer.status_code == 200
    assert "<html" not in answer.text
    assert _page_ids(answer.text) == {queue.ids["tamper"]}


def _verdict(queue: Queue, username: str, name: str) -> tuple[int, str]:
    answer = _as(queue, username).get(f"/diagnostics/exceptions/{queue.ids[name]}")
    return answer.status_code, unescape(answer.text)


def test_the_verdict_page_shows_the_verdict_and_its_evidence(queue: Queue) -> None:
    status, html = _verdict(queue, "sue", "far")
    assert status == 200, html
    verdict = html.split('id="verdict"', 1)[1].split("</section>", 1)[0]
    assert "weak mesh path" in verdict
    assert "75 %" in verdict
    assert "field visit: collector work" in verdict
    assert "The signal faded." in verdict
    skill, parts = visit_parts(
        WorkOrderType.COLLECTOR_WORK, transformer_rated=False, meter_form=None
    )
    assert f"<dt>Skill</dt><dd>{skill.replace('_', ' ')}</dd>" in verdict
    assert f"<dt>Parts</dt><dd>{', '.join(parts) if parts else 'none'}</dd>" in verdict
    evidence = html.split('id="evidence"', 1)[1].split("</section>", 1)[0]
    fade = re.search(r'data-fact="rssi_fade_db">(.*?)</tr>', evidence, re.DOTALL)
    assert fade is not None
    assert re.findall(r"<td[^>]*>(.*?)</td>", fade.group(1), re.DOTALL)[1:5] == [
        "<code>rssi_fade_db</code>",
        "16.5",
        "dB",
        "<code>>= 5.0</code>",
    ]
    assert re.search(r'data-fact="rssi_dbm">.*?-96.*?dBm', evidence, re.DOTALL)
    assert re.search(
        r'evidence-detector[^"]*" data-fact="silent_hours">.*?30.5.*?>h<', evidence, re.DOTALL
    )
    # The three charts' containers: trend, consumption with flags, neighbours map.
    assert 'id="comm"' in html
    assert 'id="reads"' in html
    assert "data-neighbour-map" in html
    assert f"/meters/{queue.far_serial}/neighbours.geojson" in html


def test_the_verdict_page_charts_the_30_days_ending_on_last_seen(queue: Queue) -> None:
    facts = queue.facts
    status, html = _verdict(queue, "dan", "radio")
    assert status == 200, html
    last = NOW.astimezone(facts.settings.zone).date()
    first = last - dt.timedelta(days=29)
    comm = html.split('id="comm"', 1)[1].split("</section>", 1)[0]
    assert f"{first} to {last}" in comm
    assert comm.count('<circle class="point success"') == 3  # the town's three days
    reads = html.split('id="reads"', 1)[1].split("</section>", 1)[0]
    assert f'value="{first.isoformat()}"' in reads
    assert '<rect class="bar' in reads
    # The remote fix, and the order.
    assert "remote command: ping" in html
    assert f'href="/orders/{facts.assigned}"' in html
    assert "The radio stopped answering while its neighbours kept reading." in html


def test_a_closed_exception_shows_why_it_closed_and_that_it_has_no_verdict(
    queue: Queue,
) -> None:
    with session_scope(queue.facts.town.sessions) as session:
        closed = session.scalars(
            select(DiagnosticException.id).where(
                DiagnosticException.status == ExceptionStatus.CLOSED
            )
        ).one()
    answer = _as(queue, "dan").get(f"/diagnostics/exceptions/{closed}")
    assert answer.status_code == 200, answer.text
    html = unescape(answer.text)
    exception = html.split('id="exception"', 1)[1].split("</section>", 1)[0]
    assert "closed" in exception
    assert ": recovered: consumption again</dd>" in exception
    verdict = html.split('id="verdict"', 1)[1].split("</section>", 1)[0]
    assert "No verdict: the exception closed before a run gave one." in verdict
    assert 'id="comm"' in html


def test_the_verdict_page_follows_the_meter_pages_access(queue: Queue) -> None:
    assert _verdict(queue, "far", "radio")[0] in {403, 404}
    assert _verdict(queue, "dan", "far")[0] in {403, 404}
    assert _verdict(queue, "far", "far")[0] == 200
    assert _verdict(queue, "tom", "radio")[0] == 200  # his open order is on the meter
    assert _verdict(queue, "tim", "radio")[0] in {403, 404}
    # An analyst sees the verdict but not the map (premise positions).
    status, html = _verdict(queue, "ann", "radio")
    assert status == 200
    assert "data-neighbour-map" not in html
    assert 'id="comm"' in html


def test_the_meter_pages_verdicts_link_to_the_verdict_page(queue: Queue) -> None:
    facts = queue.facts
    answer = _as(queue, "dan").get(f"/meters/{facts.serial}", params={"to": facts.last_day})
    html = unescape(answer.text)
    verdicts = html.split('id="verdicts"', 1)[1].split("</section>", 1)[0]
    assert f'href="/diagnostics/exceptions/{facts.exception_id}"' in verdicts
    assert f'href="/api/v1/diagnostics/exceptions/{facts.exception_id}">JSON' in verdicts
