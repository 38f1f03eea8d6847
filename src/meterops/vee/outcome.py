"""What a VEE computation returns, whichever path computed it.

Pure module: polars only; must not import ``meterops.db``, ``models``, ``web``, ``cli`` or
``config``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import polars as pl

from meterops.reads.schema import UTC_DATETIME

__all__ = ["ABSENT", "VeeOutcome"]

ABSENT: Final = pl.Schema(
    {"meter_id": pl.Int64(), "channel": pl.String(), "interval_start_utc": UTC_DATETIME}
)
"""Expected intervals of the window with no row at all."""


@dataclass(frozen=True, slots=True)
class VeeOutcome:
    """Flags and estimates for one frame of reads.

    Attributes:
        rule_flags: UInt32 rule bits per input row, in the input's order (0 for rows outside
            the window, which are not validated).
        absent: Expected intervals without a row (:data:`ABSENT`), in key order.
        estimates: :data:`meterops.vee.estimation.ESTIMATES` rows, in key order.
    """

    rule_flags: pl.Series
    absent: pl.DataFrame
    estimates: pl.DataFrame
