"""Stopping criteria for the solver: small callables under one Protocol.

In the style of PyVRP's ``pyvrp/stop/``: the search calls the criterion once per iteration with
the best cost so far and stops when it answers ``True``. The criteria here are stateful (a
runtime clock starts at the first call), so each solve needs an unstarted one; :meth:`fresh`
returns one and :meth:`scaled` one with a share of the budget (the decomposition gives each
territory its share). Combine criteria with ``|`` (stop when any says so).

Pure module: standard library only; it must not import ``pyvrp`` (the solver accepts any
callable of this shape), ``meterops.db``, ``models``, ``web``, ``cli`` or ``config``.
"""

from __future__ import annotations

import math
import time
from typing import Protocol, runtime_checkable

from meterops.errors import InvalidInputError

__all__ = [
    "AnyOf",
    "MaxIterations",
    "MaxRuntime",
    "NoImprovement",
    "StoppingCriterion",
    "runtime_budget_s",
]


@runtime_checkable
class StoppingCriterion(Protocol):
    """Decides when the search stops."""

    def __call__(self, best_cost: float) -> bool:
        """Whether to stop now, given the best cost found so far."""
        ...

    def fresh(self) -> StoppingCriterion:
        """An unstarted copy with the same limits."""
        ...

    def scaled(self, factor: float) -> StoppingCriterion:
        """An unstarted copy whose runtime and iteration budgets are multiplied by ``factor``."""
        ...


class _Combinable:
    __slots__ = ()

    def __or__(self, other: StoppingCriterion) -> AnyOf:
        first: StoppingCriterion = self  # type: ignore[assignment]
        return AnyOf(first, other)


class MaxRuntime(_Combinable):
    """Stop after a wall-clock budget, counted from the first call.

    Args:
        seconds: The budget [s], >= 0.
    """

    __slots__ = ("_started", "seconds")

    def __init__(self, seconds: float) -> None:
        if not (seconds >= 0 and math.isfinite(seconds)):
            raise InvalidInputError(
                f"MaxRuntime needs a finite budget >= 0 s, got {seconds}",
                code="routing.invalid_stop",
            )
        self.seconds = float(seconds)
        self._started: float | None = None

    def __call__(self, best_cost: float) -> bool:
        """Whether the budget is spent."""
        now = time.perf_counter()
        if self._started is None:
            self._started = now
        return now - self._started >= self.seconds

    def fresh(self) -> MaxRuntime:
        """An unstarted copy."""
        return MaxRuntime(self.seconds)

    def scaled(self, factor: float) -> MaxRuntime:
        """An unstarted copy with ``factor`` times the budget."""
        return MaxRuntime(self.seconds * max(factor, 0.0))

    def __repr__(self) -> str:
        return f"MaxRuntime({self.seconds:g})"


class MaxIterations(_Combinable):
    """Stop after a number of iterations.

    Args:
        iterations: The budget, >= 0.
    """

    __slots__ = ("_done", "iterations")

    def __init__(self, iterations: int) -> None:
        if iterations < 0:
            raise InvalidInputError(
                f"MaxIterations needs a budget >= 0, got {iterations}",
                code="routing.invalid_stop",
            )
        self.iterations = int(iterations)
        self._done = 0

    def __call__(self, best_cost: float) -> bool:
        """Whether the iterations are used up."""
        self._done += 1
        return self._done > self.iterations

    def fresh(self) -> MaxIterations:
        """An unstarted copy."""
        return MaxIterations(self.iterations)

    def scaled(self, factor: float) -> MaxIterations:
        """An unstarted copy with ``factor`` times the iterations (at least one)."""
        return MaxIterations(max(1, round(self.iterations * factor)))

    def __repr__(self) -> str:
        return f"MaxIterations({self.iterations})"


class NoImprovement(_Combinable):
    """Stop when the best cost has not improved for some iterations.

    Args:
        iterations: Iterations without improvement that end the search, >= 1.
    """

    __slots__ = ("_best", "_stale", "iterations")

    def __init__(self, iterations: int) -> None:
        if iterations < 1:
            raise InvalidInputError(
                f"NoImprovement needs at least 1 iteration, got {iterations}",
                code="routing.invalid_stop",
            )
        self.iterations = int(iterations)
        self._best = math.inf
        self._stale = 0

    def __call__(self, best_cost: float) -> bool:
        """Whether the best cost has been stale for too long."""
        if best_cost < self._best:
            self._best = best_cost
            self._stale = 0
        else:
            self._stale += 1
        return self._stale >= self.iterations

    def fresh(self) -> NoImprovement:
        """An unstarted copy."""
        return NoImprovement(self.iterations)

    def scaled(self, factor: float) -> NoImprovement:
        """An unstarted copy (patience does not scale with the share of the budget)."""
        return NoImprovement(self.iterations)

    def __repr__(self) -> str:
        return f"NoImprovement({self.iterations})"


class AnyOf(_Combinable):
    """Stop as soon as any of the criteria says so (every criterion is called each time).

    Args:
        criteria: One or more criteria.
    """

    __slots__ = ("criteria",)

    def __init__(self, *criteria: StoppingCriterion) -> None:
        if not criteria:
            raise InvalidInputError(
                "AnyOf needs at least one criterion", code="routing.invalid_stop"
            )
        flat: list[StoppingCriterion] = []
        for criterion in criteria:
            flat.extend(criterion.criteria if isinstance(criterion, AnyOf) else (criterion,))
        self.criteria: tuple[StoppingCriterion, ...] = tuple(flat)

    def __call__(self, best_cost: float) -> bool:
        """Whether any criterion is met (all are advanced, so their clocks stay consistent)."""
        answers = [criterion(best_cost) for criterion in self.criteria]
        return any(answers)

    def fresh(self) -> AnyOf:
        """Unstarted copies of every criterion."""
        return AnyOf(*(criterion.fresh() for criterion in self.criteria))

    def scaled(self, factor: float) -> AnyOf:
        """Every criterion scaled by ``factor``."""
        return AnyOf(*(criterion.scaled(factor) for criterion in self.criteria))

    def __repr__(self) -> str:
        return " | ".join(repr(criterion) for criterion in self.criteria)


def runtime_budget_s(stop: StoppingCriterion) -> float | None:
    """The wall-clock budget of a criterion, when it has one [s]."""
    if isinstance(stop, MaxRuntime):
        return stop.seconds
    if isinstance(stop, AnyOf):
        budgets = [b for c in stop.criteria if (b := runtime_budget_s(c)) is not None]
        return min(budgets) if budgets else None
    return None
