"""The Python entry point: simulate a range of days and get frames plus the ground truth.

``simulate_days(small_town(seed=7), days=3)`` builds the world, generates the days in order
and returns their ``PARSED_*`` frames and the ground truth of the faults that touch them, so
tests and benchmarks need no files. Pass a :class:`~meterops.simulator.world.World` instead
of a scenario to continue one (after technician actions, say).

Pure module: standard library, polars and meterops.simulator; must not import
``meterops.db``, ``models``, ``web``, ``cli`` or ``config``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from meterops.simulator.days import DayOutput
from meterops.simulator.params import Scenario
from meterops.simulator.world import World

__all__ = ["SimulationResult", "ground_truth_between", "simulate_days"]

FRAME_NAMES = (
    "interval_reads",
    "register_reads",
    "events",
    "comm_stats",
    "topology",
    "collector_status",
)
"""The frames of a :class:`DayOutput`."""


@dataclass(frozen=True, slots=True)
class SimulationResult:
    """Simulated days and their ground truth.

    Attributes:
        world: The world (state after the last day).
        days: One output per local day, in order.
        ground_truth: Faults that overlap the simulated days (see ``faults.ground_truth_frame``).
    """

    world: World
    days: tuple[DayOutput, ...]
    ground_truth: pl.DataFrame

    def frame(self, name: str) -> pl.DataFrame:
        """One of the frames (``interval_reads``, ``events`` …) over all days.

        ``source_line`` keeps each day's own numbering.
        """
        if name not in FRAME_NAMES:
            msg = f"unknown frame {name!r}; expected one of {list(FRAME_NAMES)}"
            raise ValueError(msg)
        frame = pl.concat([getattr(d, name) for d in self.days], rechunk=False)
        assert isinstance(frame, pl.DataFrame)
        return frame


def ground_truth_between(frame: pl.DataFrame, start: dt.datetime, end: dt.datetime) -> pl.DataFrame:
    """Ground-truth rows whose fault overlaps ``[start, end)``.

    Args:
        frame: Ground truth (``start_utc``, ``end_utc`` null while it lasts).
        start: Window start (aware).
        end: Window end (aware).

    Returns:
        The overlapping rows.
    """
    return frame.filter(
        (pl.col("start_utc") < end) & (pl.col("end_utc").is_null() | (pl.col("end_utc") > start))
    )


def simulate_days(
    scenario: Scenario | World,
    *,
    days: int,
    first_day: int = 0,
    workers: int = 1,
    on_day: Callable[[DayOutput], None] | None = None,
    keep: bool = True,
    sink: Callable[[pl.DataFrame], None] | None = None,
) -> SimulationResult:
    """Simulate ``days`` local days from day ``first_day`` of the scenario.

    Args:
        scenario: A scenario (a world is built from it) or a world to continue.
        days: Number of days.
        first_day: Index of the first day (0 = the scenario's ``start``).
        workers: Threads per day (results do not depend on it).
        on_day: Called with each day's output as it is made (progress, writing files).
        keep: Keep every day's output in the result (False for long, large runs).
        sink: Takes the interval reads chunk by chunk instead of the days keeping them.

    Returns:
        The days and the ground truth of the faults that overlap them.
    """
    world = scenario if isinstance(scenario, World) else World(scenario, keep_days=1)
    outputs: list[DayOutput] = []
    for output in world.iter_days(first_day, days, workers=workers, sink=sink):
        if on_day is not None:
            on_day(output)
        if keep:
            outputs.append(output)
    zone = world.zone
    start = dt.datetime.combine(world.date_of(first_day), dt.time(0), tzinfo=zone)
    end = dt.datetime.combine(world.date_of(first_day + days), dt.time(0), tzinfo=zone)
    truth = ground_truth_between(
        world.ground_truth(), start.astimezone(dt.UTC), end.astimezone(dt.UTC)
    )
    return SimulationResult(world, tuple(outputs), truth)
