"""In-service sampling: plan tables, lot decisions by hand, seeded draws, invariants."""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meterops.errors import InvalidInputError, MissingColumnsError
from meterops.meter_shop.sampling import (
    LOT_RESULTS,
    FixedPercentagePlan,
    SampleSize,
    VariablesPlan,
    assign_lots,
    decide_lot,
    draw_samples,
    judge_lots,
    lot_results,
    replacement_list,
    sample_size,
    z19_code_letter,
)

Z19 = VariablesPlan(aql_pct=2.5)


LotSpec = Mapping[tuple[str, str, str | None, int], int]


def fleet(spec: LotSpec) -> pl.DataFrame:
    rows = []
    meter_id = 1
    for (vendor, model, firmware, year), count in spec.items():
        for _ in range(count):
            rows.append((meter_id, f"S{meter_id:06d}", vendor, model, firmware, year))
            meter_id += 1
    return pl.DataFrame(
        rows,
        schema={
            "meter_id": pl.Int64,
            "serial_number": pl.String,
            "vendor": pl.String,
            "model": pl.String,
            "firmware_revision": pl.String,
            "install_year": pl.Int32,
        },
        orient="row",
    )


@pytest.mark.parametrize(
    ("lot_size", "letter"),
    [
        (2, "B"),
        (15, "B"),
        (16, "C"),
        (50, "D"),
        (51, "E"),
        (100, "F"),
        (151, "G"),
        (400, "H"),
        (401, "I"),
        (501, "J"),
        (1200, "J"),
        (1201, "K"),
        (20000, "M"),
    ],
)
def test_code_letters_follow_the_level_ii_table(lot_size: int, letter: str) -> None:
    assert z19_code_letter(lot_size) == letter


@pytest.mark.parametrize(
    ("lot_size", "aql", "n", "k"),
    [
        (100, 2.5, 10, 1.41),  # F
        (40, 1.0, 5, 1.53),  # D
        (300, 4.0, 20, 1.33),  # H
        (1000, 0.65, 30, 2.00),  # J
        (200, 6.5, 15, 1.09),  # G
    ],
)
def test_sample_sizes_and_k_match_the_published_table(
    lot_size: int, aql: float, n: int, k: float
) -> None:
    size = sample_size(VariablesPlan(aql_pct=aql), lot_size)
    assert (size.n, size.k) == (n, k)


def test_a_letter_without_a_plan_at_the_aql_moves_to_the_next_letter() -> None:
    # Letter B has no plan at AQL 1.0; C (n = 4, k = 1.45) is the first below it.
    assert sample_size(VariablesPlan(aql_pct=1.0), 10) == SampleSize(10, 4, "C", 1.45)
    # Lots above 1,200 at AQL 2.5 % (no public K-P plan there) use letter J.
    assert sample_size(Z19, 5000) == SampleSize(5000, 30, "J", 1.55)
    with pytest.raises(InvalidInputError, match="AQL 3"):
        sample_size(VariablesPlan(aql_pct=3.0), 100)


def test_a_sample_is_never_larger_than_the_lot() -> None:
    assert sample_size(VariablesPlan(aql_pct=0.65), 3).n == 3  # D plan, n = 5 > lot
    assert sample_size(FixedPercentagePlan(min_sample=10), 4).n == 4


