"""In-service testing programme: homogeneous lots, sample plans, seeded samples, lot decisions.

Meters in service are grouped into **homogeneous lots** (same vendor, model, firmware revision
and install year). Each lot gets a sample size from a configurable plan:

* :class:`VariablesPlan` — a variables plan in the style of ANSI/ASQ Z1.9 (standard-deviation
  method, sigma unknown, Form 1 "k method"): the lot size gives a sample-size code letter
  (general inspection level II), the code letter and the AQL give the sample size *n* and the
  acceptability constant *k*. From the as-found average registrations of the tested sample,
  the quality indices ``Q_U = (U − x̄) / s`` and ``Q_L = (x̄ − L) / s`` against the in-service
  tolerance limits L and U are computed; the lot is **accepted when both are ≥ k**.
* :class:`FixedPercentagePlan` — test a fixed share of each lot (with a minimum), and reject
  the lot when more than a set share of the sample is outside the tolerance.

Samples are drawn with a seed (each lot's draw depends only on the seed and the lot, so adding
a lot does not change the others). Rejected lots produce a replacement list; :func:`lot_results`
is the frame the diagnostics capability's cohort analysis reads.

The Z1.9 tables are data here (:data:`Z19_CODE_LETTERS`, :data:`Z19_SAMPLE_SIZES`,
:data:`Z19_K`). Sources, each value cross-checked:

* Code letters at general inspection level II (Table A-2): ANSI/ASQ Z1.9-2008 Table A-2 as
  transcribed at studylib.es (document 9356105, "Letra código ANSI-ASQ-Z1.9-2008"): lot sizes
  2-15 B, 16-25 C, 26-50 D, 51-90 E, 91-150 F, 151-280 G, 281-400 H, 401-500 I, 501-1,200 J,
  1,201-3,200 K, 3,201-10,000 L, 10,001-35,000 M, 35,001-150,000 N, above P.
* Letters B-J, all AQLs: MIL-STD-414 (1957, public domain; Z1.9's predecessor) Table B-1,
  normal inspection, Form 1. Letters B-I are identical in the Z1.9 master table Table B-1 as
  transcribed by M. Casquilho (Instituto Superior Técnico,
  http://web.tecnico.ulisboa.pt/~mcasquilho/acad/cq/Z1.9.B1.html). Letter J is MIL-STD-414's
  (n = 30); Z1.9's letter J has n = 35 (k 2.03 / 1.89 / 1.76 at AQL 0.65 / 1 / 1.5).
* Letters K-P (lots above 1,200), AQL 0.65, 1 and 1.5 % only: that Z1.9 Table B-1
  transcription (n = 50, 75, 100, 150, 200). Its columns for AQL 2.5-10 % at K-P were not
  found legibly anywhere public (the MIL-STD-414 scans' OCR is unreadable), so at those AQLs
  lots above 1,200 keep the letter-J plan (see :func:`sample_size`).
* Theory: every tabled (n, k, AQL) is checked against the operating characteristic: the
  producer's risk 1 − Pa(AQL) (:func:`producer_risk_pct`, non-central t) is the same for all
  AQLs of a letter and equals the published design risk (B 11 %, C-F 10 %, then falling to 1 %
  at P); ``tests/meter_shop/test_sampling_tables.py``. A variables plan's protection does not
  depend on the lot size, so the J fallback keeps the AQL protection (about 6 % risk).

A utility may supply its own ``k_table`` / ``sample_sizes``.

Pure module: standard library, numpy and polars only; it must not import ``meterops.db``,
``models``, ``web``, ``cli`` or ``config``.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from statistics import NormalDist
from types import MappingProxyType
from typing import Any, Final

import numpy as np
import polars as pl

from meterops.errors import InvalidInputError
from meterops.kit.frames import ColumnSpec, FrameContract, check_frame
from meterops.meter_shop.accuracy import InServiceTolerance

__all__ = [
    "FLEET_METERS",
    "LOT_COLUMNS",
    "LOT_RESULTS",
    "SAMPLE_RESULTS",
    "Z19_CODE_LETTERS",
    "Z19_K",
    "Z19_SAMPLE_SIZES",
    "FixedPercentagePlan",
    "LotDecision",
    "Plan",
    "SampleSize",
    "VariablesPlan",
    "assign_lots",
    "decide_lot",
    "draw_samples",
    "judge_lots",
    "lot_key",
    "lot_results",
    "plan_from_dict",
    "plan_to_dict",
    "producer_risk_pct",
    "render_plan_table",
    "replacement_list",
    "sample_size",
    "z19_code_letter",
]

LOT_COLUMNS: Final = ("vendor", "model", "firmware_revision", "install_year")
"""What makes a lot homogeneous."""

FLEET_METERS: Final = FrameContract(
    "meter_shop.fleet_meters",
    (
        ColumnSpec("meter_id", pl.Int64(), "Meter id."),
        ColumnSpec("serial_number", pl.String(), "Meter serial number."),
        ColumnSpec("vendor", pl.String(), "Manufacturer."),
        ColumnSpec("model", pl.String(), "Model."),
        ColumnSpec("firmware_revision", pl.String(), "Firmware revision.", nullable=True),
        ColumnSpec("install_year", pl.Int32(), "Year the meter was installed."),
    ),
)
"""Meters in service, the input of :func:`assign_lots`."""

SAMPLE_RESULTS: Final = FrameContract(
    "meter_shop.sample_results",
    (
        ColumnSpec("lot_key", pl.String(), "Lot key."),
        ColumnSpec("meter_id", pl.Int64(), "Sampled meter."),
        ColumnSpec(
            "average_registration_pct",
            pl.Float64(),
            "As-found weighted average registration; null until tested. [%]",
            nullable=True,
        ),
    ),
)
"""Sampled meters with their test results, the input of :func:`judge_lots`."""

LOT_RESULTS: Final = FrameContract(
    "meter_shop.lot_results",
    (
        ColumnSpec("lot_key", pl.String(), "vendor|model|firmware|install year."),
        ColumnSpec("vendor", pl.String(), "Manufacturer."),
        ColumnSpec("model", pl.String(), "Model."),
        ColumnSpec("firmware_revision", pl.String(), "Firmware revision.", nullable=True),
        ColumnSpec("install_year", pl.Int32(), "Install year."),
        ColumnSpec("lot_size", pl.Int64(), "Meters in the lot. [count]"),
        ColumnSpec("sample_size", pl.Int64(), "Meters to test. [count]"),
        ColumnSpec("tested", pl.Int64(), "Meters tested so far. [count]"),
        ColumnSpec("mean_registration_pct", pl.Float64(), "Sample mean. [%]", nullable=True),
        ColumnSpec("std_registration_pct", pl.Float64(), "Sample std. dev. [%]", nullable=True),
        ColumnSpec("outside_tolerance", pl.Int64(), "Tested meters outside tolerance. [count]"),
        ColumnSpec("decision", pl.String(), "`accept`, `reject` or `incomplete`."),
    ),
)
"""Per-lot outcome, the frame diagnostics' cohort analysis reads."""

