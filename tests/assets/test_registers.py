import pytest
from hypothesis import given
from hypothesis import strategies as st

from meterops.assets.registers import ReadBelowPreviousError, register_advance
from meterops.errors import InvalidInputError


def test_advance_is_the_difference_of_two_reads() -> None:
    assert register_advance(previous=1200, current=1234.5, digits=5) == 34.5


def test_a_small_decrease_near_the_top_is_a_rollover() -> None:
    assert register_advance(previous=99_990, current=15, digits=5) == 25


def test_a_decrease_that_is_not_a_rollover_is_refused_with_both_reads() -> None:
    with pytest.raises(ReadBelowPreviousError) as caught:
        register_advance(previous=50_000, current=49_000, digits=5, label="final read of M1")
    assert caught.value.details == {"previous": 50_000.0, "current": 49_000.0, "digits": 5}
    assert "final read of M1" in caught.value.message


@pytest.mark.parametrize("bad", [-1.0, 100_000.0])
def test_a_read_that_does_not_fit_the_register_is_refused(bad: float) -> None:
    with pytest.raises(InvalidInputError, match="does not fit a 5-digit register"):
        register_advance(previous=0, current=bad, digits=5)


@given(
    digits=st.integers(min_value=3, max_value=9),
    data=st.data(),
)
def test_advance_is_never_negative_and_wraps_to_the_current_read(
    digits: int, data: st.DataObject
) -> None:
    modulus = 10**digits
    previous = data.draw(st.integers(min_value=0, max_value=modulus - 1))
    step = data.draw(st.integers(min_value=0, max_value=modulus // 2 - 1))
    current = (previous + step) % modulus
    advance = register_advance(previous=previous, current=current, digits=digits)
    assert advance == step
    assert (previous + advance) % modulus == current
