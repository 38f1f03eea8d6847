"""A web app over a fresh database holding a small imported fleet, signed in as a supervisor
of every territory (the access matrix lets no one in without a session)."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from meterops.config import Settings
from meterops.db.engine import make_engine, make_session_factory, session_scope
from meterops.fleet import service as fleet_service
from meterops.fleet.parse import parse_fleet_csv
from meterops.fleet.programs import parse_programs_file
from meterops.fleet.spec import IMPORT_ORDER
from meterops.timeutil import utc_now
from meterops.web.app import create_app
from tests.fixtures.fleet_files import write_fleet
from tests.fixtures.web import create_web_user, signed_in


def import_fleet(database_url: str, folder: Path, *, meters: int = 10) -> None:
    paths = write_fleet(folder, meters=meters)
    engine = make_engine(database_url)
    factory = make_session_factory(engine)
    for kind in IMPORT_ORDER:
        with session_scope(factory) as session:
            data = paths[kind].read_bytes()
            if kind == "meter_programs":
                fleet_service.import_programs(
                    session,
                    parse_programs_file(data, file="programs.yaml"),
                    actor="test",
                    now=utc_now(),
                )
            else:
                fleet_service.import_file(
                    session,
                    parse_fleet_csv(data, file=f"{kind}.csv"),
                    actor="test",
                    default_timezone="America/Chicago",
                    now=utc_now(),
                )
    engine.dispose()


@pytest.fixture(scope="module")
def client(
    module_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    folder = tmp_path_factory.mktemp("web")
    import_fleet(module_database_url, folder / "fleet")
    user = create_web_user(module_database_url, "web-supervisor")
    settings = Settings(
        database_url=module_database_url, data_dir=folder / "var", cookie_secure=False
    )
    with TestClient(create_app(settings)) as test_client:
        yield signed_in(test_client, user)