# --------------------------------------------------------------------------------------------
# Z1.9-style tables (data)

Z19_CODE_LETTERS: Final = (
    (8, "B"),
    (15, "B"),
    (25, "C"),
    (50, "D"),
    (90, "E"),
    (150, "F"),
    (280, "G"),
    (400, "H"),
    (500, "I"),
    (1200, "J"),
    (3200, "K"),
    (10000, "L"),
    (35000, "M"),
    (150000, "N"),
    (math.inf, "P"),
)
"""(largest lot size, code letter) at general inspection level II."""

Z19_SAMPLE_SIZES: Final[MappingProxyType[str, int]] = MappingProxyType(
    {"B": 3, "C": 4, "D": 5, "E": 7, "F": 10, "G": 15, "H": 20, "I": 25, "J": 30}
    | {"K": 50, "L": 75, "M": 100, "N": 150, "P": 200}
)
"""Sample size per code letter (standard-deviation method)."""

Z19_K: Final[MappingProxyType[str, MappingProxyType[float, float]]] = MappingProxyType(
    {
        letter: MappingProxyType(row)
        for letter, row in {
            "B": {2.5: 1.12, 4.0: 0.958, 6.5: 0.765, 10.0: 0.566},
            "C": {1.0: 1.45, 1.5: 1.34, 2.5: 1.17, 4.0: 1.01, 6.5: 0.814, 10.0: 0.617},
            "D": {0.65: 1.65, 1.0: 1.53, 1.5: 1.40, 2.5: 1.24, 4.0: 1.07, 6.5: 0.874, 10.0: 0.675},
            "E": {0.65: 1.75, 1.0: 1.62, 1.5: 1.50, 2.5: 1.33, 4.0: 1.15, 6.5: 0.955, 10.0: 0.755},
            "F": {0.65: 1.84, 1.0: 1.72, 1.5: 1.58, 2.5: 1.41, 4.0: 1.23, 6.5: 1.03, 10.0: 0.828},
            "G": {0.65: 1.91, 1.0: 1.79, 1.5: 1.65, 2.5: 1.47, 4.0: 1.30, 6.5: 1.09, 10.0: 0.886},
            "H": {0.65: 1.96, 1.0: 1.82, 1.5: 1.69, 2.5: 1.51, 4.0: 1.33, 6.5: 1.12, 10.0: 0.917},
            "I": {0.65: 1.98, 1.0: 1.85, 1.5: 1.72, 2.5: 1.53, 4.0: 1.35, 6.5: 1.14, 10.0: 0.936},
            "J": {0.65: 2.00, 1.0: 1.86, 1.5: 1.73, 2.5: 1.55, 4.0: 1.36, 6.5: 1.15, 10.0: 0.946},
            # Z1.9 Table B-1 (see the module docstring); AQL 2.5-10 % not public: J is used
            "K": {0.65: 2.08, 1.0: 1.93, 1.5: 1.80},
            "L": {0.65: 2.12, 1.0: 1.98, 1.5: 1.84},
            "M": {0.65: 2.14, 1.0: 2.00, 1.5: 1.86},
            "N": {0.65: 2.18, 1.0: 2.03, 1.5: 1.89},
            "P": {0.65: 2.18, 1.0: 2.04, 1.5: 1.89},
        }.items()
    }
)
"""Acceptability constant k per code letter and AQL [%] (normal inspection, Form 1)."""

