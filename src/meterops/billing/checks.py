"""Checks that separate a meter or billing problem from a change in use.

Each check returns a :class:`Finding` with a stable dotted ``code``, a ``status`` (``ok``,
``problem`` or ``not_checked``), a sentence and JSON-able evidence:

* ``billing.estimation`` — share of the current period's intervals estimated or missing (VEE
  flags); above ``max_estimated_share`` the bill rests on estimates, not on measured use.
* ``billing.tou_program`` — the TOU registers against the buckets computed from the intervals
  with the tariff's schedule (``meterops.determinants``): an ``allocation_shift`` or a
  ``total_mismatch`` means the meter's program bills energy in the wrong periods.
* ``billing.multiplier`` — the billing multiplier: changed between the periods, not a standard
  CT ratio × PT ratio, or billed peak demand beyond what the service transformer can carry.
* ``billing.crossed_meters`` — power outages recorded by the meter against its recorded
  transformer neighbours: a meter that sits on another transformer shares the other one's
  outages, not its neighbours'.
* ``billing.accuracy_test`` — the meter's latest accuracy test (meter shop): as-found average
  registration outside the in-service tolerance, or a failed test.

Pure module: standard library and polars; must not import ``meterops.db``, ``models``,
``web``, ``cli`` or ``config``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

import polars as pl

__all__ = [
    "BILLING_FAILURES",
    "STANDARD_CT_RATIOS",
    "CheckParams",
    "Finding",
    "Status",
    "check_accuracy_test",
    "check_crossed_meters",
    "check_estimation",
    "check_multiplier",
    "check_tou_program",
]

STANDARD_CT_RATIOS: Final = (
    10.0,
    20.0,
    30.0,
    40.0,
    60.0,
    80.0,
    100.0,
    120.0,
    160.0,
    200.0,
    240.0,
    300.0,
    320.0,
    400.0,
    600.0,
    800.0,
    1000.0,
)
"""Standard current-transformer ratios, primary/5 A (IEEE C57.13: 50:5 … 5000:5)."""

BILLING_FAILURES: Final = frozenset({"fail_in_service", "fail_creep", "fail_register"})
"""Meter-shop verdicts that make a bill wrong (a class failure within tolerance does not)."""


class Status(StrEnum):
    """Outcome of a check."""

    OK = "ok"
    PROBLEM = "problem"
    NOT_CHECKED = "not_checked"


@dataclass(frozen=True, slots=True)
class Finding:
    """Result of one check.

    Attributes:
        code: Stable dotted code, e.g. ``billing.tou_program``.
        status: Outcome.
        message: One plain sentence for the technician.
        data: JSON-able evidence.
    """

    code: str
    status: Status
    message: str
    data: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-able finding."""
        return {
            "code": self.code,
            "status": self.status.value,
            "message": self.message,
            "data": dict(self.data),
        }


@dataclass(frozen=True, slots=True)
class CheckParams:
    """Thresholds of the checks.

    Attributes:
        max_estimated_share: Above this share of estimated or missing intervals the bill is
            estimated. [-]
        transformer_overload: Billed peak demand above this multiple of the transformer's
            rating is physically implausible. [-]
        multiplier_tolerance: Relative tolerance when matching standard ratios. [-]
        min_outage_intervals: Fewest neighbourhood outage hours before the meter's location is
            judged.
        min_shared_outage_share: Below this share of its transformer's outage hours seen by the
            meter, the meter is not on its recorded transformer. [-]
        accuracy_low_pct: In-service tolerance, low end. [%]
        accuracy_high_pct: In-service tolerance, high end. [%]
    """

    max_estimated_share: float = 0.10
    transformer_overload: float = 2.0
    multiplier_tolerance: float = 0.005
    min_outage_intervals: int = 2
    min_shared_outage_share: float = 0.5
    accuracy_low_pct: float = 98.0
    accuracy_high_pct: float = 102.0


def check_estimation(
    *,
    estimated_intervals: int,
    missing_intervals: int,
    expected_intervals: int,
    params: CheckParams,
) -> Finding:
    """Share of the period's intervals that are estimated or missing.

    Examples:
        >>> check_estimation(estimated_intervals=500, missing_intervals=0,
        ...                  expected_intervals=2880, params=CheckParams()).status.value
        'problem'
    """
    code = "billing.estimation"
    if expected_intervals <= 0:
        return Finding(code, Status.NOT_CHECKED, "no intervals expected in the period")
    share = (estimated_intervals + missing_intervals) / expected_intervals
    data = {
        "estimated_intervals": estimated_intervals,
        "missing_intervals": missing_intervals,
        "expected_intervals": expected_intervals,
        "estimated_share": round(share, 4),
    }
    text = f"{100 * share:.1f} % of the period's intervals are estimated or missing"
    if share > params.max_estimated_share:
        return Finding(
            code,
            Status.PROBLEM,
            text + f" (limit {100 * params.max_estimated_share:.0f} %): the bill rests on "
            "estimates; re-read the meter before explaining use",
            data,
        )
    return Finding(code, Status.OK, text, data)


