"""The dispatcher's pages: board, order page, day plan with KPIs, timelines and the map."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape

import pytest

from tests.dispatch.conftest import Site, web_site


@pytest.fixture(scope="module")
def site(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with web_site(module_database_url, tmp_path_factory.mktemp("dispatch-pages")) as found:
        yield found


def hx(site: Site, path: str, data: dict[str, str]) -> str:
    response = site.client.post(path, data=data, headers={"HX-Request": "true"})
    assert response.status_code == 200, response.text
    return unescape(response.text)


def test_the_board_shows_orders_by_status_and_the_order_page_its_history(site: Site) -> None:
    urgent = site.order(site.healthy()[0], "hot_socket_inspection", evidence_summary="jaws hot")
    page = site.client.get("/orders")
    assert page.status_code == 200
    html = unescape(page.text)
    created = html.split('data-status="created"')[1].split("</section>")[0]
    assert urgent in created
    assert "hot socket inspection" in created
    assert 'data-status="cancelled"' in html
    order = unescape(site.client.get(f"/orders/{urgent}").text)
    assert "workorder.create" in order
    assert "jaws hot" in order
    assert site.client.get("/orders/WO-999999").status_code == 403  # as another territory's


def test_optimizing_the_day_shows_routes_kpis_map_and_reassigning_re_plans(site: Site) -> None:
    day = site.day.isoformat()
    numbers = [site.order(s, "exchange") for s in site.healthy()[5:15]]
    empty = unescape(site.client.get("/dispatch", params={"date": day}).text)
    assert "is not planned yet" in empty
    assert "Optimize the day" in empty

    html = hx(site, f"/dispatch/{day}/optimize", {"territory": ""})

    assert "The day is optimized." in html
    assert "drive-time share" in html
    assert "on-time share" in html
    assert "stops per technician" in html
    assert all(n in html for n in numbers)
    assert re.search(r"arrive \d\d:\d\d · \d\d:\d\d–\d\d:\d\d", html)
    assert "skills residential" in html
    assert "<svg" in html
    assert html.count('<g class="stop') >= 1
    assert 'class="route-line' in html
    plan = site.client.get(f"/api/v1/dayplans/{day}").json()[0]
    served = sum(len(v["orders"]) for r in plan["routes"] for v in r["visits"])
    assert f"{served}/{plan['kpis']['work_orders']}</span>" in html

    routes = {r["technician"]: r for r in plan["routes"]}
    holder = next(
        t
        for t, r in routes.items()
        if any(numbers[0] in {o["order_number"] for o in v["orders"]} for v in r["visits"])
    )
    target = next(t for t in routes if t != holder)
    moved = hx(
        site,
        f"/dispatch/{day}/reassign",
        {"order_number": numbers[0], "technician": target, "territory": ""},
    )
    assert f"{numbers[0]} is now with {target}." in moved
    article = moved.split(f'data-technician="{target}"')[1].split("</article>")[0]
    assert numbers[0] in article
    page = site.client.get("/dispatch", params={"date": day})
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "<script>" not in page.text
    assert " style=" not in page.text
    assert "/static/dispatch/map.js" in page.text


def test_an_infeasible_reassignment_is_shown_not_applied(site: Site) -> None:
    day = site.day.isoformat()
    plan = site.client.get(f"/api/v1/dayplans/{day}").json()[0]
    on_route = plan["routes"][0]["visits"] or next(
        r["visits"] for r in plan["routes"] if r["visits"]
    )
    number = on_route[0]["orders"][0]["order_number"]
    html = hx(site, f"/dispatch/{day}/reassign", {"order_number": number, "technician": "NOBODY"})
    assert 'role="alert"' in html
    assert "NOBODY" in html
    after = site.client.get(f"/api/v1/dayplans/{day}").json()[0]
    assert after["revision"] == plan["revision"]


def test_without_javascript_the_forms_post_and_come_back_to_the_page(site: Site) -> None:
    day = site.day.isoformat()
    response = site.client.post(
        f"/dispatch/{day}/dispatch", data={"territory": ""}, follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/dispatch?date={day}"
    page = unescape(site.client.get(response.headers["location"]).text)
    assert "dispatched" in page