_LETTERS: Final = ("B", "C", "D", "E", "F", "G", "H", "I", "J", "K", "L", "M", "N", "P")


def z19_code_letter(lot_size: int) -> str:
    """Sample-size code letter of a lot at general inspection level II.

    Examples:
        >>> z19_code_letter(100), z19_code_letter(2000)
        ('F', 'K')
    """
    if lot_size < 1:
        raise InvalidInputError(f"lot size must be at least 1, got {lot_size}")
    return next(letter for limit, letter in Z19_CODE_LETTERS if lot_size <= limit)


def producer_risk_pct(n: int, k: float, aql_pct: float) -> float:
    """Chance that a variables plan rejects a lot exactly at the AQL, 1 − Pa, in percent.

    Standard-deviation method, one limit, normal measurements: with ``p`` = AQL the lot's
    limit lies ``z = Φ⁻¹(1 − p)`` standard deviations from its mean, and the lot is accepted
    when ``(U − x̄) / s ≥ k``; ``Pa = E[Φ(√n (z − k·s/σ))]`` over the chi distribution of
    ``s/σ`` with ``n − 1`` degrees of freedom (the non-central t), integrated numerically.
    Used to check the tables against theory.

    Args:
        n: Sample size (at least 2). [count]
        k: Acceptability constant. [-]
        aql_pct: Lot quality at which the risk is computed. [%]

    Examples:
        >>> round(producer_risk_pct(3, 1.12, 2.5), 1)  # Table B-1 letter B: 11 %
        10.9
    """
    if n < 2 or not 0.0 < aql_pct < 100.0:
        raise InvalidInputError(f"need n >= 2 and 0 < AQL < 100 %, got n={n}, AQL={aql_pct}")
    nu = n - 1
    z = NormalDist().inv_cdf(1.0 - aql_pct / 100.0)
    spread = 10.0 / math.sqrt(2.0 * nu)  # s/σ has a standard deviation near 1/√(2ν)
    s = np.linspace(max(1e-6, 1.0 - spread), 1.0 + spread, 4_001)
    log_pdf = (
        math.log(2.0)
        + (nu / 2.0) * math.log(nu / 2.0)
        - math.lgamma(nu / 2.0)
        + (nu - 1) * np.log(s)
        - nu * s * s / 2.0
    )
    x = math.sqrt(n) * (z - k * s) / math.sqrt(2.0)
    accept = 0.5 * (1.0 + np.array([math.erf(v) for v in x]))
    pa = float(np.trapezoid(np.exp(log_pdf) * accept, s))
    return 100.0 * (1.0 - pa)


