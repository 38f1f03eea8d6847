"""Test-set result files: both layouts, bad rows with file/line/field, round trips."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meterops.errors import Issue
from meterops.meter_shop.accuracy import (
    AccuracyTest,
    PointResult,
    Stage,
    TestLocation,
    TestPoint,
    TestSet,
    Verdict,
    evaluate_test,
)
from meterops.meter_shop.testfiles import (
    TestFileRefusedError,
    parse_test_file,
    sniff_layout,
    write_test_csv,
)

FILES = Path(__file__).parent / "files"


def issues_of(data: bytes, file: str = "t.csv") -> list[Issue]:
    with pytest.raises(TestFileRefusedError) as info:
        parse_test_file(data, file=file)
    return info.value.issues


def test_the_documented_csv_reads_into_tests() -> None:
    data = (FILES / "shop_tests.csv").read_bytes()
    parsed = parse_test_file(data, file="shop_tests.csv")
    assert parsed.layout == "meterops-test-csv"
    assert [t.meter_serial for t in parsed.tests] == ["SHOP0001", "SHOP0002", "SHOP0003"]
    assert parsed.lines == (2, 5, 7)
    first = parsed.tests[0]
    assert first.test_set.serial_number == "WECO-2350-118"
    assert first.creep_pulses == 0
    assert first.register_check is not None
    assert first.register_check.reference_kwh == 10.02
    verdicts = [evaluate_test(t).verdict for t in parsed.tests]
    # 0001 in class; 0002 averages (4*102.9+103.4)/5 = 103.0 %; 0003 element C +0.31 on 0.2
    # as found, but as left within class
    assert verdicts == [Verdict.PASS, Verdict.FAIL_IN_SERVICE, Verdict.PASS]
    assert {r.element for r in parsed.tests[2].results} == {"A", "B", "C", "all"}


def test_the_weco_style_export_reads_local_times_and_the_board_calibration() -> None:
    data = (FILES / "weco_board_export.csv").read_bytes()
    assert sniff_layout(data) == "weco-board"
    parsed = parse_test_file(data, file="weco_board_export.csv")
    assert [t.meter_serial for t in parsed.tests] == ["SHOP0004", "SHOP0005", "SHOP0006"]
    # 08:15 CDT = 13:15 UTC
    assert parsed.tests[0].tested_at_utc == dt.datetime(2026, 6, 4, 13, 15, tzinfo=dt.UTC)
    assert parsed.tests[0].test_set == TestSet(
        "WECO-2350-118", dt.date(2026, 1, 10), dt.date(2027, 1, 10), "WECO 2350"
    )
    assert parsed.tests[0].location is TestLocation.SHOP
    slow = evaluate_test(parsed.tests[1])
    assert slow.as_found is not None
    assert slow.as_found.average_registration_pct == pytest.approx((4 * 97.2 + 96.1) / 5)
    assert slow.verdict is Verdict.FAIL_IN_SERVICE
    assert slow.as_left is not None
    assert slow.as_left.within_class
    poly = evaluate_test(parsed.tests[2])
    assert poly.as_found is not None
    assert poly.as_found.average_registration_pct == pytest.approx((4 * 100.18 + 100.05) / 5)


def test_bad_rows_are_all_reported_with_file_line_and_field() -> None:
    issues = issues_of((FILES / "bad_rows.csv").read_bytes(), "bad_rows.csv")
    located = {(i.line, i.field, i.code) for i in issues}
    assert located == {
        (3, "registration_pct", "meter_shop.not_a_number"),
        (4, "form", "meter_shop.unknown_value"),
        (5, "tested_at_utc", "meter_shop.test_set_out_of_calibration"),
    }
    assert all(i.file == "bad_rows.csv" for i in issues)
    assert "7S" in next(str(i) for i in issues if i.line == 4)


def test_a_file_with_one_bad_row_is_refused_whole() -> None:
    good = (FILES / "shop_tests.csv").read_bytes()
    bad = good.replace(b"as_found,PF,all,100.21", b"as_found,PF,all,")
    issues = issues_of(bad)
    assert [(i.line, i.field, i.code) for i in issues] == [
        (4, "registration_pct", "meter_shop.required")
    ]


def test_rows_of_one_test_must_agree() -> None:
    good = (FILES / "shop_tests.csv").read_bytes().decode()
    lines = good.splitlines()
    lines[2] = lines[2].replace("tech7", "tech8")
    issues = issues_of("\n".join(lines).encode())
    assert [(i.line, i.field, i.code) for i in issues] == [
        (3, "technician", "meter_shop.inconsistent_test")
    ]


def test_a_duplicate_point_and_an_element_the_form_lacks_are_refused() -> None:
    lines = (FILES / "shop_tests.csv").read_bytes().decode().splitlines()
    dup = [*lines[:3], lines[2]]
    assert [(i.line, i.code) for i in issues_of("\n".join(dup).encode())] == [
        (4, "meter_shop.duplicate_point")
    ]
    wrong = [lines[0], lines[1].replace(",FL,all,", ",FL,C,")]
    assert [(i.line, i.field, i.code) for i in issues_of("\n".join(wrong).encode())] == [
        (2, "element", "meter_shop.unknown_element")
    ]


def test_a_weco_export_with_an_expired_board_is_refused() -> None:
    data = (FILES / "weco_board_export.csv").read_bytes().replace(b"01/10/2027", b"05/31/2026")
    issues = issues_of(data)
    assert {(i.line, i.field, i.code) for i in issues} == {
        (line, "Date", "meter_shop.test_set_out_of_calibration") for line in (8, 9, 10)
    }


def test_a_weco_export_with_bad_cells_names_the_column() -> None:
    data = (FILES / "weco_board_export.csv").read_bytes()
    data = data.replace(b"97.20,96.10", b"97.20,9610").replace(
        b"CL200,0.5,99.91", b"CL250,0.5,99.91"
    )
    issues = issues_of(data)
    assert {(i.line, i.field, i.code) for i in issues} == {
        (8, "Class", "meter_shop.unknown_value"),
        (9, "AF LL", "meter_shop.registration_out_of_range"),
    }


def test_an_unknown_layout_and_a_wrong_header_are_refused() -> None:
    assert issues_of(b"serial;date;fl\n")[0].code == "meter_shop.unknown_layout"
    header_issue = issues_of(b"meter_serial,tested_at_utc,location,color\n")[0]
    assert header_issue.code == "meter_shop.header"
    assert "color" in header_issue.message


def test_the_same_bytes_have_the_same_hash_and_a_change_changes_it() -> None:
    data = (FILES / "shop_tests.csv").read_bytes()
    one = parse_test_file(data, file="a.csv")
    two = parse_test_file(data, file="b.csv")
    three = parse_test_file(data.replace(b"100.12", b"100.13"), file="a.csv")
    assert one.sha256 == two.sha256 != three.sha256


TS = TestSet("TS-9", dt.date(2026, 1, 1), dt.date(2026, 12, 31))
serials = st.text("ABCDEFGHJK0123456789", min_size=4, max_size=12)
registration = st.floats(min_value=80.0, max_value=120.0, allow_nan=False).map(
    lambda x: round(x, 3)
)


@st.composite
def accuracy_tests(draw: st.DrawFn) -> AccuracyTest:
    form = draw(st.sampled_from(["2S", "12S", "9S"]))
    elements = {"2S": ["all"], "12S": ["all", "A", "B"], "9S": ["all", "A", "B", "C"]}[form]
    keys = draw(
        st.lists(
            st.tuples(
                st.sampled_from(list(Stage)),
                st.sampled_from(list(TestPoint)),
                st.sampled_from(elements),
            ),
            min_size=1,
            max_size=8,
            unique=True,
        )
    )
    minute = draw(st.integers(0, 364 * 24 * 60))
    return AccuracyTest(
        meter_serial=draw(serials),
        tested_at_utc=dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=minute),
        test_set=TS,
        location=draw(st.sampled_from(list(TestLocation))),
        technician=draw(st.sampled_from(["t1", "bench 2", "Ana, M."])),
        form=form,
        current_class=draw(st.sampled_from(["CL20", "CL200", "CL320"])),
        accuracy_class=draw(st.sampled_from(["0.1", "0.2", "0.5", "1.0"])),
        results=tuple(PointResult(s, p, e, draw(registration)) for s, p, e in keys),
        creep_pulses=draw(st.none() | st.integers(0, 5)),
        reason=draw(st.sampled_from(["routine", "complaint"])),
    )


@settings(max_examples=60)
@given(
    tests=st.lists(
        accuracy_tests(),
        min_size=1,
        max_size=4,
        unique_by=lambda t: (t.meter_serial, t.tested_at_utc),
    )
)
def test_writing_then_reading_the_csv_gives_the_same_tests(tests: list[AccuracyTest]) -> None:
    parsed = parse_test_file(write_test_csv(tests), file="roundtrip.csv")
    assert list(parsed.tests) == tests


@settings(max_examples=60)
@given(junk=st.binary(max_size=300))
def test_arbitrary_bytes_are_read_or_refused_but_never_crash(junk: bytes) -> None:
    for prefix in (b"", b"meter_serial,", b"Test Board,x\n"):
        try:
            parse_test_file(prefix + junk, file="junk")
        except TestFileRefusedError as error:
            assert error.issues  # noqa: PT017 - either outcome is fine, a crash is not
