from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from meterops.ingest.formats.base import ParseError
from meterops.ingest.formats.cmep import parse_cmep, read_cmep, sniff_cmep, write_cmep

from .fuzz import check_never_crashes, corpus
from .golden import CASES, discover, run_case

NEW_YORK = ZoneInfo("America/New_York")
CREATED = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("folder", discover("cmep"))
def test_golden_case(folder: Path, update_golden: bool) -> None:
    run_case(folder, parse_cmep, update_golden)


def test_sensus_hourly_values_add_up_to_the_register_advance() -> None:
    batch = read_cmep(
        CASES / "cmep/sensus_electric_day/input.cmep", zone=ZoneInfo("America/Chicago")
    )
    registers = batch.register_reads.sort("read_time_utc")["value"].to_list()
    assert batch.interval_reads["value"].sum() == pytest.approx(registers[1] - registers[0])
    first = batch.interval_reads["interval_start_utc"].min()
    assert first == batch.register_reads["read_time_utc"].min()


@pytest.mark.parametrize(("day", "expected"), [(date(2024, 11, 3), 100), (date(2024, 3, 10), 92)])
def test_dst_days_keep_every_quarter_hour(day: date, expected: int) -> None:
    name = "fall_back_day_new_york" if expected == 100 else "spring_forward_day_new_york"
    batch = read_cmep(CASES / "cmep" / name / "input.cmep", zone=NEW_YORK, strict=True)
    starts = batch.interval_reads["interval_start_utc"]
    assert starts.n_unique() == expected
    assert starts.diff().drop_nulls().unique().to_list() == [timedelta(minutes=15)]
    local_days = starts.dt.convert_time_zone("America/New_York").dt.date().unique().to_list()
    assert local_days == [day]


def _line(first: str, n: int, *, stamps: bool) -> bytes:
    wall = datetime.strptime(first, "%Y%m%d%H%M")
    trip = []
    for k in range(n):
        stamp = (
            (wall + timedelta(minutes=15 * k)).strftime("%Y%m%d%H%M") if stamps or k == 0 else ""
        )
        trip.append(f"{stamp},,1")
    return f"MEPMD01,1,S,,,,202401010000,M,OK,E,KWH,1,00000015,{n},{','.join(trip)}".encode()


def test_an_ambiguous_first_stamp_is_refused_unless_a_rule_is_given() -> None:
    line = _line("202411030115", 2, stamps=False)
    with pytest.raises(ParseError) as caught:
        parse_cmep(line, name="x", zone=NEW_YORK, strict=True)
    assert caught.value.issues[0].code == "timestamp.ambiguous"
    early = parse_cmep(line, name="x", zone=NEW_YORK, ambiguous="earliest").interval_reads
    late = parse_cmep(line, name="x", zone=NEW_YORK, ambiguous="latest").interval_reads
    assert (late["interval_start_utc"][0] - early["interval_start_utc"][0]) == timedelta(hours=1)


def test_the_stamps_that_follow_resolve_an_ambiguous_first_stamp() -> None:
    # 01:15 (second occurrence, EST) … the 4th stamp is 02:00, which only the EST reading fits.
    text = (
        b"MEPMD01,1,S,,,,202401010000,M,OK,E,KWH,1,00000015,4,202411030115,,1,202411030130,,1,"
        b"202411030145,,1,202411030200,,1"
    )
    batch = parse_cmep(text, name="x", zone=NEW_YORK, strict=True)
    assert batch.interval_reads["interval_start_utc"][0] == datetime(2024, 11, 3, 6, 0, tzinfo=UTC)


def test_a_stamp_in_the_spring_forward_gap_is_refused() -> None:
    with pytest.raises(ParseError) as caught:
        parse_cmep(_line("202403100215", 1, stamps=True), name="x", zone=NEW_YORK, strict=True)
    assert caught.value.issues[0].code == "timestamp.nonexistent"


def test_a_register_read_in_the_repeated_hour_follows_the_rule() -> None:
    text = b"MEPMD01,1,S,,,,202401010000,M,OK,E,KWHREG,1,00000000,1,202411030130,,100"
    with pytest.raises(ParseError):
        parse_cmep(text, name="x", zone=NEW_YORK, strict=True)
    batch = parse_cmep(text, name="x", zone=NEW_YORK, ambiguous="latest")
    assert batch.register_reads["read_time_utc"][0] == datetime(2024, 11, 3, 6, 30, tzinfo=UTC)