def test_variables_decision_by_hand() -> None:
    size = sample_size(Z19, 100)  # n = 10, k = 1.41
    spread = [-2.0, -1.5, -1.0, -0.5, 0.0, 0.0, 0.5, 1.0, 1.5, 2.0]  # s = sqrt(15/9) = 1.291
    accept = decide_lot([100 + d for d in spread], plan=Z19, size=size)
    assert accept.std_pct == pytest.approx(1.290994, abs=1e-6)
    assert accept.q_upper == pytest.approx(2 / 1.290994, abs=1e-5)  # 1.549 >= 1.41
    assert accept.decision == "accept"
    assert accept.outside_tolerance == 0
    # Same spread, mean +0.3 %: Q_U = 1.7 / 1.291 = 1.317 < 1.41, though every meter is in.
    shifted = decide_lot([100.3 + d for d in spread], plan=Z19, size=size)
    assert shifted.decision == "reject"
    assert shifted.q_lower == pytest.approx(2.3 / 1.290994, abs=1e-5)
    # Spread x1.2: s = 1.549, Q = 1.291 < 1.41.
    wide = decide_lot([100 + 1.2 * d for d in spread], plan=Z19, size=size)
    assert wide.decision == "reject"
    assert wide.outside_tolerance == 2
    assert decide_lot([100.0] * 9, plan=Z19, size=size).decision == "incomplete"
    assert decide_lot([100.5] * 10, plan=Z19, size=size).decision == "accept"  # s = 0
    assert decide_lot([102.5] * 10, plan=Z19, size=size).decision == "reject"


def test_fixed_percentage_decision_by_hand() -> None:
    plan = FixedPercentagePlan(sample_pct=10.0, min_sample=5, max_failing_pct=10.0)
    size = sample_size(plan, 200)
    assert size.n == 20
    two_out = [100.0] * 18 + [97.0, 103.0]  # 10 % failing: accept
    assert decide_lot(two_out, plan=plan, size=size).decision == "accept"
    three_out = [100.0] * 17 + [97.0, 103.0, 102.5]
    assert decide_lot(three_out, plan=plan, size=size).decision == "reject"


def test_lots_group_vendor_model_firmware_and_install_year() -> None:
    lots = assign_lots(
        fleet(
            {
                ("Itron", "Gen5", "3.1", 2019): 3,
                ("Itron", "Gen5", "3.2", 2019): 2,
                ("L+G", "E350", None, 2020): 1,
            }
        )
    )
    assert lots.group_by("lot_key").len().sort("lot_key").rows() == [
        ("Itron|Gen5|3.1|2019", 3),
        ("Itron|Gen5|3.2|2019", 2),
        ("L+G|E350|-|2020", 1),
    ]
    with pytest.raises(MissingColumnsError):
        assign_lots(lots.drop("install_year"))


def test_the_draw_is_seeded_and_each_lot_is_independent_of_the_others() -> None:
    base: dict[tuple[str, str, str | None, int], int] = {
        ("Itron", "Gen5", "3.1", 2019): 300,
        ("Aclara", "I210", "1.0", 2021): 80,
    }
    one = draw_samples(assign_lots(fleet(base)), plan=Z19, seed=2026)
    again = draw_samples(assign_lots(fleet(base)), plan=Z19, seed=2026)
    other = draw_samples(assign_lots(fleet(base)), plan=Z19, seed=2027)
    assert one.equals(again)
    assert not one.equals(other)
    assert one.group_by("lot_key").len().sort("lot_key").rows() == [
        ("Aclara|I210|1.0|2021", 7),
        ("Itron|Gen5|3.1|2019", 20),
    ]
    # Adding a lot leaves the draw of the existing lots alone.
    bigger = draw_samples(
        assign_lots(fleet({("Sensus", "iConA", "2", 2018): 50, **base})), plan=Z19, seed=2026
    )

    def itron(frame: pl.DataFrame) -> list[int]:
        return frame.filter(pl.col("lot_key").str.starts_with("Itron"))["meter_id"].to_list()

    assert itron(bigger) != []
    assert [m - 50 for m in itron(bigger)] == itron(one)