@dataclass(frozen=True, slots=True)
class SampleSize:
    """How many meters of a lot to test, and how to judge them.

    Attributes:
        lot_size: Meters in the lot. [count]
        n: Meters to test (never more than the lot). [count]
        code_letter: Z1.9 code letter used (None for a fixed-percentage plan).
        k: Acceptability constant (None for a fixed-percentage plan).
    """

    lot_size: int
    n: int
    code_letter: str | None = None
    k: float | None = None


@dataclass(frozen=True, slots=True)
class VariablesPlan:
    """A Z1.9-style variables plan (standard-deviation method, Form 1, two limits).

    Attributes:
        aql_pct: Acceptable quality level: percent of meters outside tolerance a lot may
            have and still be accepted most of the time. [%]
        tolerance: The in-service tolerance; its limits are L and U.
        k_table: k per code letter and AQL (defaults to :data:`Z19_K`).
        sample_sizes: n per code letter (defaults to :data:`Z19_SAMPLE_SIZES`).
    """

    aql_pct: float = 2.5
    tolerance: InServiceTolerance = field(default_factory=InServiceTolerance)
    k_table: Mapping[str, Mapping[float, float]] = field(default_factory=lambda: Z19_K)
    sample_sizes: Mapping[str, int] = field(default_factory=lambda: Z19_SAMPLE_SIZES)

    @property
    def name(self) -> str:
        """Short description for reports."""
        return f"variables (Z1.9-style, level II, AQL {self.aql_pct:g} %)"


@dataclass(frozen=True, slots=True)
class FixedPercentagePlan:
    """Test a fixed share of every lot; reject when too many sampled meters fail.

    Attributes:
        sample_pct: Share of each lot to test. [%]
        min_sample: Smallest sample (whole lot when smaller). [count]
        max_failing_pct: Largest share of the tested sample that may be outside tolerance
            for the lot to be accepted. [%]
        tolerance: The in-service tolerance.
    """

    sample_pct: float = 2.0
    min_sample: int = 10
    max_failing_pct: float = 5.0
    tolerance: InServiceTolerance = field(default_factory=InServiceTolerance)

    @property
    def name(self) -> str:
        """Short description for reports."""
        return (
            f"fixed percentage ({self.sample_pct:g} % of each lot, at least {self.min_sample}; "
            f"reject above {self.max_failing_pct:g} % failing)"
        )


Plan = VariablesPlan | FixedPercentagePlan
"""Either sampling plan."""


def sample_size(plan: Plan, lot_size: int) -> SampleSize:
    """Sample size (and k) for a lot.

    For a variables plan a code letter without a plan at the AQL moves to the next larger
    letter that has one (the standard's arrow rule); where no larger letter has one (lots
    above 1,200 at AQL 2.5-10 %, whose Z1.9 plans are not public), the largest smaller letter
    with a plan is used (J; see the module docstring).

    Args:
        plan: The plan.
        lot_size: Meters in the lot. [count]

    Returns:
        The sample size.

    Raises:
        InvalidInputError: An AQL the table has no column for.

    Examples:
        >>> sample_size(VariablesPlan(aql_pct=2.5), 100)
        SampleSize(lot_size=100, n=10, code_letter='F', k=1.41)
        >>> sample_size(FixedPercentagePlan(sample_pct=2.0, min_sample=10), 1200).n
        24
    """
    if isinstance(plan, FixedPercentagePlan):
        n = max(plan.min_sample, math.ceil(lot_size * plan.sample_pct / 100.0))
        return SampleSize(lot_size, min(n, lot_size))
    letter = z19_code_letter(lot_size)
    tabled = [x for x in _LETTERS if x in plan.k_table and x in plan.sample_sizes]
    if not tabled:
        raise InvalidInputError("the variables plan's k table is empty")
    if letter not in tabled:
        later = [x for x in tabled if _LETTERS.index(x) >= _LETTERS.index(letter)]
        letter = later[0] if later else tabled[-1]
    start = tabled.index(letter)
    # the arrow rule (down to the next letter with a plan), else the largest smaller letter
    # with one: letters K-P are public at AQL 0.65-1.5 % only
    for candidate in [*tabled[start:], *reversed(tabled[:start])]:
        k = plan.k_table[candidate].get(plan.aql_pct)
        if k is not None:
            n = plan.sample_sizes[candidate]
            return SampleSize(lot_size, min(n, lot_size), candidate, k)
    aqls = sorted({a for row in plan.k_table.values() for a in row})
    raise InvalidInputError(
        f"no variables plan at AQL {plan.aql_pct:g} % for lot size {lot_size}; tabled AQLs: {aqls}",
        code="meter_shop.no_plan",
    )


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    """A plan as JSON-able data (stored with each lot, so its status is judged the same way).

    Custom k tables are not stored; lots judged later use :data:`Z19_K`.

    Examples:
        >>> plan_to_dict(VariablesPlan(aql_pct=1.0))
        {'kind': 'variables', 'aql_pct': 1.0, 'low_pct': 98.0, 'high_pct': 102.0}
    """
    tolerance = {"low_pct": plan.tolerance.low_pct, "high_pct": plan.tolerance.high_pct}
    if isinstance(plan, VariablesPlan):
        return {"kind": "variables", "aql_pct": plan.aql_pct, **tolerance}
    return {
        "kind": "fixed_percentage",
        "sample_pct": plan.sample_pct,
        "min_sample": plan.min_sample,
        "max_failing_pct": plan.max_failing_pct,
        **tolerance,
    }


