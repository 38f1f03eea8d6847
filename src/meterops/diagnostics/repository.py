"""All SQL of diagnostics: the meter context, exceptions and their verdicts.

Never commits; holds no rules.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

import polars as pl
from sqlalchemy import ColumnElement, Select, and_, extract, func, or_, select

from meterops.assets.programs import TouSchedule, parse_tou_schedule
from meterops.db.repository import RepositoryBase
from meterops.diagnostics.frames import METER_CONTEXT
from meterops.diagnostics.kinds import Cause, ExceptionKind
from meterops.diagnostics.scoring import VERDICT_COLUMNS
from meterops.models import (
    Account,
    Feeder,
    Installation,
    Meter,
    MeterProgram,
    Premise,
    ServicePoint,
    Territory,
    Transformer,
)
from meterops.models.diagnostics import DiagnosticException, ExceptionStatus

__all__ = ["NO_CAUSE", "ExceptionQuery", "ExceptionRepository", "exceptions_statement"]

NO_CAUSE: Final = "none"
"""The cause filter's value for exceptions without a verdict (no cause named)."""


@dataclass(frozen=True, slots=True)
class ExceptionQuery:
    """Which exceptions to list: every field narrows (None or False: no condition).

    Attributes:
        kind: Only this kind.
        cause: Only verdicts naming this cause; :data:`NO_CAUSE`: only exceptions without one.
        min_confidence: Only verdicts at least this sure (exceptions without a confidence
            are left out). [0-1]
        open_only: Only open exceptions.
        first_seen_before_utc: Only exceptions whose first evidence is at or before this
            moment (the queue's "open for at least N days"). [UTC]
        territory_ids: Only meters of these territories: a meter's territory is that of its
            open installation, else of its latest one. None: every meter.
        include_unplaced: With ``territory_ids``, also meters never installed (they lie in
            no territory).
        meter_id: Only this meter.
    """

    kind: ExceptionKind | None = None
    cause: Cause | Literal["none"] | None = None
    min_confidence: float | None = None
    open_only: bool = False
    first_seen_before_utc: dt.datetime | None = None
    territory_ids: Collection[int] | None = None
    include_unplaced: bool = True
    meter_id: int | None = None


def exceptions_statement(
    query: ExceptionQuery,
) -> Select[DiagnosticException, str]:
    """The one SELECT of exceptions and their meter's serial that ``query`` describes.

    Unordered and unlimited: callers add the order and the page.
    """
    statement = select(DiagnosticException, Meter.serial_number).join(
        Meter, Meter.id == DiagnosticException.meter_id
    )
    conditions: list[ColumnElement[bool]] = []
    if query.kind is not None:
        conditions.append(DiagnosticException.kind == query.kind)
    if query.cause == NO_CAUSE:
        conditions.append(DiagnosticException.cause.is_(None))
    elif query.cause is not None:
        conditions.append(DiagnosticException.cause == Cause(query.cause))
    if query.min_confidence is not None:
        conditions.append(DiagnosticException.confidence >= query.min_confidence)
    if query.open_only:
        conditions.append(DiagnosticException.status == ExceptionStatus.OPEN)
    if query.first_seen_before_utc is not None:
        conditions.append(DiagnosticException.first_seen_utc <= query.first_seen_before_utc)
    if query.meter_id is not None:
        conditions.append(DiagnosticException.meter_id == query.meter_id)
    if query.territory_ids is not None:
        conditions.append(
            _meter_in_territories(query.territory_ids, unplaced=query.include_unplaced)
        )
    return statement.where(*conditions)


def _meter_in_territories(territory_ids: Collection[int], *, unplaced: bool) -> ColumnElement[bool]:
    """SQL condition: ``Meter`` lies in one of ``territory_ids`` (or, if ``unplaced``, in none)."""
    ids = list(territory_ids)

    def placed(*conditions: ColumnElement[bool]) -> ColumnElement[bool]:
        return (
            select(Installation.id)
            .join(ServicePoint, ServicePoint.id == Installation.service_point_id)
            .join(Premise, Premise.id == ServicePoint.premise_id)
            .where(Installation.meter_id == Meter.id, *conditions)
            .exists()
        )

    is_open = Installation.removed_at_utc.is_(None)
    latest = (
        select(func.max(Installation.installed_at_utc))
        .where(Installation.meter_id == Meter.id)
        .correlate(Meter)
        .scalar_subquery()
    )
    inside = or_(
        placed(is_open, Premise.territory_id.in_(ids)),
        and_(
            ~placed(is_open),
            placed(Installation.installed_at_utc == latest, Premise.territory_id.in_(ids)),
        ),
    )
    if not unplaced:
        return inside
    ever = select(Installation.id).where(Installation.meter_id == Meter.id).exists()
    return or_(inside, ~ever)


