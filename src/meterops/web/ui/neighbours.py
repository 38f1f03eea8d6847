"""The meter page's neighbours map: who else on the meter's parent, collector and transformer reads.

How a technician tells "a collector outage" from "this meter's radio": the meters that share
this meter's mesh parent, its collector or its transformer, each at its premise position,
reading or silent, with the cause of any open diagnostics exception.

* **Mesh**: the meter's parent and collector are those of its latest comm-stats row that
  names a collector (as :mod:`meterops.diagnostics.facts` takes them) in the
  :data:`~meterops.web.ui.meter_panels.TREND_DAYS` days of the page; the other meters' are
  those of their latest row in the last :data:`MESH_DAYS` days (the head-end reports every
  meter every day, a silent one with no reads received).
* **Transformer**: the meters installed now at service points on the meter's transformer.
* **Reading**: a meter reads when its comm stats of periods that end in the last
  :data:`READING_HOURS` hours of the page's data received at least one interval read;
  otherwise (no reads received, or no comm stats in those hours) it is silent.

Premise positions are customer data: the map is for whoever may see the meter's customer
(:func:`meterops.web.ui.meter_panels.can_see_customer`), and shows only meters of the user's
territories. At most :data:`NEIGHBOUR_LIMIT` neighbours are drawn (parent siblings first,
then the transformer's meters, then the collector's), the rest counted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Final

import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from meterops.assets import service as assets_service
from meterops.auth.service import CurrentUser
from meterops.config import Settings
from meterops.db.repository import RepositoryBase
from meterops.errors import PermissionDeniedError
from meterops.models import Installation, Meter, Premise, ServicePoint
from meterops.models.diagnostics import DiagnosticException, ExceptionStatus
from meterops.models.grid import Transformer
from meterops.reads.store import ReadStore, Table
from meterops.timeutil import local_day_bounds_utc
from meterops.web.ui.meter_panels import TREND_DAYS, MeterPageRepository, can_see_customer

__all__ = [
    "HIDDEN_REASON",
    "MESH_DAYS",
    "NEIGHBOUR_LIMIT",
    "PLACED_SCHEMA",
    "READING_HOURS",
    "Mesh",
    "NeighbourRepository",
    "classify_neighbours",
    "latest_mesh",
    "meter_mesh",
    "neighbours_geojson",
    "summaries",
]

NEIGHBOUR_LIMIT: Final = 500
"""At most this many neighbours (besides the meter) are drawn."""

MESH_DAYS: Final = 2
"""Local days of comm stats (ending on the page's last day) that place the neighbours."""

READING_HOURS: Final = 24
"""A meter reads when it received interval reads in this many last hours of the data. [h]"""

HIDDEN_REASON: Final = (
    "The neighbours map shows premise positions, which are customer data: it is shown only to "
    "dispatchers and supervisors of the territory, and to the technician of an open order."
)
"""The sentence shown instead of the map to a user who may not see it."""

PLACED_SCHEMA: Final = {
    "meter_id": pl.Int64,
    "serial_number": pl.String,
    "latitude": pl.Float64,
    "longitude": pl.Float64,
    "transformer_code": pl.String,
    "cause": pl.String,
}
"""Columns of the placed meters :func:`classify_neighbours` takes (``cause``: open exception)."""

_RELATIONS: Final = ("parent", "transformer", "collector")


@dataclass(frozen=True, slots=True)
class Mesh:
    """Where a meter sits in the network.

    Attributes:
        parent_node: Code of its mesh parent (router or collector), None when unknown.
        collector_code: Code of the collector it reports through, None when unknown.
        transformer_code: Code of the transformer of its service point, None when unknown.
    """

    parent_node: str | None
    collector_code: str | None
    transformer_code: str | None


def latest_mesh(comm: pl.DataFrame, *, end_utc: dt.datetime) -> pl.DataFrame:
    """Each meter's latest parent and collector, and whether it read in the last hours.

    Args:
        comm: Comm-stats rows (``COMM_STATS`` columns ``meter_id``, ``period_start_utc``,
            ``period_s``, ``reads_received``, ``parent_node``, ``collector_code``).
        end_utc: End of the page's data. [UTC]

    Returns:
        One row per meter: ``meter_id``, ``parent_node``, ``collector_code`` (of its latest
        row naming a collector; null when none does), ``reading`` (interval reads received
        in periods ending in the last :data:`READING_HOURS` hours before ``end_utc``).

    Examples:
        >>> import datetime as dt
        >>> t, day = dt.datetime(2026, 3, 1, 6, tzinfo=dt.UTC), dt.timedelta(days=1)
        >>> comm = pl.DataFrame({
        ...     "meter_id": [1, 1, 2], "period_start_utc": [t, t + day, t + day],
        ...     "period_s": [86400] * 3, "reads_received": [96, 0, 96],
        ...     "parent_node": ["R-1", "R-2", "R-1"], "collector_code": ["C-1"] * 3})
        >>> out = latest_mesh(comm, end_utc=t + 2 * day)
        >>> out.sort("meter_id").rows()
        [(1, 'R-2', 'C-1', False), (2, 'R-1', 'C-1', True)]
    """
    since = end_utc - dt.timedelta(hours=READING_HOURS)
    period_end = pl.col("period_start_utc") + pl.duration(seconds=pl.col("period_s"))
    frame = comm.lazy().sort("meter_id", "period_start_utc")
    mesh = (
        frame.filter(pl.col("collector_code").is_not_null())
        .group_by("meter_id")
        .agg(pl.col("parent_node").last(), pl.col("collector_code").last())
    )
    reading = (
        frame.filter(period_end > since, period_end <= end_utc)
        .group_by("meter_id")
        .agg((pl.col("reads_received").sum() > 0).alias("reading"))
    )
    return (
        frame.select("meter_id")
        .unique()
        .join(mesh, on="meter_id", how="left")
        .join(reading, on="meter_id", how="left")
        .with_columns(pl.col("reading").fill_null(value=False))
        .select("meter_id", "parent_node", "collector_code", "reading")
        .collect()
    )


def classify_neighbours(
    mesh: pl.DataFrame, placed: pl.DataFrame, *, meter_id: int, own: Mesh
) -> pl.DataFrame:
    """The meter and its neighbours with how they relate to it and whether they read.

    Args:
        mesh: :func:`latest_mesh` of the fleet (a meter absent from it is silent).
        placed: The candidate meters with positions (:data:`PLACED_SCHEMA`), the meter among
            them; meters the user may not see left out.
        meter_id: The meter of the page.
        own: The meter's parent, collector and transformer.

    Returns:
        Rows of ``placed`` related to the meter (``is_self`` or sharing its parent,
        transformer or collector), with ``parent_node``, ``collector_code``, ``reading``,
        ``is_self`` and ``relations`` (list of ``parent``, ``transformer``, ``collector``),
        the meter first, then parent siblings, transformer, collector, each by serial.
    """
    relations = [
        pl.when(pl.col(column).is_not_null() & (pl.col(column) == pl.lit(value, pl.String)))
        .then(pl.lit(name))
        .otherwise(None)
        for name, column, value in (
            ("parent", "parent_node", own.parent_node),
            ("transformer", "transformer_code", own.transformer_code),
            ("collector", "collector_code", own.collector_code),
        )
    ]
    rank = (
        pl.when(pl.col("is_self"))
        .then(0)
        .otherwise(
            pl.min_horizontal(
                pl.when(pl.col("relations").list.contains(name)).then(index)
                for index, name in enumerate(_RELATIONS, start=1)
            )
        )
    )
    return (
        placed.join(mesh, on="meter_id", how="left")
        .with_columns(
            pl.col("reading").fill_null(value=False),
            (pl.col("meter_id") == meter_id).alias("is_self"),
            pl.concat_list(relations).list.drop_nulls().alias("relations"),
        )
        .filter(pl.col("is_self") | (pl.col("relations").list.len() > 0))
        .with_columns(rank.alias("_rank"))
        .sort("_rank", "serial_number")
        .drop("_rank")
    )


def summaries(classified: pl.DataFrame, own: Mesh) -> list[str]:
    """One line per shared node: how many of its meters (the meter included) still read.

    Args:
        classified: :func:`classify_neighbours` output.
        own: The meter's parent, collector and transformer.

    Returns:
        Lines like ``"11 of 12 meters on parent R-0042 still read"``.

    Examples:
        >>> frame = pl.DataFrame({"reading": [False, True, True],
        ...     "relations": [["parent"], ["parent"], ["collector"]]})
        >>> summaries(frame, Mesh("R-7", "C-1", None))
        ['1 of 2 meters on parent R-7 still read', '1 of 1 meter on collector C-1 still read']
    """
    lines = []
    for name, code in (
        ("parent", own.parent_node),
        ("transformer", own.transformer_code),
        ("collector", own.collector_code),
    ):
        if code is None:
            continue
        members = classified.filter(pl.col("relations").list.contains(name))
        if members.height == 0:
            continue
        read = int(members["reading"].sum())
        noun = "meter" if members.height == 1 else "meters"
        lines.append(f"{read} of {members.height} {noun} on {name} {code} still read")
    return lines


class NeighbourRepository(RepositoryBase[Meter]):
    """The SQL of the neighbours map: transformer members, positions, open exception causes."""

    model = Meter

    def transformer_meters(self, meter_id: int) -> tuple[str | None, list[int]]:
        """The code of the meter's transformer and the meters installed on it now."""
        code = self.session.execute(
            select(Transformer.id, Transformer.code)
            .join(ServicePoint, ServicePoint.transformer_id == Transformer.id)
            .join(Installation, Installation.service_point_id == ServicePoint.id)
            .where(Installation.meter_id == meter_id, Installation.removed_at_utc.is_(None))
        ).first()
        if code is None:
            return None, []
        members = self.session.scalars(
            select(Installation.meter_id)
            .join(ServicePoint, ServicePoint.id == Installation.service_point_id)
            .where(ServicePoint.transformer_id == code[0], Installation.removed_at_utc.is_(None))
            .order_by(Installation.meter_id)
            .limit(NEIGHBOUR_LIMIT + 1)
        ).all()
        return code[1], list(members)

    def placed(self, meter_ids: Collection[int], territory_ids: Collection[int]) -> pl.DataFrame:
        """The installed meters among ``meter_ids`` in these territories, with positions.

        Returns:
            A :data:`PLACED_SCHEMA` frame; ``cause`` is the cause (else the kind) of the
            meter's latest open diagnostics exception.
        """
        ids = sorted(set(meter_ids))
        rows = self.session.execute(
            select(
                Meter.id,
                Meter.serial_number,
                Premise.latitude,
                Premise.longitude,
                Transformer.code,
            )
            .join(Installation, Installation.meter_id == Meter.id)
            .join(ServicePoint, ServicePoint.id == Installation.service_point_id)
            .join(Premise, Premise.id == ServicePoint.premise_id)
            .outerjoin(Transformer, Transformer.id == ServicePoint.transformer_id)
            .where(
                Meter.id.in_(ids),
                Installation.removed_at_utc.is_(None),
                Premise.territory_id.in_(list(territory_ids)),
            )
        ).all()
        causes: dict[int, str] = {}
        for exception in self.session.scalars(
            select(DiagnosticException)
            .where(
                DiagnosticException.meter_id.in_(ids),
                DiagnosticException.status == ExceptionStatus.OPEN,
            )
            .order_by(DiagnosticException.last_seen_utc)
        ):
            label = exception.kind.value.replace("_", " ")
            if exception.cause is not None:
                label = f"{label}: {exception.cause.value.replace('_', ' ')}"
            causes[exception.meter_id] = label
        return pl.DataFrame(
            [(*row, causes.get(row[0])) for row in rows], schema=PLACED_SCHEMA, orient="row"
        )


def meter_mesh(comm: pl.DataFrame) -> tuple[str | None, str | None]:
    """The parent and collector of the meter's latest comm-stats row that names a collector.

    Args:
        comm: The meter's comm-stats rows (``COMM_STATS``).

    Returns:
        ``(parent_node, collector_code)``, both None when no row names a collector.
    """
    named = comm.filter(pl.col("collector_code").is_not_null()).sort("period_start_utc")
    if named.height == 0:
        return None, None
    last = named.row(-1, named=True)
    return last["parent_node"], last["collector_code"]


def _feature(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [row["longitude"], row["latitude"]]},
        "properties": {
            "serial_number": row["serial_number"],
            "self": row["is_self"],
            "reading": row["reading"],
            "relations": row["relations"],
            "parent_node": row["parent_node"],
            "collector_code": row["collector_code"],
            "transformer_code": row["transformer_code"],
            "cause": row["cause"],
        },
    }


