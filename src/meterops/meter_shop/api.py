"""JSON API of the meter_shop capability (mounted under ``/api/v1``)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from meterops.meter_shop import sampling
from meterops.meter_shop import service as shop_service
from meterops.meter_shop.accuracy import AccuracyParams, InServiceTolerance, parse_formula
from meterops.meter_shop.schemas import (
    AccuracyTestRead,
    ImportReport,
    LotRead,
    PlanReport,
    ReplacementRead,
    SampleRead,
)
from meterops.timeutil import utc_now
from meterops.web.deps import SessionDep, SettingsDep
from meterops.web.errors import ERROR_RESPONSES

router = APIRouter(tags=["meter shop"], responses=ERROR_RESPONSES)

YearQuery = Annotated[
    int | None, Query(ge=1990, le=2200, description="Programme year (default: newest).")
]


class PlanRequest(BaseModel):
    """How to plan a programme year."""

    year: int = Field(ge=1990, le=2200)
    plan: Literal["variables", "fixed"] = "variables"
    aql_pct: float = 2.5
    sample_pct: float = 2.0
    min_sample: int = Field(default=10, ge=1)
    max_failing_pct: float = 5.0
    low_pct: float = 98.0
    high_pct: float = 102.0
    seed: int | None = None
    actor: str = "api"


@router.post("/meter-shop/test-files", response_model=ImportReport)
async def import_test_file(  # noqa: PLR0917 - FastAPI passes parameters by keyword
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    file_name: Annotated[str, Query(min_length=1, max_length=255)],
    actor: Annotated[str, Query(max_length=64)] = "api",
    formula: Annotated[str, Query(max_length=64)] = "weighted",
    low_pct: float = 98.0,
    high_pct: float = 102.0,
) -> ImportReport:
    """Import a test-set result file sent as the request body; whole file or nothing."""
    params = AccuracyParams(
        formula=parse_formula(formula), tolerance=InServiceTolerance(low_pct, high_pct)
    )
    return shop_service.import_test_file(
        session,
        await request.body(),
        file=file_name,
        actor=actor,
        now=utc_now(),
        params=params,
        default_timezone=settings.utility_timezone,
    )


@router.get("/meter-shop/meters/{serial_number}/tests", response_model=list[AccuracyTestRead])
def meter_tests(serial_number: str, session: SessionDep) -> list[AccuracyTestRead]:
    """A meter's accuracy tests, newest first."""
    return shop_service.list_tests(session, serial_number)


@router.post("/meter-shop/lots/plan", response_model=PlanReport)
def plan_lots(body: PlanRequest, session: SessionDep) -> PlanReport:
    """Form a programme year's lots and draw their samples (refused when already planned)."""
    tolerance = InServiceTolerance(body.low_pct, body.high_pct)
    plan: sampling.VariablesPlan | sampling.FixedPercentagePlan = (
        sampling.VariablesPlan(aql_pct=body.aql_pct, tolerance=tolerance)
        if body.plan == "variables"
        else sampling.FixedPercentagePlan(
            sample_pct=body.sample_pct,
            min_sample=body.min_sample,
            max_failing_pct=body.max_failing_pct,
            tolerance=tolerance,
        )
    )
    return shop_service.plan_lots(
        session,
        year=body.year,
        plan=plan,
        seed=body.year if body.seed is None else body.seed,
        actor=body.actor,
        now=utc_now(),
    )


@router.get("/meter-shop/lots", response_model=list[LotRead])
def lots(session: SessionDep, year: YearQuery = None) -> list[LotRead]:
    """The lots of a programme year as last judged."""
    return shop_service.list_lots(session, year=year)


@router.post("/meter-shop/lots/status", response_model=list[LotRead])
def lot_status(session: SessionDep, year: YearQuery = None) -> list[LotRead]:
    """Judge every lot of a programme year from the tests made so far."""
    return shop_service.update_lot_status(session, year=year)


@router.get("/meter-shop/lots/samples", response_model=list[SampleRead])
def samples(session: SessionDep, year: YearQuery = None) -> list[SampleRead]:
    """The sampled meters of a programme year in test order."""
    return shop_service.sample_list(session, year=year)


@router.get("/meter-shop/lots/replacements", response_model=list[ReplacementRead])
def replacements(session: SessionDep, year: YearQuery = None) -> list[ReplacementRead]:
    """Meters in service that belong to a rejected lot."""
    return shop_service.replacements(session, year=year)
