"""``meterops reads show`` through Typer, on the active backend."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.reads.world import World, cli, world, yesterday_file

Run = Callable[..., tuple[int, str]]


@pytest.fixture
def w(tmp_path: Path) -> Iterator[World]:
    with world(tmp_path) as created:
        created.add_meters(["A", "B"])
        yield created


@pytest.fixture
def run(w: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[Run]:
    with cli(w, monkeypatch) as invoke:
        yield invoke


def test_reads_show_lists_current_values_with_flags_and_history(w: World, run: Run) -> None:
    path, yesterday = yesterday_file(w, "a.csv", ["A"])
    run("ingest", str(path))
    day = yesterday.isoformat()
    code, out = run("reads", "show", "A", "--from", day, "--to", day)
    assert code == 0, out
    assert "4 intervals" in out
    assert "0 raw" in out
    code, out = run("reads", "show", "A", "--from", day, "--to", day, "--history")
    assert code == 0
    assert "yes" in out
    code, out = run(
        "reads", "show", "A", "--from", day, "--to", day, "--as-of", "2000-01-01T00:00Z"
    )
    assert code == 0
    assert "intervals" not in out


def test_reads_show_of_an_unknown_meter_fails(run: Run) -> None:
    code, _ = run("reads", "show", "NOPE", "--from", "2024-01-01", "--to", "2024-01-01")
    assert code != 0


def test_reads_show_of_a_fall_back_day_lists_100_distinct_quarter_hours(
    w: World, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    from meterops.cli import context
    from meterops.timeutil import local_day_bounds_utc
    from tests.reads.world import CHICAGO, cmep_bytes, interval_frame

    monkeypatch.setenv("METEROPS_LATE_DATA_HORIZON_DAYS", "100000")
    context.settings.cache_clear()
    start, _ = local_day_bounds_utc(dt.date(2024, 11, 3), CHICAGO)
    code, out = run(
        "ingest",
        str(w.write("fall.cmep", cmep_bytes(interval_frame(["A"], start=start, intervals=100)))),
    )
    assert code == 0, out
    code, out = run("reads", "show", "A", "--from", "2024-11-03", "--to", "2024-11-03")
    assert code == 0, out
    assert "100 intervals" in out
    assert "2024-11-03 01:15 CDT" in out
    assert "2024-11-03 01:15 CST" in out


def test_reads_show_names_flags_and_the_versions_who_and_why(w: World, run: Run) -> None:
    from meterops.reads.store import ReadStore
    from meterops.timeutil import utc_now
    from meterops.vee.flags import FLAGS
    from tests.reads.world import flag_rows, version_rows

    path, yesterday = yesterday_file(w, "a.csv", ["A"])
    run("ingest", str(path))
    store = ReadStore(w.store.uri)
    meter_id = _meter_id(w, "A")
    raw = store.current_interval_reads(
        start_utc=utc_now() - dt.timedelta(days=3), end_utc=utc_now(), meter_ids=[meter_id]
    )
    first, second = raw["interval_start_utc"][0], raw["interval_start_utc"][1]
    spike = FLAGS["SPIKE"].mask
    store.write_flags(flag_rows(meter_id, [first], flags=spike, mask=spike), now=utc_now())
    estimated = FLAGS["ESTIMATED"].mask
    store.write_versions(
        version_rows(meter_id, [second], [9.25], kind="edit", quality_flags=estimated),
        now=utc_now(),
    )
    day = yesterday.isoformat()
    code, out = run("reads", "show", "A", "--from", day, "--to", day)
    assert code == 0, out
    assert "SPIKE" in out
    assert "1 edit" in out
    assert "ESTIMATED" in out
    assert "vee.estimate@1 · linear_interpolation · missing_read" in out
    assert "9.25" in out
    code, out = run("reads", "show", "A", "--from", day, "--to", day, "--history")
    assert code == 0, out
    assert "0 raw" in out
    assert "1 edit" in out


def _meter_id(w: World, serial: str) -> int:
    from meterops.db.engine import session_scope
    from meterops.models import Meter

    with session_scope(w.sessions) as session:
        return int(session.query(Meter.id).filter(Meter.serial_number == serial).one()[0])
