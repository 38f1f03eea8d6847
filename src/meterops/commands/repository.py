"""Every SQL statement of the commands capability (no business rules, never commits).

Two rows of ``command_controls`` serialise the critical sections: ``request_lock`` around
"count the rolling windows, then insert" (so concurrent requests cannot both slip under a
limit) and ``dispatch_lock`` around claiming (so the throttle and the per-feeder cap hold
across dispatchers). Touching the row with an ``UPDATE`` takes PostgreSQL's row lock until the
transaction ends, and SQLite's single write lock; both wait instead of failing. Claims are a
compare-and-set (``UPDATE … WHERE state = 'queued' … RETURNING``), with ``FOR UPDATE SKIP
LOCKED`` on PostgreSQL, so no command is claimed twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

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
    User,
    UserTerritory,
)
from meterops.models.accounts import PaymentPlan, PaymentPlanStatus
from meterops.models.commands import (
    CommandControl,
    CommandRequest,
    RemoteCommand,
    RemoteCommandState,
    RequestState,
    TemperatureReading,
)

__all__ = ["ACTIVE_STATES", "CommandRepository", "MeterRow"]

ACTIVE_STATES = (
    RemoteCommandState.QUEUED,
    RemoteCommandState.DISPATCHING,
    RemoteCommandState.SENT,
    RemoteCommandState.CONFIRMED,
    RemoteCommandState.FAILED,
    RemoteCommandState.EXPIRED,
)
"""States of commands that were released (they count in the rolling windows)."""


@dataclass(frozen=True, slots=True)
class MeterRow:
    """A meter with where it is installed and its open account's flags."""

    meter_id: int
    serial_number: str
    has_switch: bool
    program_code: str | None
    installed: bool
    territory_code: str | None
    timezone: str | None
    feeder_code: str | None
    medical_life_support: bool
    critical_facility: bool
    account_id: int | None = None


