"""The OSRM table client, against httpx.MockTransport (never the network)."""

from __future__ import annotations

import json

import httpx
import pytest

from meterops.errors import IntegrationError
from meterops.routing import Location
from meterops.routing.osrm import OsrmTravel

POINTS = [Location.from_lat_lon(45.5 + k / 100, -73.6) for k in range(5)]


def _table_server(requests: list[httpx.Request]) -> httpx.MockTransport:
    """Answers like OSRM: duration = 60 s and distance = 1 km per index step."""

    def handle(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        coordinates = request.url.path.split("/")[-1].split(";")
        lats = [float(c.split(",")[1]) for c in coordinates]
        sources = [int(i) for i in request.url.params["sources"].split(";")]
        targets = [int(i) for i in request.url.params["destinations"].split(";")]
        step = [[abs(lats[i] - lats[j]) * 100 for j in targets] for i in sources]
        body = {
            "code": "Ok",
            "durations": [[60.0 * v for v in row] for row in step],
            "distances": [[1000.0 * v for v in row] for row in step],
        }
        return httpx.Response(200, json=body)

    return httpx.MockTransport(handle)


def test_matrices_are_fetched_in_tiles_and_assembled() -> None:
    requests: list[httpx.Request] = []
    travel = OsrmTravel("http://osrm.test", max_locations=4, transport=_table_server(requests))
    matrices = travel.matrices(POINTS, POINTS)
    assert len(requests) == 9  # 5 points in blocks of 2: 3 x 3 tiles
    assert matrices.duration_s[0, 4] == pytest.approx(240.0)
    assert matrices.distance_m[3, 1] == pytest.approx(2000.0)
    first = requests[0]
    assert first.url.path.startswith("/table/v1/driving/-73.600000,45.500000;")
    assert first.url.params["annotations"] == "duration,distance"


def test_an_unroutable_pair_is_a_permanent_integration_error() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        del request
        body = {"code": "Ok", "durations": [[0.0, None]], "distances": [[0.0, None]]}
        return httpx.Response(200, content=json.dumps(body))

    travel = OsrmTravel("http://osrm.test", transport=httpx.MockTransport(handle))
    with pytest.raises(IntegrationError) as caught:
        travel.matrices(POINTS[:1], POINTS[:2])
    assert caught.value.permanent
    assert caught.value.code == "routing.osrm.no_route"


@pytest.mark.parametrize(
    ("status", "body", "permanent"),
    [
        (500, {"code": "InternalError"}, False),
        (400, {"code": "InvalidQuery", "message": "bad coordinates"}, True),
        (200, {"code": "NoTable"}, False),
    ],
)
def test_server_errors_become_integration_errors(
    status: int, body: dict[str, str], permanent: bool
) -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        del request
        return httpx.Response(status, json=body)

    travel = OsrmTravel("http://osrm.test", transport=httpx.MockTransport(handle))
    with pytest.raises(IntegrationError) as caught:
        travel.matrices(POINTS[:2], POINTS[:2])
    assert caught.value.permanent is permanent


def test_a_connection_failure_is_a_retryable_integration_error() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    travel = OsrmTravel("http://osrm.test", transport=httpx.MockTransport(handle))
    with pytest.raises(IntegrationError) as caught:
        travel.matrices(POINTS[:2], POINTS[:2])
    assert not caught.value.permanent
