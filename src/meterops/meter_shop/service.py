"""Meter shop operations: import test files, read a meter's tests, plan and judge lots.

Policies (documented in ``docs/meter-shop.md``):

* A test file is stored **whole or not at all**. Besides the parser's checks, every meter must
  exist and the form on the file must be the meter's form; any issue refuses the file, naming
  file, line and field. The same bytes are recognised by their SHA-256 and stored once; a
  test already stored (same meter and test time) from another file is not stored again.
* A programme year's lots and samples are fixed once planned (a second plan is refused); the
  lot status is recomputed from the tests made since 1 January of that year.

Services only flush; the adapter (CLI command, request) commits.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

import polars as pl
from sqlalchemy.orm import Session

from meterops.assets.errors import MeterNotFoundError
from meterops.audit import service as audit_service
from meterops.errors import InvalidInputError, Issue
from meterops.meter_shop import sampling
from meterops.meter_shop.accuracy import AccuracyParams, AccuracyTest, evaluate_test
from meterops.meter_shop.errors import LotsAlreadyPlannedError, NoLotsPlannedError
from meterops.meter_shop.repository import MeterShopRepository
from meterops.meter_shop.schemas import (
    AccuracyTestRead,
    ImportReport,
    LotRead,
    PlanReport,
    ReplacementRead,
    SampleRead,
    TestPointRead,
)
from meterops.meter_shop.testfiles import TestFileRefusedError, parse_test_file
from meterops.models.meter_shop import (
    AccuracyTestPoint,
    AccuracyTestRecord,
    LotSample,
    MeterTestFile,
    MeterTestSet,
    SampleLot,
)

__all__ = [
    "import_test_file",
    "list_lots",
    "list_tests",
    "lot_results_frame",
    "plan_lots",
    "replacements",
    "sample_list",
    "update_lot_status",
]


def _serial_field(layout: str) -> str:
    return "Meter ID" if layout == "weco-board" else "meter_serial"


def _form_field(layout: str) -> str:
    return "Form" if layout == "weco-board" else "form"


def _test_set_row(repo: MeterShopRepository, test: AccuracyTest) -> MeterTestSet:
    row = repo.test_set(test.test_set.serial_number)
    ts = test.test_set
    if row is None:
        row = MeterTestSet(
            serial_number=ts.serial_number,
            model=ts.model,
            calibrated_on=ts.calibrated_on,
            calibration_due_on=ts.calibration_due_on,
        )
        repo.session.add(row)
        repo.session.flush()
    elif ts.calibrated_on > row.calibrated_on:  # keep the latest calibration known
        row.calibrated_on = ts.calibrated_on
        row.calibration_due_on = ts.calibration_due_on
        row.model = ts.model or row.model
    return row


def import_test_file(
    session: Session,
    data: bytes,
    *,
    file: str,
    actor: str,
    now: dt.datetime,
    params: AccuracyParams | None = None,
    default_timezone: str = "UTC",
) -> ImportReport:
    """Import a test-set result file (either layout), evaluating every test.

    Args:
        session: Database session (flushed, not committed).
        data: The file's bytes.
        file: File name for messages and the journal.
        actor: Who imports (journal and audit).
        now: Import time (aware UTC).
        params: The utility's accuracy policy (defaults of :class:`AccuracyParams`).
        default_timezone: Zone of WECO-style files whose preamble names none.

    Returns:
        What was stored.

    Raises:
        TestFileRefusedError: Any issue in the file; nothing was stored.
    """
    params = params or AccuracyParams()
    parsed = parse_test_file(data, file=file, default_timezone=default_timezone)
    repo = MeterShopRepository(session)
    if repo.file_by_hash(parsed.sha256) is not None:
        return ImportReport(
            file=file,
            layout=parsed.layout,
            sha256=parsed.sha256,
            tests=len(parsed.tests),
            created=0,
            already_stored=len(parsed.tests),
            duplicate_file=True,
            verdicts={},
        )
    meters = repo.meters_by_serial(t.meter_serial for t in parsed.tests)
    issues: list[Issue] = []
    evaluations = []
    for test, line in zip(parsed.tests, parsed.lines, strict=True):
        meter = meters.get(test.meter_serial)
        if meter is None:
            issues.append(
                Issue(
                    file,
                    line,
                    _serial_field(parsed.layout),
                    "meter_shop.unknown_meter",
                    f"meter {test.meter_serial!r} is not in the fleet (import it first)",
                )
            )
            continue
        if meter.form != test.form:
            issues.append(
                Issue(
                    file,
                    line,
                    _form_field(parsed.layout),
                    "meter_shop.form_mismatch",
                    f"form {test.form} on the file, but meter {meter.serial_number} is a "
                    f"{meter.form}: wrong meter or wrong test setup",
                )
            )
            continue
        try:
            evaluations.append((test, meter, evaluate_test(test, params=params)))
        except InvalidInputError as error:
            issues.append(Issue(file, line, None, error.code, error.message))
    if issues:
        raise TestFileRefusedError(f"{file} refused; nothing was stored", issues)
    existing = repo.existing_tests((m.id, t.tested_at_utc) for t, m, _ in evaluations)
    journal = MeterTestFile(
        file_name=file,
        sha256=parsed.sha256,
        layout=parsed.layout,
        tests_in_file=len(parsed.tests),
        tests_created=0,
        imported_by=actor,
        imported_at_utc=now,
    )
    session.add(journal)
    session.flush()
    verdicts: Counter[str] = Counter()
    created = 0
    for test, meter, ev in evaluations:
        if (meter.id, test.tested_at_utc) in existing:
            continue
        test_set = _test_set_row(repo, test)
        reg = test.register_check
        record = AccuracyTestRecord(
            meter_id=meter.id,
            file_id=journal.id,
            test_set_id=test_set.id,
            tested_at_utc=test.tested_at_utc,
            location=test.location,
            technician=test.technician,
            reason=test.reason,
            form=test.form,
            current_class=test.current_class,
            accuracy_class=test.accuracy_class,
            test_set_calibrated_on=test.test_set.calibrated_on,
            test_set_calibration_due_on=test.test_set.calibration_due_on,
            creep_pulses=test.creep_pulses,
            register_start_kwh=None if reg is None else reg.start_kwh,
            register_end_kwh=None if reg is None else reg.end_kwh,
            register_reference_kwh=None if reg is None else reg.reference_kwh,
            formula=ev.formula,
            as_found_average_pct=None
            if ev.as_found is None
            else ev.as_found.average_registration_pct,
            as_left_average_pct=None if ev.as_left is None else ev.as_left.average_registration_pct,
            within_tolerance=None if ev.as_found is None else ev.as_found.within_tolerance,
            creep_passed=ev.creep_passed,
            register_passed=ev.register_passed,
            verdict=ev.verdict,
        )
        session.add(record)
        session.flush()
        for stage in (ev.as_found, ev.as_left):
            for check in () if stage is None else stage.points:
                session.add(
                    AccuracyTestPoint(
                        test_id=record.id,
                        stage=check.stage,
                        point=check.point,
                        element=check.element,
                        registration_pct=check.registration_pct,
                        error_pct=check.error_pct,
                        limit_pct=check.limit_pct,
                        passed=check.passed,
                    )
                )
        verdicts[ev.verdict.value] += 1
        created += 1
    journal.tests_created = created
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action="meter_shop.import",
        entity_type="meter_test_file",
        entity_id=parsed.sha256[:16],
        data={"file": file, "layout": parsed.layout, "created": created, **verdicts},
        now=now,
    )
    return ImportReport(
        file=file,
        layout=parsed.layout,
        sha256=parsed.sha256,
        tests=len(parsed.tests),
        created=created,
        already_stored=len(evaluations) - created,
        duplicate_file=False,
        verdicts=dict(verdicts),
    )


def list_tests(session: Session, serial_number: str) -> list[AccuracyTestRead]:
    """A meter's accuracy tests, newest first.

    Raises:
        MeterNotFoundError: No meter with that serial number.
    """
    repo = MeterShopRepository(session)
    meter = repo.meter_by_serial(serial_number)
    if meter is None:
        raise MeterNotFoundError(serial_number)
    return [
        AccuracyTestRead(
            id=record.id,
            meter_serial=meter.serial_number,
            tested_at_utc=record.tested_at_utc,
            location=record.location,
            technician=record.technician,
            reason=record.reason,
            form=record.form,
            current_class=record.current_class,
            accuracy_class=record.accuracy_class,
            test_set_serial=record.test_set.serial_number,
            test_set_calibrated_on=record.test_set_calibrated_on,
            test_set_calibration_due_on=record.test_set_calibration_due_on,
            formula=record.formula,
            as_found_average_pct=record.as_found_average_pct,
            as_left_average_pct=record.as_left_average_pct,
            within_tolerance=record.within_tolerance,
            creep_pulses=record.creep_pulses,
            creep_passed=record.creep_passed,
            register_passed=record.register_passed,
            verdict=record.verdict,
            points=[TestPointRead.model_validate(p) for p in record.points],
        )
        for record in repo.tests_of_meter(meter.id)
    ]


def _year_start(year: int) -> dt.datetime:
    return dt.datetime(year, 1, 1, tzinfo=dt.UTC)


def plan_lots(
    session: Session,
    *,
    year: int,
    plan: sampling.VariablesPlan | sampling.FixedPercentagePlan,
    seed: int,
    actor: str,
    now: dt.datetime,
) -> PlanReport:
    """Form the lots of a programme year and draw their samples.

    Meters in service with an installation that began before 1 January of ``year`` are
    grouped into lots (vendor, model, firmware, install year).

    Raises:
        LotsAlreadyPlannedError: The year is already planned.
    """
    repo = MeterShopRepository(session)
    if repo.lots_of_year(year):
        raise LotsAlreadyPlannedError(year)
    lots = sampling.assign_lots(repo.meters_in_service(installed_before_utc=_year_start(year)))
    samples = sampling.draw_samples(lots, plan=plan, seed=seed)
    plan_data = sampling.plan_to_dict(plan)
    heads = lots.group_by("lot_key", maintain_order=True).agg(
        pl.col("vendor", "model", "firmware_revision", "install_year", "lot_size").first()
    )
    lot_ids: dict[str, int] = {}
    for row in heads.iter_rows(named=True):
        size = sampling.sample_size(plan, row["lot_size"])
        lot = SampleLot(
            programme_year=year,
            lot_key=row["lot_key"],
            vendor=row["vendor"],
            model=row["model"],
            firmware_revision=row["firmware_revision"],
            install_year=row["install_year"],
            lot_size=row["lot_size"],
            sample_size=size.n,
            code_letter=size.code_letter,
            k=size.k,
            plan=plan_data,
            seed=seed,
            planned_at_utc=now,
            planned_by=actor,
        )
        session.add(lot)
        session.flush()
        lot_ids[row["lot_key"]] = lot.id
    session.add_all(
        LotSample(lot_id=lot_ids[key], meter_id=meter_id, sample_order=order)
        for key, meter_id, order in samples.select(
            "lot_key", "meter_id", "sample_order"
        ).iter_rows()
    )
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action="meter_shop.lots_planned",
        entity_type="programme_year",
        entity_id=year,
        data={"plan": plan_data, "seed": seed, "lots": heads.height, "sampled": samples.height},
        now=now,
    )
    return PlanReport(
        programme_year=year,
        plan=plan.name,
        seed=seed,
        lots=heads.height,
        meters=lots.height,
        sampled=samples.height,
    )


def _resolve_year(repo: MeterShopRepository, year: int | None) -> int:
    resolved = year if year is not None else repo.latest_programme_year()
    if resolved is None:
        raise NoLotsPlannedError(dt.datetime.now(dt.UTC).year if year is None else year)
    return resolved


def update_lot_status(session: Session, *, year: int | None = None) -> list[LotRead]:
    """Judge every lot of a programme year from the tests made since 1 January of it.

    Args:
        session: Database session (flushed, not committed).
        year: Programme year (default: the newest planned).

    Returns:
        The lots with their decisions.

    Raises:
        NoLotsPlannedError: Nothing planned for that year.
    """
    repo = MeterShopRepository(session)
    year = _resolve_year(repo, year)
    lots = repo.lots_of_year(year)
    if not lots:
        raise NoLotsPlannedError(year)
    samples = repo.samples_of_lots([lot.id for lot in lots])
    results = repo.first_as_found_since([m for _, m, _ in samples], _year_start(year))
    by_lot: dict[int, list[float]] = {}
    for lot_id, meter_id, _ in samples:
        if meter_id in results:
            by_lot.setdefault(lot_id, []).append(results[meter_id])
    for lot in lots:
        plan = sampling.plan_from_dict(lot.plan)
        size = sampling.SampleSize(lot.lot_size, lot.sample_size, lot.code_letter, lot.k)
        decision = sampling.decide_lot(by_lot.get(lot.id, []), plan=plan, size=size)
        lot.tested = decision.tested
        lot.mean_registration_pct = decision.mean_pct
        lot.std_registration_pct = decision.std_pct
        lot.outside_tolerance = decision.outside_tolerance
        lot.decision = decision.decision
    session.flush()
    return [LotRead.model_validate(lot) for lot in lots]


def list_lots(session: Session, *, year: int | None = None) -> list[LotRead]:
    """The lots of a programme year as last judged (default: the newest planned year)."""
    repo = MeterShopRepository(session)
    year = _resolve_year(repo, year)
    lots = repo.lots_of_year(year)
    if not lots:
        raise NoLotsPlannedError(year)
    return [LotRead.model_validate(lot) for lot in lots]


def lot_results_frame(session: Session, *, year: int | None = None) -> pl.DataFrame:
    """Lot outcomes as the frame ``sampling.LOT_RESULTS`` (for diagnostics' cohort analysis)."""
    lots = update_lot_status(session, year=year)
    names = set(sampling.LOT_RESULTS.names)
    frame = pl.DataFrame(
        [lot.model_dump(include=names) for lot in lots], schema=sampling.LOT_RESULTS.schema
    )
    return sampling.lot_results(frame)


def replacements(session: Session, *, year: int | None = None) -> list[ReplacementRead]:
    """Meters in service that belong to a rejected lot of a programme year."""
    repo = MeterShopRepository(session)
    year = _resolve_year(repo, year)
    rejected = {
        lot.lot_key for lot in update_lot_status(session, year=year) if lot.decision == "reject"
    }
    if not rejected:
        return []
    lots = sampling.assign_lots(repo.meters_in_service(installed_before_utc=_year_start(year)))
    members = lots.filter(pl.col("lot_key").is_in(sorted(rejected)))
    return [
        ReplacementRead(lot_key=key, serial_number=serial)
        for key, serial in members.select("lot_key", "serial_number").iter_rows()
    ]


def sample_list(session: Session, *, year: int | None = None) -> list[SampleRead]:
    """The sampled meters of a programme year in test order, with whether each is tested."""
    repo = MeterShopRepository(session)
    year = _resolve_year(repo, year)
    rows = repo.sample_rows(year)
    if not rows:
        raise NoLotsPlannedError(year)
    tested = repo.first_as_found_since([r[2] for r in rows], _year_start(year))
    return [
        SampleRead(lot_key=key, sample_order=order, serial_number=serial, tested=meter in tested)
        for key, order, meter, serial in rows
    ]