def plan_from_dict(data: Mapping[str, Any]) -> Plan:
    """The inverse of :func:`plan_to_dict`.

    Raises:
        InvalidInputError: Unknown plan kind.
    """
    tolerance = InServiceTolerance(float(data["low_pct"]), float(data["high_pct"]))
    if data.get("kind") == "variables":
        return VariablesPlan(aql_pct=float(data["aql_pct"]), tolerance=tolerance)
    if data.get("kind") == "fixed_percentage":
        return FixedPercentagePlan(
            sample_pct=float(data["sample_pct"]),
            min_sample=int(data["min_sample"]),
            max_failing_pct=float(data["max_failing_pct"]),
            tolerance=tolerance,
        )
    raise InvalidInputError(
        f"unknown sampling plan kind {data.get('kind')!r}; use 'variables' or 'fixed_percentage'",
        code="meter_shop.plan_kind",
    )


# --------------------------------------------------------------------------------------------
# Lots and samples


def lot_key(*, vendor: str, model: str, firmware_revision: str | None, install_year: int) -> str:
    """The key of a homogeneous lot.

    Examples:
        >>> lot_key(vendor="Itron", model="Gen5", firmware_revision=None, install_year=2019)
        'Itron|Gen5|-|2019'
    """
    return f"{vendor}|{model}|{firmware_revision or '-'}|{install_year}"


def _lot_key_expr() -> pl.Expr:
    return pl.concat_str(
        pl.col("vendor"),
        pl.col("model"),
        pl.col("firmware_revision").fill_null("-"),
        pl.col("install_year").cast(pl.String),
        separator="|",
    )


def assign_lots(meters: pl.DataFrame) -> pl.DataFrame:
    """Add ``lot_key`` and ``lot_size`` to a frame of meters in service.

    Args:
        meters: Frame of :data:`FLEET_METERS`.

    Returns:
        The meters with ``lot_key`` and ``lot_size``, sorted by lot and meter id.
    """
    check_frame(meters, FLEET_METERS)
    return (
        meters.with_columns(_lot_key_expr().alias("lot_key"))
        .with_columns(pl.len().over("lot_key").cast(pl.Int64).alias("lot_size"))
        .sort("lot_key", "meter_id")
    )


def _lot_rng(seed: int, key: str) -> np.random.Generator:
    # Each lot's draw depends only on (seed, lot): adding or removing a lot leaves the others.
    return np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(key.encode())]))


