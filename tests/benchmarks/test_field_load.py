"""The field load test, tiny: a few technicians for a few seconds, checked for behaviour.

Timings are never asserted; what is checked is that every simulated technician signs in
through the form, every request is answered as expected (0 errors), the counts add up, and
that the load test does count failures when answers are wrong.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select

from benchmarks.field_world import FieldWorld, build_world
from benchmarks.loadtest import (
    FIELD_TODAY,
    LoadResult,
    Phase,
    Profile,
    Server,
    SimulatedTechnician,
    run_load,
    sign_in,
)
from meterops.db.engine import make_engine, make_session_factory, session_scope
from meterops.models.org import Role, User
from meterops.models.workforce import Technician
from meterops.models.workorders import WorkOrder

THINK = (0.02, 0.1)
TIMEOUT_S = 600.0  # behaviour, not timing: a slow shared machine must not fail the test


@pytest.fixture(scope="module")
def world(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> FieldWorld:
    folder = tmp_path_factory.mktemp("field-world")
    return build_world(
        module_database_url, folder, technicians=5, orders_per_technician=4, solve_seconds=0.5
    )


@pytest.fixture(scope="module")
def server(world: FieldWorld, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("field-server")
    with Server(world.database_url, folder / "data", log_file=folder / "server.log") as served:
        yield served


def _clients(world: FieldWorld) -> list[SimulatedTechnician]:
    return [SimulatedTechnician(t.username, t.password, t.orders) for t in world.technicians]


def test_world_gives_each_technician_an_account_and_a_route(world: FieldWorld) -> None:
    # The planner may pack a small day onto fewer technicians than it has.
    assert len(world.technicians) >= 2
    assert world.orders_created == 20
    assert world.orders_routed >= 10
    engine = make_engine(world.database_url)
    with session_scope(make_session_factory(engine)) as session:
        for login in world.technicians:
            technician, user = session.execute(
                select(Technician, User)
                .join(User, User.id == Technician.user_id)
                .where(Technician.employee_number == login.employee_number)
            ).one()
            assert user.username == login.username
            assert user.role is Role.TECHNICIAN
            orders = session.scalars(
                select(WorkOrder).where(WorkOrder.technician_id == technician.id)
            ).all()
            assert {o.order_number for o in orders if o.scheduled_date == world.day} == set(
                login.orders
            )
    engine.dispose()


def _profile(server: Server) -> Profile:
    return "field" if server.has_route(FIELD_TODAY) else "interim"


def _check_counts(result: LoadResult, profile: Profile) -> None:
    counts = {label: stats.requests for label, stats in result.endpoints.items()}
    assert result.requests == sum(counts.values()) > 0
    for stats in result.endpoints.values():
        # Every request was answered (and timed); nothing was lost on the way.
        assert len(stats.latencies_ms) == stats.requests
    if profile == "field":
        # Visits run today -> order -> [repeat] -> action; a visit cut short by the end of
        # the phase loses at most its tail, one per technician.
        today, order = counts["GET today"], counts.get("GET order", 0)
        action = counts.get("POST action", 0)
        assert today >= order >= action > 0
        assert today - action <= result.clients
        assert counts.get("POST action (repeat)", 0) == result.duplicates_checked
        # Every acknowledged action was stored: resent afterwards, each answers duplicate.
        assert result.writes_checked > 0
        assert result.lost_writes == 0
    else:
        me, order, history = counts["GET me"], counts["GET order"], counts["GET history"]
        assert me >= order >= history > 0
        assert me - history <= result.clients


def test_a_short_load_run_answers_every_request(world: FieldWorld, server: Server) -> None:
    profile = _profile(server)
    baseline, loaded = run_load(
        server.base_url,
        _clients(world),
        phases=[Phase("health", 1.0), Phase(profile, 3.0)],
        day=world.day.isoformat(),
        think_s=THINK,
        repeat_share=0.5,
        timeout_s=TIMEOUT_S,
    )
    for result in (baseline, loaded):
        assert result.sign_in_errors == 0
        assert result.clients == len(world.technicians)
        assert result.errors == 0, result.table()
    assert set(baseline.endpoints) == {"GET /health"}
    _check_counts(loaded, profile)


def test_wrong_answers_and_failed_sign_ins_are_counted(
    world: FieldWorld, tmp_path_factory: pytest.TempPathFactory
) -> None:
    first, second = world.technicians[:2]
    clients = [
        SimulatedTechnician(first.username, "not-the-password", first.orders),
        SimulatedTechnician(second.username, second.password, ("WO-999999",)),
    ]
    folder = tmp_path_factory.mktemp("field-server-2")
    with Server(world.database_url, folder / "data", log_file=folder / "server.log") as server:
        [result] = run_load(
            server.base_url,
            clients,
            phases=[Phase("interim", 1.0)],
            day=world.day.isoformat(),
            think_s=THINK,
            timeout_s=TIMEOUT_S,
        )
    assert result.sign_in_errors == 1
    assert result.clients == 1
    assert result.endpoints["GET order"].errors == result.endpoints["GET order"].requests > 0
    assert result.errors > 0
    assert result.error_rate > 0
    assert "(expected 200)" in result.endpoints["GET order"].error_samples[0]


def test_more_concurrent_writes_than_worker_threads_are_all_stored(
    world: FieldWorld, server: Server
) -> None:
    # 120 notes at once, three times the app's 40 worker threads. Without the writers' gate,
    # SQLite writers waiting in BEGIN IMMEDIATE took every thread while the writer holding the
    # lock needed one to commit, and the app stalled into "database is locked" errors.
    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=TIMEOUT_S) as client:
            login = world.technicians[0]
            assert (
                await sign_in(
                    client, SimulatedTechnician(login.username, login.password, login.orders)
                )
                is None
            )
            today = await client.get(FIELD_TODAY, params={"day": world.day.isoformat()})
            csrf = today.json()["csrf_token"]
            number = today.json()["stops"][0]["order_number"]

            def note(i: int) -> dict[str, object]:
                return {
                    "idempotency_key": str(uuid.uuid4()),
                    "kind": "note",
                    "recorded_at": "2026-01-05T15:00:00Z",
                    "payload": {"notes": f"burst note {i}"},
                }

            return await asyncio.gather(
                *(
                    client.post(
                        f"/api/v1/field/orders/{number}/actions",
                        json=note(i),
                        headers={"X-CSRF-Token": csrf},
                    )
                    for i in range(120)
                )
            )

    answers = asyncio.run(burst())
    assert [a.status_code for a in answers] == [201] * 120, {a.text for a in answers}
    assert all(a.json()["duplicate"] is False for a in answers)
