"""The benchmark harness: figures with a baseline measured in the same run.

Each ``benchmarks/bench_<area>.py`` module defines ``run(ctx: BenchContext) -> list[Figure]``.
``python -m benchmarks`` (``make bench``) runs them all (or those named on the command line)
and prints one table. A figure compares the system's number with a baseline measured in the
same run (a naive implementation, a reference solver, the first run), so the ratio is
meaningful on any machine. Timings are never asserted in tests; goals are printed, not enforced.
"""

from __future__ import annotations

import gc
import os
import platform
import resource
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["BenchContext", "Figure", "peak_rss_mb", "timed"]


@dataclass(frozen=True, slots=True)
class Figure:
    """One measured figure.

    Attributes:
        area: Capability, e.g. ``"fleet import"``.
        name: What was measured, e.g. ``"100,000 meters + SPs + accounts"``.
        value: The measured number.
        unit: Its unit, e.g. ``"rows/s"``, ``"s"``, ``"%"``.
        baseline: The same quantity for the baseline, measured in the same run.
        baseline_name: What the baseline is.
        goal: The goal in words, e.g. ``">= 50 M reads/s"``.
        met: Whether the goal is met (None when there is no goal).
        note: Anything a reader needs (sizes, hardware, parameters).
    """

    area: str
    name: str
    value: float
    unit: str
    baseline: float | None = None
    baseline_name: str | None = None
    goal: str | None = None
    met: bool | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        """value / baseline, when a baseline exists and is non-zero."""
        if self.baseline in (None, 0):
            return None
        assert self.baseline is not None
        return self.value / self.baseline


@dataclass(slots=True)
class BenchContext:
    """What a benchmark module receives.

    Attributes:
        workdir: A fresh scratch folder for this module.
        shared_data: ``../shared/data`` when present (real public files), else None.
        quick: True for a reduced-size smoke run (``make bench QUICK=1``).
        extras: Free-form options from the command line.
    """

    workdir: Path
    shared_data: Path | None
    quick: bool = False
    extras: dict[str, Any] = field(default_factory=dict)

    def scale(self, full: int, quick: int) -> int:
        """Pick a problem size for the run mode."""
        return quick if self.quick else full


@contextmanager
def timed() -> Iterator[Callable[[], float]]:
    """Measure wall time of a block: ``with timed() as elapsed: ...; seconds = elapsed()``."""
    gc.collect()
    start = time.perf_counter()
    end: list[float] = []
    yield lambda: (end[0] if end else time.perf_counter()) - start
    end.append(time.perf_counter())


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far. [MB]"""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def machine_description() -> str:
    """One line about the machine the figures come from."""
    return (
        f"{platform.machine()} · {os.cpu_count()} CPU · Python {platform.python_version()} · "
        f"{platform.system()} {platform.release()}"
    )