class CommandRepository:
    """SQL of requests, commands, controls and the facts the guards need."""

    def __init__(self, session: Session) -> None:
        self.session = session

    # -- controls ---------------------------------------------------------------------------

    def lock(self, name: str) -> None:
        """Take the lock of control row ``name`` until the transaction ends."""
        result = self.session.execute(
            update(CommandControl)
            .where(CommandControl.name == name)
            .values(version=CommandControl.version + 1)
        )
        if result.rowcount == 0:  # type: ignore[attr-defined]
            self.session.add(CommandControl(name=name, active=False, version=1))
            self.session.flush()

    def control(self, name: str) -> CommandControl | None:
        """The control row ``name`` (fresh from the database)."""
        return self.session.execute(
            select(CommandControl)
            .where(CommandControl.name == name)
            .execution_options(populate_existing=True)
        ).scalar_one_or_none()

    def control_active(self, name: str) -> bool:
        """Whether control ``name`` is on (one small query; used before every send)."""
        value = self.session.execute(
            select(CommandControl.active).where(CommandControl.name == name)
        ).scalar_one_or_none()
        return bool(value)

    # -- users and facts --------------------------------------------------------------------

    def user(self, username: str) -> tuple[User, frozenset[str]] | None:
        """A user and the codes of their territories."""
        user = self.session.execute(
            select(User).where(User.username == username)
        ).scalar_one_or_none()
        if user is None:
            return None
        codes = self.session.scalars(
            select(Territory.code)
            .join(UserTerritory, UserTerritory.territory_id == Territory.id)
            .where(UserTerritory.user_id == user.id)
        ).all()
        return user, frozenset(codes)

    def all_territory_codes(self) -> frozenset[str]:
        """Every territory code."""
        return frozenset(self.session.scalars(select(Territory.code)).all())

    def meters(self, serials: Collection[str], *, on: dt.date) -> dict[str, MeterRow]:
        """Meters by serial with installation, territory, feeder and open account flags."""
        found: dict[str, MeterRow] = {}
        ordered = sorted(set(serials))
        for start in range(0, len(ordered), 500):
            chunk = ordered[start : start + 500]
            rows = self.session.execute(
                select(
                    Meter.id,
                    Meter.serial_number,
                    Meter.has_disconnect_switch,
                    MeterProgram.program_code,
                    Installation.id,
                    Territory.code,
                    Territory.timezone,
                    Feeder.code,
                    Account.medical_life_support,
                    Account.critical_facility,
                    Account.id,
                )
                .outerjoin(MeterProgram, MeterProgram.id == Meter.program_id)
                .outerjoin(
                    Installation,
                    and_(Installation.meter_id == Meter.id, Installation.removed_at_utc.is_(None)),
                )
                .outerjoin(ServicePoint, ServicePoint.id == Installation.service_point_id)
                .outerjoin(Premise, Premise.id == ServicePoint.premise_id)
                .outerjoin(Territory, Territory.id == Premise.territory_id)
                .outerjoin(Transformer, Transformer.id == ServicePoint.transformer_id)
                .outerjoin(Feeder, Feeder.id == Transformer.feeder_id)
                .outerjoin(
                    Account,
                    and_(
                        Account.service_point_id == ServicePoint.id,
                        Account.move_in_date <= on,
                        or_(Account.move_out_date.is_(None), Account.move_out_date > on),
                    ),
                )
                .where(Meter.serial_number.in_(chunk))
            ).all()
            for r in rows:
                found[r[1]] = MeterRow(
                    meter_id=r[0],
                    serial_number=r[1],
                    has_switch=bool(r[2]),
                    program_code=r[3],
                    installed=r[4] is not None,
                    territory_code=r[5],
                    timezone=r[6],
                    feeder_code=r[7],
                    medical_life_support=bool(r[8]),
                    critical_facility=bool(r[9]),
                    account_id=None if r[10] is None else int(r[10]),
                )
        return found

    def open_payment_plans(
        self, account_ids: Collection[int]
    ) -> dict[int, list[tuple[dt.date, dt.date | None]]]:
        """``(start, end)`` of the plans with status ``open``, per account id.

        Whether one is open on a given day is :func:`commands.policy.payment_plan_open_on`'s
        decision (the day is the meter's local date).
        """
        plans: dict[int, list[tuple[dt.date, dt.date | None]]] = {}
        ordered = sorted(set(account_ids))
        for start in range(0, len(ordered), 500):
            rows = self.session.execute(
                select(PaymentPlan.account_id, PaymentPlan.start_date, PaymentPlan.end_date)
                .where(PaymentPlan.account_id.in_(ordered[start : start + 500]))
                .where(PaymentPlan.status == PaymentPlanStatus.OPEN)
                .order_by(PaymentPlan.account_id, PaymentPlan.start_date)
            ).all()
            for account_id, begins, ends in rows:
                plans.setdefault(int(account_id), []).append((begins, ends))
        return plans

    def program_codes(self) -> frozenset[str]:
        """Every known program code."""
        return frozenset(self.session.scalars(select(MeterProgram.program_code)).all())

    def latest_temperatures(self, *, since: dt.datetime, until: dt.datetime) -> dict[str, float]:
        """The latest temperature per territory valid in ``[since, until]``. (°C)."""
        rows = self.session.execute(
            select(
                TemperatureReading.territory_code,
                TemperatureReading.temperature_c,
                TemperatureReading.valid_at_utc,
            )
            .where(TemperatureReading.valid_at_utc >= since)
            .where(TemperatureReading.valid_at_utc <= until)
            .order_by(TemperatureReading.valid_at_utc, TemperatureReading.id)
        ).all()
        return {code: float(value) for code, value, _ in rows}

    # -- requests ---------------------------------------------------------------------------

    def request_by_key(self, key: str) -> CommandRequest | None:
        """The request with this idempotency key."""
        return self.session.execute(
            select(CommandRequest).where(CommandRequest.idempotency_key == key)
        ).scalar_one_or_none()

    def request(self, request_id: int) -> CommandRequest | None:
        """A request by id."""
        return self.session.get(CommandRequest, request_id)

    def commands_of(self, request_id: int) -> Sequence[RemoteCommand]:
        """The commands of a request in id order."""
        return self.session.scalars(
            select(RemoteCommand)
            .where(RemoteCommand.request_id == request_id)
            .order_by(RemoteCommand.id)
        ).all()

    def window_count(
        self,
        *,
        kinds: Collection[str],
        since: dt.datetime,
        unapproved_only: bool,
        user: str | None = None,
        territory: str | None = None,
    ) -> int:
        """Released commands of ``kinds`` created since ``since`` (purpose ``request``)."""
        query = (
            select(func.count(RemoteCommand.id))
            .join(CommandRequest, CommandRequest.id == RemoteCommand.request_id)
            .where(RemoteCommand.kind.in_(list(kinds)))
            .where(RemoteCommand.purpose == "request")
            .where(RemoteCommand.created_at_utc > since)
            .where(
                or_(
                    RemoteCommand.state.in_(ACTIVE_STATES),
                    and_(
                        RemoteCommand.state == RemoteCommandState.CANCELLED,
                        RemoteCommand.sent_at_utc.is_not(None),
                    ),
                )
            )
        )
        if unapproved_only:
            query = query.where(CommandRequest.approval_required.is_(False))
        if user is not None:
            query = query.where(CommandRequest.requested_by == user)
        if territory is not None:
            query = query.where(RemoteCommand.territory_code == territory)
        return int(self.session.execute(query).scalar_one())

    def held_requests(self, *, limit: int = 200) -> Sequence[CommandRequest]:
        """Requests awaiting approval, oldest first."""
        return self.session.scalars(
            select(CommandRequest)
            .where(CommandRequest.state == RequestState.AWAITING_APPROVAL)
            .order_by(CommandRequest.id)
            .limit(limit)
        ).all()

    def recent_requests(self, *, limit: int = 50) -> Sequence[CommandRequest]:
        """Latest requests first."""
        return self.session.scalars(
            select(CommandRequest).order_by(CommandRequest.id.desc()).limit(limit)
        ).all()

    def overdue_requests(self, now: dt.datetime) -> Sequence[CommandRequest]:
        """Held requests whose approval deadline has passed."""
        return self.session.scalars(
            select(CommandRequest)
            .where(CommandRequest.state == RequestState.AWAITING_APPROVAL)
            .where(CommandRequest.approval_deadline_utc < now)
        ).all()

    # -- outbox -----------------------------------------------------------------------------

    def count_recent_sends(self, since: dt.datetime) -> int:
        """Commands sent after ``since`` or claimed and not yet sent."""
        return int(
            self.session.execute(
                select(func.count(RemoteCommand.id)).where(
                    or_(
                        RemoteCommand.sent_at_utc > since,
                        RemoteCommand.state == RemoteCommandState.DISPATCHING,
                    )
                )
            ).scalar_one()
        )

    def feeder_reconnects(self, since: dt.datetime) -> dict[str, int]:
        """Reconnects per feeder sent after ``since`` or claimed and not yet sent."""
        rows = self.session.execute(
            select(RemoteCommand.feeder_code, func.count(RemoteCommand.id))
            .where(RemoteCommand.kind == "reconnect")
            .where(RemoteCommand.feeder_code.is_not(None))
            .where(
                or_(
                    RemoteCommand.sent_at_utc > since,
                    RemoteCommand.state == RemoteCommandState.DISPATCHING,
                )
            )
            .group_by(RemoteCommand.feeder_code)
        ).all()
        return {str(code): int(n) for code, n in rows}

    def ready(self, now: dt.datetime, *, limit: int) -> list[tuple[int, str, str | None]]:
        """Queued commands due now: ``(id, kind, feeder_code)`` in id order."""
        rows = self.session.execute(
            select(RemoteCommand.id, RemoteCommand.kind, RemoteCommand.feeder_code)
            .where(RemoteCommand.state == RemoteCommandState.QUEUED)
            .where(RemoteCommand.not_before_utc <= now)
            .order_by(RemoteCommand.id)
            .limit(limit)
        ).all()
        return [(int(i), str(k), f) for i, k, f in rows]

    def claim(self, ids: Sequence[int], *, worker: str, now: dt.datetime) -> list[int]:
        """Compare-and-set ``queued → dispatching`` for ``ids``; returns those won."""
        if not ids:
            return []
        candidates = (
            select(RemoteCommand.id)
            .where(RemoteCommand.id.in_(list(ids)))
            .where(RemoteCommand.state == RemoteCommandState.QUEUED)
        )
        if self.session.get_bind().dialect.name == "postgresql":
            candidates = candidates.with_for_update(skip_locked=True)
        won = self.session.execute(
            update(RemoteCommand)
            .where(RemoteCommand.id.in_(candidates.scalar_subquery()))
            .where(RemoteCommand.state == RemoteCommandState.QUEUED)
            .values(
                state=RemoteCommandState.DISPATCHING,
                claimed_by=worker,
                claimed_at_utc=now,
                attempts=RemoteCommand.attempts + 1,
            )
            .returning(RemoteCommand.id)
            .execution_options(synchronize_session=False)
        ).scalars()
        return sorted(int(i) for i in won)

    def release_stale_claims(self, before: dt.datetime) -> int:
        """Claims older than ``before`` go back to the queue (their sender died)."""
        result = self.session.execute(
            update(RemoteCommand)
            .where(RemoteCommand.state == RemoteCommandState.DISPATCHING)
            .where(RemoteCommand.claimed_at_utc < before)
            .values(state=RemoteCommandState.QUEUED, claimed_by=None)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    def command(self, command_id: int, *, for_update: bool = False) -> RemoteCommand | None:
        """A command by id (fresh from the database; row-locked with ``for_update``)."""
        query = (
            select(RemoteCommand)
            .where(RemoteCommand.id == command_id)
            .execution_options(populate_existing=True)
        )
        if for_update:
            query = query.with_for_update()
        return self.session.execute(query).scalar_one_or_none()

    def in_state(
        self, state: RemoteCommandState, *, limit: int = 1000, before: dt.datetime | None = None
    ) -> Sequence[RemoteCommand]:
        """Commands in ``state`` (optionally expiring before ``before``), id order."""
        query = select(RemoteCommand).where(RemoteCommand.state == state)
        if before is not None:
            query = query.where(RemoteCommand.expires_at_utc < before)
        return self.session.scalars(query.order_by(RemoteCommand.id).limit(limit)).all()

    def recent_commands(self, *, limit: int = 50) -> Sequence[RemoteCommand]:
        """Latest commands first."""
        return self.session.scalars(
            select(RemoteCommand).order_by(RemoteCommand.id.desc()).limit(limit)
        ).all()

    def children(self, parent_id: int) -> Sequence[RemoteCommand]:
        """Follow-up commands of a command."""
        return self.session.scalars(
            select(RemoteCommand).where(RemoteCommand.parent_id == parent_id)
        ).all()
