"""The read store: visibility by commit marker, current view, versions, flags, as-of, I1."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from meterops.errors import ConflictError, InvalidInputError
from meterops.reads.schema import INTERVAL_READS
from meterops.reads.store import FileCommit, ReadStore, Table
from meterops.vee.flags import FLAGS
from tests.reads.world import DAY, NOW, flag_rows, quarter, raw_rows, version_rows

HOUR = dt.timedelta(hours=1)
END = DAY + dt.timedelta(days=1)


@pytest.fixture
def store(tmp_path: Path) -> ReadStore:
    return ReadStore(str(tmp_path / "reads"))


def _commit(store: ReadStore, source_file_id: int, at: dt.datetime = NOW, **counts: int) -> None:
    store.commit_file(
        FileCommit(source_file_id, f"sha{source_file_id}", f"f{source_file_id}", "x", at, counts)
    )


def _ingest(store: ReadStore, frame: pl.DataFrame, source_file_id: int, **counts: int) -> None:
    store.append_rows(Table.INTERVAL_READS, frame, source_file_id=source_file_id)
    at = frame["received_at_utc"].max()
    assert isinstance(at, dt.datetime)
    _commit(store, source_file_id, at, **counts)


def _values(frame: pl.DataFrame) -> list[float]:
    return frame["value"].to_list()


def test_rows_of_a_file_stay_invisible_until_its_commit_marker(store: ReadStore) -> None:
    store.append_rows(
        Table.INTERVAL_READS, raw_rows(1, [1.0, 2.0], source_file_id=5), source_file_id=5
    )
    assert store.current_interval_reads(start_utc=DAY, end_utc=END).is_empty()
    assert store.row_count(Table.INTERVAL_READS, visible_only=False) == 2
    _commit(store, 5)
    current = store.current_interval_reads(start_utc=DAY, end_utc=END)
    assert _values(current) == [1.0, 2.0]
    assert current.schema == INTERVAL_READS.schema
    assert current["version_kind"].to_list() == ["raw", "raw"]


def test_a_file_id_cannot_be_committed_twice(store: ReadStore) -> None:
    _commit(store, 5)
    with pytest.raises(ConflictError, match="already committed"):
        _commit(store, 5)


def test_rows_tagged_with_another_file_id_are_refused(store: ReadStore) -> None:
    with pytest.raises(ValueError, match="source_file_id"):
        store.append_rows(
            Table.INTERVAL_READS, raw_rows(1, [1.0], source_file_id=6), source_file_id=5
        )


def test_raw_tables_refuse_deletes_and_updates(store: ReadStore) -> None:
    from deltalake import DeltaTable

    _ingest(store, raw_rows(1, [1.0], source_file_id=1), 1)
    for table in (Table.INTERVAL_READS, Table.COMMITS):
        delta = DeltaTable(f"{store.uri}/{table.value}")
        with pytest.raises(Exception, match="append-only"):
            delta.delete("meter_id = 1" if table is Table.INTERVAL_READS else None)
        with pytest.raises(Exception, match="append-only"):
            delta.update({"source_file_id": "99"})
    assert _values(store.current_interval_reads(start_utc=DAY, end_utc=END)) == [1.0]


def test_an_actual_read_arriving_after_an_estimate_becomes_current(store: ReadStore) -> None:
    store.write_versions(version_rows(1, [quarter(0)], [0.7], parent_version=None), now=NOW - HOUR)
    estimate = store.current_interval_reads(start_utc=DAY, end_utc=END)
    assert (estimate["version_kind"].to_list(), _values(estimate)) == (["estimate"], [0.7])
    _ingest(store, raw_rows(1, [0.9], source_file_id=1, received=NOW), 1)
    current = store.current_interval_reads(start_utc=DAY, end_utc=END)
    assert (current["version_kind"].to_list(), _values(current)) == (["raw"], [0.9])
    history = store.interval_history(start_utc=DAY, end_utc=END)
    assert history.select("version_kind", "value", "is_current").rows() == [
        ("estimate", 0.7, False),
        ("raw", 0.9, True),
    ]


def test_an_edit_supersedes_the_raw_read_which_stays_in_history(store: ReadStore) -> None:
    _ingest(store, raw_rows(1, [5.0, 6.0], source_file_id=1), 1)
    store.write_versions(
        version_rows(1, [quarter(1)], [0.6], kind="edit", reason_code="meter_exchange"),
        now=NOW + HOUR,
    )
    current = store.current_interval_reads(start_utc=DAY, end_utc=END)
    assert _values(current) == [5.0, 0.6]
    assert current["version"].to_list() == [0, 1]
    assert current["reason_code"].to_list() == [None, "meter_exchange"]
    assert store.interval_history(start_utc=DAY, end_utc=END).height == 3


def test_as_of_reproduces_what_was_visible_at_each_past_instant(store: ReadStore) -> None:
    snapshots: dict[dt.datetime, pl.DataFrame] = {}
    t0 = NOW

    def snapshot(at: dt.datetime) -> None:
        snapshots[at] = store.current_interval_reads(start_utc=DAY, end_utc=END)

    _ingest(store, raw_rows(1, [1.0, 2.0, 3.0], source_file_id=1, received=t0), 1)
    snapshot(t0)
    store.write_versions(version_rows(1, [quarter(1)], [2.5], kind="edit"), now=t0 + HOUR)
    snapshot(t0 + HOUR)
    store.write_flags(flag_rows(1, [quarter(0)], flags=1 << 10, mask=1 << 10), now=t0 + 2 * HOUR)
    snapshot(t0 + 2 * HOUR)
    _ingest(
        store, raw_rows(1, [4.0], start=quarter(3), source_file_id=2, received=t0 + 3 * HOUR), 2
    )
    snapshot(t0 + 3 * HOUR)
    store.write_versions(
        version_rows(1, [quarter(1)], [2.6], version=2, parent_version=1, kind="edit"),
        now=t0 + 4 * HOUR,
    )
    for at, expected in snapshots.items():
        assert_frame_equal(
            store.current_interval_reads(start_utc=DAY, end_utc=END, as_of_utc=at), expected
        )
    assert store.current_interval_reads(start_utc=DAY, end_utc=END, as_of_utc=t0 - HOUR).is_empty()


def test_flags_merge_into_the_current_view_without_touching_raw_rows(store: ReadStore) -> None:
    spike = 1 << 10
    _ingest(store, raw_rows(1, [1.0, 2.0], source_file_id=1), 1)
    store.write_flags(flag_rows(1, [quarter(1)], flags=spike, mask=spike), now=NOW + HOUR)
    flagged = store.current_interval_reads(start_utc=DAY, end_utc=END)
    assert flagged["quality_flags"].to_list() == [0, spike]
    store.write_flags(flag_rows(1, [quarter(1)], flags=0, mask=spike), now=NOW + 2 * HOUR)
    assert store.current_interval_reads(start_utc=DAY, end_utc=END)["quality_flags"].to_list() == [
        0,
        0,
    ]
    raw = store.interval_history(start_utc=DAY, end_utc=END)
    assert raw.height == 2


def test_flags_keep_the_bits_outside_their_mask(store: ReadStore) -> None:
    late = FLAGS["LATE"].mask
    frame = raw_rows(1, [1.0], source_file_id=1).with_columns(
        pl.lit(late, pl.UInt32).alias("quality_flags")
    )
    _ingest(store, frame, 1)
    store.write_flags(
        flag_rows(1, [quarter(0)], flags=1 << 11, mask=(1 << 11) | (1 << 12)), now=NOW + HOUR
    )
    assert store.current_interval_reads(start_utc=DAY, end_utc=END)[
        "quality_flags"
    ].item() == late | (1 << 11)


def test_flags_written_before_a_version_existed_do_not_apply_to_it(store: ReadStore) -> None:
    spike = 1 << 10
    _ingest(store, raw_rows(1, [1.0], source_file_id=1), 1)
    store.write_flags(flag_rows(1, [quarter(0)], flags=spike, mask=spike, version=1), now=NOW)
    store.write_versions(version_rows(1, [quarter(0)], [1.1], kind="edit"), now=NOW + HOUR)
    assert store.current_interval_reads(start_utc=DAY, end_utc=END)["quality_flags"].item() == 0


def test_a_version_without_reason_code_is_refused_naming_the_field(store: ReadStore) -> None:
    _ingest(store, raw_rows(1, [1.0], source_file_id=1), 1)
    with pytest.raises(InvalidInputError, match="reason_code") as caught:
        store.write_versions(version_rows(1, [quarter(0)], [2.0], reason_code=None), now=NOW)
    assert caught.value.details["field"] == "reason_code"
    with pytest.raises(InvalidInputError, match="reason_code"):
        store.write_versions(version_rows(1, [quarter(0)], [2.0], reason_code="  "), now=NOW)
    assert store.interval_history(start_utc=DAY, end_utc=END).height == 1


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"version_kind": "guess"}, "version_kind"),
        ({"version": 0}, "version must be 1"),
        ({"parent_version": 3}, "parent_version must be below"),
    ],
)
def test_malformed_versions_are_refused(
    store: ReadStore, changes: dict[str, object], message: str
) -> None:
    frame = version_rows(1, [quarter(0)], [2.0], parent_version=None)
    frame = frame.with_columns(pl.lit(v).cast(frame.schema[k]).alias(k) for k, v in changes.items())
    with pytest.raises(InvalidInputError, match=message):
        store.write_versions(frame, now=NOW)


def test_a_version_number_is_never_reused_for_the_same_key(store: ReadStore) -> None:
    _ingest(store, raw_rows(1, [1.0], source_file_id=1), 1)
    store.write_versions(version_rows(1, [quarter(0)], [2.0]), now=NOW + HOUR)
    with pytest.raises(ConflictError, match="already exist"):
        store.write_versions(version_rows(1, [quarter(0)], [3.0]), now=NOW + 2 * HOUR)


def test_a_version_must_name_a_stored_parent(store: ReadStore) -> None:
    with pytest.raises(InvalidInputError, match="parent version that is not stored"):
        store.write_versions(version_rows(1, [quarter(0)], [2.0], parent_version=0), now=NOW)
    store.append_rows(Table.INTERVAL_READS, raw_rows(1, [1.0], source_file_id=3), source_file_id=3)
    with pytest.raises(InvalidInputError, match="parent version that is not stored"):
        store.write_versions(version_rows(1, [quarter(0)], [2.0], parent_version=0), now=NOW)


def test_a_higher_source_version_supersedes_and_the_old_row_stays(store: ReadStore) -> None:
    _ingest(store, raw_rows(1, [1.0], source_file_id=1, source_version=10), 1)
    later = NOW + HOUR
    _ingest(
        store,
        raw_rows(1, [1.5], source_file_id=2, source_version=11, received=later),
        2,
        superseded=1,
    )
    assert _values(store.current_interval_reads(start_utc=DAY, end_utc=END)) == [1.5]
    assert store.interval_history(start_utc=DAY, end_utc=END).height == 2
    existing = store.existing(Table.INTERVAL_READS, start_utc=DAY, end_utc=END, ids=[1])
    assert existing["source_version"].to_list() == [11]


def test_queries_filter_by_meter_channel_and_time(store: ReadStore) -> None:
    _ingest(
        store,
        pl.concat(
            [
                raw_rows(1, [1.0, 2.0], source_file_id=1),
                raw_rows(2, [3.0], source_file_id=1),
                raw_rows(2, [4.0], source_file_id=1, channel="kwh_received"),
            ]
        ),
        1,
    )
    assert _values(store.current_interval_reads(start_utc=DAY, end_utc=END, meter_ids=[2])) == [
        3.0,
        4.0,
    ]
    assert _values(
        store.current_interval_reads(start_utc=DAY, end_utc=END, channels=["kwh_received"])
    ) == [4.0]
    assert _values(store.current_interval_reads(start_utc=quarter(1), end_utc=quarter(2))) == [2.0]
    assert store.current_interval_reads(start_utc=DAY, end_utc=END, meter_ids=[]).is_empty()


def test_naive_times_are_refused(store: ReadStore) -> None:
    with pytest.raises(ValueError, match="aware"):
        store.current_interval_reads(start_utc=DAY.replace(tzinfo=None), end_utc=END)


def test_a_second_writer_is_refused_while_the_lock_is_held(store: ReadStore) -> None:
    # flock locks belong to an open file description, so a second opening conflicts even in
    # the same process, exactly as another process would.
    with (
        store.writer_lock(),
        pytest.raises(ConflictError, match="Another process"),
        ReadStore(store.uri).writer_lock(),
    ):
        pass
    with store.writer_lock():
        pass


def test_bytes_on_disk_of_sorted_interval_reads_are_small(store: ReadStore) -> None:
    frames = [
        raw_rows(m, [round(0.1 + ((m * 7 + i) % 40) / 100, 3) for i in range(96)], source_file_id=1)
        for m in range(1, 501)
    ]
    _ingest(store, pl.concat(frames), 1)
    assert store.size_bytes(Table.INTERVAL_READS) / 48_000 < 2.0


def test_latest_versions_give_the_number_to_continue_from_even_when_not_current(
    store: ReadStore,
) -> None:
    store.write_versions(version_rows(1, [quarter(0)], [0.7], parent_version=None), now=NOW)
    _ingest(store, raw_rows(1, [0.9, 1.0], source_file_id=1, received=NOW + HOUR), 1)
    latest = store.latest_versions(start_utc=DAY, end_utc=END, meter_ids=[1])
    assert latest.select("interval_start_utc", "version").rows() == [
        (quarter(0), 1),
        (quarter(1), 0),
    ]
    assert store.current_interval_reads(start_utc=DAY, end_utc=END)["version"].to_list() == [0, 0]


def test_touched_days_name_every_day_a_file_added_reads_to_with_its_late_reads(
    store: ReadStore,
) -> None:
    late = FLAGS["LATE"].mask
    _ingest(store, raw_rows(1, [1.0, 2.0], source_file_id=1, received=NOW), 1)
    second = pl.concat(
        [
            raw_rows(1, [3.0], start=quarter(5), source_file_id=2, received=NOW + HOUR),
            raw_rows(2, [4.0], start=END, source_file_id=2, received=NOW + HOUR),
        ]
    ).with_columns(pl.Series("quality_flags", [late, 0], dtype=pl.UInt32))
    _ingest(store, second, 2)
    days = store.touched_days(committed_after_utc=NOW)
    assert days.rows() == [
        (1, "kwh_delivered", DAY.date(), 1, 1),
        (2, "kwh_delivered", END.date(), 1, 0),
    ]
    assert store.touched_days(committed_after_utc=NOW - HOUR, committed_until_utc=NOW).height == 1


def test_highest_versions_reads_the_versions_table_for_the_given_keys(store: ReadStore) -> None:
    """Keys with only a raw read or nothing are left out; others get their highest number."""
    _ingest(store, raw_rows(1, [1.0, 2.0, 3.0], source_file_id=1), 1)
    store.write_versions(version_rows(1, [quarter(0), quarter(1)], [1.5, 2.5]), now=NOW + HOUR)
    store.write_versions(
        version_rows(1, [quarter(0)], [1.7], version=2, parent_version=1), now=NOW + 2 * HOUR
    )
    keys = pl.DataFrame(
        {
            "meter_id": [1, 1, 1, 1, 2],
            "channel": ["kwh_delivered"] * 5,
            "interval_start_utc": [quarter(0), quarter(0), quarter(1), quarter(2), quarter(0)],
        }
    )
    latest = store.highest_versions(keys)
    assert latest.rows() == [
        (1, "kwh_delivered", quarter(0), 2),
        (1, "kwh_delivered", quarter(1), 1),
    ]
    assert latest.schema["version"] == pl.Int32
    assert store.highest_versions(keys.head(0)).is_empty()
    # The same numbers as latest_versions for keys that have versions.
    every = store.latest_versions(start_utc=DAY, end_utc=quarter(3)).filter(pl.col("version") > 0)
    assert_frame_equal(every, latest)