def test_a_register_read_in_the_spring_gap_is_refused() -> None:
    text = b"MEPMD01,1,S,,,,202401010000,M,OK,E,KWHREG,1,00000000,1,202403100230,,100"
    with pytest.raises(ParseError) as caught:
        parse_cmep(text, name="x", zone=NEW_YORK, strict=True)
    assert caught.value.issues[0].code == "timestamp.nonexistent"


def test_midnight_written_as_2400_ends_the_day() -> None:
    text = b"MEPMD01,1,S,,,,202401010000,M,OK,E,KWH,1,00000015,1,202401012400,,1"
    batch = parse_cmep(text, name="x", zone=ZoneInfo("UTC"), strict=True)
    assert batch.interval_reads["interval_start_utc"][0] == datetime(2024, 1, 1, 23, 45, tzinfo=UTC)


def test_strict_mode_raises_at_the_first_issue_with_file_line_and_field() -> None:
    data = (CASES / "cmep/broken_lines/input.cmep").read_bytes()
    with pytest.raises(ParseError) as caught:
        parse_cmep(data, name="broken.cmep", zone=ZoneInfo("UTC"), strict=True)
    [issue] = caught.value.issues
    assert (issue.file, issue.line, issue.field) == ("broken.cmep", 2, "count")


def test_lenient_mode_counts_every_triplet_in_the_file() -> None:
    data = (CASES / "cmep/broken_lines/input.cmep").read_bytes()
    batch = parse_cmep(data, name="broken.cmep", zone=ZoneInfo("UTC"))
    # 4 accepted; rejected: M4 2 (apparent), M5 1, M6 2, M7 2, XYZ 1, M9 1 = 9
    assert (batch.row_count, batch.rows_in_file) == (4, 13)


def test_an_empty_file_is_refused() -> None:
    with pytest.raises(ParseError) as caught:
        parse_cmep(b"", name="empty.cmep", zone=ZoneInfo("UTC"))
    assert caught.value.issues[0].line == 1


def test_sniff_recognises_cmep_only() -> None:
    assert sniff_cmep(b"\xef\xbb\xbfMEPMD01,19970819")
    assert not sniff_cmep(b"<?xml")


def test_a_utf16_file_with_bom_is_read() -> None:
    text = "MEPMD01,1,S,,,,202401010000,M,OK,E,KWH,1,00000015,1,202401010015,,1\n"
    batch = parse_cmep(text.encode("utf-16"), name="x", zone=ZoneInfo("UTC"), strict=True)
    assert batch.interval_reads.height == 1


def test_writer_splits_lines_at_gaps_and_writes_first_stamps_only_when_asked() -> None:
    starts = [datetime(2024, 1, 1, 0, 0, tzinfo=UTC) + timedelta(minutes=15 * k) for k in (0, 1, 3)]
    frame = pl.DataFrame(
        {
            "serial_number": "M",
            "channel": "kwh_delivered",
            "interval_start_utc": starts,
            "interval_s": 900,
            "value": [1.0, 2.0, 3.0],
            "quality_flags": [0, 1, 128],
            "source_quality": [None, None, None],
        }
    )
    out = write_cmep(
        frame, sender_id="S", zone=ZoneInfo("UTC"), created_at=CREATED, stamp_every_triplet=False
    )
    lines = out.decode().splitlines()
    assert len(lines) == 2
    assert lines[0].endswith("2,202401010015,,1.0,,E,2.0")
    assert lines[1].endswith("1,202401010100,N,3.0")


def test_writer_refuses_channels_without_a_cmep_unit() -> None:
    frame = pl.DataFrame(
        {
            "serial_number": "M",
            "channel": "voltage_v",
            "interval_start_utc": [datetime(2024, 1, 1, tzinfo=UTC)],
            "interval_s": 900,
            "value": [1.0],
            "quality_flags": [0],
            "source_quality": [None],
        }
    )
    with pytest.raises(ValueError, match="voltage_v"):
        write_cmep(frame, sender_id="S", zone=ZoneInfo("UTC"), created_at=CREATED)


