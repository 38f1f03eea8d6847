"""Every API error has one JSON shape, declared in OpenAPI; no internals leak."""

from fastapi.testclient import TestClient


def _assert_shape(body: dict) -> None:
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert isinstance(body["error"]["message"], str)


def test_not_found_has_the_error_shape_and_a_code(client: TestClient) -> None:
    # A route open to the whole utility (the meter shop's) answers an unknown id with 404;
    # a route bound to territories refuses it like another territory's (docs/access.md).
    response = client.get("/api/v1/meter-shop/meters/NOPE/tests")
    assert response.status_code == 404
    _assert_shape(response.json())
    assert response.json()["error"]["code"] == "meter.not_found"
    assert response.json()["error"]["details"] == {"serial_number": "NOPE"}


def test_an_unknown_id_on_a_territory_route_is_refused_like_another_territorys(
    client: TestClient,
) -> None:
    response = client.get("/api/v1/meters/NOPE")
    assert response.status_code == 403
    _assert_shape(response.json())
    assert response.json()["error"]["code"] == "permission_denied.territory"


def test_request_validation_has_the_error_shape_naming_the_field(client: TestClient) -> None:
    response = client.get("/api/v1/meters?limit=0")
    assert response.status_code == 422
    body = response.json()
    _assert_shape(body)
    assert body["error"]["code"] == "invalid_input.request"
    assert "limit" in body["error"]["message"]


def test_unknown_routes_have_the_error_shape(client: TestClient) -> None:
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    _assert_shape(response.json())


def test_the_error_shape_is_declared_in_openapi(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    operation = spec["paths"]["/api/v1/meters/{serial_number}"]["get"]
    ref = operation["responses"]["404"]["content"]["application/json"]["schema"]["$ref"]
    assert ref.endswith("/ErrorResponse")
