import itertools

import pytest

from meterops.assets.lifecycle import TRANSITIONS, AssetStatus, check_transition
from meterops.errors import IllegalTransitionError

ALL_MOVES = list(itertools.product(AssetStatus, AssetStatus))
LEGAL = [(a, b) for a, b in ALL_MOVES if b in TRANSITIONS[a]]
ILLEGAL = [(a, b) for a, b in ALL_MOVES if b not in TRANSITIONS[a]]


@pytest.mark.parametrize(("current", "target"), LEGAL)
def test_legal_moves_are_accepted(current: AssetStatus, target: AssetStatus) -> None:
    check_transition("meter M1", current, target)


@pytest.mark.parametrize(("current", "target"), ILLEGAL)
def test_illegal_moves_are_refused_naming_the_allowed_ones(
    current: AssetStatus, target: AssetStatus
) -> None:
    with pytest.raises(IllegalTransitionError) as caught:
        check_transition("meter M1", current, target)
    error = caught.value
    assert error.details["current"] == current.value
    assert error.details["target"] == target.value
    assert error.details["allowed"] == sorted(s.value for s in TRANSITIONS[current])
    assert f"'{current.value}'" in error.message


def test_the_documented_path_from_receipt_to_retirement_is_legal() -> None:
    path = [
        AssetStatus.RECEIVED,
        AssetStatus.IN_STOCK,
        AssetStatus.INSTALLED,
        AssetStatus.REMOVED,
        AssetStatus.IN_SHOP,
        AssetStatus.RETIRED,
    ]
    for current, target in itertools.pairwise(path):
        check_transition("meter M1", current, target)


def test_a_removed_meter_cannot_go_back_to_stock_without_the_shop() -> None:
    with pytest.raises(IllegalTransitionError):
        check_transition("meter M1", AssetStatus.REMOVED, AssetStatus.IN_STOCK)


def test_retired_is_final() -> None:
    assert TRANSITIONS[AssetStatus.RETIRED] == frozenset()
