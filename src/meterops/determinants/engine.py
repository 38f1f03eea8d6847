"""Billing determinants for a set of meters: TOU energy, demand and net metering per period.

The pure core of ``determinants/``: frames in, frames out, no I/O. :func:`compute_determinants`
takes the interval reads of some meters and their billing periods; for streaming, a
:class:`DeterminantAccumulator` takes the reads batch by batch (e.g. one day of a meter group
at a time) and gives the same result.

How (one pass over the data, no Python step per read):

1. Reads are placed on a ``meter × time slot`` grid whose slot is the finest interval the data
   has (usually 900 s), clock-aligned in UTC (so whole-hour offsets keep it aligned to the local
   clock). DST needs nothing special: slots are UTC, a local day simply has 92 or 100 of them.
2. Each slot's TOU period comes from :func:`~meterops.determinants.calendar.period_codes`
   (local prevailing time, per distinct slot and date) for every schedule in use.
3. One compiled walk over each billing period's slots sums energy per TOU period and tracks the
   block and rolling demand maxima (``_kernels.reduce_periods``).

What is computable from what (``standards.md`` §10.2): demand in kW = window energy × 3600 /
window length [s]. **Block** demand over clock-aligned windows of ``demand_window_min`` needs
data whose interval divides the window (15-min windows from 5- or 15-min data). **Rolling**
demand (window re-evaluated every ``demand_subinterval_min``) needs data whose interval divides
the sub-interval: 15-min windows every 5 min need 5-min data; from 15-min data it is not
computable and is reported null with a ``demand_note`` (never silently replaced by block
demand). A window counts when it lies inside the billing period and belongs to the TOU period
of its last interval; missing intervals make a window smaller, never larger.

Net metering (§10.3): delivered, received and net are always reported. ``billed_import_kwh`` /
``billed_export_kwh`` net them at the tariff's granularity (:class:`Netting`): per interval,
per TOU period or per billing period; a non-NEM account is billed its delivered energy and
credited nothing (its received energy stays visible for revenue protection).

Values are multiplied by the billing period's ``multiplier`` (secondary → billed). Reads
carrying a flag of ``vee.flags.EXCLUDE_FROM_BILLING`` are left out (or kept, with
``include_excluded``) and always counted; estimated intervals are counted per period.

Pure module: standard library, numpy, numba, polars and pure meterops modules; must not import
``meterops.db``, ``models``, ``web``, ``cli`` or ``config``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

import numpy as np
import numpy.typing as npt
import polars as pl

from meterops.assets.programs import TouSchedule
from meterops.determinants import _kernels
from meterops.determinants.calendar import compile_schedule, period_codes
from meterops.determinants.frames import BILLING_PERIODS, BY_PERIOD, BY_TOU, DETERMINANT_READS
from meterops.errors import InvalidInputError
from meterops.kit.frames import check_frame
from meterops.reads.schema import UTC_DATETIME
from meterops.vee.flags import EXCLUDE_FROM_BILLING, flag_mask

__all__ = [
    "FLAT_PERIOD",
    "DeterminantAccumulator",
    "DeterminantParams",
    "Determinants",
    "Netting",
    "compute_determinants",
]

FLAT_PERIOD: Final = "total"
"""TOU period name of billing periods without a schedule."""

_US: Final = 1_000_000
_HOUR_US: Final = 3600 * _US
_MIN_SLOT_S: Final = 60
_ENERGY_CHANNELS: Final = ("kwh_delivered", "kwh_received")

I64 = npt.NDArray[np.int64]


class Netting(StrEnum):
    """Granularity at which delivered and received energy are netted for billing."""

    INTERVAL = "interval"
    """Net each interval; imports and exports of different intervals do not offset."""
    TOU_PERIOD = "tou_period"
    """Net within each TOU period of the billing period."""
    BILLING_PERIOD = "billing_period"
    """Net over the whole billing period."""


@dataclass(frozen=True, slots=True)
class DeterminantParams:
    """How determinants are computed.

    Attributes:
        zone: IANA zone of the schedules' local prevailing time (the utility's zone).
        demand_window_min: Demand window length. [min]
        demand_subinterval_min: Rolling-demand sub-interval [min]; None: block demand only.
        netting: Netting granularity for net-metered accounts.
        exclude_flags: Flags whose reads are left out of billing (and counted).
        estimated_flags: Flags that mark an interval as estimated.
        include_excluded: Use flagged reads anyway (they are still counted as flagged).
        default_interval_s: Interval length assumed for meters without any read. [s]
    """

    zone: str
    demand_window_min: int = 15
    demand_subinterval_min: int | None = 5
    netting: Netting = Netting.INTERVAL
    exclude_flags: frozenset[str] = EXCLUDE_FROM_BILLING
    estimated_flags: frozenset[str] = frozenset({"ESTIMATED", "SOURCE_ESTIMATED"})
    include_excluded: bool = False
    default_interval_s: int = 900

    def __post_init__(self) -> None:
        window = self.demand_window_min
        if window <= 0 or 60 % window:
            msg = f"demand_window_min must divide 60 (5, 15, 30, 60 …), found {window}"
            raise InvalidInputError(msg, code="determinants.bad_demand_window")
        sub = self.demand_subinterval_min
        if sub is not None and (sub <= 0 or window % sub):
            msg = f"demand_subinterval_min must divide demand_window_min ({window}), found {sub}"
            raise InvalidInputError(msg, code="determinants.bad_subinterval")
        if self.default_interval_s <= 0 or 3600 % self.default_interval_s:
            msg = f"default_interval_s must divide 3600, found {self.default_interval_s}"
            raise InvalidInputError(msg, code="determinants.bad_interval")
        flag_mask(self.exclude_flags | self.estimated_flags)  # unknown names raise here

    @property
    def window_s(self) -> int:
        """Demand window length, in seconds."""
        return self.demand_window_min * 60

    @property
    def subinterval_s(self) -> int | None:
        """Rolling sub-interval length, in seconds (None: no rolling demand)."""
        return None if self.demand_subinterval_min is None else self.demand_subinterval_min * 60


@dataclass(frozen=True, slots=True)
class Determinants:
    """Determinants of a set of meters.

    Attributes:
        by_period: One row per billing period (``frames.BY_PERIOD``).
        by_tou: One row per billing period and TOU period (``frames.BY_TOU``).
    """

    by_period: pl.DataFrame
    by_tou: pl.DataFrame

    @staticmethod
    def concat(parts: Iterable[Determinants]) -> Determinants:
        """Stack the determinants of several meter groups."""
        items = list(parts)
        return Determinants(
            pl.concat([p.by_period for p in items]) if items else BY_PERIOD.empty(),
            pl.concat([p.by_tou for p in items]) if items else BY_TOU.empty(),
        )


@dataclass(slots=True)
class _Grid:
    slot_us: int
    n_slots: int
    delivered: npt.NDArray[np.float64]
    received: npt.NDArray[np.float64]
    cells: npt.NDArray[np.uint8]

    def refine(self, slot_us: int, meters: int) -> None:
        """Split every slot into ``self.slot_us // slot_us`` (reads stay in the first part)."""
        k = self.slot_us // slot_us
        n = self.n_slots * k

        def spread(a: npt.NDArray[np.generic]) -> npt.NDArray[np.generic]:
            if a.size == 0:
                return a
            out = np.zeros((meters, n), dtype=a.dtype)
            out[:, ::k] = a.reshape(meters, self.n_slots)
            return out.ravel()

        self.delivered = spread(self.delivered)  # type: ignore[assignment]
        self.received = spread(self.received)  # type: ignore[assignment]
        self.cells = spread(self.cells)  # type: ignore[assignment]
        self.slot_us, self.n_slots = slot_us, n


