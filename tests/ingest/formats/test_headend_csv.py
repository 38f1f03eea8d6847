from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from meterops.ingest.formats.base import ParseError
from meterops.ingest.formats.headend_csv import (
    KINDS,
    columns_of,
    parse_headend_csv,
    read_headend_csv,
    sniff_headend_csv,
    write_headend_csv,
)

from .fuzz import check_never_crashes, corpus
from .golden import CASES, discover, run_case


@pytest.mark.parametrize("folder", discover("headend_csv"))
def test_golden_case(folder: Path, update_golden: bool) -> None:
    run_case(folder, parse_headend_csv, update_golden)


def test_the_kind_is_detected_from_the_header_in_any_column_order() -> None:
    batch = read_headend_csv(CASES / "headend_csv/register_reads/input.csv")
    assert batch.register_reads.height == 2


def test_a_timestamp_without_an_offset_is_refused_not_guessed() -> None:
    data = (CASES / "headend_csv/interval_reads_mixed/input.csv").read_bytes()
    batch = parse_headend_csv(data, name="r.csv", kind="interval_reads")
    [issue] = [i for i in batch.issues if i.line == 4]
    assert (issue.field, issue.code) == ("interval_start_utc", "interval_start_utc.invalid")


def test_strict_mode_stops_at_the_first_bad_line() -> None:
    data = (CASES / "headend_csv/interval_reads_mixed/input.csv").read_bytes()
    with pytest.raises(ParseError) as caught:
        parse_headend_csv(data, name="r.csv", strict=True)
    assert [(i.line, i.field) for i in caught.value.issues] == [(4, "interval_start_utc")]


def test_an_unknown_header_is_refused_on_line_one() -> None:
    with pytest.raises(ParseError) as caught:
        parse_headend_csv(b"a,b\n1,2\n", name="x.csv")
    assert (caught.value.issues[0].line, caught.value.issues[0].field) == (1, "header")
    with pytest.raises(ParseError):
        parse_headend_csv(b"a,b\n1,2\n", name="x.csv", kind="topology")
    with pytest.raises(ValueError, match="unknown head-end CSV kind"):
        parse_headend_csv(b"a\n", name="x.csv", kind="nope")


def test_a_quote_that_spans_lines_is_refused_with_its_line() -> None:
    header = ",".join(columns_of("events")).encode()
    data = header + b'\nM1,2024-01-01T00:00:00Z,3.26.0.47,"open\nstill,alarm,\n'
    with pytest.raises(ParseError) as caught:
        parse_headend_csv(data, name="e.csv")
    assert "line 2" in caught.value.issues[-1].message


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_header_only_file_is_an_empty_delivery(kind: str) -> None:
    header = ",".join(columns_of(kind)).encode()
    for data in (header, header + b"\n", header + b"\r\n\r\n"):
        batch = parse_headend_csv(data, name="t.csv", strict=True)
        assert (batch.row_count, batch.rows_in_file, batch.issues) == (0, 0, [])
        assert getattr(batch, kind).is_empty()


def test_a_file_whose_rows_are_all_unusable_is_refused() -> None:
    header = ",".join(columns_of("topology")).encode() + b"\n"
    with pytest.raises(ParseError) as caught:
        parse_headend_csv(header + b"N1,meter,,x,y,z,up\n", name="t.csv")
    assert {i.line for i in caught.value.issues} == {1, 2}


def test_sniff_recognises_documented_headers_only() -> None:
    assert sniff_headend_csv(",".join(columns_of("comm_stats")).encode() + b"\n")
    assert not sniff_headend_csv(b"MEPMD01,1")
    assert not sniff_headend_csv(b"\xff\xfe\xfa")


def test_writer_refuses_unknown_kinds(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="kind"):
        write_headend_csv(pl.DataFrame(), kind="nope")
    frame = read_headend_csv(CASES / "headend_csv/topology/input.csv").topology
    target = tmp_path / "t.csv"
    write_headend_csv(frame, kind="topology", path=target)
    assert read_headend_csv(target).topology.height == frame.height


