"""Property tests of the fast paths of big-file ingest (``ingest/service.py``).

* ``_batches`` (memory-mapped): for any file and batch size, the batches hold every line once,
  in order, never cut, with the right line offsets (a CSV batch repeats the header).
* ``_KeyRange.meets``: two frames that share an (id, time) key always "meet" (a batch is
  compared with the file's own earlier rows whenever it could repeat one of their keys).
* ``_known``: the meter ids of a batch's serials by binary search in the sorted fleet are
  those of a join with the fleet (any fleet, serials known or not, in any order).
* End to end: a random CSV file (rows shuffled or sorted, repeated and changed rows, bad
  rows) ingested in small batches stores and counts exactly what it does in one batch.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import polars as pl
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from meterops.ingest import pipeline
from meterops.ingest.service import IngestOptions, _batches, _key_range, _known
from meterops.reads.store import Table
from tests.reads.world import CHICAGO, DAY, csv_bytes, interval_frame, world

_LINE = st.text(alphabet="ab,1 \r", max_size=12)


@settings(max_examples=200, deadline=None)
@given(
    lines=st.lists(_LINE, max_size=40),
    final_newline=st.booleans(),
    batch_bytes=st.integers(1, 60),
    header=st.booleans(),
)
def test_batches_hold_every_line_once_in_order(
    lines: list[str], *, final_newline: bool, batch_bytes: int, header: bool
) -> None:
    data = "\n".join(lines).encode() + (b"\n" if final_newline and lines else b"")
    if not data:
        return
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "f"
        path.write_bytes(data)
        parts = list(_batches(path, batch_bytes=batch_bytes, header=header))
    assert parts
    starts = [0] + [i + 1 for i, c in enumerate(data) if c == ord("\n")]
    head = data[: starts[1]] if len(starts) > 1 else data
    covered = 0  # bytes of the file up to the end of the last batch
    for n, part in enumerate(parts):
        body, first_line = part.data, part.line_offset
        if header and n > 0:
            assert body.startswith(head)
            body = body[len(head) :]
            first_line += 1  # the copied header is parser line 1
        position = starts[first_line]
        assert data[position : position + len(body)] == body
        assert not data[covered:position].strip()  # only blank lines are left out
        assert position + len(body) == len(data) or body.endswith(b"\n")  # never a line cut
        covered = position + len(body)
    assert parts[0].line_offset == 0
    assert not data[covered:].strip()


_ROWS = st.lists(st.tuples(st.integers(1, 5), st.integers(0, 20)), min_size=1, max_size=30)


_SERIAL = st.text(alphabet="AB09é", max_size=4)


@settings(max_examples=300, deadline=None)
@given(
    fleet=st.lists(_SERIAL, unique=True, max_size=12),
    serials=st.lists(_SERIAL, unique=True, max_size=12),
)
def test_serials_found_by_binary_search_are_those_a_join_finds(
    fleet: list[str], serials: list[str]
) -> None:
    meters = pl.DataFrame(
        {"serial_number": fleet, "meter_id": list(range(1, len(fleet) + 1))},
        schema={"serial_number": pl.String, "meter_id": pl.Int64},
    )
    wanted = pl.DataFrame({"serial_number": serials}, schema={"serial_number": pl.String})
    expected = meters.join(wanted, on="serial_number", how="semi").sort("serial_number")
    found = _known(serials, meters.sort("serial_number"))
    assert found.schema == expected.schema
    assert found.sort("serial_number").equals(expected)


def _frame(rows: list[tuple[int, int]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "meter_id": [m for m, _ in rows],
            "interval_start_utc": [DAY + dt.timedelta(minutes=15 * q) for _, q in rows],
        },
        schema={"meter_id": pl.Int64, "interval_start_utc": pl.Datetime("us", "UTC")},
    )


@settings(max_examples=300, deadline=None)
@given(a=_ROWS, b=_ROWS)
def test_frames_sharing_a_key_always_meet(
    a: list[tuple[int, int]], b: list[tuple[int, int]]
) -> None:
    kind = next(k for k in pipeline.KINDS if k.table is Table.INTERVAL_READS)
    left, right = _key_range(_frame(a), kind), _key_range(_frame(b), kind)
    if set(a) & set(b):
        assert left.meets(right)
        assert right.meets(left)
    assert left.meets(left)


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    order=st.sampled_from(["meter", "time", "shuffled"]),
    repeats=st.lists(st.tuples(st.integers(0, 200), st.booleans()), max_size=6),
    bad=st.lists(st.integers(1, 200), max_size=3, unique=True),
    batch_bytes=st.integers(300, 3000),
    seed=st.integers(0, 1000),
)
@example(
    order="meter",
    repeats=[(0, False), (0, False), (56, True), (56, False)],
    bad=[],
    batch_bytes=300,
    seed=0,
)
def test_a_file_in_small_batches_stores_what_it_stores_in_one_go(
    order: str, repeats: list[tuple[int, bool]], bad: list[int], batch_bytes: int, seed: int
) -> None:
    meters = [f"P{n:02d}" for n in range(6)]
    frame = interval_frame(meters, start=DAY, intervals=36)
    if order == "time":
        frame = frame.sort("interval_start_utc", "serial_number")
    elif order == "shuffled":
        frame = frame.sample(fraction=1.0, shuffle=True, seed=seed)
    lines = csv_bytes(frame).decode().splitlines()
    for at, changed in repeats:  # the same key again, with the same or another value
        fields = lines[1 + at % (len(lines) - 1)].split(",")
        if changed:
            fields[4] = "77.25"
        lines.append(",".join(fields))
    for at in bad:  # a value that is not a number: a rejected row
        fields = lines[at].split(",")
        fields[4] = "x"
        lines[at] = ",".join(fields)
    data = ("\n".join(lines) + "\n").encode()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        with world(root / "whole") as whole, world(root / "batched") as batched:
            whole.add_meters(meters)
            batched.add_meters(meters)
            results = []
            for w, size in ((whole, 1 << 30), (batched, batch_bytes)):
                path = w.write("r.csv", data)
                options = IngestOptions(zone=CHICAGO, strict=False, batch_bytes=size)
                [report] = w.ingest(path, options=options)
                reads = w.store.current_interval_reads(
                    start_utc=DAY - dt.timedelta(days=1), end_utc=DAY + dt.timedelta(days=2)
                ).drop("received_at_utc")
                conflicts = w.store.records(Table.CONFLICTS).drop("received_at_utc")
                results.append((report.counts, reads, conflicts.sort("source_line")))
    (counts_a, reads_a, conflicts_a), (counts_b, reads_b, conflicts_b) = results
    assert counts_a == counts_b
    assert reads_a.equals(reads_b)
    assert conflicts_a.drop("source_file_id").equals(conflicts_b.drop("source_file_id"))