def test_judging_lots_and_the_replacement_list() -> None:
    lots = assign_lots(fleet({("A", "M1", "1", 2019): 100, ("B", "M2", "1", 2020): 100}))
    samples = draw_samples(lots, plan=Z19, seed=1)
    spread = [-2.0, -1.5, -1.0, -0.5, 0.0, 0.0, 0.5, 1.0, 1.5, 2.0]
    values = {"A|M1|1|2019": [100 + d for d in spread], "B|M2|1|2020": [100.3 + d for d in spread]}
    results = samples.with_columns(
        pl.struct("lot_key", "sample_order")
        .map_elements(
            lambda r: values[r["lot_key"]][r["sample_order"] - 1], return_dtype=pl.Float64
        )
        .alias("average_registration_pct")
    ).select("lot_key", "meter_id", "average_registration_pct")
    decisions = judge_lots(lots, results, plan=Z19)
    assert decisions.select("lot_key", "tested", "decision").rows() == [
        ("A|M1|1|2019", 10, "accept"),
        ("B|M2|1|2020", 10, "reject"),
    ]
    replace = replacement_list(lots, decisions)
    assert replace.height == 100
    assert set(replace["lot_key"]) == {"B|M2|1|2020"}
    cohort = lot_results(decisions)
    assert cohort.filter(pl.col("rejected"))["lot_key"].to_list() == ["B|M2|1|2020"]
    assert set(LOT_RESULTS.names) <= set(cohort.columns)
    untested = judge_lots(
        lots,
        results.with_columns(pl.lit(None, pl.Float64).alias("average_registration_pct")),
        plan=Z19,
    )
    assert set(untested["decision"]) == {"incomplete"}


lot_sizes = st.dictionaries(
    st.tuples(
        st.sampled_from(["A", "B"]),
        st.sampled_from(["m1", "m2"]),
        st.sampled_from(["1", "2", None]),
        st.integers(2015, 2024),
    ),
    st.integers(1, 400),
    min_size=1,
    max_size=6,
)


@settings(max_examples=40, deadline=None)
@given(
    spec=lot_sizes,
    seed=st.integers(0, 2**32 - 1),
    plan=st.sampled_from([Z19, VariablesPlan(aql_pct=0.65), FixedPercentagePlan()]),
)
def test_samples_are_distinct_meters_of_their_own_lot_and_of_the_planned_size(
    spec: dict[tuple[str, str, str | None, int], int],
    seed: int,
    plan: VariablesPlan | FixedPercentagePlan,
) -> None:
    lots = assign_lots(fleet(spec))
    samples = draw_samples(lots, plan=plan, seed=seed)
    assert samples["meter_id"].n_unique() == samples.height
    joined = samples.join(lots.select("meter_id", "lot_key"), on="meter_id", suffix="_lot")
    assert (joined["lot_key"] == joined["lot_key_lot"]).all()
    for key, group in samples.group_by("lot_key"):
        lot_size = lots.filter(pl.col("lot_key") == key[0]).height
        assert group.height == sample_size(plan, lot_size).n <= lot_size


@settings(max_examples=80, deadline=None)
@given(
    deviations=st.lists(st.floats(-3.0, 3.0, allow_nan=False), min_size=10, max_size=10),
    factor=st.floats(0.1, 1.0),
)
def test_an_accepted_lot_stays_accepted_when_every_meter_moves_closer_to_100_percent(
    deviations: list[float], factor: float
) -> None:
    size = sample_size(Z19, 100)
    before = decide_lot([100 + d for d in deviations], plan=Z19, size=size)
    after = decide_lot([100 + factor * d for d in deviations], plan=Z19, size=size)
    if before.decision == "accept":
        assert after.decision == "accept"


@settings(max_examples=80, deadline=None)
@given(values=st.lists(st.floats(95.0, 105.0, allow_nan=False), min_size=10, max_size=10))
def test_a_variables_decision_follows_the_quality_indices(values: list[float]) -> None:
    size = sample_size(Z19, 100)
    decision = decide_lot(values, plan=Z19, size=size)
    assert decision.outside_tolerance == sum(not 98.0 <= round(v, 6) <= 102.0 for v in values)
    if decision.q_upper is not None and decision.q_lower is not None:
        accepted = min(decision.q_upper, decision.q_lower) >= 1.41
        assert (decision.decision == "accept") is accepted
