"""The compiled CMEP fast path equals the reference path exactly, or declines the file.

Generated files (valid and mutated byte by byte) go through ``parse_cmep`` twice, with and
without the fast path: the frames, issues and row counts must be identical, and so must a
refusal (the same located issues). Separate tests check that the fast path really takes the
common files (so the comparison is not the reference against itself) and declines each kind
of file outside its subset.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from meterops.ingest.formats import _cmep_fast
from meterops.ingest.formats.base import ParsedBatch, ParseError
from meterops.ingest.formats.cmep import (
    CMEP_UNITS,
    DEFAULT_PROTOCOL_FLAGS,
    parse_cmep,
)

ZONES = ("UTC", "America/New_York", "America/Chicago", "Australia/Sydney")
UNITS = (("E", "KWH"), ("E", "WH"), ("E", "KW"), ("E", "KVARH"), ("W", "CF"), ("e", "kwh"))
REGISTER_UNITS = (("E", "KWHREG"), ("W", "CFREG"))
INTERVALS = ("00000015", "00000005", "00000030", "00000100", "00010000")
CODES = ("", "R", "R0", "A", "E", "N")
STARTS = (
    datetime(2024, 3, 5, 0, 0),
    datetime(2024, 3, 9, 23, 0),  # the day before the US spring-forward night
    datetime(2024, 11, 2, 23, 0),  # the day before the US fall-back night
    datetime(2024, 11, 3, 1, 0),  # inside the repeated hour
    datetime(2024, 4, 7, 1, 0),  # Sydney falls back
    datetime(2024, 12, 31, 23, 45),
)
NON_NEGATIVE = frozenset(
    {"kwh_delivered", "kwh_received", "kvarh_delivered", "kw_demand", "water_ft3_delivered"}
)


def _minutes(code: str) -> int:
    value = int(code)
    return (value // 10_000 % 100) * 1440 + (value // 100 % 100) * 60 + value % 100


clean_values = st.one_of(
    st.decimals(min_value=0, max_value=10_000, places=3, allow_nan=False).map(str),
    st.integers(min_value=0, max_value=10**6).map(str),
)
values = st.one_of(
    clean_values,
    st.sampled_from(["0", "0.0", "-1.5", "1e3", "", ".5", "5.", "12345678901234567", "1e13"]),
)


@st.composite
def lines(draw: st.DrawFn) -> str:
    """One MEPMD01 line, usually valid, sometimes with a register unit or odd fields."""
    register = draw(st.integers(0, 9)) == 0
    commodity, units = draw(st.sampled_from(REGISTER_UNITS if register else UNITS))
    interval = "00000000" if register else draw(st.sampled_from(INTERVALS))
    step = timedelta(minutes=_minutes(interval) or 60)
    first = draw(st.sampled_from(STARTS)) + draw(st.integers(0, 8)) * timedelta(minutes=15)
    count = draw(st.integers(1, 12))
    every = draw(st.booleans())
    meter = draw(st.sampled_from(["M1", "M2", "0042", "A-7"]))
    constant = draw(st.sampled_from(["", "1", "2.5", "0.001", "10"]))
    uniform = draw(st.booleans())
    code = draw(st.sampled_from(CODES))
    numbers = clean_values if draw(st.booleans()) else values
    triplets = []
    for k in range(count):
        stamp = (first + k * step).strftime("%Y%m%d%H%M") if every or k == 0 else ""
        text = code if uniform else draw(st.sampled_from(CODES))
        triplets.append(f"{stamp},{text},{draw(numbers)}")
    return (
        f"MEPMD01,19970819,SIM,,,,202401010000,{meter},OK,{commodity},{units},{constant},"
        f"{interval},{count},{','.join(triplets)}"
    )


def _mutate(text: bytes, position: int, kind: int, byte: int) -> bytes:
    if not text:
        return text
    p = position % len(text)
    if kind == 0:
        return text[:p] + text[p + 1 :]
    if kind == 1:
        return text[:p] + bytes([byte]) + text[p:]
    return text[:p] + bytes([byte]) + text[p + 1 :]


MUTATION_BYTES = st.sampled_from(list(b", \n\r09.-+ENRAx\xff\xc3"))


def _both(data: bytes, zone: str, *, strict: bool = False) -> None:
    """Parse with and without the fast path: the same batch or the same refusal."""

    def run(*, fast: bool) -> ParsedBatch | list[object]:
        try:
            return parse_cmep(data, name="g.cmep", zone=ZoneInfo(zone), strict=strict, fast=fast)
        except ParseError as exc:
            return list(exc.issues)

    quick, reference = run(fast=True), run(fast=False)
    if isinstance(reference, list) or isinstance(quick, list):
        assert quick == reference
        return
    assert_frame_equal(quick.interval_reads, reference.interval_reads, check_exact=True)
    assert_frame_equal(quick.register_reads, reference.register_reads, check_exact=True)
    assert quick.issues == reference.issues
    assert quick.rows_in_file == reference.rows_in_file


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(lines(), min_size=1, max_size=6),
    st.sampled_from(ZONES),
    st.sampled_from(["\n", "\r\n"]),
    st.booleans(),
)
def test_generated_files_parse_the_same_on_both_paths(
    body: list[str], zone: str, newline: str, blank: bool
) -> None:
    text = newline.join(body) + (newline * 2 if blank else "")
    _both(text.encode(), zone)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(lines(), min_size=1, max_size=4),
    st.sampled_from(ZONES),
    st.lists(
        st.tuples(st.integers(0, 10_000), st.integers(0, 2), MUTATION_BYTES),
        min_size=1,
        max_size=3,
    ),
    st.booleans(),
)
def test_mutated_files_parse_or_fail_the_same_on_both_paths(
    body: list[str], zone: str, mutations: list[tuple[int, int, int]], strict: bool
) -> None:
    data = "\n".join(body).encode()
    for position, kind, byte in mutations:
        data = _mutate(data, position, kind, byte)
    _both(data, zone, strict=strict)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 96), st.integers(0, 95), st.sampled_from(["", "R0", "A"]), st.booleans())
def test_the_fast_path_takes_plain_interval_files(
    count: int, offset: int, code: str, every: bool
) -> None:
    first = datetime(2024, 3, 5) + timedelta(minutes=15 * (offset + 1))
    trip = [
        f"{(first + timedelta(minutes=15 * k)).strftime('%Y%m%d%H%M') if every or k == 0 else ''}"
        f",{code},{k * 0.125:.3f}"
        for k in range(count)
    ]
    line = f"MEPMD01,1,S,,,,202401010000,M,OK,E,KWH,1,00000015,{count},{','.join(trip)}\n"
    quick = _cmep_fast.parse(
        line.encode(),
        zone="America/Chicago",
        units=CMEP_UNITS,
        flags_table=DEFAULT_PROTOCOL_FLAGS,
        non_negative=NON_NEGATIVE,
    )
    assert quick is not None
    assert quick[1] == count
    _both(line.encode(), "America/Chicago")


def _line(first: str, body: str, *, units: str = "KWH", interval: str = "00000015") -> bytes:
    count = body.count(",") // 3 + 1
    return (
        f"MEPMD01,1,S,,,,202401010000,M,OK,E,{units},1,{interval},{count},{first},{body}\n"
    ).encode()


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (_line("202403100145", ",1,202403100300,,2"), "line crosses the spring-forward change"),
        (_line("202411030130", ",1"), "first stamp in the repeated hour"),
        (_line("202403100230", ",1"), "first stamp in the spring-forward gap"),
        (_line("202401010015", "X,1"), "unknown protocol text"),
        (_line("202401010015", ",1", units="KWHREG", interval="00000000"), "register read"),
        (_line("202401010015", ",1e3"), "value with an exponent"),
        (_line("202401010015", ",-1"), "negative energy"),
        (_line("202401010015", ",1,202401010045,,2"), "stamp out of sequence"),
        (_line("202401010015", ", 1"), "space in a value"),
        (b"MEPMD02,1,S\n" + _line("202401010015", ",1"), "another record type"),
        (_line("202401010015", ",1").replace(b",M,", b",\xc3\xa9,"), "non-ASCII meter ID"),
    ],
)
def test_the_fast_path_declines_files_outside_its_subset(data: bytes, why: str) -> None:
    quick = _cmep_fast.parse(
        data,
        zone="America/New_York",
        units=CMEP_UNITS,
        flags_table=DEFAULT_PROTOCOL_FLAGS,
        non_negative=NON_NEGATIVE,
    )
    assert quick is None, why
    _both(data, "America/New_York")
