"""``meterops shop`` end to end through the real entry point, on the test database backend."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import update

from meterops.cli import context
from meterops.cli.main import main
from meterops.db.engine import make_engine, make_session_factory, session_scope
from meterops.models import Installation
from tests.fixtures.builders import create_installed_meter, create_meter

FILES = Path(__file__).parent / "files"
Run = Callable[..., tuple[int, str, str]]


@pytest.fixture(scope="module")
def seeded(module_database_url: str) -> str:
    """A database with the six meters of the sample files and a small installed fleet."""
    engine = make_engine(module_database_url)
    with session_scope(make_session_factory(engine)) as session:
        for serial, form in [
            ("SHOP0001", "2S"),
            ("SHOP0002", "2S"),
            ("SHOP0003", "9S"),
            ("SHOP0004", "2S"),
            ("SHOP0005", "2S"),
            ("SHOP0006", "16S"),
        ]:
            create_meter(session, serial_number=serial, form=form)
        for i in range(30):
            create_installed_meter(
                session,
                serial_number=f"CLI{i:05d}",
                vendor="Landis+Gyr",
                model="E330",
                firmware_revision="7.1",
            )
        session.execute(
            update(Installation).values(installed_at_utc=dt.datetime(2021, 3, 1, tzinfo=dt.UTC))
        )
    engine.dispose()
    return module_database_url


@pytest.fixture
def run_cli(
    seeded: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Iterator[Run]:
    monkeypatch.setenv("METEROPS_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("METEROPS_DATABASE_URL", seeded)
    monkeypatch.setenv("COLUMNS", "200")
    context.settings.cache_clear()
    context.engine.cache_clear()

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    yield run
    context.engine().dispose()
    context.settings.cache_clear()
    context.engine.cache_clear()


def test_import_then_show_a_meters_tests(run_cli: Run) -> None:
    code, out, _ = run_cli(
        "shop", "import", str(FILES / "shop_tests.csv"), str(FILES / "weco_board_export.csv")
    )
    assert code == 0, out
    assert "shop_tests.csv" in out
    assert "fail_in_service 1" in out
    code, out, _ = run_cli("shop", "import", str(FILES / "shop_tests.csv"))
    assert code == 0
    assert "same file as before" in out
    code, out, _ = run_cli("shop", "tests", "SHOP0005")
    assert code == 0
    assert "fail_in_service" in out
    assert "WECO-2350-118" in out
    code, out, _ = run_cli("shop", "tests", "SHOP0003", "--json")
    assert code == 0
    [test] = json.loads(out)
    assert test["verdict"] == "pass"
    assert {p["element"] for p in test["points"]} == {"A", "B", "C", "all"}


def test_a_bad_file_exits_2_naming_line_and_field(run_cli: Run) -> None:
    code, _, err = run_cli("shop", "import", str(FILES / "bad_rows.csv"))
    assert code == 2
    assert "bad_rows.csv, line 3, field 'registration_pct'" in err


def test_tests_of_an_unknown_meter_exit_3(run_cli: Run) -> None:
    code, _, err = run_cli("shop", "tests", "NOPE")
    assert code == 3
    assert "NOPE" in err


def test_plan_status_samples_and_replacements(run_cli: Run, tmp_path: Path) -> None:
    code, _, err = run_cli("shop", "lots", "status", "--year", "2030")
    assert code == 3
    assert "lots plan --year 2030" in err
    code, out, _ = run_cli(
        "shop",
        "lots",
        "plan",
        "--year",
        "2026",
        "--plan",
        "fixed",
        "--sample-pct",
        "10",
        "--min-sample",
        "5",
        "--max-failing-pct",
        "0",
    )
    assert code == 0, out
    assert "1 lots of 30 meters, 5 meters to test" in out
    code, _, err = run_cli("shop", "lots", "plan", "--year", "2026")
    assert code == 4
    code, out, _ = run_cli("shop", "lots", "samples", "--year", "2026")
    serials = re.findall(r"CLI\d{5}", out)
    assert len(serials) == 5
    header = (FILES / "shop_tests.csv").read_text().splitlines()[0]
    rows = [header]
    for n, serial in enumerate(serials):
        value = 103.0 if n == 0 else 100.0
        rows.extend(
            f"{serial},2026-04-0{n + 1}T09:00:00+00:00,field,t,sample,2S,CL200,0.5,TS-2,"
            f"2026-01-01,2026-12-31,as_found,{point},all,{value},,,,"
            for point in ("FL", "LL")
        )
    sample_file = tmp_path / "sample.csv"
    sample_file.write_text("\n".join(rows) + "\n")
    assert run_cli("shop", "import", str(sample_file))[0] == 0
    code, out, _ = run_cli("shop", "lots", "status")
    assert code == 0
    assert "reject" in out
    code, out, _ = run_cli("shop", "lots", "replacements", "--year", "2026")
    assert code == 0
    assert len(out.splitlines()) == 30