def draw_samples(lots: pl.DataFrame, *, plan: Plan, seed: int) -> pl.DataFrame:
    """Draw each lot's sample without replacement.

    Args:
        lots: Output of :func:`assign_lots`.
        plan: The plan.
        seed: Seed of the draw (e.g. the programme year), so the draw can be repeated.

    Returns:
        One row per sampled meter: ``lot_key``, ``meter_id``, ``serial_number``,
        ``sample_order`` (1 = test first), ``lot_size``, ``sample_size``, ``code_letter``, ``k``.
    """
    schema = {
        "lot_key": pl.String,
        "meter_id": pl.Int64,
        "serial_number": pl.String,
        "lot_size": pl.Int64,
        "sample_order": pl.Int64,
        "sample_size": pl.Int64,
        "code_letter": pl.String,
        "k": pl.Float64,
    }
    if lots.is_empty():
        return pl.DataFrame(schema=schema)
    ordered = lots.sort("lot_key", "meter_id")
    counts = ordered.group_by("lot_key", maintain_order=True).len().rows()
    sizes = [sample_size(plan, n) for _, n in counts]
    # A uniform random key per meter from the lot's own generator; the lot's sample is its
    # n smallest keys, in key order (a uniformly random ordered subset).
    draw_keys = np.concatenate([_lot_rng(seed, key).random(n) for key, n in counts])
    plans = pl.DataFrame(
        {
            "lot_key": [key for key, _ in counts],
            "sample_size": [size.n for size in sizes],
            "code_letter": [size.code_letter for size in sizes],
            "k": [size.k for size in sizes],
        },
        schema={
            "lot_key": pl.String,
            "sample_size": pl.Int64,
            "code_letter": pl.String,
            "k": pl.Float64,
        },
    )
    return (
        ordered.select("lot_key", "meter_id", "serial_number", "lot_size")
        .with_columns(pl.Series("draw_key", draw_keys))
        .with_columns(
            pl.col("draw_key").rank("ordinal").over("lot_key").cast(pl.Int64).alias("sample_order")
        )
        .join(plans, on="lot_key")
        .filter(pl.col("sample_order") <= pl.col("sample_size"))
        .sort("lot_key", "sample_order")
        .select(list(schema))
    )


# --------------------------------------------------------------------------------------------
# Decisions


@dataclass(frozen=True, slots=True)
class LotDecision:
    """The decision on one lot.

    Attributes:
        decision: ``accept``, ``reject`` or ``incomplete`` (fewer tested than planned).
        tested: Meters tested. [count]
        mean_pct: Sample mean of the average registrations (None without tests). [%]
        std_pct: Sample standard deviation (None with fewer than two tests). [%]
        q_upper: (U − x̄) / s (variables plan). [-]
        q_lower: (x̄ − L) / s (variables plan). [-]
        outside_tolerance: Tested meters outside the tolerance. [count]
    """

    decision: str
    tested: int
    mean_pct: float | None
    std_pct: float | None
    q_upper: float | None
    q_lower: float | None
    outside_tolerance: int


def decide_lot(values: list[float], *, plan: Plan, size: SampleSize) -> LotDecision:
    """Accept or reject a lot from its tested sample.

    Variables plan: accept when ``Q_U ≥ k`` and ``Q_L ≥ k`` (with s = 0, when the mean is
    inside the limits). Fixed-percentage plan: accept when the share outside tolerance is at
    most ``max_failing_pct``.

    Args:
        values: As-found average registrations of the tested sample. [%]
        plan: The plan.
        size: The lot's sample size.

    Returns:
        The decision; ``incomplete`` while fewer than ``size.n`` meters are tested.

    Examples:
        >>> plan = VariablesPlan(aql_pct=2.5)
        >>> size = sample_size(plan, 100)  # n = 10, k = 1.41
        >>> good = [99.8, 100.1, 100.3, 99.9, 100.0, 100.2, 99.7, 100.4, 100.0, 99.6]
        >>> decide_lot(good, plan=plan, size=size).decision
        'accept'
    """
    tolerance = plan.tolerance
    outside = sum(not tolerance.contains(v) for v in values)
    mean = sum(values) / len(values) if values else None
    std = float(np.std(values, ddof=1)) if len(values) > 1 else None
    q_upper = q_lower = None
    if mean is not None and std is not None and std > 0:
        q_upper = (tolerance.high_pct - mean) / std
        q_lower = (mean - tolerance.low_pct) / std
    if len(values) < size.n:
        decision = "incomplete"
    elif isinstance(plan, FixedPercentagePlan):
        decision = "accept" if 100.0 * outside / len(values) <= plan.max_failing_pct else "reject"
    elif std is None or std == 0 or q_upper is None or q_lower is None:
        decision = "accept" if mean is not None and tolerance.contains(mean) else "reject"
    else:
        assert size.k is not None  # a variables sample size always has k
        decision = "accept" if min(q_upper, q_lower) >= size.k else "reject"
    return LotDecision(decision, len(values), mean, std, q_upper, q_lower, outside)