def check_tou_program(summary: Mapping[str, Any] | None, *, sentence: str | None = None) -> Finding:
    """The determinants register comparison of the meter over the current period.

    Args:
        summary: The meter's ``METER_REGISTER_SUMMARY`` row (None: not a TOU meter).
        sentence: The determinants' sentence for the row, if any.

    Examples:
        >>> check_tou_program({"status": "allocation_shift", "best_schedule_key": "X"}).status
        <Status.PROBLEM: 'problem'>
    """
    code = "billing.tou_program"
    if summary is None:
        return Finding(code, Status.NOT_CHECKED, "not billed on TOU periods")
    status = str(summary.get("status"))
    data = {
        k: v for k, v in summary.items() if isinstance(v, str | int | float | bool) or v is None
    }
    if status in {"allocation_shift", "total_mismatch"}:
        best = summary.get("best_schedule_key")
        runs = f"; the registers follow program {best}" if best else ""
        return Finding(
            code,
            Status.PROBLEM,
            (sentence or "TOU registers disagree with the tariff")
            + runs
            + ": a program error, not a change in use",
            data,
        )
    if status == "match":
        return Finding(code, Status.OK, sentence or "TOU registers agree with the tariff", data)
    return Finding(code, Status.NOT_CHECKED, sentence or f"register comparison: {status}", data)


def _standard(multiplier: float, pt_ratio: float, tolerance: float) -> bool:
    if abs(multiplier - 1.0) <= tolerance:
        return True
    return any(
        abs(multiplier - ct * pt_ratio) <= tolerance * ct * pt_ratio for ct in STANDARD_CT_RATIOS
    )


def check_multiplier(
    *,
    current_multiplier: float,
    previous_multiplier: float | None,
    pt_ratio: float,
    peak_kw: float,
    transformer_kva: float | None,
    params: CheckParams,
) -> Finding:
    """Is the billing multiplier plausible?

    Args:
        current_multiplier: Multiplier of the current period's meter. [-]
        previous_multiplier: Of the previous period's meter (None: unknown). [-]
        pt_ratio: PT ratio of the current meter. [-]
        peak_kw: Billed (multiplied) peak demand of the current period. [kW]
        transformer_kva: Rating of the service transformer (None: unknown). [kVA]
        params: Thresholds.

    Examples:
        >>> check_multiplier(current_multiplier=53.3, previous_multiplier=53.3, pt_ratio=1,
        ...     peak_kw=80, transformer_kva=150, params=CheckParams()).status.value
        'problem'
    """
    code = "billing.multiplier"
    data: dict[str, Any] = {
        "current_multiplier": current_multiplier,
        "previous_multiplier": previous_multiplier,
        "pt_ratio": pt_ratio,
        "billed_peak_kw": round(peak_kw, 2),
        "transformer_kva": transformer_kva,
    }
    problems: list[str] = []
    if previous_multiplier is not None and abs(current_multiplier - previous_multiplier) > (
        params.multiplier_tolerance * max(previous_multiplier, 1.0)
    ):
        problems.append(
            f"the multiplier changed from {previous_multiplier:g} to {current_multiplier:g} "
            "between the periods"
        )
    if not _standard(current_multiplier, pt_ratio, params.multiplier_tolerance):
        problems.append(
            f"multiplier {current_multiplier:g} is not a standard CT ratio × PT ratio {pt_ratio:g}"
        )
    if transformer_kva and peak_kw > params.transformer_overload * transformer_kva:
        problems.append(
            f"billed peak {peak_kw:.0f} kW exceeds {params.transformer_overload:g} × the "
            f"{transformer_kva:g} kVA transformer"
        )
    if problems:
        return Finding(
            code, Status.PROBLEM, "; ".join(problems) + ": check the CT ratio on site", data
        )
    if current_multiplier == 1.0 and (previous_multiplier in {None, 1.0}):
        return Finding(code, Status.OK, "self-contained meter, multiplier 1", data)
    return Finding(code, Status.OK, f"multiplier {current_multiplier:g} is plausible", data)


def _outage_times(frame: pl.DataFrame) -> set[dt.datetime]:
    return set(frame["interval_start_utc"].to_list())


