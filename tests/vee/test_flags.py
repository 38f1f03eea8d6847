import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from meterops.vee.flags import EXCLUDE_FROM_BILLING, FLAGS, flag_mask, flag_names, has_flag_expr

# The assigned bits are a public contract: a bit once given never changes meaning.
PINNED = {
    "SOURCE_ESTIMATED": 0,
    "SOURCE_EDITED": 1,
    "SOURCE_SUSPECT": 2,
    "POWER_OUTAGE": 3,
    "PARTIAL_INTERVAL": 4,
    "CLOCK_CHANGED": 5,
    "TEST_MODE": 6,
    "SOURCE_MISSING": 7,
    "LATE": 8,
    "ESTIMATED": 24,
    "EDITED": 25,
}


def test_bits_are_unique_and_fit_in_32_bits() -> None:
    bits = [f.bit for f in FLAGS.values()]
    assert len(bits) == len(set(bits))
    assert all(0 <= b < 32 for b in bits)


def test_pinned_bits_never_move() -> None:
    for name, bit in PINNED.items():
        assert FLAGS[name].bit == bit


def test_flags_excluded_from_billing_exist() -> None:
    assert set(FLAGS) >= EXCLUDE_FROM_BILLING


@given(st.sets(st.sampled_from(sorted(FLAGS))))
def test_mask_and_names_round_trip(names: set[str]) -> None:
    assert set(flag_names(flag_mask(names))) == names


def test_an_unknown_flag_name_lists_the_known_ones() -> None:
    with pytest.raises(KeyError, match="known flags"):
        flag_mask(["NOT_A_FLAG"])


def test_flag_expression_tests_the_bit() -> None:
    frame = pl.DataFrame(
        {"quality_flags": [0, FLAGS["LATE"].mask, 0xFFFF_FFFF]}, schema={"quality_flags": pl.UInt32}
    )
    assert frame.select(has_flag_expr("LATE")).to_series().to_list() == [False, True, True]
