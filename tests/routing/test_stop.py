"""Stopping criteria: budgets, patience, combination and fresh copies."""

from __future__ import annotations

import pytest

from meterops.errors import InvalidInputError
from meterops.routing import AnyOf, MaxIterations, MaxRuntime, NoImprovement, StoppingCriterion
from meterops.routing.stop import runtime_budget_s


def test_max_iterations_stops_after_its_budget() -> None:
    stop = MaxIterations(3)
    assert [stop(1.0) for _ in range(4)] == [False, False, False, True]


def test_no_improvement_counts_only_stale_iterations() -> None:
    stop = NoImprovement(2)
    assert [stop(c) for c in (10.0, 9.0, 9.0, 8.0, 8.0, 8.0)] == [
        False,
        False,
        False,
        False,
        False,
        True,
    ]


def test_a_zero_runtime_stops_at_once() -> None:
    assert MaxRuntime(0.0)(1.0) is True
    assert MaxRuntime(3600.0)(1.0) is False


def test_criteria_combine_with_or_and_flatten() -> None:
    stop = MaxIterations(5) | NoImprovement(1) | MaxRuntime(60.0)
    assert isinstance(stop, AnyOf)
    assert len(stop.criteria) == 3
    assert stop(5.0) is False
    assert stop(5.0) is True  # NoImprovement(1) sees a stale best
    assert isinstance(stop, StoppingCriterion)


def test_fresh_and_scaled_copies_start_over_with_their_share() -> None:
    used = MaxIterations(2)
    used(1.0)
    used(1.0)
    assert used(1.0) is True
    assert used.fresh()(1.0) is False
    combined = MaxRuntime(10.0) | MaxIterations(100)
    half = combined.scaled(0.5)
    assert runtime_budget_s(half) == pytest.approx(5.0)
    assert [repr(c) for c in half.criteria] == ["MaxRuntime(5)", "MaxIterations(50)"]
    assert runtime_budget_s(MaxIterations(3)) is None


@pytest.mark.parametrize(
    "make", [lambda: MaxRuntime(-1.0), lambda: MaxIterations(-1), lambda: NoImprovement(0), AnyOf]
)
def test_nonsense_budgets_are_refused(make: object) -> None:
    with pytest.raises(InvalidInputError):
        make()  # type: ignore[operator]
