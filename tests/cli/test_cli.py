"""The command line end to end: upgrade, import, show, errors and exit codes."""

from collections.abc import Callable
from pathlib import Path

from meterops.cli.main import EXIT_CODES, exit_code_for
from meterops.errors import ConflictError, IllegalTransitionError, MeterOpsError, NotFoundError
from tests.fixtures.fleet_files import csv_text, fleet_rows, write_fleet

Run = Callable[..., tuple[int, str, str]]


def test_db_upgrade_creates_the_schema_and_check_agrees(run_cli: Run) -> None:
    code, out, _ = run_cli("db", "upgrade")
    assert code == 0
    assert "database at revision" in out
    assert run_cli("db", "check")[0] == 0


def test_fleet_import_of_a_folder_reports_each_file_and_is_idempotent(
    run_cli: Run, tmp_path: Path
) -> None:
    write_fleet(tmp_path / "fleet", meters=5)
    run_cli("db", "upgrade")
    code, out, _ = run_cli("fleet", "import", str(tmp_path / "fleet"))
    assert code == 0
    assert "meters.csv" in out
    assert "programs.yaml" in out
    code, out, _ = run_cli("fleet", "import", str(tmp_path / "fleet"))
    assert code == 0
    assert out.count("same file as before") == 13


def test_meter_show_prints_the_meter_and_its_history(run_cli: Run, tmp_path: Path) -> None:
    write_fleet(tmp_path / "fleet", meters=3)
    run_cli("db", "upgrade")
    run_cli("fleet", "import", str(tmp_path / "fleet"))
    code, out, _ = run_cli("meter", "show", "M-CT1")
    assert code == 0
    assert "form 9S CL20" in out
    assert "multiplier 80" in out
    assert "SP-CI" in out
    code, out, _ = run_cli("meter", "show", "M000001", "--json")
    assert code == 0
    assert '"serial_number": "M000001"' in out


def test_an_unknown_meter_exits_3_with_one_line(run_cli: Run) -> None:
    run_cli("db", "upgrade")
    code, _, err = run_cli("meter", "show", "NOPE")
    assert code == 3
    assert "No meter with serial number 'NOPE'" in err
    assert "Traceback" not in err


def test_a_refused_fleet_file_exits_2_and_names_line_and_field(
    run_cli: Run, tmp_path: Path
) -> None:
    rows = fleet_rows(3)["territories"]
    rows[0]["timezone"] = "X" * 70
    path = tmp_path / "territories.csv"
    path.write_text(csv_text(rows))
    run_cli("db", "upgrade")
    code, _, err = run_cli("fleet", "import", str(path))
    assert code == 2
    assert "territories.csv, line 2, field 'timezone'" in err


def test_a_missing_path_is_a_usage_error(run_cli: Run, tmp_path: Path) -> None:
    code, _, err = run_cli("fleet", "import", str(tmp_path / "nowhere.csv"))
    assert code == 2
    assert "does not exist" in err


def test_exit_codes_follow_the_error_tree() -> None:
    assert (
        exit_code_for(IllegalTransitionError(entity="m", current="a", target="b", allowed=[]))
        == EXIT_CODES[ConflictError]
    )
    assert exit_code_for(NotFoundError("x")) == 3
    assert exit_code_for(MeterOpsError("x")) == 1


def test_version_and_help(run_cli: Run) -> None:
    code, out, _ = run_cli("--version")
    assert code == 0
    assert out.startswith("meterops ")
    code, out, _ = run_cli("--help")
    assert code == 0
    for command in ("db", "fleet", "meter", "serve"):
        assert command in out


def test_the_issue_names_command_and_outage_are_hidden_aliases(run_cli: Run) -> None:
    assert run_cli("db", "upgrade")[0] == 0
    code, out, _ = run_cli("outage", "list")
    assert code == 0
    assert run_cli("outages", "list")[:2] == (code, out)
    code, out, _ = run_cli("command", "disconnect", "--help")
    assert code == 0
    assert "service switches" in out
    _, top, _ = run_cli("--help")
    assert "remote" in top
    assert " command " not in top
    assert " outage " not in top
