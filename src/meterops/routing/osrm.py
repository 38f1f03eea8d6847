"""Travel matrices from an OSRM-compatible ``/table`` service.

:class:`OsrmTravel` asks ``GET {base_url}/table/v1/{profile}/{lon,lat;...}`` with
``annotations=duration,distance`` and ``sources``/``destinations`` blocks, so a large matrix
is fetched in tiles that each stay under the server's ``max-table-size``. The HTTP transport is
injectable: tests pass ``httpx.MockTransport`` and never touch the network. Failures become
:class:`~meterops.errors.IntegrationError` (``permanent`` when retrying cannot help, e.g. an
unroutable point).

Role: the only routing module that imports ``httpx``. It must not import ``pyvrp``,
``meterops.db``, ``models``, ``web``, ``cli`` or ``config``; the base URL comes from the caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np

from meterops.errors import IntegrationError, InvalidInputError
from meterops.routing.problem import Location
from meterops.routing.travel import TravelMatrices

__all__ = ["OsrmTravel"]


@dataclass(frozen=True, slots=True)
class OsrmTravel:
    """An OSRM (or compatible, e.g. Valhalla's OSRM facade) table client.

    Attributes:
        base_url: Server root, e.g. ``"http://osrm.internal:5000"``.
        profile: Routing profile in the URL (``"driving"``).
        max_locations: Most points per request (OSRM's default ``max-table-size`` is 100).
        timeout_s: Per-request timeout [s].
        transport: HTTP transport; ``None`` uses httpx's default (real network).
    """

    base_url: str
    profile: str = "driving"
    max_locations: int = 100
    timeout_s: float = 30.0
    transport: httpx.BaseTransport | None = None

    def __post_init__(self) -> None:
        if self.max_locations < 2:
            raise InvalidInputError(
                "max_locations must be at least 2", code="routing.osrm.invalid_options"
            )

    def matrices(
        self, origins: Sequence[Location], destinations: Sequence[Location]
    ) -> TravelMatrices:
        """Fetch travel matrices tile by tile.

        Raises:
            IntegrationError: The server failed, answered with a non-``Ok`` code, or could not
                route between some points.
        """
        duration = np.zeros((len(origins), len(destinations)))
        distance = np.zeros((len(origins), len(destinations)))
        half = max(1, self.max_locations // 2)
        with httpx.Client(
            base_url=self.base_url.rstrip("/"), timeout=self.timeout_s, transport=self.transport
        ) as client:
            for row in range(0, len(origins), half):
                for col in range(0, len(destinations), half):
                    rows = list(origins[row : row + half])
                    cols = list(destinations[col : col + half])
                    tile = self._tile(client, rows, cols)
                    duration[row : row + len(rows), col : col + len(cols)] = tile[0]
                    distance[row : row + len(rows), col : col + len(cols)] = tile[1]
        return TravelMatrices(duration_s=duration, distance_m=distance)

    def _tile(
        self, client: httpx.Client, rows: list[Location], cols: list[Location]
    ) -> tuple[np.ndarray[Any, np.dtype[np.float64]], np.ndarray[Any, np.dtype[np.float64]]]:
        points = rows + cols
        coordinates = ";".join(f"{p.lon:.6f},{p.lat:.6f}" for p in points)
        params = {
            "annotations": "duration,distance",
            "sources": ";".join(str(i) for i in range(len(rows))),
            "destinations": ";".join(str(len(rows) + j) for j in range(len(cols))),
        }
        url = f"/table/v1/{self.profile}/{coordinates}"
        try:
            response = client.get(url, params=params)
        except httpx.HTTPError as error:
            raise IntegrationError(
                f"OSRM table request failed: {error}", code="routing.osrm.unreachable"
            ) from error
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code != 200 or body.get("code") != "Ok":
            permanent = 400 <= response.status_code < 500
            raise IntegrationError(
                f"OSRM table answered HTTP {response.status_code} with code "
                f"{body.get('code')!r}: {body.get('message', response.text[:200])}",
                permanent=permanent,
                code="routing.osrm.error",
                details={"status": response.status_code, "osrm_code": body.get("code")},
            )
        duration = _matrix(body, key="durations", rows=rows, cols=cols)
        distance = _matrix(body, key="distances", rows=rows, cols=cols)
        return duration, distance


def _matrix(
    body: dict[str, Any],
    *,
    key: str,
    rows: list[Location],
    cols: list[Location],
) -> np.ndarray[Any, np.dtype[np.float64]]:
    n_rows, n_cols = len(rows), len(cols)
    values = body.get(key)
    if not isinstance(values, list) or len(values) != n_rows:
        raise IntegrationError(
            f"OSRM table answer lacks '{key}' for {n_rows} sources",
            permanent=True,
            code="routing.osrm.malformed",
        )
    matrix = np.zeros((n_rows, n_cols))
    for i, row in enumerate(values):
        if not isinstance(row, list) or len(row) != n_cols:
            raise IntegrationError(
                f"OSRM table row {i} of '{key}' has the wrong length",
                permanent=True,
                code="routing.osrm.malformed",
            )
        for j, value in enumerate(row):
            if value is None:
                # OSRM answers null when no route exists (island, closed road network).
                raise IntegrationError(
                    f"OSRM finds no route from ({rows[i].lat}, {rows[i].lon}) "
                    f"to ({cols[j].lat}, {cols[j].lon})",
                    permanent=True,
                    code="routing.osrm.no_route",
                    details={"from": [rows[i].lat, rows[i].lon], "to": [cols[j].lat, cols[j].lon]},
                )
            matrix[i, j] = float(value)
    return matrix