def judge_lots(lots: pl.DataFrame, samples: pl.DataFrame, *, plan: Plan) -> pl.DataFrame:
    """Decide every lot from its sample's results.

    Args:
        lots: Output of :func:`assign_lots` (every meter of every lot).
        samples: Frame of :data:`SAMPLE_RESULTS`: sampled meters and, once tested, their
            as-found average registration.
        plan: The plan the samples were drawn with.

    Returns:
        Frame of :data:`LOT_RESULTS`, one row per lot.
    """
    check_frame(samples, SAMPLE_RESULTS)
    tested = samples.filter(pl.col("average_registration_pct").is_not_null())
    by_lot: dict[str, list[float]] = {}
    for key, value in tested.select("lot_key", "average_registration_pct").iter_rows():
        by_lot.setdefault(key, []).append(value)
    heads = lots.group_by("lot_key", maintain_order=True).agg(
        pl.col("vendor", "model", "firmware_revision", "install_year").first(),
        pl.len().cast(pl.Int64).alias("lot_size"),
    )
    rows = []
    for row in heads.iter_rows(named=True):
        size = sample_size(plan, row["lot_size"])
        decision = decide_lot(by_lot.get(row["lot_key"], []), plan=plan, size=size)
        rows.append(
            {
                **row,
                "sample_size": size.n,
                "tested": decision.tested,
                "mean_registration_pct": decision.mean_pct,
                "std_registration_pct": decision.std_pct,
                "outside_tolerance": decision.outside_tolerance,
                "decision": decision.decision,
            }
        )
    return pl.DataFrame(rows, schema=LOT_RESULTS.schema)


def replacement_list(lots: pl.DataFrame, decisions: pl.DataFrame) -> pl.DataFrame:
    """Meters of rejected lots, to be replaced (or 100 % tested).

    Args:
        lots: Output of :func:`assign_lots`.
        decisions: Output of :func:`judge_lots`.

    Returns:
        ``lot_key``, ``meter_id``, ``serial_number`` of every meter in a rejected lot.
    """
    rejected = decisions.filter(pl.col("decision") == "reject").select("lot_key")
    return lots.join(rejected, on="lot_key").select("lot_key", "meter_id", "serial_number")


def lot_results(decisions: pl.DataFrame) -> pl.DataFrame:
    """Lot outcomes for the diagnostics capability's cohort analysis.

    Args:
        decisions: Output of :func:`judge_lots` (or the same columns read from the database).

    Returns:
        The frame checked against :data:`LOT_RESULTS`, with ``rejected`` (bool) added.
    """
    check_frame(decisions, LOT_RESULTS)
    return decisions.with_columns((pl.col("decision") == "reject").alias("rejected"))


def render_plan_table() -> str:
    """The tabled variables plans as Markdown (for ``docs/meter-shop.md``, checked by a test).

    Rows are code letters with their lot sizes and n; columns are AQLs; cells are k.
    """
    aqls = sorted({a for row in Z19_K.values() for a in row})
    lines = [
        "| code letter | lot size | n | " + " | ".join(f"AQL {a:g} %" for a in aqls) + " |",
        "|---|---|---|" + "---|" * len(aqls),
    ]
    low = 2
    for limit, letter in Z19_CODE_LETTERS:
        size = f"{low}-{int(limit)}" if math.isfinite(limit) else f"{low} and more"
        low = int(limit) + 1 if math.isfinite(limit) else low
        later = _LETTERS[_LETTERS.index(letter) :]

        def cell(aql: float, row: str = letter, after: tuple[str, ...] = later) -> str:
            if aql in Z19_K[row]:
                return f"{Z19_K[row][aql]:g}"
            return "↓" if any(aql in Z19_K.get(x, {}) for x in after) else "J plan"

        cells = " | ".join(cell(a) for a in aqls)
        lines.append(f"| {letter} | {size} | {Z19_SAMPLE_SIZES[letter]} | {cells} |")
    return "\n".join(lines)
