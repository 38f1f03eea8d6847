"""Zero estimates inside the outage incidents the outage system recorded.

The engine already estimates a gap as zero (``zero_outage``) when the meter's own events
(``power_loss`` … ``power_restored``) cover it. A meter inside a transformer or feeder outage
often sends no last gasp at all (the outage system placed it from missing reads up the
feeder → transformer → meter tree), so its events say nothing, and the engine would estimate
its missing intervals as normal consumption. :func:`zero_in_incidents` runs after the engine
(on the estimates of either path, so the reference and fast paths stay identical): every
estimated interval lying wholly inside an outage period of its meter
(``meterops.outages.service.outage_periods``: meter, transformer and feeder incidents) and
estimated by a consumption method (interpolation, like day, flat average, register-scaled
profile) becomes zero with method :data:`INCIDENT_METHOD` and reason code
:data:`INCIDENT_REASON` — no power, no consumption — as a utility's MDM does.

An interval only partly inside the period keeps its consumption estimate (the meter had
power for part of it).

Pure module: polars and pure meterops modules only; must not import ``meterops.db``,
``models``, ``web``, ``cli`` or ``config``.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from meterops.reads.schema import UTC_DATETIME
from meterops.vee.estimation import Method

__all__ = [
    "INCIDENT_ACTOR",
    "INCIDENT_METHOD",
    "INCIDENT_PERIODS",
    "INCIDENT_REASON",
    "INCIDENT_VERSION",
    "zero_in_incidents",
]

INCIDENT_METHOD: Final = "zero_outage_incident"
"""Method of a zero estimate inside a recorded outage incident."""

INCIDENT_REASON: Final = "outage_incident"
"""Reason code of those estimates (distinct from the event-based ``power_outage``)."""

INCIDENT_VERSION: Final = 1
"""Version of the rule (part of the actor)."""

INCIDENT_ACTOR: Final = f"estimation.{INCIDENT_METHOD}@{INCIDENT_VERSION}"
"""Actor of those estimates."""

INCIDENT_PERIODS: Final = pl.Schema(
    {"meter_id": pl.Int64(), "outage_start_utc": UTC_DATETIME, "outage_end_utc": UTC_DATETIME}
)
"""Outage periods per meter (``outage_end_utc`` null while the outage goes on)."""

_KEEP: Final = (Method.ZERO_DISCONNECTED.value, Method.ZERO_OUTAGE.value)
_T: Final = "interval_start_utc"


def zero_in_incidents(estimates: pl.DataFrame, periods: pl.DataFrame) -> pl.DataFrame:
    """Estimates with those inside an outage period of their meter set to zero.

    Args:
        estimates: ``meterops.vee.estimation.ESTIMATES`` rows (either path).
        periods: :data:`INCIDENT_PERIODS` rows (other columns are ignored).

    Returns:
        The estimates in the same order and schema; an estimate whose interval
        ``[start, start + interval_s)`` lies wholly inside a period of its meter, made by a
        consumption method, has ``value`` 0, ``method`` :data:`INCIDENT_METHOD`,
        ``reason_code`` :data:`INCIDENT_REASON` and ``actor`` :data:`INCIDENT_ACTOR`.

    Examples:
        >>> import datetime as dt
        >>> t = dt.datetime(2026, 3, 5, 10, tzinfo=dt.UTC)
        >>> est = pl.DataFrame({"meter_id": [1, 1, 2], _T: [t, t + dt.timedelta(hours=3), t],
        ...     "interval_s": [900, 900, 900], "value": [0.4, 0.5, 0.6],
        ...     "method": ["like_day"] * 3, "reason_code": ["missing_read"] * 3,
        ...     "actor": ["estimation.like_day@1"] * 3})
        >>> per = pl.DataFrame({"meter_id": [1], "outage_start_utc": [t],
        ...     "outage_end_utc": [t + dt.timedelta(hours=2)]})
        >>> zero_in_incidents(est, per).select("value", "method").rows()
        [(0.0, 'zero_outage_incident'), (0.5, 'like_day'), (0.6, 'like_day')]
    """
    if estimates.is_empty() or periods.is_empty():
        return estimates
    keyed = estimates.with_row_index("_row")
    spans = periods.select(
        pl.col("meter_id").cast(pl.Int64),
        pl.col("outage_start_utc").cast(estimates.schema[_T]).alias("_a"),
        pl.col("outage_end_utc").cast(estimates.schema[_T]).alias("_b"),
    )
    end = pl.col(_T) + pl.duration(seconds=pl.col("interval_s"))
    inside = (
        keyed.filter(~pl.col("method").is_in(_KEEP))
        .select("_row", "meter_id", _T, end.alias("_end"))
        .join(spans, on="meter_id")
        .filter(
            (pl.col(_T) >= pl.col("_a"))
            & (pl.col("_b").is_null() | (pl.col("_end") <= pl.col("_b")))
        )
        .select("_row")
        .unique()
        .with_columns(pl.lit(value=True).alias("_in"))
    )
    hit = pl.col("_in").fill_null(value=False)
    return (
        keyed.join(inside, on="_row", how="left")
        .sort("_row")
        .with_columns(
            pl.when(hit).then(0.0).otherwise(pl.col("value")).alias("value"),
            pl.when(hit).then(pl.lit(INCIDENT_METHOD)).otherwise(pl.col("method")).alias("method"),
            pl.when(hit)
            .then(pl.lit(INCIDENT_REASON))
            .otherwise(pl.col("reason_code"))
            .alias("reason_code"),
            pl.when(hit).then(pl.lit(INCIDENT_ACTOR)).otherwise(pl.col("actor")).alias("actor"),
        )
        .select(estimates.columns)
        .cast(estimates.schema)
    )
