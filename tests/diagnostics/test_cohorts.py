"""Cohort analysis: the exact tail, the FDR correction and a planted cohort."""

from __future__ import annotations

import itertools
import math

import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from meterops.diagnostics.cohorts import benjamini_hochberg, binomial_tail, find_cohorts
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
