from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from meterops.ingest.formats.base import ParseError
from meterops.ingest.formats.cim import (
    decode_reading_type,
    parse_cim,
    read_cim,
    sniff_cim,
    write_cim_end_device_events,
    write_cim_meter_readings,
)

from .fuzz import check_never_crashes, corpus
from .golden import CASES, discover, run_case


@pytest.mark.parametrize("folder", discover("cim"))
def test_golden_case(folder: Path, update_golden: bool) -> None:
    run_case(folder, parse_cim, update_golden)


def test_the_repeated_fall_back_hour_stays_two_distinct_intervals() -> None:
    reads = read_cim(CASES / "cim/meter_readings_envelope/input.xml").interval_reads
    delivered = reads.filter(channel="kwh_delivered")["interval_start_utc"].to_list()
    assert delivered[1] - delivered[0] == timedelta(hours=1)


def test_pending_calculation_and_reading_type_multiplier_scale_values() -> None:
    batch = read_cim(CASES / "cim/meter_readings_envelope/input.xml")
    assert batch.interval_reads.filter(channel="kwh_received")["value"].to_list() == [4.8]
    assert batch.register_reads["tou_period"].to_list() == [None, "1"]
    assert batch.register_reads["serial_number"].unique().to_list() == ["SN-100234"]


def test_unknown_event_codes_survive_and_known_codes_take_our_severity() -> None:
    events = read_cim(CASES / "cim/end_device_events/input.xml").events
    assert events["cim_event_type"].to_list() == ["3.26.0.47", "0.99.1234.7"]
    assert events["severity"].to_list() == ["alarm", "warning"]
    assert json.loads(events["details"][0]) == {"phase": "A"}


def test_decode_reading_type_refuses_short_codes() -> None:
    with pytest.raises(ValueError, match="18"):
        decode_reading_type("0.0.2")


def test_a_document_without_readings_or_events_is_an_empty_delivery() -> None:
    for root in (b"MeterReadings", b"EndDeviceEvents"):
        ns = b"http://iec.ch/TC57/2011/" + root + b"#"
        batch = parse_cim(b"<" + root + b' xmlns="' + ns + b'"/>', name="empty.xml", strict=True)
        assert (batch.row_count, batch.rows_in_file, batch.issues) == (0, 0, [])


def test_an_empty_document_of_another_kind_is_refused() -> None:
    with pytest.raises(ParseError) as caught:
        parse_cim(b'<Other xmlns="http://iec.ch/TC57/2011/MeterReadings#"/>', name="other.xml")
    assert caught.value.issues[-1].line == 1


def test_sniff_recognises_cim_payloads() -> None:
    assert sniff_cim(b'<EndDeviceEvents xmlns="http://iec.ch/TC57/2011/EndDeviceEvents#">')
    assert not sniff_cim(b"<feed/>")


def test_writers_refuse_what_cim_cannot_carry(tmp_path: Path) -> None:
    base = {
        "serial_number": ["M"],
        "channel": ["kwh_delivered"],
        "interval_start_utc": [datetime(2024, 1, 1, tzinfo=UTC)],
        "interval_s": [7200],
        "value": [1.0],
        "quality_flags": pl.Series([0], dtype=pl.UInt32),
        "source_quality": pl.Series([None], dtype=pl.String),
    }
    with pytest.raises(ValueError, match="measuringPeriod"):
        write_cim_meter_readings(pl.DataFrame(base))
    with pytest.raises(ValueError, match="ReadingType"):
        write_cim_meter_readings(pl.DataFrame(base).with_columns(channel=pl.lit("gas")))
    registers = pl.DataFrame(
        {
            "serial_number": ["M"],
            "channel": ["kwh_delivered"],
            "read_time_utc": [datetime(2024, 1, 1, tzinfo=UTC)],
            "value": [1.0],
            "tou_period": ["peak"],
            "quality_flags": pl.Series([0], dtype=pl.UInt32),
            "source_quality": pl.Series([None], dtype=pl.String),
        }
    )
    with pytest.raises(ValueError, match="tou"):
        write_cim_meter_readings(None, register_reads=registers)
    target = tmp_path / "mr.xml"
    write_cim_meter_readings(pl.DataFrame(base).with_columns(interval_s=pl.lit(900)), path=target)
    assert read_cim(target).interval_reads.height == 1
    events = read_cim(CASES / "cim/end_device_events/input.xml").events
    write_cim_end_device_events(events, path=tmp_path / "ev.xml")
    assert read_cim(tmp_path / "ev.xml").events.height == events.height


# ------------------------------------------------------------------------------------------
# Round trips

_FLAG_CODES = {0: None, 1: "2.8.0", 2: "2.7.0", 4: "2.5.258", 8: "1.2.32", 9: "2.8.0 1.2.32"}
_TIMES = st.datetimes(datetime(2000, 1, 1), datetime(2040, 1, 1)).map(
    lambda t: t.replace(tzinfo=UTC)
)


