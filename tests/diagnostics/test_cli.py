"""``meterops diagnose evaluate`` and ``explain`` through the real CLI on a small town."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from meterops.cli import context
from meterops.cli.main import app, main
from meterops.db.engine import session_scope
from meterops.diagnostics import scoring
from meterops.diagnostics import service as diagnostics_service
from meterops.simulator import FaultRates
from tests.diagnostics.town import Town, build_town

pytestmark = pytest.mark.slow

runner = CliRunner()


@pytest.fixture(scope="module")
def town(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Town]:
    built = build_town(
        tmp_path_factory.mktemp("cli-town"),
        module_database_url,
        seed=23,
        service_points=200,
        days=24,
        rates=FaultRates().scaled(40),
    )
    yield built
    built.engine.dispose()


@pytest.fixture
def cli(town: Town, module_database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("METEROPS_DATABASE_URL", module_database_url)
    monkeypatch.setenv("METEROPS_READS_URI", str(town.folder / "reads"))
    monkeypatch.setenv("COLUMNS", "250")
    context.settings.cache_clear()
    context.engine.cache_clear()
    try:
        yield
    finally:
        context.engine().dispose()
        context.settings.cache_clear()
        context.engine.cache_clear()


def _verdicts(town: Town) -> pl.DataFrame:
    with session_scope(town.sessions) as session:
        rows = diagnostics_service.list_exceptions(session, open_only=True, limit=5000)
        return pl.DataFrame(
            [{"serial_number": s, "cause": str(r.cause), "action": str(r.action)} for r, s in rows],
            schema={"serial_number": pl.String, "cause": pl.String, "action": pl.String},
        )


def test_evaluate_prints_the_scores_matrix_and_visit_shares(town: Town, cli: None) -> None:
    result = runner.invoke(app, ["diagnose", "evaluate", "--truth", str(town.truth_file)])
    assert result.exit_code == 0, result.output
    out = result.output
    for text in (
        "precision",
        "Confusion matrix",
        "macro-F1",
        "resolved without a visit",
        "right skill and parts",
    ):
        assert text in out
    # the printed figures are those of the pure scoring over the same store and truth
    faults = scoring.read_truth(town.truth_file.read_text(), file="faults.jsonl")
    with session_scope(town.sessions) as session:
        expected, moment = diagnostics_service.evaluate(session, faults)
    assert moment == town.as_of
    assert expected.exceptions == sum(town.summary.found.values())
    assert f"macro-F1: {expected.macro_f1:.2f}" in out
    assert expected.right_visits is not None
    assert f"{expected.right_visits:.1%}" in out


def test_evaluate_json_agrees_with_the_verdicts(town: Town, cli: None) -> None:
    result = runner.invoke(app, ["diagnose", "evaluate", "--truth", str(town.truth_file), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    verdicts = _verdicts(town)
    assert data["exceptions"] == verdicts.height
    off_site = verdicts.filter(pl.col("action").is_in(["remote", "back_office"])).height
    assert data["without_visit_share"] == pytest.approx(off_site / verdicts.height)
    assert data["field_verdicts"] == verdicts.filter(pl.col("action") == "field").height
    assert 0 < data["visits"] <= data["field_verdicts"]
    assert 0.0 <= data["right_skill_and_parts_share"] <= 1.0
    by_cause = {row["cause"]: row for row in data["scores"]}
    assert by_cause["tou_misprogram"]["recall"] >= 0.9
    # every visible truth pair appears once per verdict cause in the matrix
    cells = sum(c["meters"] for c in data["confusion"] if c["true_cause"] != "none")
    assert cells >= sum(r["true_positives"] + r["false_negatives"] for r in data["scores"])


def test_evaluate_refuses_a_bad_truth_file_naming_line_and_field(
    town: Town, cli: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = town.truth_file.read_text().splitlines()
    broken = json.loads(lines[1])
    del broken["start_utc"]
    bad = tmp_path / "faults.jsonl"
    bad.write_text("\n".join([lines[0], json.dumps(broken), "{not json", *lines[3:]]) + "\n")
    assert main(["diagnose", "evaluate", "--truth", str(bad)]) == 2
    said = " ".join(capsys.readouterr().err.split())
    assert "faults.jsonl, line 2, field 'start_utc': the field is missing" in said
    assert "faults.jsonl, line 3: not JSON" in said


def test_explain_gives_cause_evidence_and_the_visit(town: Town, cli: None) -> None:
    serial = _verdicts(town).filter(pl.col("cause") == "radio_module_failure")["serial_number"][0]
    result = runner.invoke(app, ["diagnose", "explain", serial])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "cause: radio_module_failure (confidence" in out
    assert "evidence:" in out
    assert " UTC" in out.split("evidence:")[1]
    assert "field visit: radio_module_replacement, skill " in out
    assert "radio module" in out.split("field visit:")[1]
    shown = runner.invoke(app, ["diagnose", "show", serial])
    assert shown.exit_code == 0
    assert shown.output == out
    as_json = json.loads(runner.invoke(app, ["diagnose", "explain", serial, "--json"]).output)
    first = next(e for e in as_json["exceptions"] if e["cause"] == "radio_module_failure")
    assert first["parts"]
    assert first["skill"] in {"residential", "ct_rated"}
    assert all(item["value"] is not None for item in first["evidence"])


def test_explain_a_remote_fix_and_an_unknown_serial(
    town: Town, cli: None, capsys: pytest.CaptureFixture[str]
) -> None:
    serial = _verdicts(town).filter(pl.col("cause") == "tou_misprogram")["serial_number"][0]
    result = runner.invoke(app, ["diagnose", "explain", serial])
    assert "action: remote: push_program" in result.output
    assert main(["diagnose", "explain", "NO-SUCH-METER"]) == 3
    assert "No meter with serial 'NO-SUCH-METER'" in " ".join(capsys.readouterr().err.split())


def test_list_narrows_by_cause_confidence_age_and_territory(
    town: Town, cli: None, capsys: pytest.CaptureFixture[str]
) -> None:
    radio = _verdicts(town).filter(pl.col("cause") == "radio_module_failure")
    options = ["--open", "--cause", "radio_module_failure", "--min-confidence", "0.5"]
    result = runner.invoke(app, ["diagnose", "list", *options, "--limit", "5000"])
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if "non_communicating" in line]
    assert len(rows) == radio.height
    assert all("radio_module_failure" in line for line in rows)
    none_old = runner.invoke(app, ["diagnose", "list", "--min-age-days", "10000"])
    assert "non_communicating" not in none_old.output
    assert main(["diagnose", "list", "--territory", "NO-SUCH-TERRITORY"]) == 2
    assert "territory" in capsys.readouterr().err