def test_writer_refuses_odd_intervals_and_tou_registers(tmp_path: Path) -> None:
    frame = pl.DataFrame(
        {
            "serial_number": "M",
            "channel": "kwh_delivered",
            "interval_start_utc": [datetime(2024, 1, 1, tzinfo=UTC)],
            "interval_s": 90,
            "value": [1.0],
            "quality_flags": [0],
            "source_quality": [None],
        }
    )
    with pytest.raises(ValueError, match="whole minutes"):
        write_cmep(frame, sender_id="S", zone=ZoneInfo("UTC"), created_at=CREATED)
    registers = pl.DataFrame(
        {
            "serial_number": "M",
            "channel": "kwh_delivered",
            "read_time_utc": [datetime(2024, 1, 1, tzinfo=UTC)],
            "value": [1.0],
            "tou_period": ["A"],
            "quality_flags": [0],
            "source_quality": [None],
        }
    )
    with pytest.raises(ValueError, match="TOU"):
        write_cmep(
            None, register_reads=registers, sender_id="S", zone=ZoneInfo("UTC"), created_at=CREATED
        )
    assert write_cmep(None, sender_id="S", zone=ZoneInfo("UTC"), created_at=CREATED) == b""
    target = tmp_path / "out.cmep"
    write_cmep(
        frame.with_columns(interval_s=pl.lit(900)),
        sender_id="S",
        zone=ZoneInfo("UTC"),
        created_at=CREATED,
        path=target,
    )
    assert target.read_bytes().startswith(b"MEPMD01")


# ------------------------------------------------------------------------------------------
# Round trips

_QUALITY = st.sampled_from([(None, 0), ("E", 1), ("A", 2), ("N", 128), ("R0", 0), ("ZZ", 4)])
_ZONES = st.sampled_from(
    ["UTC", "America/New_York", "Australia/Adelaide", "America/Phoenix", "Europe/London"]
)


@st.composite
def interval_frames(draw: st.DrawFn) -> tuple[pl.DataFrame, str]:
    zone = draw(_ZONES)
    interval = draw(st.sampled_from([300, 900, 1800, 3600]))
    rows = []
    for meter in range(draw(st.integers(1, 3))):
        day = draw(st.dates(date(2020, 1, 1), date(2030, 12, 31)))
        start = datetime.combine(day, datetime.min.time(), tzinfo=ZoneInfo(zone)).astimezone(UTC)
        n = draw(st.integers(1, 30))
        for channel in draw(
            st.sets(st.sampled_from(["kwh_delivered", "kvarh_delivered", "kw_demand"]), min_size=1)
        ):
            for k in range(n):
                quality, flags = draw(_QUALITY)
                value = draw(st.floats(0, 1e6, allow_nan=False, allow_infinity=False))
                rows.append(
                    (
                        f"M{meter}",
                        channel,
                        start + timedelta(seconds=interval * k),
                        interval,
                        value,
                        flags,
                        quality,
                    )
                )
    frame = pl.DataFrame(
        rows,
        schema={
            "serial_number": pl.String,
            "channel": pl.String,
            "interval_start_utc": pl.Datetime("us", "UTC"),
            "interval_s": pl.Int32,
            "value": pl.Float64,
            "quality_flags": pl.UInt32,
            "source_quality": pl.String,
        },
        orient="row",
    )
    return frame, zone


@settings(max_examples=60, deadline=None)
@given(interval_frames(), st.booleans())
def test_parse_of_write_gives_the_interval_frame_back(
    case: tuple[pl.DataFrame, str], every: bool
) -> None:
    frame, zone = case
    out = write_cmep(
        frame, sender_id="SIM", zone=ZoneInfo(zone), created_at=CREATED, stamp_every_triplet=every
    )
    back = parse_cmep(out, name="rt", zone=ZoneInfo(zone), strict=True).interval_reads
    key = ["serial_number", "channel", "interval_start_utc"]
    assert_frame_equal(back.drop("source_line").sort(key), frame.sort(key))


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.datetimes(datetime(2000, 1, 1), datetime(2040, 1, 1)),
            st.floats(0, 1e9, allow_nan=False),
        ),
        min_size=1,
        max_size=20,
        unique_by=lambda t: t[0].replace(second=0, microsecond=0),
    )
)
def test_parse_of_write_gives_the_register_frame_back(reads: list[tuple[datetime, float]]) -> None:
    frame = pl.DataFrame(
        {
            "serial_number": "M",
            "channel": "kwh_delivered",
            "read_time_utc": [t.replace(second=0, microsecond=0, tzinfo=UTC) for t, _ in reads],
            "value": [v for _, v in reads],
            "tou_period": pl.Series([None] * len(reads), dtype=pl.String),
            "quality_flags": pl.Series([0] * len(reads), dtype=pl.UInt32),
            "source_quality": pl.Series([None] * len(reads), dtype=pl.String),
        },
        schema_overrides={"read_time_utc": pl.Datetime("us", "UTC")},
    )
    out = write_cmep(
        None, register_reads=frame, sender_id="S", zone=ZoneInfo("UTC"), created_at=CREATED
    )
    back = parse_cmep(out, name="rt", zone=ZoneInfo("UTC"), strict=True).register_reads
    assert_frame_equal(back.drop("source_line").sort("read_time_utc"), frame.sort("read_time_utc"))