@st.composite
def interval_frames(draw: st.DrawFn) -> pl.DataFrame:
    rows = []
    for meter in range(draw(st.integers(1, 3))):
        start = draw(_TIMES)
        for channel in draw(
            st.sets(
                st.sampled_from(
                    [
                        "kwh_delivered",
                        "kwh_received",
                        "kw_demand",
                        "voltage_v",
                        "voltage_max_v",
                        "temperature_c",
                        "kvarh_delivered",
                        "kwh_net",
                    ]
                ),
                min_size=1,
                max_size=3,
            )
        ):
            interval = draw(st.sampled_from([60, 300, 900, 1800, 3600, 86400]))
            for k in range(draw(st.integers(1, 12))):
                flags = draw(st.sampled_from(sorted(_FLAG_CODES)))
                given_code = draw(st.sampled_from([None, "3.7.0", "5.4.260"]))
                value = draw(st.floats(0, 1e9, allow_nan=False))
                rows.append(
                    (
                        f"M-{meter}",
                        channel,
                        start + timedelta(seconds=interval * k),
                        interval,
                        value,
                        flags,
                        given_code,
                    )
                )
    return pl.DataFrame(
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


def _as_received(frame: pl.DataFrame) -> pl.DataFrame:
    """What the parser gives back: given codes are kept; flags come from the codes."""
    derived = pl.col("quality_flags").replace_strict(_FLAG_CODES, return_dtype=pl.String)
    code_flags = {"3.7.0": 2, "5.4.260": 0}
    return frame.with_columns(
        pl.coalesce(pl.col("source_quality"), derived).alias("source_quality"),
        pl.when(pl.col("source_quality").is_null())
        .then(pl.col("quality_flags"))
        .otherwise(pl.col("source_quality").replace_strict(code_flags, return_dtype=pl.UInt32))
        .alias("quality_flags"),
    )


@settings(max_examples=50, deadline=None)
@given(interval_frames())
def test_parse_of_write_gives_the_interval_frame_back(frame: pl.DataFrame) -> None:
    back = parse_cim(write_cim_meter_readings(frame), name="rt.xml", strict=True).interval_reads
    key = ["serial_number", "channel", "interval_start_utc"]
    assert_frame_equal(back.drop("source_line").sort(key), _as_received(frame).sort(key))


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(_TIMES, st.floats(0, 1e9, allow_nan=False), st.sampled_from([None, "1", "2"])),
        min_size=1,
        max_size=10,
    )
)
def test_parse_of_write_gives_the_register_frame_back(
    reads: list[tuple[datetime, float, str | None]],
) -> None:
    frame = pl.DataFrame(
        {
            "serial_number": "M",
            "channel": "kwh_delivered",
            "read_time_utc": [t for t, _, _ in reads],
            "value": [v for _, v, _ in reads],
            "tou_period": pl.Series([tou for *_, tou in reads], dtype=pl.String),
            "quality_flags": pl.Series([0] * len(reads), dtype=pl.UInt32),
            "source_quality": pl.Series([None] * len(reads), dtype=pl.String),
        },
        schema_overrides={"read_time_utc": pl.Datetime("us", "UTC")},
    )
    back = parse_cim(
        write_cim_meter_readings(None, register_reads=frame), name="rt.xml", strict=True
    ).register_reads
    key = ["read_time_utc", "tou_period", "value"]
    assert_frame_equal(back.drop("source_line").sort(key), frame.sort(key))


_WORDS = (
    st.text(
        st.characters(categories=["L", "N"], include_characters="-_<>&\"' "),
        min_size=1,
        max_size=10,
    )
    .map(lambda s: " ".join(s.split()))
    .filter(bool)
)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(
            _WORDS,
            _TIMES,
            st.tuples(*[st.integers(0, 999)] * 4).map(lambda t: ".".join(map(str, t))),
            st.one_of(st.none(), _WORDS),
            st.one_of(st.none(), st.dictionaries(_WORDS, _WORDS, min_size=1, max_size=3)),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_parse_of_write_gives_the_event_frame_back(rows: list[tuple]) -> None:  # type: ignore[type-arg]
    frame = pl.DataFrame(
        {
            "serial_number": [r[0] for r in rows],
            "event_time_utc": [r[1] for r in rows],
            "cim_event_type": [r[2] for r in rows],
            "vendor_code": [r[3] for r in rows],
            "severity": ["warning"] * len(rows),
            "details": [json.dumps(r[4], ensure_ascii=False) if r[4] else None for r in rows],
        },
        schema_overrides={
            "event_time_utc": pl.Datetime("us", "UTC"),
            "vendor_code": pl.String,
            "details": pl.String,
        },
    )
    back = parse_cim(write_cim_end_device_events(frame), name="ev.xml", strict=True).events
    from meterops.nomenclature import CIM_EVENTS

    expected = frame.with_columns(
        pl.col("cim_event_type")
        .replace_strict({c: e.severity.value for c, e in CIM_EVENTS.items()}, default="warning")
        .alias("severity")
    )
    assert_frame_equal(back.drop("source_line"), expected)


def test_a_malformed_corpus_never_crashes_the_parser() -> None:
    seeds = [p.read_bytes() for p in sorted((CASES / "cim").glob("*/input.xml"))]
    for i, data in enumerate(corpus(seeds, 1000, seed=33)):
        check_never_crashes(parse_cim, data, f"m{i}.xml")
        if i % 5 == 0:
            check_never_crashes(
                lambda d, name: parse_cim(d, name=name, strict=True), data, f"s{i}.xml"
            )
