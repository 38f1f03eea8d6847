"""ING-01 without reading: a journalled file whose identity is unchanged is not hashed again.

``journal.fingerprint`` records a file's identity (device, inode, size, modification and change
time) with its content hash when the change time is old enough to vouch for the bytes; a later
ingest of a path with that identity takes the hash from the journal. Any write moves the change
time, so a changed file is always read and hashed again.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from meterops.db.engine import session_scope
from meterops.ingest import journal
from meterops.ingest.service import IngestOptions
from meterops.models import ImportJournal
from meterops.models.ingest import ImportStatus
from meterops.reads.store import Table
from tests.reads.world import CHICAGO, NOW, World, csv_bytes, interval_frame, world

OPTIONS = IngestOptions(zone=CHICAGO)


@pytest.fixture
def w(tmp_path: Path) -> Iterator[World]:
    with world(tmp_path) as created:
        created.add_meters(["A", "B"])
        yield created


def _settle() -> None:
    """Wait until files written so far are old enough for their identity to vouch for them."""
    time.sleep(journal.SETTLED_NS / 1e9 + 0.05)


def _identities(w: World) -> list[str | None]:
    with session_scope(w.sessions) as session:
        return list(session.scalars(select(ImportJournal.file_identity).order_by(ImportJournal.id)))


def test_a_settled_file_ingested_again_is_a_duplicate_without_being_read(
    w: World, hashed: list[Path]
) -> None:
    path = w.write("day.csv", csv_bytes(interval_frame(["A", "B"])))
    _settle()
    [first] = w.ingest(path, options=OPTIONS)
    [again] = w.ingest(path, options=OPTIONS, now=NOW + dt.timedelta(hours=1))
    assert hashed == [path]  # the second ingest did not read the file
    assert (first.status, again.status) == (ImportStatus.COMMITTED, ImportStatus.DUPLICATE_FILE)
    assert (again.counts.duplicate, again.counts.rows_in_file) == (192, 192)
    assert _identities(w) == [journal.file_identity(path.stat())] * 2
    assert w.store.row_count(Table.INTERVAL_READS, visible_only=False) == 192


def test_a_file_rewritten_with_the_same_size_is_read_and_its_new_values_are_conflicts(
    w: World, hashed: list[Path]
) -> None:
    frame = interval_frame(["A", "B"])
    path = w.write("day.csv", csv_bytes(frame))
    _settle()
    w.ingest(path, options=OPTIONS)
    data = path.read_bytes()
    changed = csv_bytes(frame.with_columns(value=frame["value"].reverse()))
    assert len(changed) == len(data)
    assert changed != data
    path.write_bytes(changed)  # the same inode and size: only the times tell
    [again] = w.ingest(path, options=OPTIONS, now=NOW + dt.timedelta(hours=1))
    assert hashed == [path, path]
    assert again.status is ImportStatus.COMMITTED
    assert again.counts.conflicting > 0


def test_a_fresh_file_records_no_identity_and_is_hashed_again(w: World, hashed: list[Path]) -> None:
    path = w.write("day.csv", csv_bytes(interval_frame(["A"])))
    w.ingest(path, options=OPTIONS)
    [again] = w.ingest(path, options=OPTIONS, now=NOW + dt.timedelta(hours=1))
    assert hashed == [path, path]
    assert again.status is ImportStatus.DUPLICATE_FILE  # by its content hash, as before
    assert _identities(w) == [None, None]


def test_reuse_hashes_off_reads_every_file(w: World, hashed: list[Path]) -> None:
    path = w.write("day.csv", csv_bytes(interval_frame(["A"])))
    _settle()
    rehash = dataclasses.replace(OPTIONS, reuse_hashes=False)
    w.ingest(path, options=rehash)
    [again] = w.ingest(path, options=rehash, now=NOW + dt.timedelta(hours=1))
    assert hashed == [path, path]
    assert again.status is ImportStatus.DUPLICATE_FILE


def test_a_copy_has_another_identity_and_is_recognised_by_its_bytes(
    w: World, hashed: list[Path]
) -> None:
    path = w.write("day.csv", csv_bytes(interval_frame(["A"])))
    _settle()
    w.ingest(path, options=OPTIONS)
    copy = w.write("copy.csv", path.read_bytes())
    [again] = w.ingest(copy, options=OPTIONS, now=NOW + dt.timedelta(hours=1))
    assert hashed == [path, copy]
    assert again.status is ImportStatus.DUPLICATE_FILE


@settings(max_examples=30, deadline=None)
@given(data=st.binary(max_size=3 * 1024), settled=st.booleans())
def test_fingerprint_is_the_content_hash_with_the_identity_only_when_settled(
    tmp_path_factory: pytest.TempPathFactory, data: bytes, settled: bool
) -> None:
    path = tmp_path_factory.mktemp("fp") / "file"
    path.write_bytes(data)
    found = journal.fingerprint(path, settled_ns=0 if settled else 3600 * 10**9)
    assert (found.content_hash, found.size_bytes) == journal.content_hash(path)
    assert found.identity == (journal.file_identity(path.stat()) if settled else None)


def test_an_identity_changes_with_every_write_and_time_change(tmp_path: Path) -> None:
    path = tmp_path / "file"
    path.write_bytes(b"abc")
    seen = {journal.file_identity(path.stat())}
    time.sleep(0.05)  # past a coarse time stamp tick (what SETTLED_NS guards against)
    path.write_bytes(b"abd")  # same size, other bytes
    seen.add(journal.file_identity(path.stat()))
    stamp = path.stat().st_mtime_ns
    time.sleep(0.05)
    os.utime(path, ns=(stamp, stamp))  # the same times again: the change time still moves
    seen.add(journal.file_identity(path.stat()))
    assert len(seen) == 3


def test_unreadable_paths_are_left_to_the_hash(w: World) -> None:
    missing = w.folder / "missing.csv"
    with session_scope(w.sessions) as session:
        assert journal.known_fingerprints(session, [missing]) == {}