# ------------------------------------------------------------------------------------------
# Round trips: parse(write(frame)) == frame for every kind

_TIMES = st.datetimes(datetime(1990, 1, 1), datetime(2090, 1, 1)).map(
    lambda t: t.replace(tzinfo=UTC)
)
_TEXT = (
    st.text(st.characters(codec="utf-8", exclude_characters="\r\n\x00"), min_size=1, max_size=12)
    .map(str.strip)
    .filter(bool)
)
_FLOATS = st.floats(-1e9, 1e9, allow_nan=False)


def _column(spec_name: str, dtype: pl.DataType, nullable: bool) -> st.SearchStrategy[object]:
    if spec_name == "channel":
        base: st.SearchStrategy[object] = st.sampled_from(
            ["kwh_delivered", "voltage_v", "kw_demand"]
        )
    elif spec_name == "severity":
        base = st.sampled_from(["info", "warning", "alarm", "critical"])
    elif spec_name == "node_kind":
        base = st.sampled_from(["meter", "router", "collector"])
    elif spec_name == "status":
        base = st.sampled_from(["up", "down", "unknown"])
    elif spec_name == "cim_event_type":
        base = st.tuples(*[st.integers(0, 300)] * 4).map(lambda t: ".".join(map(str, t)))
    elif spec_name == "details":
        base = st.dictionaries(st.sampled_from(["a", "b"]), st.integers()).map(
            lambda d: "{" + ",".join(f'"{k}": {v}' for k, v in d.items()) + "}"
        )
    elif spec_name == "value":
        base = st.floats(0, 1e9, allow_nan=False)
    elif isinstance(dtype, pl.Datetime):
        base = _TIMES
    elif dtype == pl.Float64:
        base = _FLOATS
    elif dtype == pl.UInt32:
        base = st.integers(0, 2**32 - 1)
    elif dtype in (pl.Int32, pl.Int16):
        base = st.integers(1 if spec_name == "interval_s" else 0, 32000)
    else:
        base = _TEXT
    return st.one_of(st.none(), base) if nullable else base


@st.composite
def frames(draw: st.DrawFn, kind: str) -> pl.DataFrame:
    specs = [s for s in KINDS[kind] if s.name != "source_line"]
    n = draw(st.integers(1, 8))
    data = {s.name: [draw(_column(s.name, s.dtype, s.nullable)) for _ in range(n)] for s in specs}
    return pl.DataFrame(data, schema={s.name: s.dtype for s in specs})


@pytest.mark.parametrize("kind", list(KINDS))
def test_parse_of_write_gives_the_frame_back(kind: str) -> None:
    @settings(max_examples=40, deadline=None)
    @given(frames(kind))
    def check(frame: pl.DataFrame) -> None:
        back = parse_headend_csv(write_headend_csv(frame, kind=kind), name="rt.csv", strict=True)
        assert_frame_equal(getattr(back, kind).drop("source_line"), frame)

    check()


def test_a_malformed_corpus_never_crashes_the_parser() -> None:
    seeds = [p.read_bytes() for p in sorted((CASES / "headend_csv").glob("*/input.csv"))]
    for i, data in enumerate(corpus(seeds, 1000, seed=7)):
        check_never_crashes(parse_headend_csv, data, f"m{i}.csv")
        if i % 5 == 0:
            check_never_crashes(
                lambda d, name: parse_headend_csv(d, name=name, strict=True), data, f"s{i}.csv"
            )


def test_formula_cells_are_neutralised_only_when_asked() -> None:
    events = read_headend_csv(CASES / "headend_csv/events/input.csv").events.with_columns(
        vendor_code=pl.lit("=HYPERLINK(1)")
    )
    plain = write_headend_csv(events, kind="events").decode()
    safe = write_headend_csv(events, kind="events", neutralise_formulas=True).decode()
    assert ",=HYPERLINK(1)," in plain
    assert ",'=HYPERLINK(1)," in safe
