"""The access matrix is data, complete and enforced: every route x role x own/other territory.

Routes are enumerated from the app (not from the matrix), so a route added later without a row
fails here, and a route added with a row is walked with the rest.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from meterops.config import Settings
from meterops.errors import ValidationReportError
from meterops.web.access import (
    ACCESS_CODES,
    CELLS,
    DOC_BEGIN,
    DOC_END,
    ROLES,
    SCOPES,
    AccessMatrix,
    AccessRow,
    RouteInfo,
    Target,
    app_routes,
    decide,
    load_matrix,
    parse_matrix_file,
    render_markdown,
)
from meterops.web.app import create_app
from tests.fixtures.web import AccessWorld, Side, build_access_world, signed_in

ROOT = Path(__file__).resolve().parents[2]
OWN_SCOPES_WITHOUT_OWNER = frozenset({"outage"})
"""Scopes whose resource is nobody's own (an outage): an ``own`` cell never lets anyone in."""


@pytest.fixture(scope="module")
def world_app(
    module_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Any, AccessWorld]:
    world = build_access_world(module_database_url)
    settings = Settings(
        database_url=module_database_url,
        data_dir=tmp_path_factory.mktemp("access") / "var",
        cookie_secure=False,
    )
    return create_app(settings), world


@pytest.fixture(scope="module")
def matrix() -> AccessMatrix:
    return load_matrix()


def _value(name: str, side: Side) -> str:
    known: dict[str, str] = {
        "order_number": side.order_number,
        "serial_number": side.serial_number,
        "employee_number": side.employee_number,
        "request_id": str(side.request_id),
        "incident_id": str(side.incident_id),
        "exception_id": str(side.exception_id),
        "account": side.account,
        "day": dt.date.today().isoformat(),
        "path": "app.css",
    }
    return known.get(name, "1")


def _url(route: RouteInfo, side: Side) -> str:
    path = route.path
    while "{" in path:
        start = path.index("{")
        end = path.index("}", start)
        name = path[start + 1 : end].split(":")[0]
        path = path[:start] + _value(name, side) + path[end + 1 :]
    return path


def _call(client: TestClient, route: RouteInfo, side: Side) -> httpx.Response:
    query = {"territory": side.territory, "account": side.account, "seconds": "1"}
    headers = {"Accept": "application/json"}
    url = _url(route, side)
    if route.method == "GET":
        return client.get(url, params=query, headers=headers)
    if route.path.startswith("/api/"):
        return client.request(route.method, url, params=query, headers=headers, json={})
    form = {"territory": side.territory, "csrf_token": client.headers.get("X-CSRF-Token", "")}
    return client.request(route.method, url, params=query, headers=headers, data=form)


def _refusal(response: httpx.Response) -> str | None:
    """The access refusal's code, or None when the request got past access."""
    if response.status_code not in {401, 403}:
        return None
    try:
        code = response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None  # a handler's own page (the sign-in form's 403), not an access refusal
    return code if code in ACCESS_CODES else None


def _expected(row: AccessRow, role: str, own_side: bool) -> str | None:
    cell = row.cells[role]
    if cell == "any":
        return None
    if cell == "deny":
        return "permission_denied.role"
    if cell == "territory":
        return None if own_side else "permission_denied.territory"
    # own: in this world only the technician owns things, and only on the own side
    owner = role == "technician" and row.scope not in OWN_SCOPES_WITHOUT_OWNER
    return None if own_side and owner else "permission_denied.territory"


def _skip(route: RouteInfo) -> bool:
    return route.path in {"/sign-out", "/sign-in"}  # walked by the sign-in tests


def test_every_route_of_the_app_has_a_row(world_app: tuple[Any, AccessWorld]) -> None:
    app, _ = world_app
    matrix = load_matrix()
    missing = [
        f"{r.method} {r.path}" for r in app_routes(app) if matrix.row_for(r.method, r.path) is None
    ]
    assert not missing, f"routes without a row in any access*.toml: {missing}"


def test_every_row_names_a_route_of_the_app(world_app: tuple[Any, AccessWorld]) -> None:
    app, _ = world_app
    served = {(r.method, r.path) for r in app_routes(app)}
    stale = [
        f"{row.method} {row.path} ({row.source})"
        for row in load_matrix()
        if (row.method, row.path) not in served
    ]
    assert not stale, f"rows for routes the app does not have: {stale}"


def test_every_route_x_role_x_territory_is_allowed_or_refused_as_the_matrix_says(
    world_app: tuple[Any, AccessWorld], matrix: AccessMatrix
) -> None:
    app, world = world_app
    routes = [r for r in app_routes(app) if not _skip(r)]
    wrong: list[str] = []
    with TestClient(app) as anonymous:
        for route in routes:
            row = matrix.row_for(route.method, route.path)
            assert row is not None, f"{route.method} {route.path} has no row"
            got = _refusal(_call(anonymous, route, world.own))
            want = None if row.scope == "public" else "not_signed_in"
            if got != want:
                wrong.append(f"anonymous {route.method} {route.path}: got {got}, want {want}")
    for role in ROLES:
        with TestClient(app) as client:
            signed_in(client, world.users[role])
            for route in routes:
                row = matrix.row_for(route.method, route.path)
                assert row is not None
                for own_side, side in ((True, world.own), (False, world.other)):
                    want = None if row.scope == "public" else _expected(row, role, own_side)
                    response = _call(client, route, side)
                    got = _refusal(response)
                    if got != want:
                        where = "own" if own_side else "other"
                        wrong.append(
                            f"{role} {route.method} {route.path} ({where} territory): "
                            f"got {got or response.status_code}, want {want or 'allowed'}"
                        )
    assert not wrong, "\n".join(wrong)


