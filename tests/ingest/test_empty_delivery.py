"""A file with a valid header (or root element) and no record is a valid empty delivery.

Head-ends send such files on days without anything of a kind (the simulator's
``registers_other.csv`` on a day without received-energy or TOU registers): the file is
journalled once as committed with every count 0, nothing is stored and nothing is refused.
A file whose records are all unusable is not empty and stays refused. CMEP (no header: a
0-byte file shows no format) and NEM12 (a file needs a 200 and a 300 record) have no empty
delivery.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from meterops.db.engine import session_scope
from meterops.ingest.formats.cim import write_cim_end_device_events, write_cim_meter_readings
from meterops.ingest.formats.headend_csv import KINDS, columns_of, write_headend_csv
from meterops.ingest.service import IngestOptions
from meterops.models import ImportJournal
from meterops.models.ingest import ImportStatus
from meterops.reads.schema import PARSED_EVENTS
from meterops.reads.store import Table
from tests.reads.world import CHICAGO, NOW, World, world


@pytest.fixture
def w(tmp_path: Path) -> Iterator[World]:
    with world(tmp_path) as created:
        created.add_meters(["A"])
        yield created


def _csv(kind: str) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        write_headend_csv(KINDS[kind].empty(), kind=kind, path=path)

    return write


_ESPI = b"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:espi="http://naesb.org/espi">
<id>urn:uuid:1</id><title>Usage</title><updated>2024-01-01T00:00:00Z</updated>
<entry><id>urn:uuid:2</id><link rel="self" href="/RetailCustomer/1/UsagePoint/1"/>
<content><espi:UsagePoint><espi:ServiceCategory><espi:kind>0</espi:kind></espi:ServiceCategory>
</espi:UsagePoint></content></entry>
</feed>
"""

EMPTY_FILES: dict[str, tuple[str, Callable[[Path], None]]] = {
    **{f"headend_csv {kind}": ("x.csv", _csv(kind)) for kind in KINDS},
    "cim MeterReadings": ("mr.xml", lambda p: p.write_bytes(write_cim_meter_readings(None))),
    "cim EndDeviceEvents": (
        "ev.xml",
        lambda p: p.write_bytes(write_cim_end_device_events(PARSED_EVENTS.empty())),
    ),
    "espi feed without readings": ("gb.xml", lambda p: p.write_bytes(_ESPI)),
}


def _entries(w: World) -> list[ImportJournal]:
    with session_scope(w.sessions) as session:
        return list(session.scalars(select(ImportJournal).order_by(ImportJournal.id)))


@pytest.mark.parametrize("case", sorted(EMPTY_FILES))
def test_a_file_without_records_is_an_empty_delivery(w: World, case: str) -> None:
    name, write = EMPTY_FILES[case]
    path = w.folder / name
    write(path)
    [report] = w.ingest(path)
    assert report.status is ImportStatus.COMMITTED, report.message
    assert report.counts.as_dict() == dict.fromkeys(report.counts.as_dict(), 0)
    assert report.issues == ()
    [entry] = _entries(w)
    assert (entry.status, entry.rows_in_file, entry.accepted) == (ImportStatus.COMMITTED, 0, 0)
    assert w.store.commit_of(report.source_file_id) is not None
    for table in Table:
        if table is not Table.COMMITS:  # the file's commit marker is its only trace
            assert w.store.row_count(table, visible_only=False) == 0
    # The same bytes again (a re-run, or the next day's equally empty file) are a duplicate
    # file of no rows: the delivery is journalled as committed once.
    [again] = w.ingest(path, now=NOW + dt.timedelta(hours=1))
    assert (again.status, again.counts.rows_in_file) == (ImportStatus.DUPLICATE_FILE, 0)
    statuses = [e.status for e in _entries(w)]
    assert statuses == [ImportStatus.COMMITTED, ImportStatus.DUPLICATE_FILE]


def test_an_empty_delivery_between_other_files_does_not_disturb_them(w: World) -> None:
    empty = w.folder / "registers_other.csv"
    write_headend_csv(KINDS["register_reads"].empty(), kind="register_reads", path=empty)
    header = ",".join(columns_of("register_reads")).encode()
    full = w.folder / "registers.csv"
    full.write_bytes(header + b"\nA,kwh_delivered,2024-03-06T06:00:00Z,1234.5,,0,\n")
    reports = w.ingest(empty, full, options=IngestOptions(zone=CHICAGO, strict=True))
    assert [r.status for r in reports] == [ImportStatus.COMMITTED, ImportStatus.COMMITTED]
    assert [r.counts.accepted for r in reports] == [0, 1]
    assert w.store.row_count(Table.REGISTER_READS) == 1


def test_a_file_whose_rows_are_all_unusable_is_still_refused(w: World) -> None:
    header = ",".join(columns_of("register_reads")).encode()
    path = w.folder / "bad.csv"
    path.write_bytes(header + b"\nA,kwh_delivered,not-a-time,1.0,,0,\n")
    for strict in (True, False):
        [report] = w.ingest(path, options=IngestOptions(zone=CHICAGO, strict=strict))
        assert report.refused
        assert report.issues[0].line == 2
