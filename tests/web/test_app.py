"""The web shell: health, meter API and page, security headers."""

from fastapi.testclient import TestClient


def test_health_reports_the_database(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] in {"sqlite", "postgresql"}


def test_the_meter_api_returns_the_meter_with_its_service_point_and_module(
    client: TestClient,
) -> None:
    body = client.get("/api/v1/meters/M000002").json()
    assert body["meter"]["form"] == "2S"
    assert body["service_point"]["service_point_number"] == "SP2"
    assert body["comm_module"]["module_serial"] == "NIC000002"
    assert body["installations"][0]["install_read_kwh"] == 0


def test_meter_search_by_prefix(client: TestClient) -> None:
    serials = [m["serial_number"] for m in client.get("/api/v1/meters?prefix=M00000").json()]
    assert serials == [f"M{i:06d}" for i in range(10)]


def test_the_fleet_summary_counts_installed_meters(client: TestClient) -> None:
    summary = client.get("/api/v1/fleet/summary").json()
    assert summary == {"meters": 11, "by_status": {"installed": 11}, "by_form": {"2S": 10, "9S": 1}}


def test_the_meter_page_shows_nameplate_service_point_and_history(client: TestClient) -> None:
    page = client.get("/meters/M-CT1", headers={"accept": "text/html"})
    assert page.status_code == 200
    html = page.text
    for fact in (
        "Meter M-CT1",
        "9S · CL20",
        "80 (CT 80 × PT 1)",
        "SP-CI",
        "3ph_4w_wye",
        "Installation history",
        "in service",
    ):
        assert fact in html


def test_an_unknown_meter_page_is_a_friendly_refusal(client: TestClient) -> None:
    # Refused like a meter of another territory, so serial numbers cannot be probed.
    page = client.get("/meters/NOPE", headers={"accept": "text/html"})
    assert page.status_code == 403
    assert "not one of yours" in page.text
    assert "Traceback" not in page.text


def test_the_home_page_links_the_vendored_htmx(client: TestClient) -> None:
    html = client.get("/").text
    assert "/static/vendor/htmx/htmx.min.js" in html
    assert client.get("/static/vendor/htmx/htmx.min.js").status_code == 200
    assert "11" in html


def test_htmx_search_returns_a_fragment(client: TestClient) -> None:
    fragment = client.get("/meters?q=M-CT", headers={"HX-Request": "true"}).text
    assert "<html" not in fragment
    assert "M-CT1" in fragment


def test_every_response_carries_security_headers(client: TestClient) -> None:
    for path in ("/", "/health", "/api/v1/meters/M000001", "/api/v1/meters/NOPE"):
        headers = client.get(path).headers
        assert "object-src 'none'" in headers["content-security-policy"]
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["cache-control"] == "no-store"


def test_openapi_lists_the_api(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {
        "/health",
        "/api/v1/meters/{serial_number}",
        "/api/v1/meters",
        "/api/v1/fleet/summary",
    } <= set(paths)
