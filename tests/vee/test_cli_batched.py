"""``meterops vee run`` here, batch by batch, stores and reports what the executor path does.

Two identical simulated towns; one is validated through the CLI on the batched path
(``--executor here``: ``vee.stream.run_partition`` over meter-id ranges from the Delta
statistics, small batches so that there are several), the other through the CLI on the
executor path (``--executor inprocess``: one job over fixed meter groups). The printed report
and the stored current view (values, flags, versions, methods, reasons) must be identical.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner, Result

from meterops.cli import context
from meterops.cli.main import app
from meterops.db.engine import session_scope
from meterops.models.meters import Meter
from tests.vee.town import ZONE, Town, build_town, write_reads

_COMPARED = (
    "meter_id",
    "channel",
    "interval_start_utc",
    "interval_s",
    "value",
    "quality_flags",
    "version",
    "version_kind",
    "method",
    "reason_code",
    "actor",
    "parent_version",
)


def _with_gaps(town: Town, folder: Path) -> None:
    """Days 0 and 1 as simulated; day 2 with short and long gaps in four meters' energy."""
    for index in range(2):
        town.ingest(town.day_files(index))
    reads = town.interval_reads(2)
    kwh = reads.filter(pl.col("channel") == "kwh_delivered")
    serials = kwh["serial_number"].unique().sort().to_list()
    held = pl.concat(
        [
            kwh.filter(pl.col("serial_number") == serial).slice(20 + 7 * n, length)
            for n, (serial, length) in enumerate(zip(serials[1::4], (3, 6, 14, 30), strict=False))
        ]
    )
    rest = reads.join(held, on=["serial_number", "channel", "interval_start_utc"], how="anti")
    others = [p for p in town.day_files(2) if p.name != "intervals.cmep"]
    town.ingest([*others, write_reads(folder, "day2_gaps.csv", rest)])


@pytest.fixture
def towns(tmp_path: Path) -> Iterator[tuple[Town, Town]]:
    with (
        build_town(tmp_path / "a", days=3, meters=16, ingest=False) as first,
        build_town(tmp_path / "b", days=3, meters=16, ingest=False) as second,
    ):
        _with_gaps(first, tmp_path / "a")
        _with_gaps(second, tmp_path / "b")
        yield first, second


def _invoke(town: Town, monkeypatch: pytest.MonkeyPatch, *args: str) -> Result:
    monkeypatch.setenv("METEROPS_DATABASE_URL", town.database_url)
    monkeypatch.setenv("METEROPS_READS_URI", town.store.uri)
    monkeypatch.setenv("METEROPS_UTILITY_TIMEZONE", ZONE.key)
    monkeypatch.setenv("COLUMNS", "200")
    context.settings.cache_clear()
    context.engine.cache_clear()
    try:
        return CliRunner().invoke(app, list(args))
    finally:
        context.engine().dispose()
        context.settings.cache_clear()
        context.engine.cache_clear()


def _report(result: Result) -> list[str]:
    """The printed report (title, rule table, estimates, writes), without the progress bar."""
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    first = next(i for i, line in enumerate(lines) if "VEE " in line)
    return lines[first:]


def _stored(town: Town) -> pl.DataFrame:
    start = dt.datetime.combine(town.day(0), dt.time(), ZONE) - dt.timedelta(days=1)
    return (
        town.store.current_interval_reads(start_utc=start, end_utc=start + dt.timedelta(days=6))
        .select(_COMPARED)
        .sort("meter_id", "channel", "interval_start_utc")
    )


@pytest.mark.parametrize("serials", [False, True])
def test_batched_cli_run_equals_the_executor_path(
    towns: tuple[Town, Town], monkeypatch: pytest.MonkeyPatch, *, serials: bool
) -> None:
    batched, grouped = towns
    assert _stored(batched).equals(_stored(grouped))  # the same town twice
    day = batched.day(2).isoformat()
    selection: list[str] = []
    if serials:  # a scattered selection: batches must read only the selected meters
        with session_scope(batched.sessions) as session:
            serial_numbers = sorted(m.serial_number for m in session.query(Meter))
        for position in (1, 2, 5, 9, 10, 13):  # gaps at 1, 5, 9 and 13 (``_with_gaps``)
            selection += ["--meter", serial_numbers[position]]
    window = ("vee", "run", "--from", day, "--to", day, *selection)
    here = _invoke(batched, monkeypatch, *window, "--executor", "here", "--group-meters", "4")
    pooled = _invoke(grouped, monkeypatch, *window, "--executor", "inprocess")
    assert _report(here) == _report(pooled)
    assert "written: 0 flag rows, 0 estimate versions" not in here.stdout
    stored = _stored(batched)
    assert stored.equals(_stored(grouped))
    assert stored["version_kind"].is_in(["estimate"]).any()
    again = _invoke(batched, monkeypatch, *window, "--executor", "here")
    assert "written: 0 flag rows, 0 estimate versions" in again.stdout