def _micros(moment: dt.datetime) -> int:
    delta = moment - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return (delta.days * 86_400 + delta.seconds) * _US + delta.microseconds


class DeterminantAccumulator:
    """Determinants of a meter group, fed with reads batch by batch.

    Args:
        periods: Billing periods (``frames.BILLING_PERIODS``); its meters form the group.
        schedules: Schedule key → TOU schedule, for every non-null ``schedule_key``.
        params: Computation parameters.

    Raises:
        InvalidInputError: A schedule key is unknown or a period ends before it starts.
    """

    def __init__(
        self,
        periods: pl.DataFrame,
        *,
        schedules: Mapping[str, TouSchedule],
        params: DeterminantParams,
    ) -> None:
        check_frame(periods, BILLING_PERIODS)
        unknown = sorted(set(periods["schedule_key"].drop_nulls().unique()) - set(schedules))
        if unknown:
            msg = f"no TOU schedule for keys {unknown}; known: {sorted(schedules)}"
            raise InvalidInputError(msg, code="determinants.unknown_schedule")
        if periods.filter(pl.col("period_end_utc") <= pl.col("period_start_utc")).height:
            msg = "every billing period must end after it starts"
            raise InvalidInputError(msg, code="determinants.empty_period")
        self.periods = periods.select(BILLING_PERIODS.names)
        self.schedules = dict(schedules)
        self.params = params
        self.meter_ids: I64 = np.unique(periods["meter_id"].to_numpy())
        self._exclude_mask = flag_mask(params.exclude_flags)
        self._estimated_mask = flag_mask(params.estimated_flags)
        m = self.meter_ids.size
        self._min_iv = np.full(m, np.iinfo(np.int32).max, dtype=np.int32)
        self._max_iv = np.zeros(m, dtype=np.int32)
        self._irregular = np.zeros(m, dtype=np.int64)
        self._grid: _Grid | None = None
        if periods.height:
            first = periods["period_start_utc"].min()
            last = periods["period_end_utc"].max()
            assert isinstance(first, dt.datetime)
            assert isinstance(last, dt.datetime)
            self._origin_us = _micros(first) // _HOUR_US * _HOUR_US
            self._end_us = _micros(last)
        else:
            self._origin_us = self._end_us = 0
        self._lookup_base = int(self.meter_ids[0]) if m else 0
        span = int(self.meter_ids[-1]) - self._lookup_base + 1 if m else 0
        self._lookup: I64 | None = None
        if m and span <= 4 * m + 4096:
            self._lookup = np.full(span, -1, dtype=np.int64)
            self._lookup[self.meter_ids - self._lookup_base] = np.arange(m)

    # ----------------------------------------------------------------------------------------
    # Feeding reads

    def _ranks(self, meter_id: I64) -> I64:
        """Row of each meter id in the group (-1 for other meters)."""
        pos = np.minimum(np.searchsorted(self.meter_ids, meter_id), self.meter_ids.size - 1)
        return np.where(self.meter_ids[pos] == meter_id, pos, -1)

    def _slot_for(self, interval_s: npt.NDArray[np.int32]) -> int:
        """The grid slot [µs]: the gcd of every interval length seen (at least one minute)."""
        low, high = int(interval_s.min()), int(interval_s.max())
        values = {low, high} if low == high else set(np.unique(interval_s).tolist())
        slot_s = math.gcd(*values, 3600)
        if self._grid is not None:
            slot_s = math.gcd(slot_s, self._grid.slot_us // _US)
        return max(slot_s, _MIN_SLOT_S) * _US

    def add(self, reads: pl.DataFrame) -> int:
        """Add a batch of interval reads (any meters, any order, any time).

        Reads of other meters, other channels or outside every billing period's span are
        ignored. A key must not be given twice (the store's current view has one row per key).
        The grid's slot is the gcd of the interval lengths seen; a read that starts off that
        grid is floored onto it, used for energy but not for demand, and counted as irregular.

        Args:
            reads: ``frames.DETERMINANT_READS`` columns (e.g. ``INTERVAL_READS``).

        Returns:
            Reads placed on the grid.
        """
        check_frame(reads, DETERMINANT_READS)
        if reads.is_empty() or self.meter_ids.size == 0:
            return 0
        channel = reads["channel"]
        received = channel == "kwh_received"
        energy = (channel == "kwh_delivered") | received
        interval_s = reads["interval_s"].to_numpy()
        slot_us = self._slot_for(interval_s)
        m = self.meter_ids.size
        if self._grid is None:
            n = -(-(self._end_us - self._origin_us) // slot_us)
            cells = np.zeros(m * n, dtype=np.uint8)
            self._grid = _Grid(slot_us, n, np.zeros(m * n), np.zeros(0), cells)
        elif slot_us < self._grid.slot_us:
            self._grid.refine(slot_us, m)
        grid = self._grid
        received_np = received.to_numpy()
        if grid.received.size == 0 and received.any():
            grid.received = np.zeros(m * grid.n_slots)
        meter_id = reads["meter_id"].to_numpy()
        lookup, base = self._lookup, self._lookup_base
        if lookup is None:  # sparse ids: rank in numpy, then an identity table
            meter_id, lookup, base = self._ranks(meter_id), np.arange(m, dtype=np.int64), 0
        return int(
            _kernels.scatter(
                meter_id,
                received_np,
                energy.to_numpy(),
                reads["interval_start_utc"].to_physical().to_numpy(),
                interval_s,
                reads["value"].to_numpy(),
                reads["quality_flags"].to_numpy(),
                self._estimated_mask,
                self._exclude_mask,
                lookup,
                base,
                self._origin_us,
                grid.slot_us,
                grid.n_slots,
                grid.delivered,
                grid.received if grid.received.size else np.zeros(1),
                grid.cells,
                self._min_iv,
                self._max_iv,
                self._irregular,
            )
        )

    # ----------------------------------------------------------------------------------------
    # Results

    def finish(self) -> Determinants:
        """The determinants of every billing period of the group."""
        from meterops.determinants import _results

        if self.periods.is_empty():
            return Determinants(BY_PERIOD.empty(), BY_TOU.empty())
        p = self.params
        grid = self._grid
        if grid is None:  # no reads at all: an all-missing grid at the default interval
            slot_us = p.default_interval_s * _US
            n = -(-(self._end_us - self._origin_us) // slot_us)
            size = self.meter_ids.size * n
            grid = _Grid(slot_us, n, np.zeros(size), np.zeros(0), np.zeros(size, np.uint8))
        keys = sorted(self.periods["schedule_key"].drop_nulls().unique().to_list())
        table, names, key_codes = self._period_table(grid, keys)
        rank = self._ranks(self.periods["meter_id"].to_numpy())
        resolution = np.where(self._max_iv[rank] > 0, self._max_iv[rank], p.default_interval_s)
        slot_s = grid.slot_us // _US
        start = self.periods["period_start_utc"].dt.epoch("us").to_numpy() - self._origin_us
        end = self.periods["period_end_utc"].dt.epoch("us").to_numpy() - self._origin_us
        first = -(-start // grid.slot_us)
        last = np.minimum(-(-end // grid.slot_us), grid.n_slots)
        demand_last = np.minimum(end // grid.slot_us, last)  # slots wholly before the end
        block_ok = (p.window_s % resolution == 0) & (p.window_s % slot_s == 0)
        sub_s = p.subinterval_s
        rolling_ok = np.zeros(rank.size, dtype=bool) if sub_s is None else sub_s % resolution == 0
        subs = 0 if sub_s is None else p.window_s // sub_s
        schedule = self.periods["schedule_key"].to_list()
        row = np.array([len(keys) if k is None else keys.index(k) for k in schedule], np.int64)
        n_p = len(names)
        j = rank.size
        energy = np.zeros((j, n_p, 4))
        counts = np.zeros((j, n_p, 3), dtype=np.int64)
        block_max = np.full((j, n_p + 1), -np.inf)
        rolling_max = np.full((j, n_p + 1), -np.inf)
        block_at = np.full((j, n_p + 1), -1, dtype=np.int64)
        rolling_at = np.full((j, n_p + 1), -1, dtype=np.int64)
        _kernels.reduce_periods(
            grid.delivered,
            grid.received if grid.received.size else np.zeros(1),
            grid.cells,
            grid.n_slots,
            table,
            rank,
            first,
            last,
            demand_last,
            row,
            np.where(block_ok, p.window_s // slot_s, 0).astype(np.int64),
            np.where(rolling_ok, (sub_s or 0) // slot_s, 0).astype(np.int64),
            subs,
            not p.include_excluded,
            energy,
            counts,
            block_max,
            block_at,
            rolling_max,
            rolling_at,
        )
        by_period, by_tou = _results.build(
            periods=self.periods,
            params=p,
            names=names,
            schedule_codes=[key_codes[r] for r in row],
            energy=energy,
            counts=counts,
            demand=_results.Demand(
                block_max, block_at, rolling_max, rolling_at, block_ok, rolling_ok
            ),
            slot_us=grid.slot_us,
            origin_us=self._origin_us,
            resolution_s=resolution.astype(np.int32),
            irregular=self._irregular[rank],
        )
        return Determinants(by_period, by_tou)

    def _period_table(
        self, grid: _Grid, keys: Sequence[str]
    ) -> tuple[npt.NDArray[np.uint8], list[str], list[list[int]]]:
        """Global period code per (schedule row, slot); the last row is the flat schedule."""
        compiled = [compile_schedule(self.schedules[k]) for k in keys]
        names = sorted({n for c in compiled for n in c.period_names} | {FLAT_PERIOD})
        stamps = pl.Series(
            "t", self._origin_us + np.arange(grid.n_slots, dtype=np.int64) * grid.slot_us
        ).cast(UTC_DATETIME)
        local = period_codes(stamps, schedules=compiled, zone=self.params.zone)
        table = np.full((len(keys) + 1, grid.n_slots), names.index(FLAT_PERIOD), dtype=np.uint8)
        key_codes: list[list[int]] = []
        for i, c in enumerate(compiled):
            mapping = np.array([names.index(n) for n in c.period_names], dtype=np.uint8)
            table[i] = mapping[local[i]]
            key_codes.append(mapping.tolist())
        key_codes.append([names.index(FLAT_PERIOD)])
        return table, names, key_codes


def compute_determinants(
    reads: pl.DataFrame,
    periods: pl.DataFrame,
    *,
    schedules: Mapping[str, TouSchedule],
    params: DeterminantParams,
) -> Determinants:
    """Billing determinants of the meters in ``periods`` from their interval reads.

    Args:
        reads: Interval reads (``frames.DETERMINANT_READS`` columns, e.g. ``INTERVAL_READS``):
            energy per interval, secondary side. [kWh]
        periods: Billing periods (``frames.BILLING_PERIODS``).
        schedules: Schedule key → TOU schedule.
        params: Computation parameters.

    Returns:
        Determinants per billing period and per TOU period (billed values).

    Raises:
        InvalidInputError: Unknown schedule key or empty period.
        DataContractError: A frame lacks columns or has wrong dtypes.

    Examples:
        The demand example of ``standards.md`` §10.2 (5-min kWh from 16:00):

        >>> t0 = dt.datetime(2024, 7, 1, 21, tzinfo=dt.UTC)  # 16:00 CDT
        >>> reads = pl.DataFrame({
        ...     "meter_id": [1] * 6, "channel": ["kwh_delivered"] * 6,
        ...     "interval_start_utc": [t0 + dt.timedelta(minutes=5 * i) for i in range(6)],
        ...     "interval_s": [300] * 6, "value": [0.5, 0.5, 2.0, 2.0, 0.5, 0.5],
        ...     "quality_flags": [0] * 6},
        ...     schema_overrides={"interval_s": pl.Int32, "quality_flags": pl.UInt32,
        ...                       "interval_start_utc": pl.Datetime("us", "UTC")})
        >>> periods = pl.DataFrame({
        ...     "meter_id": [1], "account_id": [None], "period_start_utc": [t0],
        ...     "period_end_utc": [t0 + dt.timedelta(minutes=30)], "schedule_key": [None],
        ...     "multiplier": [1.0], "net_metering": [False]},
        ...     schema=BILLING_PERIODS.schema)
        >>> d = compute_determinants(reads, periods, schedules={},
        ...                          params=DeterminantParams(zone="America/Chicago"))
        >>> d.by_period.select("delivered_kwh", "block_demand_kw", "rolling_demand_kw").row(0)
        (6.0, 12.0, 18.0)
        >>> d.by_period["rolling_demand_start_utc"].dt.convert_time_zone("America/Chicago")[0]
        datetime.datetime(2024, 7, 1, 16, 5, tzinfo=zoneinfo.ZoneInfo(key='America/Chicago'))
    """
    accumulator = DeterminantAccumulator(periods, schedules=schedules, params=params)
    accumulator.add(reads)
    return accumulator.finish()