# ------------------------------------------------------------------------------------------
# Malformed corpus


def test_a_malformed_corpus_never_crashes_the_parser() -> None:
    seeds = [p.read_bytes() for p in sorted((CASES / "cmep").glob("*/input.cmep"))]
    for i, data in enumerate(corpus(seeds, 1000, seed=4)):
        check_never_crashes(
            lambda d, name: parse_cmep(d, name=name, zone=NEW_YORK), data, f"m{i}.cmep"
        )
        if i % 4 == 0:
            check_never_crashes(
                lambda d, name: parse_cmep(d, name=name, zone=NEW_YORK, strict=True),
                data,
                f"s{i}.cmep",
            )
    assert random.Random(4).random() < 1


def test_unknown_protocol_text_is_kept_and_flagged_suspect() -> None:
    text = b"MEPMD01,1,S,,,,202401010000,M,OK,E,KWH,1,00000015,2,202401010015,VERYLONGCODE,1,,R0,2"
    reads = parse_cmep(text, name="x", zone=ZoneInfo("UTC"), strict=True).interval_reads
    assert reads["source_quality"].to_list() == ["VERYLONGCODE", "R0"]
    assert reads["quality_flags"].to_list() == [4, 0]


def test_watt_hours_scale_exactly_and_the_calculation_constant_multiplies() -> None:
    text = (
        b"MEPMD01,1,S,,,,202401010000,M,OK,E,WH,1,00000015,2,202401010015,,350,,,410\n"
        b"MEPMD01,1,S,,,,202401010000,N,OK,E,KWH,40,00000015,1,202401010015,,0.5\n"
    )
    reads = parse_cmep(text, name="x", zone=ZoneInfo("UTC"), strict=True).interval_reads
    assert reads["value"].to_list() == [0.35, 0.41, 20.0]


@settings(max_examples=150, deadline=None)
@given(st.dates(date(2000, 1, 1), date(2037, 12, 31)), _ZONES)
def test_a_local_day_has_as_many_quarter_hours_as_the_zone_gives_it(day: date, zone: str) -> None:
    from meterops.timeutil import intervals_in_local_day, local_day_bounds_utc

    start, end = local_day_bounds_utc(day, ZoneInfo(zone))
    n = int((end - start).total_seconds()) // 900
    frame = pl.DataFrame(
        {
            "serial_number": "M",
            "channel": "kwh_delivered",
            "interval_start_utc": [start + timedelta(minutes=15 * k) for k in range(n)],
            "interval_s": 900,
            "value": [0.25] * n,
            "quality_flags": 0,
            "source_quality": None,
        },
        schema_overrides={
            "interval_s": pl.Int32,
            "quality_flags": pl.UInt32,
            "source_quality": pl.String,
            "interval_start_utc": pl.Datetime("us", "UTC"),
        },
    )
    out = write_cmep(
        frame, sender_id="S", zone=ZoneInfo(zone), created_at=CREATED, stamp_every_triplet=False
    )
    reads = parse_cmep(out, name="d", zone=ZoneInfo(zone), strict=True).interval_reads
    assert reads.height == intervals_in_local_day(day, ZoneInfo(zone), 900)
    assert reads["value"].sum() == pytest.approx(0.25 * n)
    assert reads["interval_start_utc"].n_unique() == n


def test_results_do_not_depend_on_the_host_time_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    import time as time_module

    data = (CASES / "cmep/fall_back_day_new_york/input.cmep").read_bytes()
    frames = []
    for host_zone in ("UTC", "Pacific/Kiritimati", "America/Los_Angeles"):
        monkeypatch.setenv("TZ", host_zone)
        time_module.tzset()
        frames.append(parse_cmep(data, name="x", zone=NEW_YORK, strict=True).interval_reads)
    monkeypatch.delenv("TZ")
    time_module.tzset()
    assert_frame_equal(frames[0], frames[1])
    assert_frame_equal(frames[0], frames[2])
