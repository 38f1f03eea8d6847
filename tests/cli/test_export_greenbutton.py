"""``meterops export greenbutton ACCOUNT``: one customer's usage as a Green Button feed.

Through Typer (CliRunner) on the active backend: a meter exchange mid-period, an account that
moved in during the period, the feed parsed back with the ESPI reader.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path

import polars as pl
import pytest

from meterops.db.engine import session_scope
from meterops.ingest.formats.espi import parse_espi
from meterops.models.meters import Installation
from tests.fixtures.builders import JAN_1, create_account, create_meter, create_service_point
from tests.reads.world import World, csv_bytes, interval_frame, world

UTC = dt.UTC
LOCAL_MIDNIGHT_MAR_4 = dt.datetime(2024, 3, 4, 6, tzinfo=UTC)  # America/Chicago, CST
EXCHANGE = dt.datetime(2024, 3, 5, 18, tzinfo=UTC)  # noon local on 5 March
NOW = dt.datetime(2024, 3, 7, 12, tzinfo=UTC)

Run = Callable[..., tuple[int, str]]


@pytest.fixture
def w(tmp_path: Path) -> Iterator[World]:
    with world(tmp_path) as created:
        yield created


@pytest.fixture
def run(w: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[Run]:
    import typer
    from typer.testing import CliRunner

    from meterops.cli import context
    from meterops.ingest import cli as ingest_cli

    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """Test root."""

    ingest_cli.register_export(app)
    monkeypatch.setenv("METEROPS_DATABASE_URL", w.database_url)
    monkeypatch.setenv("METEROPS_READS_URI", w.store.uri)
    monkeypatch.setenv("METEROPS_UTILITY_TIMEZONE", "America/Chicago")
    monkeypatch.setenv("COLUMNS", "200")
    context.settings.cache_clear()
    context.engine.cache_clear()

    def invoke(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(app, list(args))
        return result.exit_code, result.output

    yield invoke
    context.engine().dispose()
    context.settings.cache_clear()
    context.engine.cache_clear()


@pytest.fixture
def exchanged(w: World) -> tuple[str, str, pl.DataFrame]:
    """Meter OLD replaced by NEW at noon on 5 March; the account moved in on 5 March.

    Returns:
        (account number, service point number, the three local days of reads of both meters)
    """
    with session_scope(w.sessions) as session:
        point = create_service_point(session)
        old = create_meter(session, serial_number="OLD")
        new = create_meter(session, serial_number="NEW")
        session.add_all(
            [
                Installation(
                    meter_id=old.id,
                    service_point_id=point.id,
                    installed_at_utc=JAN_1,
                    installed_by="t",
                    removed_at_utc=EXCHANGE,
                    removed_by="t",
                ),
                Installation(
                    meter_id=new.id,
                    service_point_id=point.id,
                    installed_at_utc=EXCHANGE,
                    installed_by="t",
                ),
            ]
        )
        account = create_account(session, service_point=point, move_in_date=dt.date(2024, 3, 5))
        numbers = account.account_number, point.service_point_number
    reads = interval_frame(["OLD", "NEW"], start=LOCAL_MIDNIGHT_MAR_4, intervals=3 * 96)
    [report] = w.ingest(w.write("reads.csv", csv_bytes(reads)), now=NOW)
    assert report.counts.accepted == reads.height
    return numbers[0], numbers[1], reads


def test_export_writes_the_accounts_usage_of_each_installed_meter(
    w: World, run: Run, exchanged: tuple[str, str, pl.DataFrame], tmp_path: Path
) -> None:
    account, point, reads = exchanged
    out = tmp_path / "gb.xml"
    code, text = run(
        "export", "greenbutton", account, "--from", "2024-03-04", "--to", "2024-03-06",
        "--out", str(out),
    )  # fmt: skip
    assert code == 0, text
    assert "192 interval reads of OLD, NEW" in text
    feed = parse_espi(out.read_bytes(), name="gb.xml").interval_reads
    # Move-in on 5 March drops the 4th; OLD until noon on the 5th, NEW after it.
    start_5th = LOCAL_MIDNIGHT_MAR_4 + dt.timedelta(days=1)
    start = pl.col("interval_start_utc")
    expected = reads.filter(
        ((pl.col("serial_number") == "OLD") & (start >= start_5th) & (start < EXCHANGE))
        | ((pl.col("serial_number") == "NEW") & (start >= EXCHANGE))
    ).sort("interval_start_utc")
    assert feed.height == 192
    assert feed["serial_number"].unique().to_list() == [point]
    got = feed.sort("interval_start_utc")
    assert got["interval_start_utc"].to_list() == expected["interval_start_utc"].to_list()
    assert got["value"].to_list() == expected["value"].to_list()
    assert (got["interval_s"] == 900).all()


def test_export_to_standard_output_is_the_feed(
    run: Run, exchanged: tuple[str, str, pl.DataFrame]
) -> None:
    account, _, _ = exchanged
    code, text = run("export", "greenbutton", account, "--from", "2024-03-06", "--to", "2024-03-06")
    assert code == 0, text
    xml = text[text.index("<?xml") : text.rindex(">") + 1].encode()
    assert parse_espi(xml, name="stdout").interval_reads.height == 96


def test_export_refuses_unknown_accounts_and_periods_outside_the_tenure(
    run: Run, exchanged: tuple[str, str, pl.DataFrame]
) -> None:
    account, _, _ = exchanged
    code, _ = run("export", "greenbutton", "NOPE", "--from", "2024-03-05", "--to", "2024-03-05")
    assert code != 0
    code, _ = run("export", "greenbutton", account, "--from", "2024-03-01", "--to", "2024-03-04")
    assert code != 0
    code, _ = run("export", "greenbutton", account, "--from", "2024-03-06", "--to", "2024-03-05")
    assert code != 0


def test_export_of_a_period_without_reads_fails_with_a_clear_message(
    w: World, exchanged: tuple[str, str, pl.DataFrame]
) -> None:
    from zoneinfo import ZoneInfo

    from meterops.errors import NotFoundError
    from meterops.ingest.export import export_greenbutton

    account, _, _ = exchanged
    with session_scope(w.sessions) as session, pytest.raises(NotFoundError, match="no interval"):
        export_greenbutton(
            session,
            w.store,
            account,
            first_day=dt.date(2024, 4, 1),
            last_day=dt.date(2024, 4, 2),
            zone=ZoneInfo("America/Chicago"),
            now=NOW,
        )