class ExceptionRepository(RepositoryBase[DiagnosticException]):
    """Exceptions, and the fleet and account facts diagnostics read."""

    model = DiagnosticException

    def meter_context(self, day: dt.date) -> pl.DataFrame:
        """``METER_CONTEXT`` of every installed meter, accounts as open on ``day``."""
        rows, closed = self.meter_context_rows(day)
        names = METER_CONTEXT.names
        types = METER_CONTEXT.schema
        # One row-oriented construction in Polars (a metro fleet has a million rows: no
        # Python object per value), then the derived columns as expressions.
        raw = pl.DataFrame(
            rows,
            schema=[
                *((name, types[name]) for name in names[:13]),
                ("_account_id", pl.Int64),
                ("_net_metering", pl.Boolean),
                ("rate_code", pl.String),
                ("_install_year", pl.Float64),
                ("latitude", pl.Float64),
                ("longitude", pl.Float64),
                ("_service_point_id", pl.Int64),
                ("account_opened_on", pl.Date),
            ],
            orient="row",
            strict=False,
        )
        closed_on = pl.DataFrame(
            {"_service_point_id": list(closed), "account_closed_on": list(closed.values())},
            schema={"_service_point_id": pl.Int64, "account_closed_on": pl.Date},
        )
        frame = (
            raw.join(closed_on, on="_service_point_id", how="left", maintain_order="left")
            .with_columns(
                pl.col("_account_id").is_not_null().alias("account_active"),
                pl.col("_net_metering").fill_null(value=False).alias("net_metering"),
                pl.col("_install_year").cast(pl.Int32).alias("install_year"),
            )
            .select(pl.col(name).cast(types[name]) for name in names)
        )
        return frame.unique("meter_id", keep="first", maintain_order=True)

    def meter_context_rows(
        self, day: dt.date
    ) -> tuple[list[tuple[Any, ...]], dict[int, dt.date | None]]:
        """The rows :meth:`meter_context` builds its frame from.

        Returns:
            One row per installed meter and open account (meter columns, account, install
            year, location, service point id, move-in date), and each service point's last
            move-out date on or before ``day``.
        """
        account_open = and_(
            Account.service_point_id == ServicePoint.id,
            Account.move_in_date <= day,
            or_(Account.move_out_date.is_(None), Account.move_out_date > day),
        )
        statement = (
            select(
                Meter.id,
                Meter.serial_number,
                Meter.vendor,
                Meter.model,
                Meter.firmware_revision,
                MeterProgram.program_code,
                Meter.ct_ratio,
                ServicePoint.transformer_rated,
                Meter.bidirectional,
                Meter.register_digits,
                ServicePoint.service_point_number,
                Transformer.code,
                Feeder.code,
                Account.id,
                Account.net_metering,
                Account.rate_code,
                extract("year", Installation.installed_at_utc),
                Premise.latitude,
                Premise.longitude,
                ServicePoint.id,
                Account.move_in_date,
            )
            .join(Installation, and_(Installation.meter_id == Meter.id))
            .join(ServicePoint, ServicePoint.id == Installation.service_point_id)
            .outerjoin(Premise, Premise.id == ServicePoint.premise_id)
            .outerjoin(Transformer, Transformer.id == ServicePoint.transformer_id)
            .outerjoin(Feeder, Feeder.id == Transformer.feeder_id)
            .outerjoin(MeterProgram, MeterProgram.id == Meter.program_id)
            .outerjoin(Account, account_open)
            .where(Installation.removed_at_utc.is_(None))
            .order_by(Meter.id)
        )
        rows = [tuple(row) for row in self.session.execute(statement).all()]
        closed = dict(
            self.session.execute(
                select(Account.service_point_id, func.max(Account.move_out_date))
                .where(Account.move_out_date <= day)
                .group_by(Account.service_point_id)
            ).all()
        )
        return rows, closed

    def program_schedules(self) -> dict[str, tuple[str | None, TouSchedule]]:
        """Program code → (tariff code, validated TOU schedule) of every meter program."""
        rows = self.session.scalars(select(MeterProgram)).all()
        return {
            p.program_code: (
                p.tariff_code,
                parse_tou_schedule(p.tou_schedule, label=p.program_code),
            )
            for p in rows
        }

    def cohort_attributes(self) -> pl.DataFrame:
        """Install batch, month and installer of every installed meter (for cohorts).

        Returns:
            ``meter_id``, ``lot_number`` (the manufacturer's lot), ``install_month``
            (``YYYY-MM`` of the current installation, UTC) and ``installer`` (who installed it).
        """
        rows = self.session.execute(
            select(
                Meter.id, Meter.lot_number, Installation.installed_at_utc, Installation.installed_by
            )
            .join(Installation, Installation.meter_id == Meter.id)
            .where(Installation.removed_at_utc.is_(None))
            .order_by(Meter.id)
        ).all()
        frame = pl.DataFrame(
            [tuple(row) for row in rows],
            schema={
                "meter_id": pl.Int64,
                "lot_number": pl.String,
                "_installed": pl.Datetime("us"),
                "installer": pl.String,
            },
            orient="row",
        )
        return frame.select(
            "meter_id",
            "lot_number",
            pl.col("_installed").dt.strftime("%Y-%m").alias("install_month"),
            "installer",
        ).unique("meter_id", keep="first", maintain_order=True)

    def open_exceptions(
        self, *, kinds: Collection[ExceptionKind] | None = None
    ) -> Sequence[DiagnosticException]:
        """Open exceptions (optionally of some kinds)."""
        statement = select(DiagnosticException).where(
            DiagnosticException.status == ExceptionStatus.OPEN
        )
        if kinds is not None:
            statement = statement.where(DiagnosticException.kind.in_(list(kinds)))
        return self.session.scalars(statement.order_by(DiagnosticException.id)).all()

    def list_exceptions(
        self,
        query: ExceptionQuery | None = None,
        *,
        limit: int = 200,
        offset: int = 0,
    ) -> Sequence[tuple[DiagnosticException, str]]:
        """Exceptions matching ``query`` with their meter's serial, newest first.

        Newest first is by ``opened_at_utc`` (descending), then by id.
        """
        statement = (
            exceptions_statement(query or ExceptionQuery())
            .order_by(DiagnosticException.opened_at_utc.desc(), DiagnosticException.id)
            .limit(limit)
            .offset(offset)
        )
        return [(row[0], row[1]) for row in self.session.execute(statement).all()]

    def territories(self, territory_ids: Collection[int] | None) -> list[tuple[int, str, str]]:
        """(id, code, name) of these territories (None: every territory), by code."""
        statement = select(Territory.id, Territory.code, Territory.name).order_by(Territory.code)
        if territory_ids is not None:
            statement = statement.where(Territory.id.in_(list(territory_ids)))
        return [(int(i), str(c), str(n)) for i, c, n in self.session.execute(statement).all()]

    def open_verdicts(self) -> pl.DataFrame:
        """Open exceptions with their verdict, meter form and service (``VERDICT_COLUMNS``)."""
        statement = (
            select(
                Meter.serial_number,
                DiagnosticException.kind,
                DiagnosticException.cause,
                DiagnosticException.action,
                DiagnosticException.order_type,
                ServicePoint.transformer_rated,
                Meter.form,
                DiagnosticException.verdict_evidence,
            )
            .join(Meter, Meter.id == DiagnosticException.meter_id)
            .outerjoin(
                Installation,
                and_(Installation.meter_id == Meter.id, Installation.removed_at_utc.is_(None)),
            )
            .outerjoin(ServicePoint, ServicePoint.id == Installation.service_point_id)
            .where(DiagnosticException.status == ExceptionStatus.OPEN)
            .order_by(DiagnosticException.id)
        )
        rows = [
            (
                serial,
                str(kind),
                str(cause) if cause is not None else None,
                str(action) if action is not None else None,
                order_type,
                bool(rated),
                form,
                (verdict or {}).get("subject") or "meter",
                ((verdict or {}).get("facts") or {}).get("collector_code"),
            )
            for serial, kind, cause, action, order_type, rated, form, verdict in (
                self.session.execute(statement).all()
            )
        ]
        return pl.DataFrame(rows, schema=VERDICT_COLUMNS, orient="row")

    def last_run_utc(self) -> dt.datetime | None:
        """The latest moment a run opened or closed an exception (None: no exception)."""
        opened = self.session.scalar(select(func.max(DiagnosticException.opened_at_utc)))
        closed = self.session.scalar(select(func.max(DiagnosticException.closed_at_utc)))
        found = [m for m in (opened, closed) if m is not None]
        return max(found) if found else None

    def meter_id_of(self, serial_number: str) -> int | None:
        """The id of the meter with this serial, or None."""
        found = self.session.scalar(select(Meter.id).where(Meter.serial_number == serial_number))
        return int(found) if found is not None else None

    def serials(self, meter_ids: Collection[int]) -> dict[int, str]:
        """Meter id → serial number."""
        if not meter_ids:
            return {}
        rows = self.session.execute(
            select(Meter.id, Meter.serial_number).where(Meter.id.in_(list(meter_ids)))
        ).all()
        return {int(i): str(s) for i, s in rows}