def test_a_refusal_says_why_in_the_one_error_shape(world_app: tuple[Any, AccessWorld]) -> None:
    app, world = world_app
    with TestClient(app) as client:
        signed_in(client, world.users["analyst"])
        refused = client.post(
            f"/api/v1/orders/{world.own.order_number}/cancel", json={"reason": "x"}
        )
        assert refused.status_code == 403
        error = refused.json()["error"]
        assert error["code"] == "permission_denied.role"
        assert "analyst" in error["message"]


_ROW = """
[[routes]]
method = "GET"
path = "{path}"
scope = "{scope}"
technician = "{technician}"
dispatcher = "any"
analyst = "any"
supervisor = "any"
{admin}
why = "w"
"""


def test_bad_rows_are_refused_naming_file_line_and_field() -> None:
    text = (
        _ROW.format(path="/x", scope="fleet", technician="territory", admin='admin = "any"')
        + _ROW.format(path="/y", scope="user", technician="any", admin="")
        + _ROW.format(path="/z", scope="galaxy", technician="maybe", admin='admin = "any"')
    )
    with pytest.raises(ValidationReportError) as refused:
        parse_matrix_file(text, file="cap/access.toml")
    found = {(i.line, i.field, i.code) for i in refused.value.issues}
    assert (2, "technician", "access.cell") in found  # a fleet route has no territory
    assert (13, "admin", "access.missing") in found
    assert (24, "scope", "access.scope") in found
    assert (24, "technician", "access.cell") in found
    assert "cap/access.toml, line 24, field 'scope'" in str(refused.value)


def test_a_row_good_in_every_field_is_read() -> None:
    rows = parse_matrix_file(
        _ROW.format(
            path="/x/{order_number}", scope="order", technician="own", admin='admin = "deny"'
        ),
        file="cap/access.toml",
    )
    assert rows[0].cells == {
        "technician": "own",
        "dispatcher": "any",
        "analyst": "any",
        "supervisor": "any",
        "admin": "deny",
    }
    assert (rows[0].line, rows[0].scope) == (2, "order")


def test_duplicate_rows_are_refused_naming_both_places(tmp_path: Path) -> None:
    row = """[[routes]]
method = "GET"
path = "/x"
scope = "user"
technician = "any"
dispatcher = "any"
analyst = "any"
supervisor = "any"
admin = "any"
why = "w"
"""
    package = tmp_path / "dupe_pkg"
    (package / "a").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "a" / "access.toml").write_text(row)
    (package / "access_more.toml").write_text(row)
    sys.path.insert(0, str(tmp_path))
    try:
        with pytest.raises(ValidationReportError) as refused:
            load_matrix("dupe_pkg")
    finally:
        sys.path.remove(str(tmp_path))
    assert "already has a row" in str(refused.value)
    assert "a/access.toml" in str(refused.value)


def test_the_docs_table_is_current(matrix: AccessMatrix) -> None:
    doc = (ROOT / "docs" / "access.md").read_text(encoding="utf-8")
    start = doc.index(DOC_BEGIN) + len(DOC_BEGIN) + 1
    end = doc.index(DOC_END) - 1
    assert doc[start:end] == render_markdown(matrix), (
        "docs/access.md is stale: regenerate the table with "
        "`python -c 'from meterops.web.access import load_matrix, render_markdown; "
        "print(render_markdown(load_matrix()))'`"
    )


_CELLS_FOR = {
    "public": ["any"],
    "user": ["any", "deny"],
    "fleet": ["any", "deny"],
}


@st.composite
def _rows(draw: st.DrawFn) -> tuple[str, str, dict[str, str]]:
    scope = draw(st.sampled_from(sorted(SCOPES)))
    allowed = _CELLS_FOR.get(scope, sorted(CELLS))
    cells = {role: draw(st.sampled_from(allowed)) for role in ROLES}
    method = draw(st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE"]))
    return method, scope, cells


@given(_rows())
def test_any_valid_row_is_read_back_as_written(row: tuple[str, str, dict[str, str]]) -> None:
    method, scope, cells = row
    text = "\n".join(
        [
            "[[routes]]",
            f'method = "{method}"',
            'path = "/x/{order_number}"',
            f'scope = "{scope}"',
            *(f'{role} = "{cell}"' for role, cell in cells.items()),
            'why = "because"',
        ]
    )
    [read] = parse_matrix_file(text, file="p.toml")
    assert (read.method, read.scope, dict(read.cells), read.line) == (method, scope, cells, 1)


@given(
    _rows(),
    st.sampled_from(ROLES),
    st.none() | st.builds(Target, st.frozensets(st.integers(1, 5)), st.booleans()),
    st.frozensets(st.integers(1, 5)),
)
def test_the_decision_follows_the_cell(
    row: tuple[str, str, dict[str, str]],
    role: str,
    target: Target | None,
    mine: frozenset[int],
) -> None:
    method, scope, cells = row
    access_row = AccessRow(method, "/x", scope, cells, "w", "p.toml", 1)
    refusal = decide(access_row, role, target, mine)
    cell = cells[role]
    if cell == "any":
        assert refusal is None
    elif cell == "deny":
        assert refusal is not None
        assert refusal.code == "permission_denied.role"
    elif target is None:
        assert refusal is not None
        assert refusal.code == "permission_denied.territory"
    elif cell == "own":
        assert (refusal is None) == target.own
    else:
        assert (refusal is None) == (target.territory_ids <= mine)
