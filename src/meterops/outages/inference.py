"""Outage inference from last gasps and restores, placed up the grid (meter → transformer → feeder).

Input: end-device events (``meter_key``, ``event_time_utc``, ``event``: ``last_gasp``,
``power_loss`` or ``power_restored``) and the grid (``meter_key``, ``transformer_code``,
``feeder_code``). Not every meter's last gasp gets through (the radio dies with the power); a
meter also logs the power-down with its time and reports it once power is back, so a lost gasp
is made good once the restore is reported (a "gasp" below is either; ``last_gasps`` counts only
the real ones, which pings confirm). An outage is placed at the highest device a large enough
share of whose meters gasped together:

1. Each last gasp is paired with the meter's next restore; a gasp restored within
   ``momentary_s`` is a momentary interruption and is dropped.
2. Gasps on one feeder are grouped in time: a gap longer than ``cluster_gap_s`` starts a new
   group, so nested or successive outages on one feeder stay apart.
3. In a group, a feeder where at least ``feeder_share`` of the meters gasped is a feeder
   outage (all its meters affected); otherwise each transformer where at least
   ``transformer_share`` of the meters gasped (at least two, or its only meter) is a transformer
   outage; every other gasp is a single-meter problem (a pulled meter, a failed socket).
4. The incident starts at its first gasp and is restored when at least ``restored_share`` of
   its meters reported a restore, at the latest of those restores. Its confidence is the share
   of its meters that told us anything (a gasp or a restore).

Pure module: polars and the standard library; must not import ``meterops.db``, ``models``,
``web``, ``cli`` or ``config``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

import polars as pl

__all__ = [
    "EVENTS_COLUMNS",
    "GRID_COLUMNS",
    "INCIDENT_COLUMNS",
    "OutageParams",
    "infer_outages",
]

EVENTS_COLUMNS: Final = ("meter_key", "event_time_utc", "event")
"""Columns of the events frame (``event``: ``last_gasp``, ``power_loss`` or ``power_restored``)."""

_DOWN_EVENTS: Final = ("last_gasp", "power_loss")
_SAME_LOSS_S: Final = 10.0
"""A last gasp and a logged power-down this close together are one loss of power. [s]"""

GRID_COLUMNS: Final = ("meter_key", "transformer_code", "feeder_code")
"""Columns of the grid frame (one row per installed meter)."""

INCIDENT_COLUMNS: Final = (
    "incident",
    "level",
    "device_code",
    "feeder_code",
    "started_at_utc",
    "restored_at_utc",
    "affected_meters",
    "last_gasps",
    "confidence",
)
"""Columns of the incidents frame."""


@dataclass(frozen=True, slots=True)
class OutageParams:
    """Thresholds of outage inference.

    Attributes:
        transformer_share: Share of a transformer's meters that must gasp.
        feeder_share: Share of a feeder's meters that must gasp.
        cluster_gap_s: Gasps further apart than this on one feeder are separate events. [s]
        momentary_s: A gasp restored within this is a momentary interruption. [s]
        restored_share: Share of an incident's meters whose restore ends it.
    """

    transformer_share: float = 0.5
    feeder_share: float = 0.3
    cluster_gap_s: float = 300.0
    momentary_s: float = 60.0
    restored_share: float = 0.8


def _check(frame: pl.DataFrame, columns: tuple[str, ...], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        from meterops.errors import DataContractError

        msg = f"{name} frame lacks columns {missing}; found {frame.columns}"
        raise DataContractError(msg, code="outages.columns")


def infer_outages(
    events: pl.DataFrame, grid: pl.DataFrame, *, params: OutageParams
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Incidents and their members from last gasps and restores.

    Args:
        events: ``meter_key``, ``event_time_utc`` (aware UTC), ``event``.
        grid: ``meter_key``, ``transformer_code``, ``feeder_code``.
        params: Thresholds.

    Returns:
        ``(incidents, members)``: incidents with :data:`INCIDENT_COLUMNS`; members with
        ``incident``, ``meter_key``, ``last_gasp`` (bool), ``restored_at_utc``.

    Examples:
        >>> import datetime as dt
        >>> t = dt.datetime(2026, 1, 5, 12, tzinfo=dt.UTC)
        >>> grid = pl.DataFrame({"meter_key": ["a", "b", "c", "d"],
        ...     "transformer_code": ["T1", "T1", "T1", "T2"], "feeder_code": ["F"] * 4})
        >>> events = pl.DataFrame({"meter_key": ["a", "b", "a", "b", "c"],
        ...     "event_time_utc": [t, t, t + dt.timedelta(hours=1),
        ...                        t + dt.timedelta(hours=1), t + dt.timedelta(hours=1)],
        ...     "event": ["last_gasp", "last_gasp", "power_restored", "power_restored",
        ...               "power_restored"]})
        >>> incidents, _ = infer_outages(events, grid, params=OutageParams(feeder_share=0.9))
        >>> incidents.select("level", "device_code", "affected_meters").rows()
        [('transformer', 'T1', 3)]
    """
    _check(events, EVENTS_COLUMNS, "events")
    _check(grid, GRID_COLUMNS, "grid")
    grid = grid.select(GRID_COLUMNS).unique("meter_key")
    time = pl.col("event_time_utc")
    # A last gasp, or the power-down a meter logged: one loss of power per meter, however many
    # of the two told us about it (``live``: a last gasp came).
    step = pl.col("gasp_utc").diff().over("meter_key")
    gasps = (
        events.filter(pl.col("event").is_in(_DOWN_EVENTS))
        .select("meter_key", time.alias("gasp_utc"), (pl.col("event") == "last_gasp").alias("live"))
        .sort("meter_key", "gasp_utc")
        .with_columns(
            (step.is_null() | (step > dt.timedelta(seconds=_SAME_LOSS_S)))
            .cum_sum()
            .over("meter_key")
            .alias("loss")
        )
        .group_by("meter_key", "loss", maintain_order=True)
        .agg(pl.col("gasp_utc").min(), pl.col("live").any())
        .drop("loss")
    )
    restores = (
        events.filter(pl.col("event") == "power_restored")
        .select("meter_key", time.alias("restore_utc"))
        .sort("meter_key", "restore_utc")
    )
    paired = gasps.sort("gasp_utc").join_asof(
        restores.sort("restore_utc"),
        left_on="gasp_utc",
        right_on="restore_utc",
        by="meter_key",
        strategy="forward",
        check_sortedness=False,
    )
    momentary = dt.timedelta(seconds=params.momentary_s)
    # A logged power-down reaches the head-end with the restore: without one it is not known yet.
    sustained = paired.filter(
        (pl.col("live") | pl.col("restore_utc").is_not_null())
        & (
            pl.col("restore_utc").is_null()
            | (pl.col("restore_utc") - pl.col("gasp_utc") > momentary)
        )
    ).join(grid, on="meter_key", how="inner")
    empty_incidents = pl.DataFrame(
        schema={
            "incident": pl.Int64,
            "level": pl.String,
            "device_code": pl.String,
            "feeder_code": pl.String,
            "started_at_utc": pl.Datetime("us", "UTC"),
            "restored_at_utc": pl.Datetime("us", "UTC"),
            "affected_meters": pl.Int64,
            "last_gasps": pl.Int64,
            "confidence": pl.Float64,
        }
    )
    empty_members = pl.DataFrame(
        schema={
            "incident": pl.Int64,
            "meter_key": pl.String,
            "last_gasp": pl.Boolean,
            "restored_at_utc": pl.Datetime("us", "UTC"),
        }
    )
    if sustained.is_empty():
        return empty_incidents, empty_members
    gap = dt.timedelta(seconds=params.cluster_gap_s)
    clustered = sustained.sort("feeder_code", "gasp_utc").with_columns(
        (pl.col("gasp_utc").diff().over("feeder_code").fill_null(dt.timedelta(0)) > gap)
        .cum_sum()
        .over("feeder_code")
        .alias("cluster")
    )
    feeder_size = grid.group_by("feeder_code").len("feeder_meters")
    transformer_size = grid.group_by("transformer_code").len("transformer_meters")
    incidents: list[dict[str, object]] = []
    members: list[dict[str, object]] = []
    restore_map = restores.group_by("meter_key").agg(pl.col("restore_utc"))
    restore_lists: dict[str, list[dt.datetime]] = dict(
        zip(restore_map["meter_key"].to_list(), restore_map["restore_utc"].to_list(), strict=True)
    )
    meters_of_feeder = grid.group_by("feeder_code").agg(pl.col("meter_key"))
    feeder_meters: dict[str, list[str]] = dict(
        zip(
            meters_of_feeder["feeder_code"].to_list(),
            meters_of_feeder["meter_key"].to_list(),
            strict=True,
        )
    )
    meters_of_tx = grid.group_by("transformer_code").agg(pl.col("meter_key"))
    tx_meters: dict[str, list[str]] = dict(
        zip(
            meters_of_tx["transformer_code"].to_list(),
            meters_of_tx["meter_key"].to_list(),
            strict=True,
        )
    )
    groups = (
        clustered.join(feeder_size, on="feeder_code")
        .join(transformer_size, on="transformer_code")
        .partition_by(["feeder_code", "cluster"], maintain_order=True)
    )

    def add(level: str, device: str, feeder: str, keys: list[str], group: pl.DataFrame) -> None:
        start: dt.datetime = group["gasp_utc"].min()  # type: ignore[assignment]
        told = set(group["meter_key"].to_list())
        gasped = set(group.filter(pl.col("live"))["meter_key"].to_list())
        restored: dict[str, dt.datetime] = {}
        for key in keys:
            after = [r for r in restore_lists.get(key, []) if r > start]
            if after:
                restored[key] = min(after)
        end = (
            max(restored.values())
            if keys and len(restored) / len(keys) >= params.restored_share
            else None
        )
        heard = len(told | set(restored))
        number = len(incidents) + 1
        incidents.append(
            {
                "incident": number,
                "level": level,
                "device_code": device,
                "feeder_code": feeder,
                "started_at_utc": start,
                "restored_at_utc": end,
                "affected_meters": len(keys),
                "last_gasps": len(gasped),
                "confidence": round(heard / len(keys), 3) if keys else 0.0,
            }
        )
        members.extend(
            {
                "incident": number,
                "meter_key": key,
                "last_gasp": key in gasped,
                "restored_at_utc": restored.get(key),
            }
            for key in keys
        )

    for group in groups:
        feeder = str(group["feeder_code"][0])
        n_feeder = int(group["feeder_meters"][0])
        if group["meter_key"].n_unique() >= params.feeder_share * n_feeder and n_feeder > 1:
            add("feeder", feeder, feeder, sorted(feeder_meters[feeder]), group)
            continue
        for tx_group in group.partition_by("transformer_code", maintain_order=True):
            tx = str(tx_group["transformer_code"][0])
            size = int(tx_group["transformer_meters"][0])
            k = tx_group["meter_key"].n_unique()
            if k >= params.transformer_share * size and (k >= 2 or size == 1):
                add("transformer", tx, feeder, sorted(tx_meters[tx]), tx_group)
                continue
            for row in tx_group.partition_by("meter_key", maintain_order=True):
                add("meter", str(row["meter_key"][0]), feeder, [str(row["meter_key"][0])], row)
    incidents_frame = pl.DataFrame(incidents, schema=empty_incidents.schema)
    members_frame = pl.DataFrame(members, schema=empty_members.schema)
    return incidents_frame.sort("started_at_utc", "incident"), members_frame
