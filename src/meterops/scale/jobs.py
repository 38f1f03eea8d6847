"""Small general jobs for the executors (the VEE job lives in :mod:`meterops.vee.batch`).

Pure module: standard library and polars only; must not import ``meterops.db``, ``models``,
``web``, ``cli`` or ``config``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final
from zoneinfo import ZoneInfo

import polars as pl

__all__ = ["DAILY_TOTALS", "DailyTotals"]

DAILY_TOTALS: Final = pl.Schema(
    {
        "meter_id": pl.Int64(),
        "channel": pl.String(),
        "local_date": pl.Date(),
        "reads": pl.Int64(),
        "value_sum": pl.Float64(),
    }
)
"""Output of :class:`DailyTotals`."""


@dataclass(frozen=True, slots=True)
class DailyTotals:
    """Per meter, channel and local day: how many current reads and the sum of their values.

    Reads without a value count in ``reads`` but add nothing to ``value_sum``.

    Attributes:
        zone: IANA zone whose calendar days are summed.

    Examples:
        >>> import datetime as dt
        >>> t = dt.datetime(2024, 7, 1, 4, 45, tzinfo=dt.UTC)  # 23:45 in Chicago
        >>> reads = pl.DataFrame({"meter_id": [1, 1], "channel": ["kwh_delivered"] * 2,
        ...     "interval_start_utc": [t, t + dt.timedelta(minutes=15)], "value": [0.5, 0.25]})
        >>> DailyTotals("America/Chicago")(reads).rows()
        [(1, 'kwh_delivered', datetime.date(2024, 6, 30), 1, 0.5), (1, 'kwh_delivered', datetime.date(2024, 7, 1), 1, 0.25)]
    """  # noqa: E501

    zone: str

    def __post_init__(self) -> None:
        ZoneInfo(self.zone)  # an unknown zone fails here, not in a worker

    @property
    def output_schema(self) -> pl.Schema:
        """:data:`DAILY_TOTALS`."""
        return DAILY_TOTALS

    def __call__(self, reads: pl.DataFrame) -> pl.DataFrame:
        """Totals of one group's current reads [value units of the channel].

        Args:
            reads: Current interval reads (``meter_id``, ``channel``, ``interval_start_utc``,
                ``value``).

        Returns:
            :data:`DAILY_TOTALS` rows by meter, channel and day.
        """
        if reads.is_empty():
            return pl.DataFrame(schema=DAILY_TOTALS)
        day = pl.col("interval_start_utc").dt.convert_time_zone(self.zone).dt.date()
        return (
            reads.group_by("meter_id", "channel", day.alias("local_date"))
            .agg(
                pl.len().cast(pl.Int64).alias("reads"),
                pl.col("value").sum().cast(pl.Float64).alias("value_sum"),
            )
            .sort("meter_id", "channel", "local_date")
            .cast(DAILY_TOTALS)
        )
