"""The variables-plan tables against the published tables and against theory.

Published values, transcribed here as test data (sources in ``meter_shop/sampling.py``):

* ANSI/ASQ Z1.9 Table B-1 (standard-deviation method, normal inspection, Form 1) as transcribed
  by M. Casquilho (IST Lisbon): rows B-P, AQL 0.065-1.5 % for all letters, AQL 2.5-10 % and the
  producer's risk column for B-F;
* MIL-STD-414 Table B-1 letter J (n = 30), the module's letter J;
* ANSI/ASQ Z1.9-2008 Table A-2, general inspection level II.

The theory check: for a plan (n, k) the producer's risk 1 − Pa at the AQL
(:func:`producer_risk_pct`) is, by design, the same for every AQL of a code letter (the
published risk column: B 11 %, C-F 10 %, …). A transcription slip in k or n breaks that.
"""

from __future__ import annotations

import itertools
import statistics

import pytest

from meterops.meter_shop.sampling import (
    Z19_K,
    Z19_SAMPLE_SIZES,
    SampleSize,
    VariablesPlan,
    producer_risk_pct,
    sample_size,
    z19_code_letter,
)

Z19_AQLS = (0.065, 0.10, 0.15, 0.25, 0.40, 0.65, 1.0, 1.5)
# Z1.9 Table B-1, left half: letter -> (n, k per AQL in Z19_AQLS; None = arrow)
Z19_B1: dict[str, tuple[int, tuple[float | None, ...]]] = {
    "B": (3, (None, None, None, None, None, None, None, None)),
    "C": (4, (None, None, None, None, None, None, 1.45, 1.34)),
    "D": (5, (None, None, None, None, None, 1.65, 1.53, 1.40)),
    "E": (7, (None, None, None, 2.00, 1.88, 1.75, 1.62, 1.50)),
    "F": (10, (None, None, 2.24, 2.11, 1.98, 1.84, 1.72, 1.58)),
    "G": (15, (2.53, 2.42, 2.32, 2.20, 2.06, 1.91, 1.79, 1.65)),
    "H": (20, (2.58, 2.47, 2.36, 2.24, 2.11, 1.96, 1.82, 1.69)),
    "I": (25, (2.61, 2.50, 2.40, 2.26, 2.14, 1.98, 1.85, 1.72)),
    "J": (35, (2.65, 2.54, 2.45, 2.31, 2.18, 2.03, 1.89, 1.76)),
    "K": (50, (2.71, 2.60, 2.50, 2.35, 2.22, 2.08, 1.93, 1.80)),
    "L": (75, (2.77, 2.66, 2.55, 2.41, 2.27, 2.12, 1.98, 1.84)),
    "M": (100, (2.80, 2.69, 2.58, 2.43, 2.29, 2.14, 2.00, 1.86)),
    "N": (150, (2.84, 2.73, 2.61, 2.47, 2.33, 2.18, 2.03, 1.89)),
    "P": (200, (2.85, 2.73, 2.62, 2.47, 2.33, 2.18, 2.04, 1.89)),
}
# Z1.9 Table B-1, right half for B-F: k at AQL 2.5, 4, 6.5, 10 and the producer's risk [%]
Z19_B1_RIGHT = {
    "B": ((1.12, 0.958, 0.765, 0.566), 11),
    "C": ((1.17, 1.01, 0.814, 0.617), 10),
    "D": ((1.24, 1.07, 0.874, 0.675), 10),
    "E": ((1.33, 1.15, 0.955, 0.755), 10),
    "F": ((1.41, 1.23, 1.03, 0.828), 10),
}
MIL414_J = (30, {0.65: 2.00, 1.0: 1.86, 1.5: 1.73, 2.5: 1.55, 4.0: 1.36, 6.5: 1.15, 10.0: 0.946})


def test_the_module_table_is_the_published_one() -> None:
    for letter, (n, ks) in Z19_B1.items():
        published = {a: k for a, k in zip(Z19_AQLS, ks, strict=True) if k is not None}
        size = n
        if letter == "J":
            size, published = MIL414_J[0], {a: MIL414_J[1][a] for a in (0.65, 1.0, 1.5)}
        assert Z19_SAMPLE_SIZES[letter] == size, letter
        row = Z19_K[letter]
        for aql in (0.65, 1.0, 1.5):
            assert row.get(aql) == published.get(aql), (letter, aql)
    for letter, (ks, _) in Z19_B1_RIGHT.items():
        assert [Z19_K[letter][a] for a in (2.5, 4.0, 6.5, 10.0)] == list(ks), letter
    assert dict(Z19_K["J"]) == MIL414_J[1]
    # above J only AQL 0.65-1.5 % are public
    for letter in "KLMNP":
        assert set(Z19_K[letter]) == {0.65, 1.0, 1.5}


