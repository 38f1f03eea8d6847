"""The exception queue's filters in SQL (``service.list_exceptions``, one query builder).

A small fleet over two territories: meters installed in each, a meter moved from the first to
the second (it counts in the second), a meter removed from the first and not reinstalled (it
counts in the first, its latest), and a meter never installed (in no territory); exceptions of
several kinds, causes, confidences, ages and statuses. Every filter combination is checked
against the same selection done in Python over every row. SQLite, and PostgreSQL when
``METEROPS_TEST_DATABASE_URL`` is set (the ``session`` fixture).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from meterops.diagnostics import service as diagnostics_service
from meterops.diagnostics.kinds import Cause, ExceptionKind
from meterops.errors import InvalidInputError
from meterops.models import Installation, Premise, ServicePoint
from meterops.models.diagnostics import DiagnosticException, ExceptionStatus
from tests.fixtures.builders import (
    JAN_1,
    create_installed_meter,
    create_meter,
    create_service_point,
    create_territory,
)

AS_OF = dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Row:
    """What the test knows of one exception."""

    id: int
    territory: str | None
    kind: ExceptionKind
    cause: Cause | None
    confidence: float | None
    first_seen_utc: dt.datetime
    is_open: bool


@dataclass
class Fleet:
    rows: list[Row]
    ids: dict[str, int]  # territory code -> id


def _place(session: Session, territory_id: int) -> int:
    service_point = create_service_point(session)
    premise = session.get_one(Premise, service_point.premise_id)
    premise.territory_id = territory_id
    session.flush()
    return service_point.id


@pytest.fixture
def fleet(session: Session) -> Fleet:
    north, south = create_territory(session, code="NORTH"), create_territory(session, code="SOUTH")
    meters: list[tuple[int, str | None]] = []
    for home in (north, south, north, south):
        point = session.get_one(ServicePoint, _place(session, home.id))
        meter, _ = create_installed_meter(session, service_point=point)
        meters.append((meter.id, home.code))
    moved = create_meter(session)
    removed = create_meter(session)
    for meter_id, where, start, end in (
        (moved.id, north.id, JAN_1, JAN_1 + dt.timedelta(days=30)),
        (moved.id, south.id, JAN_1 + dt.timedelta(days=30), None),
        (removed.id, north.id, JAN_1, JAN_1 + dt.timedelta(days=60)),
    ):
        session.add(
            Installation(
                meter_id=meter_id, service_point_id=_place(session, where),
                installed_at_utc=start, installed_by="test", removed_at_utc=end,
            )
        )  # fmt: skip
    meters += [(moved.id, "SOUTH"), (removed.id, "NORTH"), (create_meter(session).id, None)]
    session.flush()
    kinds = list(ExceptionKind)
    causes: list[Cause | None] = [Cause.WEAK_MESH_PATH, Cause.BYPASS_THEFT, None, Cause.TAMPER]
    confidences = [0.3, 0.6, None, 0.85, 0.95]
    rows: list[Row] = []
    for n in range(28):
        meter_id, territory = meters[n % len(meters)]
        cause = causes[n % len(causes)]
        exception = DiagnosticException(
            meter_id=meter_id,
            kind=kinds[(n // len(meters)) % 5],  # one exception per meter and kind
            status=ExceptionStatus.OPEN if n % 4 else ExceptionStatus.CLOSED,
            first_seen_utc=AS_OF - dt.timedelta(days=n, hours=1),
            last_seen_utc=AS_OF,
            opened_at_utc=AS_OF - dt.timedelta(days=n % 9),
            closed_at_utc=None if n % 4 else AS_OF,
            evidence={},
            cause=cause,
            confidence=confidences[n % len(confidences)] if cause else None,
        )
        session.add(exception)
        session.flush()
        rows.append(
            Row(
                exception.id, territory, exception.kind, cause, exception.confidence,
                exception.first_seen_utc, exception.status == ExceptionStatus.OPEN,
            )
        )  # fmt: skip
    return Fleet(rows, {"NORTH": north.id, "SOUTH": south.id})


@dataclass(frozen=True)
class Filters:
    """One combination of the queue's filters; ``allowed`` are the user's territories."""

    kind: ExceptionKind | None
    cause: Cause | str | None
    min_confidence: float | None
    min_age_days: int | None
    territory: str | None
    allowed: list[str] | None
    open_only: bool

    def keeps(self, row: Row) -> bool:
        """Whether the row passes every filter (the selection done in Python)."""
        cutoff = None if self.min_age_days is None else AS_OF - dt.timedelta(self.min_age_days)
        return all(
            (
                self.allowed is None or row.territory is None or row.territory in self.allowed,
                self.territory is None or row.territory == self.territory,
                self.kind is None or row.kind == self.kind,
                self.cause != "none" or row.cause is None,
                self.cause in {None, "none"} or row.cause == self.cause,
                self.min_confidence is None
                or (row.confidence is not None and row.confidence >= self.min_confidence),
                cutoff is None or row.first_seen_utc <= cutoff,
                not self.open_only or row.is_open,
            )
        )


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    filters=st.builds(
        Filters,
        kind=st.sampled_from([None, *list(ExceptionKind)[:5]]),
        cause=st.sampled_from(
            [None, "none", Cause.WEAK_MESH_PATH, Cause.TAMPER, Cause.CT_POLARITY]
        ),
        min_confidence=st.sampled_from([None, 0.0, 0.5, 0.85, 1.0]),
        min_age_days=st.sampled_from([None, 0, 3, 10, 40]),
        territory=st.sampled_from([None, "NORTH", "SOUTH"]),
        allowed=st.sampled_from([None, ["NORTH"], ["SOUTH"], ["NORTH", "SOUTH"]]),
        open_only=st.booleans(),
    )
)
def test_every_filter_combination_selects_what_it_says(
    session: Session, fleet: Fleet, filters: Filters
) -> None:
    allowed = filters.allowed
    arguments = {
        "kind": filters.kind,
        "cause": filters.cause,
        "min_confidence": filters.min_confidence,
        "min_age_days": filters.min_age_days,
        "territory": filters.territory,
        "territory_ids": None if allowed is None else [fleet.ids[code] for code in allowed],
        "open_only": filters.open_only,
        "as_of_utc": AS_OF,
        "limit": 1000,
    }
    if filters.territory is not None and allowed is not None and filters.territory not in allowed:
        # Never wider than the user's territories: refused, naming the field.
        with pytest.raises(InvalidInputError) as refused:
            diagnostics_service.list_exceptions(session, **arguments)  # type: ignore[arg-type]
        assert refused.value.details["field"] == "territory"
        return
    rows = diagnostics_service.list_exceptions(session, **arguments)  # type: ignore[arg-type]
    assert {row.id for row, _ in rows} == {r.id for r in fleet.rows if filters.keeps(r)}
    # Newest first (by opening), then by id.
    keys = [(-row.opened_at_utc.timestamp(), row.id) for row, _ in rows]
    assert keys == sorted(keys)


def test_a_moved_meter_counts_where_it_is_and_a_removed_one_where_it_was(
    session: Session, fleet: Fleet
) -> None:
    south = diagnostics_service.list_exceptions(
        session, territory="SOUTH", territory_ids=list(fleet.ids.values()), limit=1000
    )
    assert {row.id for row, _ in south} == {r.id for r in fleet.rows if r.territory == "SOUTH"}
    unplaced = {r.id for r in fleet.rows if r.territory is None}
    assert unplaced
    everything = diagnostics_service.list_exceptions(
        session, territory_ids=[fleet.ids["NORTH"]], limit=1000
    )
    assert unplaced <= {row.id for row, _ in everything}


def test_paging_walks_the_same_order(session: Session, fleet: Fleet) -> None:
    whole = diagnostics_service.list_exceptions(session, limit=1000)
    pages = [
        row.id
        for offset in range(0, len(whole), 5)
        for row, _ in diagnostics_service.list_exceptions(session, limit=5, offset=offset)
    ]
    assert pages == [row.id for row, _ in whole]
    assert len(whole) == len(fleet.rows)


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"min_confidence": 1.2}, "min_confidence"),
        ({"min_confidence": -0.1}, "min_confidence"),
        ({"min_age_days": -1}, "min_age_days"),
        ({"territory": "NOWHERE"}, "territory"),
    ],
)
def test_bad_filters_are_refused_naming_the_field(
    session: Session, fleet: Fleet, arguments: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidInputError) as refused:
        diagnostics_service.list_exceptions(session, **arguments)  # type: ignore[arg-type]
    assert refused.value.details["field"] == field
