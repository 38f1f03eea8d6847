"""Every SQL statement of high-bill investigations: the account, its meters, neighbours, tests.

Must not commit, and holds no business rule.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import polars as pl
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from meterops.billing.usage import ACCOUNT_METERS
from meterops.errors import NotFoundError
from meterops.models.accounts import Account, Customer
from meterops.models.grid import Transformer
from meterops.models.meter_shop import AccuracyTestRecord
from meterops.models.meters import Installation, Meter, MeterProgram
from meterops.models.org import Territory
from meterops.models.premises import Premise, ServicePoint

__all__ = ["AccountFacts", "BillingRepository"]


@dataclass(frozen=True, slots=True)
class AccountFacts:
    """What an investigation needs to know about an account (no ORM objects leave here).

    Attributes:
        account_number: The account.
        customer_name: For the letter only.
        address: Service address lines, for the letter only.
        rate_code: The account's rate.
        service_point_id: Where it is served.
        transformer_id: Its service transformer (None: unknown).
        transformer_kva: That transformer's rating. [kVA]
        territory_code: Territory (selects the weather file).
        move_in_date: Account start.
        move_out_date: Account end (None: open).
    """

    account_number: str
    customer_name: str
    address: tuple[str, ...]
    rate_code: str
    service_point_id: int
    transformer_id: int | None
    transformer_kva: float | None
    territory_code: str
    move_in_date: dt.date
    move_out_date: dt.date | None


class BillingRepository:
    """Queries of the billing capability."""

    def __init__(self, session: Session) -> None:
        """Bind to a session."""
        self.session = session

    def account(self, account_number: str) -> AccountFacts:
        """The account's facts.

        Raises:
            NotFoundError: No such account.
        """
        row = self.session.execute(
            select(Account, Customer, ServicePoint, Premise, Territory, Transformer)
            .join(Customer, Customer.id == Account.customer_id)
            .join(ServicePoint, ServicePoint.id == Account.service_point_id)
            .join(Premise, Premise.id == ServicePoint.premise_id)
            .join(Territory, Territory.id == Premise.territory_id)
            .outerjoin(Transformer, Transformer.id == ServicePoint.transformer_id)
            .where(Account.account_number == account_number)
        ).one_or_none()
        if row is None:
            msg = f"no account {account_number!r}; check the account number"
            raise NotFoundError(
                msg, code="billing.account_not_found", details={"account_number": account_number}
            )
        account, customer, point, premise, territory, transformer = row
        return AccountFacts(
            account_number=account.account_number,
            customer_name=customer.name,
            address=(
                premise.address_line,
                f"{premise.city}, {premise.state} {premise.postal_code}",
            ),
            rate_code=account.rate_code,
            service_point_id=point.id,
            transformer_id=point.transformer_id,
            transformer_kva=transformer.kva if transformer is not None else None,
            territory_code=territory.code,
            move_in_date=account.move_in_date,
            move_out_date=account.move_out_date,
        )

    def _installations(
        self, service_point_ids: list[int], start_utc: dt.datetime, end_utc: dt.datetime
    ) -> list[Any]:
        return list(
            self.session.execute(
                select(Installation, Meter, MeterProgram.program_code)
                .join(Meter, Meter.id == Installation.meter_id)
                .outerjoin(MeterProgram, MeterProgram.id == Meter.program_id)
                .where(
                    Installation.service_point_id.in_(service_point_ids),
                    Installation.installed_at_utc < end_utc,
                    or_(
                        Installation.removed_at_utc.is_(None),
                        Installation.removed_at_utc > start_utc,
                    ),
                )
                .order_by(Installation.installed_at_utc)
            ).all()
        )

    def meters(
        self, service_point_id: int, *, start_utc: dt.datetime, end_utc: dt.datetime
    ) -> pl.DataFrame:
        """Meters installed at the service point in the window (``ACCOUNT_METERS`` + extras).

        Extra columns: ``pt_ratio``, ``program_code``.
        """
        rows = [
            {
                "meter_id": meter.id,
                "serial_number": meter.serial_number,
                "multiplier": float(meter.ct_ratio) * float(meter.pt_ratio),
                "installed_from_utc": installation.installed_at_utc.replace(tzinfo=dt.UTC)
                if installation.installed_at_utc.tzinfo is None
                else installation.installed_at_utc,
                "installed_to_utc": None
                if installation.removed_at_utc is None
                else installation.removed_at_utc.replace(tzinfo=dt.UTC)
                if installation.removed_at_utc.tzinfo is None
                else installation.removed_at_utc,
                "pt_ratio": float(meter.pt_ratio),
                "program_code": program_code,
            }
            for installation, meter, program_code in self._installations(
                [service_point_id], start_utc, end_utc
            )
        ]
        schema = {**ACCOUNT_METERS.schema, "pt_ratio": pl.Float64(), "program_code": pl.String()}
        return pl.DataFrame(rows, schema=schema)

    def neighbour_meter_ids(
        self,
        transformer_id: int,
        *,
        service_point_id: int,
        start_utc: dt.datetime,
        end_utc: dt.datetime,
    ) -> list[int]:
        """Meters at the other service points of the transformer in the window."""
        points = list(
            self.session.scalars(
                select(ServicePoint.id).where(
                    and_(
                        ServicePoint.transformer_id == transformer_id,
                        ServicePoint.id != service_point_id,
                    )
                )
            )
        )
        if not points:
            return []
        return sorted({m.id for _, m, _ in self._installations(points, start_utc, end_utc)})

    def accuracy_tests(self, meter_ids: list[int]) -> list[dict[str, Any]]:
        """Accuracy test records of the meters (``tested_at_utc``, ``verdict``, averages)."""
        if not meter_ids:
            return []
        records = self.session.scalars(
            select(AccuracyTestRecord).where(AccuracyTestRecord.meter_id.in_(meter_ids))
        )
        return [
            {
                "meter_id": r.meter_id,
                "tested_at_utc": r.tested_at_utc.isoformat(),
                "verdict": str(r.verdict.value if hasattr(r.verdict, "value") else r.verdict),
                "as_found_average_pct": r.as_found_average_pct,
                "as_left_average_pct": r.as_left_average_pct,
                "reason": r.reason,
            }
            for r in records
        ]
