"""Cohort analysis: the exact tail, the FDR correction and a planted cohort."""

from __future__ import annotations

import datetime as dt
import itertools
import math

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from meterops.diagnostics.cohorts import (
    benjamini_hochberg,
    binomial_tail,
    find_cohorts,
    latest_collectors,
    read_meter_list,
)
from meterops.errors import ValidationReportError
from tests.diagnostics import frames as f


@given(st.integers(1, 60), st.integers(0, 60), st.floats(0.01, 0.99))
def test_the_binomial_tail_matches_the_direct_sum(n: int, x: int, p: float) -> None:
    x = min(x, n)
    direct = sum(math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(x, n + 1))
    assert math.isclose(binomial_tail(x, n, p), min(1.0, direct), rel_tol=1e-9, abs_tol=1e-12)


@given(st.lists(st.floats(0, 1), min_size=1, max_size=30))
def test_q_values_are_at_least_the_p_values_and_keep_their_order(p: list[float]) -> None:
    q = benjamini_hochberg(p)
    assert all(qi >= pi - 1e-12 for qi, pi in zip(q, p, strict=True))
    ranked = sorted(range(len(p)), key=lambda k: p[k])
    assert all(q[a] <= q[b] + 1e-12 for a, b in itertools.pairwise(ranked))


def test_a_planted_firmware_and_program_cohort_is_found_and_ranked_first() -> None:
    n = 400
    firmware = ["4.2.17" if i < 50 else "5.0.1" for i in range(n)]
    program = ["TOU-B" if i < 50 else ("TOU" if i % 2 else "STD") for i in range(n)]
    meters = f.meters(n, firmware_revision=firmware, program_code=program)
    # 40 of the 50 cohort meters have high bills, and 6 of the other 350 meters.
    hit = list(range(1, 41)) + list(range(100, 400, 50))
    flagged = pl.DataFrame({"meter_id": hit, "kind": ["high_bill"] * len(hit)})
    out = find_cohorts(flagged, meters, min_size=10)
    top = out.row(0, named=True)
    assert top["significant"]
    assert top["attribute"] in (
        "firmware_revision",
        "program_code",
        "firmware_revision × program_code",
    )
    assert top["cohort_exceptions"] == 40
    assert top["cohort_meters"] == 50
    # The fleet's other values are not over-represented.
    others = out.filter(pl.col("value").str.contains("5.0.1"))
    assert not others["significant"].any()


def test_small_cohorts_are_not_tested() -> None:
    meters = f.meters(20, model=["Rare"] * 3 + ["Common"] * 17)
    flagged = pl.DataFrame({"meter_id": [1, 2, 3], "kind": ["tamper"] * 3})
    out = find_cohorts(flagged, meters, min_size=5)
    assert "Rare" not in out["value"].to_list()


def test_a_planted_installer_and_collector_stand_out_and_missing_attributes_are_skipped() -> None:
    n = 300
    installer = ["T0007" if i < 30 else f"T{i % 9:04d}" for i in range(n)]
    collector = ["COL-9" if i % 10 == 0 else "COL-1" for i in range(n)]
    meters = f.meters(n).with_columns(
        pl.Series("installer", installer), pl.Series("collector_code", collector)
    )
    # 24 of installer T0007's 30 meters have hot sockets, and 3 of the other 270.
    hit = [*range(1, 25), 100, 200, 250]
    flagged = pl.DataFrame({"meter_id": hit, "kind": ["hot_socket"] * len(hit)})
    out = find_cohorts(flagged, meters, min_size=10)
    top = out.row(0, named=True)
    assert (top["attribute"], top["value"], top["cohort_exceptions"]) == ("installer", "T0007", 24)
    assert top["significant"]
    # the frame has no lot_number or install_month: those attributes are not tested
    assert not {"lot_number", "install_month"} & set(out["attribute"])
    assert "collector_code" in set(out["attribute"])


def test_latest_collectors_take_each_meters_last_named_collector() -> None:
    t = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    comm = pl.DataFrame(
        {
            "meter_id": [2, 1, 1, 1],
            "period_start_utc": [t, t + dt.timedelta(days=2), t, t + dt.timedelta(days=3)],
            "collector_code": ["C3", "C2", "C1", None],
        }
    )
    assert sorted(latest_collectors(comm).rows()) == [(1, "C2"), (2, "C3")]


def test_a_meter_list_reads_plain_lines_and_csv_with_a_serial_column() -> None:
    plain = read_meter_list("# May complaints\nM1\n\nM2, extra\nM1\n", name="m.txt")
    assert (plain.serials, plain.lines) == (("M1", "M2"), (2, 4))
    table = read_meter_list("account,Serial_Number\nA1,M9\nA2,M8\n", name="c.csv")
    assert (table.serials, table.lines) == (("M9", "M8"), (2, 3))


def test_a_meter_list_row_without_a_serial_is_refused_with_file_line_and_field() -> None:
    with pytest.raises(ValidationReportError) as refused:
        read_meter_list("account,serial_number\nA1,M9\nA2,\n", name="c.csv")
    assert "c.csv, line 3, field 'serial_number': no serial number" in str(refused.value)
    with pytest.raises(ValidationReportError, match="names no meter"):
        read_meter_list("# nothing\n\n", name="empty.txt")


@given(st.lists(st.from_regex(r"[A-Z][A-Z0-9]{0,9}", fullmatch=True), min_size=1, max_size=30))
def test_a_meter_list_keeps_every_serial_once_in_file_order(serials: list[str]) -> None:
    text = "serial_number\n" + "\n".join(serials) + "\n"
    listed = read_meter_list(text, name="x.csv")
    assert listed.serials == tuple(dict.fromkeys(serials))
    assert all(serials[line - 2] == s for s, line in zip(listed.serials, listed.lines, strict=True))