def _risks() -> dict[str, list[float]]:
    risks: dict[str, list[float]] = {}
    for letter, (n, ks) in Z19_B1.items():
        risks[letter] = [
            producer_risk_pct(n, k, a) for a, k in zip(Z19_AQLS, ks, strict=True) if k is not None
        ]
    for letter, (ks, _) in Z19_B1_RIGHT.items():
        n = Z19_B1[letter][0]
        risks[letter] += [
            producer_risk_pct(n, k, a) for a, k in zip((2.5, 4.0, 6.5, 10.0), ks, strict=True)
        ]
    return risks


def test_every_published_k_gives_its_letters_design_risk() -> None:
    risks = _risks()
    design: dict[str, float] = {}
    for letter, values in risks.items():
        design[letter] = statistics.median(values)
        for value in values:
            assert value == pytest.approx(design[letter], abs=0.8), (letter, values)
    # the published risk column (B-F) ...
    for letter, (_, alpha) in Z19_B1_RIGHT.items():
        assert design[letter] == pytest.approx(alpha, abs=0.5), letter
    # ... and a risk that falls as the sample grows, from about 9 % at G to 1 % at P
    tail = [design[x] for x in "GHIJKLMNP"]
    assert all(a > b for a, b in itertools.pairwise(tail))
    assert tail[0] == pytest.approx(9.0, abs=0.5)
    assert tail[-1] == pytest.approx(1.0, abs=0.5)


def test_the_mil_std_414_letter_j_has_the_same_risk_as_z19_letter_j() -> None:
    n, row = MIL414_J
    z19_j = statistics.median(_risks()["J"])
    for aql, k in row.items():
        assert producer_risk_pct(n, k, aql) == pytest.approx(z19_j, abs=0.8), aql


def test_the_theory_check_catches_a_wrong_sample_size_or_k() -> None:
    n, ks = Z19_B1["K"]
    k = ks[Z19_AQLS.index(1.0)]
    assert k is not None
    right = producer_risk_pct(n, k, 1.0)
    # MIL-STD-414's letter K has n = 35; a slip of 0.05 in k
    assert abs(producer_risk_pct(35, k, 1.0) - right) > 0.8
    assert abs(producer_risk_pct(n, k - 0.05, 1.0) - right) > 0.8


@pytest.mark.parametrize(
    ("lot_size", "letter"),
    [
        (8, "B"),
        (9, "B"),
        (25, "C"),
        (26, "D"),
        (90, "E"),
        (91, "F"),
        (150, "F"),
        (280, "G"),
        (281, "H"),
        (500, "I"),
        (3200, "K"),
        (3201, "L"),
        (10000, "L"),
        (10001, "M"),
        (35000, "M"),
        (35001, "N"),
        (150000, "N"),
        (150001, "P"),
        (500001, "P"),
    ],
)
def test_code_letters_follow_z19_table_a2_level_ii(lot_size: int, letter: str) -> None:
    assert z19_code_letter(lot_size) == letter


@pytest.mark.parametrize(
    ("lot_size", "aql", "expected"),
    [
        (1201, 1.0, SampleSize(1201, 50, "K", 1.93)),
        (3200, 0.65, SampleSize(3200, 50, "K", 2.08)),
        (5000, 1.5, SampleSize(5000, 75, "L", 1.84)),
        (20000, 1.0, SampleSize(20000, 100, "M", 2.00)),
        (100000, 1.0, SampleSize(100000, 150, "N", 2.03)),
        (1_000_000, 1.5, SampleSize(1_000_000, 200, "P", 1.89)),
        (1_000_000, 0.65, SampleSize(1_000_000, 200, "P", 2.18)),
        (1200, 1.0, SampleSize(1200, 30, "J", 1.86)),
    ],
)
def test_large_lots_get_the_published_plans(
    lot_size: int, aql: float, expected: SampleSize
) -> None:
    assert sample_size(VariablesPlan(aql_pct=aql), lot_size) == expected


def test_arrow_rule_and_the_j_fallback() -> None:
    # arrows point down: B has no plan at AQL 1.0 (C has), C none at 0.65 (D has)
    assert sample_size(VariablesPlan(aql_pct=1.0), 10) == SampleSize(10, 4, "C", 1.45)
    assert sample_size(VariablesPlan(aql_pct=0.65), 20) == SampleSize(20, 5, "D", 1.65)
    assert sample_size(VariablesPlan(aql_pct=0.65), 3) == SampleSize(3, 3, "D", 1.65)
    # no public plan at AQL 2.5-10 % above J: the letter-J plan
    for aql, k in ((2.5, 1.55), (4.0, 1.36), (6.5, 1.15), (10.0, 0.946)):
        assert sample_size(VariablesPlan(aql_pct=aql), 50_000) == SampleSize(50_000, 30, "J", k)
