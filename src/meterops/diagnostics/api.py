"""JSON API of the diagnostics capability (mounted under ``/api/v1``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from meterops.diagnostics import schemas
from meterops.diagnostics import service as diagnostics_service
from meterops.diagnostics.kinds import Cause, ExceptionKind
from meterops.diagnostics.schemas import CauseFilter
from meterops.reads.store import ReadStore
from meterops.timeutil import utc_now
from meterops.web.auth import UserDep
from meterops.web.deps import SessionDep, SettingsDep
from meterops.web.errors import ERROR_RESPONSES

__all__ = ["get_exception", "list_cohorts", "list_exceptions", "meter_verdicts", "router"]

router = APIRouter(tags=["diagnostics"], responses=ERROR_RESPONSES)


@router.get("/diagnostics/exceptions", response_model=list[schemas.ExceptionRead])
def list_exceptions(
    session: SessionDep,
    user: UserDep,
    *,
    kind: ExceptionKind | None = None,
    cause: Annotated[
        CauseFilter | None,
        Query(description='A cause of the taxonomy, or "none" for exceptions without one.'),
    ] = None,
    min_confidence: Annotated[
        float | None, Query(ge=0, le=1, description="Verdicts at least this sure [0-1].")
    ] = None,
    territory: Annotated[
        str | None,
        Query(max_length=32, description="Code of one of the user's territories."),
    ] = None,
    min_age_days: Annotated[
        float | None,
        Query(ge=0, le=3660, description="Open for at least this many days (first seen) [d]."),
    ] = None,
    open_only: Annotated[bool, Query(alias="open")] = False,
    limit: Annotated[int, Query(ge=1, le=2000)] = 200,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[schemas.ExceptionRead]:
    """Exceptions with their verdicts, newest first (of the user's territories only).

    A ``territory`` that is not one of the user's is refused (422, field ``territory``).
    """
    rows = diagnostics_service.list_exceptions(
        session,
        kind=kind,
        cause=schemas.cause_filter(cause),
        min_confidence=min_confidence,
        min_age_days=min_age_days,
        territory=territory or None,
        open_only=open_only,
        limit=limit,
        offset=offset,
        territory_ids=user.territory_ids,
        as_of_utc=utc_now(),
    )
    return [schemas.exception_read(row, serial) for row, serial in rows]


@router.get("/diagnostics/exceptions/{exception_id}", response_model=schemas.ExceptionRead)
def get_exception(exception_id: int, session: SessionDep) -> schemas.ExceptionRead:
    """One exception with its verdict and evidence."""
    row, serial = diagnostics_service.get_exception(session, exception_id)
    return schemas.exception_read(row, serial)


@router.get("/diagnostics/meters/{serial_number}", response_model=list[schemas.ExceptionRead])
def meter_verdicts(serial_number: str, session: SessionDep) -> list[schemas.ExceptionRead]:
    """A meter's exceptions (open and closed) with their verdicts."""
    rows = diagnostics_service.meter_exceptions(session, serial_number)
    return [schemas.exception_read(row, serial_number) for row in rows]


@router.get("/diagnostics/cohorts", response_model=list[schemas.CohortRead])
def list_cohorts(
    session: SessionDep,
    settings: SettingsDep,
    *,
    kind: ExceptionKind | None = None,
    cause: Cause | None = None,
    min_size: Annotated[int, Query(ge=2)] = 10,
    alpha: Annotated[float, Query(gt=0, le=0.5)] = 0.05,
    significant_only: Annotated[bool, Query(alias="significant")] = True,
) -> list[schemas.CohortRead]:
    """Cohorts over-represented among the open exceptions (of a kind, of a verdict cause).

    The strongest first; attributes as ``meterops diagnose cohorts`` tests them.
    """
    frame = diagnostics_service.run_cohorts(
        session,
        kind=kind,
        cause=cause,
        zone=settings.zone,
        store=ReadStore(settings.reads_uri),
        as_of_day=utc_now().astimezone(settings.zone).date(),
        min_size=min_size,
        alpha=alpha,
    )
    rows = [schemas.CohortRead(**row) for row in frame.iter_rows(named=True)]
    return [row for row in rows if row.significant or not significant_only]