def check_crossed_meters(
    *,
    meter_outages: pl.DataFrame,
    neighbour_outages: pl.DataFrame,
    neighbours: int,
    params: CheckParams,
) -> Finding:
    """Does the meter lose power with its recorded transformer neighbours?

    Outage evidence is counted per clock hour (``interval_start_utc``): power-loss events and
    ``POWER_OUTAGE`` intervals. An hour is the neighbourhood's outage when at least half the
    neighbours lost power in it. A meter that misses most of its transformer's outages is not
    on that transformer. The meter's own outages that the neighbours did not share are only
    reported (a single meter also loses power alone: a momentary, a pulled meter).

    Args:
        meter_outages: The meter's outage hours (``interval_start_utc``).
        neighbour_outages: The neighbours' (``meter_id``, ``interval_start_utc``).
        neighbours: Number of neighbour meters with reads.
        params: Thresholds.

    Examples:
        >>> import datetime as dt
        >>> t = [dt.datetime(2026, 1, 5, h, tzinfo=dt.UTC) for h in range(3)]
        >>> mine = pl.DataFrame({"interval_start_utc": t[2:]})
        >>> theirs = pl.DataFrame({"meter_id": [2, 3, 2, 3], "interval_start_utc": t[:2] * 2})
        >>> check_crossed_meters(meter_outages=mine, neighbour_outages=theirs, neighbours=2,
        ...                      params=CheckParams()).status.value
        'problem'
    """
    code = "billing.crossed_meters"
    mine = _outage_times(meter_outages)
    theirs_by_time = (
        neighbour_outages.group_by("interval_start_utc").agg(pl.col("meter_id").n_unique())
        if neighbour_outages.height
        else pl.DataFrame(
            schema={"interval_start_utc": pl.Datetime("us", "UTC"), "meter_id": pl.UInt32}
        )
    )
    shared_times = set(
        theirs_by_time.filter(pl.col("meter_id") >= max(1, (neighbours + 1) // 2))[
            "interval_start_utc"
        ].to_list()
    )
    data: dict[str, Any] = {
        "meter_outage_hours": len(mine),
        "neighbourhood_outage_hours": len(shared_times),
        "neighbours": neighbours,
    }
    if neighbours == 0:
        return Finding(code, Status.NOT_CHECKED, "no transformer neighbours with reads", data)
    if len(shared_times) < params.min_outage_intervals:
        return Finding(
            code,
            Status.NOT_CHECKED,
            "no outage on the transformer in the periods to test the meter's location",
            data,
        )
    shared = len(mine & shared_times)
    seen = shared / len(shared_times)
    data["shared_hours"] = shared
    data["neighbourhood_share_seen_by_meter"] = round(seen, 3)
    data["meter_hours_not_shared"] = len(mine - shared_times)
    if seen < params.min_shared_outage_share:
        return Finding(
            code,
            Status.PROBLEM,
            f"the meter did not lose power in {len(shared_times) - shared} of the "
            f"{len(shared_times)} outage hours of its transformer's other meters: it may "
            "serve another premise (crossed meters)",
            data,
        )
    return Finding(code, Status.OK, "the meter loses power with its transformer neighbours", data)


def check_accuracy_test(tests: Sequence[Mapping[str, Any]], *, params: CheckParams) -> Finding:
    """The meter's latest accuracy test.

    Args:
        tests: Test records (``tested_at_utc``, ``verdict``, ``as_found_average_pct``),
            any order.
        params: In-service tolerance.

    Examples:
        >>> check_accuracy_test([{"tested_at_utc": "2026-01-02", "verdict": "fail_in_service",
        ...     "as_found_average_pct": 103.1}], params=CheckParams()).status.value
        'problem'
    """
    code = "billing.accuracy_test"
    if not tests:
        return Finding(
            code,
            Status.NOT_CHECKED,
            "no accuracy test on record; a field test settles registration",
            {},
        )
    latest = max(tests, key=lambda t: str(t["tested_at_utc"]))
    average = latest.get("as_found_average_pct")
    verdict = str(latest.get("verdict"))
    data = {k: (str(v) if isinstance(v, dt.datetime | dt.date) else v) for k, v in latest.items()}
    when = str(latest["tested_at_utc"])[:10]
    outside = average is not None and not (
        params.accuracy_low_pct <= float(average) <= params.accuracy_high_pct
    )
    if outside or verdict in BILLING_FAILURES:
        shown = f"{float(average):.2f} %" if average is not None else "n/a"
        return Finding(
            code,
            Status.PROBLEM,
            f"the meter failed its accuracy test on {when} (as found {shown}, tolerance "
            f"{params.accuracy_low_pct:g}–{params.accuracy_high_pct:g} %)",
            data,
        )
    shown = f" at {float(average):.2f} %" if average is not None else ""
    return Finding(code, Status.OK, f"accuracy test on {when} passed{shown}", data)