def neighbours_geojson(
    session: Session,
    settings: Settings,
    *,
    serial: str,
    last_day: dt.date,
    user: CurrentUser | None,
) -> dict[str, Any]:
    """The meter and its neighbours as a GeoJSON feature collection (the map's data).

    Args:
        session: Database session.
        settings: Settings (zone, read store).
        serial: Meter serial number.
        last_day: Last local day of the page's data.
        user: The signed-in user.

    Returns:
        A ``FeatureCollection`` (``[longitude, latitude]`` in degrees) with ``summary``
        (:func:`summaries`), ``mesh`` (the meter's parent, collector, transformer),
        ``truncated`` (neighbours left out past :data:`NEIGHBOUR_LIMIT`) and ``as_of_utc``.

    Raises:
        NotFoundError: Unknown meter.
        PermissionDeniedError: The user may not see the meter's customer data.
    """
    meter = assets_service.get_meter(session, serial)
    if user is None or not can_see_customer(MeterPageRepository(session), meter.id, user):
        raise PermissionDeniedError(HIDDEN_REASON, code="permission_denied.customer_data")
    end_utc = local_day_bounds_utc(last_day, settings.zone)[1]
    store = ReadStore(settings.reads_uri)
    own_comm = store.records(
        Table.COMM_STATS,
        start_utc=end_utc - dt.timedelta(days=TREND_DAYS),
        end_utc=end_utc,
        ids=[meter.id],
    )
    parent, collector = meter_mesh(own_comm)
    repository = NeighbourRepository(session)
    transformer, on_transformer = repository.transformer_meters(meter.id)
    own = Mesh(parent, collector, transformer)
    fleet = store.records(
        Table.COMM_STATS, start_utc=end_utc - dt.timedelta(days=MESH_DAYS), end_utc=end_utc
    )
    mesh = latest_mesh(fleet, end_utc=end_utc)
    shared = mesh.filter(
        (pl.col("parent_node") == pl.lit(parent, pl.String))
        | (pl.col("collector_code") == pl.lit(collector, pl.String))
    )
    # Parent siblings first, so that the limit cuts the collector's far meters.
    ordered = [
        *shared.filter(pl.col("parent_node") == pl.lit(parent, pl.String))["meter_id"],
        *on_transformer,
        *shared["meter_id"],
    ]
    chosen = list(dict.fromkeys([meter.id, *ordered]))
    candidates = chosen[: NEIGHBOUR_LIMIT + 1]
    placed = repository.placed(candidates, user.territory_ids)
    classified = classify_neighbours(mesh, placed, meter_id=meter.id, own=own)
    return {
        "type": "FeatureCollection",
        "features": [_feature(row) for row in classified.iter_rows(named=True)],
        "summary": summaries(classified, own),
        "mesh": {
            "parent_node": parent,
            "collector_code": collector,
            "transformer_code": transformer,
        },
        "truncated": len(chosen) - len(candidates),
        "as_of_utc": end_utc.isoformat(),
    }
