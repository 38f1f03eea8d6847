"""SIGKILL a real ingest process mid-file, then check that nothing partial is visible, nothing
is duplicated, and a re-run completes (reliability-tests.md CRASH-01, CRASH-05, ING-10, I5)."""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import select

from meterops.db.engine import session_scope
from meterops.models import ImportJournal
from meterops.models.ingest import ImportStatus
from meterops.reads.store import Table
from tests.reads.world import DAY, World, csv_bytes, interval_frame, world

REPO = Path(__file__).resolve().parents[2]
METERS = [f"S{n:05d}" for n in range(400)]
FILES = 4
QUARTERS_PER_FILE = 48  # each file overlaps half of the previous one
UNION_QUARTERS = (FILES - 1) * QUARTERS_PER_FILE // 2 + QUARTERS_PER_FILE

# The child process: ingest the files, SIGKILLing itself at the named step (or never).
CHILD = """
import datetime as dt, os, signal, sys
from pathlib import Path
from zoneinfo import ZoneInfo
from meterops.db.engine import make_engine, make_session_factory
from meterops.ingest.service import IngestOptions, ingest_files
from meterops.reads.store import ReadStore

url, reads, kill_at, *files = sys.argv[1:]

def fault(step):
    if kill_at == "report":  # tell the parent where we are; it kills us from outside
        print(step, flush=True)
    elif step == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)

ingest_files(
    make_session_factory(make_engine(url)),
    ReadStore(reads),
    [Path(f) for f in files],
    options=IngestOptions(zone=ZoneInfo("America/Chicago")),
    clock=lambda: dt.datetime(2024, 3, 7, 12, tzinfo=dt.UTC),
    fault=fault,
)
"""


@pytest.fixture
def w(tmp_path: Path) -> Iterator[World]:
    with world(tmp_path) as created:
        created.add_meters(METERS)
        yield created


def overlapping_files(
    w: World,
    meters: list[str],
    *,
    quarters: int,
    encode: Callable[[pl.DataFrame], bytes] = csv_bytes,
    suffix: str = "csv",
) -> list[Path]:
    """``FILES`` overlapping files (each overlaps half of the previous one); each also holds
    an unknown meter (quarantine) and, from the second on, one changed value (conflict), so
    that one file writes to three tables."""
    paths = []
    for n in range(FILES):
        start = DAY + dt.timedelta(minutes=15 * n * quarters // 2)
        frame = interval_frame([*meters, "UNKNOWN"], start=start, intervals=quarters)
        if n:
            frame = frame.with_columns(
                pl.when(pl.int_range(pl.len()) == 0)
                .then(99.0)
                .otherwise(pl.col("value"))
                .alias("value")
            )
        paths.append(w.write(f"part{n}.{suffix}", encode(frame)))
    return paths


def _files(w: World) -> list[Path]:
    return overlapping_files(w, METERS, quarters=QUARTERS_PER_FILE)


def _start(w: World, paths: list[Path], kill_at: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    script = w.folder / "child.py"
    script.write_text(CHILD)
    args = [sys.executable, str(script), w.database_url, w.store.uri, kill_at, *map(str, paths)]
    return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _assert_no_partial_file_and_no_duplicate(w: World) -> None:
    commits = w.store.commits()
    assert commits["content_hash"].is_unique().all(), "a file's content became visible twice"
    raw = w.store.current_interval_reads(start_utc=DAY, end_utc=DAY + dt.timedelta(days=3))
    assert not raw.select("meter_id", "channel", "interval_start_utc").is_duplicated().any()
    per_file = raw.group_by("source_file_id").len()
    conflicts = w.store.records(Table.CONFLICTS).group_by("source_file_id").len()
    held = w.store.quarantine().group_by("source_file_id").len()
    for commit in commits.iter_rows(named=True):
        file_id = commit["source_file_id"]

        def rows(frame: pl.DataFrame, file_id: int = file_id) -> int:
            found = frame.filter(pl.col("source_file_id") == file_id)["len"]
            return int(found.sum())

        assert rows(per_file) == commit["accepted"] + commit["late"]
        assert rows(conflicts) == commit["conflicting"]
        assert rows(held) == commit["quarantined"]
    assert set(per_file["source_file_id"]) <= set(commits["source_file_id"])


def _assert_complete(w: World, paths: list[Path]) -> None:
    _assert_no_partial_file_and_no_duplicate(w)
    raw = w.store.current_interval_reads(start_utc=DAY, end_utc=DAY + dt.timedelta(days=3))
    assert raw.height == len(METERS) * UNION_QUARTERS
    assert w.store.records(Table.CONFLICTS).height == FILES - 1
    with session_scope(w.sessions) as session:
        entries = list(session.scalars(select(ImportJournal)))
    committed = [e for e in entries if e.status is ImportStatus.COMMITTED]
    assert sorted(e.file_name for e in committed) == sorted(map(str, paths))
    assert not [e for e in entries if e.status is ImportStatus.PENDING]
    for e in entries:
        assert (
            e.accepted + e.rejected + e.duplicate + e.conflicting + e.late + e.quarantined
            == e.rows_in_file
        )


STEPS = [
    "after_pending",
    "after_append:interval_reads",
    "after_append:conflicts",
    "after_append:quarantine",
    "after_commit_marker",
    "after_journal",
]


@pytest.mark.parametrize("step", STEPS)
def test_sigkill_at_each_step_leaves_no_partial_file_and_a_rerun_completes(
    w: World, step: str
) -> None:
    paths = _files(w)
    child = _start(w, paths, step)
    _, err = child.communicate(timeout=120)
    assert child.returncode == -signal.SIGKILL, err.decode()
    _assert_no_partial_file_and_no_duplicate(w)
    rerun = _start(w, paths, "never")
    _, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err.decode()
    _assert_complete(w, paths)


def test_sigkill_at_random_moments_then_a_clean_run_completes(w: World) -> None:
    """The parent kills the child from outside at a random step boundary plus a random delay.

    The child reports each step boundary it passes; waiting for the k-th report makes the
    kill land inside the run on any machine, and the random delay after it lands it between
    boundaries too (mid-append, mid-commit), not only on them.
    """
    paths = _files(w)
    rng = random.Random(20241123)
    killed_mid_run = 0
    for _ in range(6):
        child = _start(w, paths, "report")
        assert child.stdout is not None
        target = rng.randint(1, 12)
        for _seen in range(target):
            if not child.stdout.readline():
                break  # the run finished before that many boundaries (later runs are short)
        time.sleep(rng.uniform(0.0, 0.05))
        if child.poll() is None:
            child.send_signal(signal.SIGKILL)
            killed_mid_run += 1
        child.communicate(timeout=120)
        _assert_no_partial_file_and_no_duplicate(w)
    rerun = _start(w, paths, "never")
    _, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err.decode()
    _assert_complete(w, paths)
    assert killed_mid_run >= 3, f"only {killed_mid_run} of 6 kills landed inside a run"
