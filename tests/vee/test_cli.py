"""``meterops vee run | edit | rules`` through the real app, on a simulated town."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from meterops.cli import context
from meterops.cli.main import app
from meterops.db.engine import session_scope
from meterops.errors import InvalidInputError
from meterops.models.meters import Meter
from meterops.vee.rules import RULES
from meterops.vee.ruleset import dump_rule_set, load_rule_set, parse_rule_set
from tests.vee.town import ZONE, Town, build_town

Invoke = Callable[..., Result]


@pytest.fixture
def town(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Town]:
    with build_town(tmp_path, days=3) as built:
        monkeypatch.setenv("METEROPS_DATABASE_URL", built.database_url)
        monkeypatch.setenv("METEROPS_READS_URI", built.store.uri)
        monkeypatch.setenv("METEROPS_UTILITY_TIMEZONE", ZONE.key)
        monkeypatch.setenv("COLUMNS", "200")
        context.settings.cache_clear()
        context.engine.cache_clear()
        try:
            yield built
        finally:
            context.engine().dispose()
            context.settings.cache_clear()
            context.engine.cache_clear()


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def test_run_prints_every_rule_and_a_second_run_writes_nothing(town: Town) -> None:
    day = town.day(2).isoformat()
    result = invoke("vee", "run", "--from", day, "--to", day)
    assert result.exit_code == 0, result.output
    for rule_id in ("completeness.missing_interval", "limits.spike", "usage.zero_run"):
        assert rule_id in result.output
    assert "reads validated" in result.output
    again = invoke("vee", "run", "--from", day, "--to", day)
    assert again.exit_code == 0, again.output
    assert "written: 0 flag rows, 0 estimate versions" in again.output


def test_run_for_one_meter_with_a_rule_file(town: Town, tmp_path: Path) -> None:
    with session_scope(town.sessions) as session:
        serial = session.get_one(Meter, 1).serial_number
    rules = tmp_path / "strict.yaml"
    rules.write_text("version: strict-1\nrules:\n  limits.spike: {factor: 1.5, min_value: 0.0}\n")
    day = town.day(2).isoformat()
    result = invoke(
        "vee", "run", "--from", day, "--to", day, "--meter", serial, "--rules", str(rules)
    )
    assert result.exit_code == 0, result.output
    assert "rule set strict-1" in result.output
    assert "1 meters" in result.output


def test_a_bad_rule_file_is_refused_naming_file_and_line(town: Town, tmp_path: Path) -> None:
    rules = tmp_path / "bad.yaml"
    rules.write_text("version: x\nrules:\n  limits.spike:\n    factor: high\n")
    day = town.day(2).isoformat()
    result = invoke("vee", "run", "--from", day, "--to", day, "--rules", str(rules))
    assert isinstance(result.exception, InvalidInputError)
    assert f"{rules}:4: rules.limits.spike.factor" in str(result.exception)


def test_edit_stores_a_version_and_refuses_one_without_reason(town: Town) -> None:
    with session_scope(town.sessions) as session:
        serial = session.get_one(Meter, 1).serial_number
    at = "2026-03-05T10:15"  # utility time
    refused = invoke(
        "vee", "edit", serial, "--channel", "kwh_delivered", "--at", at, "--value", "2"
    )
    assert isinstance(refused.exception, InvalidInputError)
    assert refused.exception.details["field"] == "reason_code"
    done = invoke(
        "vee", "edit", serial, "--channel", "kwh_delivered", "--at", at, "--value", "2",
        "--reason", "customer_read", "--actor", "bob",
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "version 1" in done.output
    assert "by bob" in done.output
    start = dt.datetime(2026, 3, 5, 16, 15, tzinfo=dt.UTC)  # 10:15 CST
    row = town.store.current_interval_reads(
        start_utc=start, end_utc=start + dt.timedelta(minutes=1), meter_ids=[1],
        channels=["kwh_delivered"],
    ).row(0, named=True)  # fmt: skip
    assert (row["value"], row["version_kind"], row["actor"]) == (2.0, "edit", "bob")


def test_rules_prints_the_active_rule_set(town: Town, tmp_path: Path) -> None:
    result = invoke("vee", "rules")
    assert result.exit_code == 0, result.output
    body = result.output.split("\n", 1)[1]
    assert parse_rule_set(body).rules == load_rule_set().rules
    for rule_id in RULES:
        assert rule_id in body
    custom = tmp_path / "custom.yaml"
    custom.write_text("version: c\nrules:\n  usage.flatline: {enabled: false}\n")
    shown = invoke("vee", "rules", "--rules", str(custom))
    assert "usage.flatline:\n    enabled: false" in shown.output
    assert shown.output.split("\n", 1)[1] == dump_rule_set(load_rule_set(custom))
