"""SIGKILL a real ingest process while it writes a *group* of CIM files (several files, one
append per table, one commit for all markers): every file of the group is whole or absent, a
file is never visible twice, and a re-run completes (reliability-tests.md CRASH-01, ING-10, I5).
"""

from __future__ import annotations

import datetime as dt
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from meterops.db.engine import session_scope
from meterops.ingest.formats.cim import write_cim_meter_readings
from meterops.models import ImportJournal
from meterops.models.ingest import ImportStatus
from meterops.reads.store import Table
from tests.ingest.test_crash import (
    FILES,
    STEPS,
    _assert_no_partial_file_and_no_duplicate,
    _start,
    overlapping_files,
)
from tests.reads.world import DAY, World, world

METERS = [f"S{n:05d}" for n in range(60)]
QUARTERS = 48  # each file overlaps half of the previous one
UNION = (FILES - 1) * QUARTERS // 2 + QUARTERS


@pytest.fixture
def w(tmp_path: Path) -> Iterator[World]:
    with world(tmp_path) as created:
        created.add_meters(METERS)
        yield created


def _files(w: World) -> list[Path]:
    """Overlapping CIM files; each holds an unknown meter (quarantine) and, from the second
    on, one changed value (conflict with the previous file, a member of the same group)."""
    return overlapping_files(
        w, METERS, quarters=QUARTERS, encode=write_cim_meter_readings, suffix="xml"
    )


def _visible_files(w: World) -> int:
    return w.store.commits().height


@pytest.mark.parametrize("step", STEPS)
def test_sigkill_while_a_group_is_written_leaves_all_or_none_of_it(w: World, step: str) -> None:
    paths = _files(w)
    child = _start(w, paths, step)
    _, err = child.communicate(timeout=120)
    assert child.returncode == -signal.SIGKILL, err.decode()
    _assert_no_partial_file_and_no_duplicate(w)
    # One group: before its markers' commit no file is visible, after it all of them.
    after_marker = step in ("after_commit_marker", "after_journal")
    assert _visible_files(w) == (FILES if after_marker else 0)
    rerun = _start(w, paths, "never")
    _, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err.decode()
    _assert_no_partial_file_and_no_duplicate(w)
    raw = w.store.current_interval_reads(start_utc=DAY, end_utc=DAY + dt.timedelta(days=3))
    assert raw.height == len(METERS) * UNION
    assert w.store.records(Table.CONFLICTS).height == FILES - 1
    with session_scope(w.sessions) as session:
        entries = list(session.scalars(select(ImportJournal)))
    committed = sorted(e.file_name for e in entries if e.status is ImportStatus.COMMITTED)
    assert committed == sorted(map(str, paths))
    assert not [e for e in entries if e.status is ImportStatus.PENDING]
    if not after_marker:  # recovery abandoned the group's entries (the first one only after
        # the first pending boundary), and the re-run journalled each file anew
        assert [e for e in entries if e.status is ImportStatus.ABANDONED]
