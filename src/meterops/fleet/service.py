"""Import parsed fleet files into the database: idempotent, atomic per file, fully reported.

Policy (documented in ``docs/fleet-import.md``): **a file is imported whole or not at all**.
Every bad row is reported with file, line and field, and if there is any, nothing of that file
is stored. Rows are matched on their natural key: new keys are created, rows whose values
differ are updated, identical rows are left alone, so importing the same file again changes
nothing (and a byte-identical file is recognised from the journal at once). Lifecycle and
installation changes of existing meters are not made by a snapshot file; they go through the
asset services (install, remove, exchange), which check and audit each move. The installation
history file (``meter_exchanges.csv``) is applied row by row, in time order, through the same
exchange service: an exchange that contradicts the database (an unknown service point, a
removed meter not installed there) is reported with its line and field, and nothing of the
file is stored; an exchange already recorded is left alone.

The service only flushes; the adapter commits each file's transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from meterops.assets import schemas as asset_schemas
from meterops.assets import service as assets_service
from meterops.assets.lifecycle import AssetStatus
from meterops.audit import service as audit_service
from meterops.errors import Issue, MeterOpsError, ValidationReportError
from meterops.fleet.parse import LINE, ParsedFleetFile
from meterops.fleet.programs import ProgramsFile
from meterops.fleet.repository import FleetRepository
from meterops.fleet.targets import REFERENCES, TARGETS, Target
from meterops.models import (
    CommModuleLink,
    Customer,
    FleetImport,
    Installation,
    Meter,
    MeterProgram,
    ServicePoint,
)

__all__ = ["FleetImportRefusedError", "ImportReport", "import_file", "import_programs"]


class FleetImportRefusedError(ValidationReportError):
    """A fleet file refused as a whole; nothing of it was stored."""

    default_code = "fleet.refused"


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What importing one file did.

    Attributes:
        file: File name.
        kind: Fleet kind.
        rows: Data rows in the file.
        created: Rows added.
        updated: Rows whose values changed.
        unchanged: Rows identical to what was stored.
        duplicate_file: The same bytes were imported before (nothing was read).
    """

    file: str
    kind: str
    rows: int
    created: int
    updated: int
    unchanged: int
    duplicate_file: bool = False


class _Context:
    """Per-file state: repository, issues and the file name."""

    def __init__(
        self, session: Session, parsed: ParsedFleetFile, actor: str, default_timezone: str = "UTC"
    ) -> None:
        self.session = session
        self.default_timezone = default_timezone
        self.repository = FleetRepository(session)
        self.parsed = parsed
        self.file = parsed.file
        self.actor = actor
        self.issues: list[Issue] = []

    def issue(self, line: int, field: str, code: str, message: str) -> None:
        self.issues.append(Issue(self.file, line, field, code, message))

    def resolve(self, frame: pl.DataFrame, column: str) -> pl.DataFrame:
        """Add the id column for a reference column; unknown values become issues."""
        model, key, target = REFERENCES[column]
        mapping = self.repository.id_map(model, key, frame[column].to_list())
        ids = frame[column].replace_strict(mapping, default=None, return_dtype=pl.Int64)
        for line, value in (
            frame.filter(pl.col(column).is_not_null() & ids.is_null())
            .select(LINE, column)
            .iter_rows()
        ):
            self.issue(
                line,
                column,
                "fleet.unknown_reference",
                f"{value!r} does not exist in {model.__tablename__} "
                "(import that file first, or fix the value)",
            )
        return frame.with_columns(ids.alias(target))


def _with_defaults(frame: pl.DataFrame, defaults: dict[str, Any]) -> pl.DataFrame:
    return frame.with_columns(
        pl.col(name).fill_null(value)
        if not isinstance(value, list)
        else pl.when(pl.col(name).is_null())
        .then(pl.lit(value, dtype=pl.List(pl.String)))
        .otherwise(pl.col(name))
        .alias(name)
        for name, value in defaults.items()
    )


def _upsert(
    context: _Context,
    target: Target,
    frame: pl.DataFrame,
    *,
    on_new: Callable[[pl.DataFrame], pl.DataFrame] | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """Split rows into new / changed / unchanged against the database and write them.

    Returns:
        (new rows with their ``id``, existing rows joined with stored ``id``, unchanged count)
    """
    renamed = frame.rename({k: v for k, v in target.columns.items() if k != v})
    attributes = list(target.columns.values())
    compare = [a for a in attributes if a not in target.key]
    stored = context.repository.existing(target.model, target.key, renamed, compare)
    joined = renamed.join(stored, on=list(target.key), how="left", suffix="_stored")
    is_new = pl.col("id").is_null()
    differs = (
        pl.any_horizontal(pl.col(a).ne_missing(pl.col(f"{a}_stored")) for a in compare)
        if compare
        else pl.lit(value=False)
    )
    new = joined.filter(is_new)
    changed = joined.filter(~is_new & differs)
    existing = joined.filter(~is_new)
    if on_new is not None:
        new = on_new(new)
    if context.issues:
        return new, existing, 0
    extra = [c for c in ("lifecycle_status",) if c in new.columns]
    before = context.repository.max_id(target.model)
    context.repository.bulk_insert(target.model, new.select(*attributes, *extra).to_dicts())
    context.repository.bulk_update(target.model, changed.select("id", *compare).to_dicts())
    inserted_ids = context.repository.keys_after(target.model, target.key, before, new)
    new = new.drop("id").join(inserted_ids, on=list(target.key), how="left")
    return new, existing, existing.height - changed.height


# References resolved by a kind's own step rather than up front.
_DEFERRED = {
    ("meters", "service_point_number"),
    ("comm_modules", "meter_serial"),
    ("accounts", "customer_number"),
}


def _prepare(context: _Context, kind: str, frame: pl.DataFrame) -> pl.DataFrame:
    for column in context.parsed.kind.columns:
        if column.references is not None and (kind, column.name) not in _DEFERRED:
            frame = context.resolve(frame, column.name)
    return _with_defaults(frame, TARGETS[kind].defaults)


def _meters_new(
    context: _Context, default_status: AssetStatus
) -> Callable[[pl.DataFrame], pl.DataFrame]:
    def assign(new: pl.DataFrame) -> pl.DataFrame:
        return new.with_columns(
            pl.when(pl.col("service_point_number").is_not_null())
            .then(pl.lit(AssetStatus.INSTALLED.value))
            .otherwise(pl.col("lifecycle_status").fill_null(default_status.value))
            .alias("lifecycle_status")
        )

    return assign


def _check_existing_meters(context: _Context, existing: pl.DataFrame) -> None:
    header = set(context.parsed.header)
    if existing.is_empty():
        return
    stored_status = context.repository.meter_statuses(existing["id"].to_list())
    installed_at = {
        m: sp
        for m, _, sp in context.repository.open_installations(meter_ids=existing["id"].to_list())
    }
    for line, meter_id, serial, status, sp in existing.select(
        LINE, "id", "serial_number", "lifecycle_status", "service_point_number"
    ).iter_rows():
        current = stored_status[meter_id].value
        if "lifecycle_status" in header and status is not None and status != current:
            context.issue(
                line,
                "lifecycle_status",
                "fleet.lifecycle_change",
                f"meter {serial} is {current!r} in meterops; status changes go "
                "through the lifecycle commands, not an import",
            )
        if "service_point_number" in header and sp != installed_at.get(meter_id):
            where = installed_at.get(meter_id) or "no service point"
            context.issue(
                line,
                "service_point_number",
                "fleet.installation_change",
                f"meter {serial} is installed at {where} in meterops; installs and "
                "exchanges go through the field workflow, not an import",
            )


def _meter_installations(context: _Context, new: pl.DataFrame) -> None:
    rows = new.filter(pl.col("service_point_number").is_not_null())
    if rows.is_empty():
        return
    rows = context.resolve(rows, "service_point_number")
    sp_ids = [i for i in rows["service_point_id"].to_list() if i is not None]
    forms = context.repository.compatible_forms(sp_ids)
    occupied = {
        sp: serial
        for _, sp, serial in context.repository.open_installations(service_point_ids=sp_ids)
    }
    claimed: dict[int, int] = {}
    installations: list[dict[str, Any]] = []
    for line, form, sp_id, sp_number, at, read, by, meter_id in rows.select(
        LINE,
        "form",
        "service_point_id",
        "service_point_number",
        "installed_at",
        "install_read_kwh",
        "installed_by",
        "id",
    ).iter_rows():
        if sp_id is None:
            continue
        if form not in forms[sp_id]:
            context.issue(
                line,
                "form",
                "meter.incompatible_form",
                f"form {form} does not fit service point {sp_number} "
                f"(takes {', '.join(forms[sp_id])})",
            )
        elif sp_id in occupied:
            context.issue(
                line,
                "service_point_number",
                "service_point.occupied",
                f"service point {sp_number} already has a meter installed",
            )
        elif sp_id in claimed:
            context.issue(
                line,
                "service_point_number",
                "service_point.occupied",
                f"service point {sp_number} is also given on line {claimed[sp_id]}",
            )
        else:
            claimed[sp_id] = line
            installations.append(
                {
                    "meter_id": meter_id,
                    "service_point_id": sp_id,
                    "installed_at_utc": at,
                    "install_read_kwh": read,
                    "installed_by": by or context.actor,
                }
            )
    if not context.issues:
        context.repository.bulk_insert(Installation, installations)


def _module_links(context: _Context, new: pl.DataFrame, existing: pl.DataFrame) -> None:
    header = set(context.parsed.header)
    if "meter_serial" not in header:
        return
    both = pl.concat(
        [
            new.select(LINE, "id", "module_serial", "meter_serial", "linked_at"),
            existing.select(LINE, "id", "module_serial", "meter_serial", "linked_at"),
        ]
    )
    linked = context.resolve(both.filter(pl.col("meter_serial").is_not_null()), "meter_serial")
    open_links = context.repository.open_module_links()
    meters_with_module = {m: c for c, m in open_links.items()}
    links: list[dict[str, Any]] = []
    for line, module_id, serial, meter_serial, at, meter_id in linked.select(
        LINE, "id", "module_serial", "meter_serial", "linked_at", "meter_id"
    ).iter_rows():
        if meter_id is None:
            continue
        current = open_links.get(module_id)
        if current == meter_id:
            continue
        if current is not None or meters_with_module.get(meter_id, module_id) != module_id:
            context.issue(
                line,
                "meter_serial",
                "fleet.link_change",
                f"module {serial} or meter {meter_serial} already has another link "
                "in meterops; module swaps go through the field workflow",
            )
            continue
        meters_with_module[meter_id] = module_id
        links.append({"comm_module_id": module_id, "meter_id": meter_id, "linked_at_utc": at})
    if not context.issues:
        context.repository.bulk_insert(CommModuleLink, links)


def _customers(context: _Context, frame: pl.DataFrame) -> pl.DataFrame:
    people = frame.select(LINE, "customer_number", "customer_name", "phone", "email")
    conflicting = (
        people.group_by("customer_number")
        .agg(pl.col(LINE).min(), pl.struct("customer_name", "phone", "email").n_unique().alias("n"))
        .filter(pl.col("n") > 1)
    )
    for line, number in conflicting.select(LINE, "customer_number").iter_rows():
        context.issue(
            line,
            "customer_name",
            "fleet.customer_conflict",
            f"customer {number} appears with different details",
        )
    target = Target(
        Customer,
        ("customer_number",),
        {
            "customer_number": "customer_number",
            "customer_name": "name",
            "phone": "phone",
            "email": "email",
        },
        {},
    )
    unique = people.unique("customer_number", keep="first", maintain_order=True)
    _upsert(context, target, unique)
    return context.resolve(frame, "customer_number")


def _exchange_field(error: MeterOpsError) -> str:
    """The file column an exchange refused by the asset service is about."""
    code = error.code
    if "removal" in code or code.startswith("time."):
        return "exchanged_at"
    if code.startswith("register."):
        final = "final read" in error.message
        return "removed_final_read_kwh" if final else "installed_initial_read_kwh"
    if code == "meter.not_installed":
        return "removed_serial"
    return "installed_serial"


def _exchanges(context: _Context, frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """Apply ``meter_exchanges`` rows in time order through the asset exchange service."""
    rows = frame.sort("exchanged_at", LINE)
    repository = context.repository
    sp_ids = repository.id_map(
        ServicePoint, "service_point_number", rows["service_point_number"].to_list()
    )
    meter_ids = repository.id_map(
        Meter,
        "serial_number",
        [*rows["removed_serial"].to_list(), *rows["installed_serial"].to_list()],
    )
    applied: list[int] = []
    recorded: list[int] = []
    for row in rows.iter_rows(named=True):
        line: int = row[LINE]
        number, old, new = (
            row["service_point_number"],
            row["removed_serial"],
            row["installed_serial"],
        )
        at: dt.datetime = row["exchanged_at"]
        unknown = [
            (field, value, table)
            for field, value, table, known in (
                ("service_point_number", number, "service_points", sp_ids),
                ("removed_serial", old, "meters", meter_ids),
                ("installed_serial", new, "meters", meter_ids),
            )
            if value not in known
        ]
        for field, value, table in unknown:
            context.issue(
                line,
                field,
                "fleet.unknown_reference",
                f"{value!r} does not exist in {table} (import that file first, or fix the value)",
            )
        if unknown:
            continue
        if repository.exchange_recorded(sp_ids[number], meter_ids[old], meter_ids[new], at):
            recorded.append(line)
            continue
        where = {m: sp for m, _, sp in repository.open_installations(meter_ids=[meter_ids[old]])}
        if where.get(meter_ids[old]) != number:
            found = where.get(meter_ids[old])
            context.issue(
                line,
                "removed_serial",
                "fleet.exchange_conflict",
                f"meter {old} is "
                + (f"installed at {found}" if found else "not installed anywhere")
                + f" in meterops, not at {number}: the exchange contradicts the installation "
                "history (import the earlier exchanges first, or fix the row)",
            )
            continue
        multiplier = row["installed_multiplier"]
        if multiplier is not None:
            repository.set_multiplier(meter_ids[new], multiplier)
        try:
            assets_service.exchange_meter(
                context.session,
                asset_schemas.ExchangeRequest(
                    old_serial=old,
                    new_serial=new,
                    at=at,
                    old_final_read_kwh=row["removed_final_read_kwh"],
                    new_initial_read_kwh=row["installed_initial_read_kwh"],
                    reason=f"meter exchange recorded in {context.file}",
                    work_order_ref=row["work_order_id"],
                ),
                actor=context.actor,
            )
        except MeterOpsError as error:
            context.issue(line, _exchange_field(error), error.code, error.message)
            continue
        applied.append(line)
    if context.issues:
        _refuse(context)
    new_rows = rows.filter(pl.col(LINE).is_in(applied))
    existing = rows.filter(pl.col(LINE).is_in(recorded))
    return new_rows, existing, existing.height


def _write(context: _Context, parsed: ParsedFleetFile) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    kind = parsed.kind.name
    frame = parsed.frame
    if kind == "meter_exchanges":
        return _exchanges(context, frame)
    if kind == "territories":
        frame = frame.with_columns(pl.col("timezone").fill_null(context.default_timezone))
    if kind == "accounts":
        frame = _customers(context, frame)
    frame = _prepare(context, kind, frame)
    on_new = _meters_new(context, AssetStatus.IN_STOCK) if kind == "meters" else None
    if kind == "comm_modules":
        frame = frame.with_columns(
            pl.when(pl.col("meter_serial").is_not_null())
            .then(pl.lit(AssetStatus.INSTALLED.value))
            .otherwise(pl.lit(AssetStatus.IN_STOCK.value))
            .alias("lifecycle_status")
        )
    new, existing, unchanged = _upsert(context, TARGETS[kind], frame, on_new=on_new)
    if kind == "meters":
        _check_existing_meters(context, existing)
        _meter_installations(context, new)
    elif kind == "comm_modules":
        _module_links(context, new, existing)
    if context.issues:
        _refuse(context)
    return new, existing, unchanged


def import_file(
    session: Session,
    parsed: ParsedFleetFile,
    *,
    actor: str,
    default_timezone: str,
    now: dt.datetime,
) -> ImportReport:
    """Import one parsed fleet file (flushes; the caller commits).

    Args:
        session: Database session.
        parsed: The parsed file.
        actor: Who imports (recorded in the journal and audit trail).
        default_timezone: Zone for territories that give none.
        now: Import time (UTC).

    Returns:
        What the import did.

    Raises:
        FleetImportRefusedError: The file has issues; nothing of it was stored.
    """
    kind = parsed.kind.name
    repository = FleetRepository(session)
    if repository.journal_entry(parsed.sha256, kind) is not None:
        return ImportReport(parsed.file, kind, parsed.rows, 0, 0, parsed.rows, duplicate_file=True)
    context = _Context(session, parsed, actor, default_timezone)
    context.issues.extend(parsed.issues)
    if context.issues:
        _refuse(context)
    # A savepoint keeps a refused file out of the session even if the caller goes on.
    with session.begin_nested():
        new, existing, unchanged = _write(context, parsed)
    updated = existing.height - unchanged
    entry = repository.add_journal(
        FleetImport(
            file_name=parsed.file,
            sha256=parsed.sha256,
            kind=kind,
            imported_at_utc=now,
            actor=actor,
            rows=parsed.rows,
            created=new.height,
            updated=updated,
            unchanged=unchanged,
        )
    )
    audit_service.record(
        session,
        actor=actor,
        action="fleet.import",
        entity_type="fleet_file",
        entity_id=entry.id,
        now=now,
        data={
            "file": parsed.file,
            "kind": kind,
            "sha256": parsed.sha256,
            "rows": parsed.rows,
            "created": new.height,
            "updated": updated,
            "unchanged": unchanged,
        },
    )
    return ImportReport(parsed.file, kind, parsed.rows, new.height, updated, unchanged)


def _refuse(context: _Context) -> None:
    context.issues.sort(key=lambda i: (i.line or 0, i.field or ""))
    raise FleetImportRefusedError(
        f"{context.file}: {len(context.issues)} problem(s); the file was not imported "
        "(nothing of it was stored). Fix them and import the file again.",
        context.issues,
    )


def import_programs(
    session: Session, parsed: ProgramsFile, *, actor: str, now: dt.datetime
) -> ImportReport:
    """Import a ``programs.yaml`` file (same policy as CSV files).

    Raises:
        FleetImportRefusedError: The file has issues; nothing of it was stored.
    """
    repository = FleetRepository(session)
    file, rows, programs = parsed.file, parsed.rows, parsed.programs
    if repository.journal_entry(parsed.sha256, "meter_programs") is not None:
        return ImportReport(file, "meter_programs", rows, 0, 0, rows, duplicate_file=True)
    if parsed.issues:
        raise FleetImportRefusedError(
            f"{file}: {len(parsed.issues)} problem(s); the file was not imported.", parsed.issues
        )
    stored = {
        program.program_code: program
        for program in session.scalars(
            select(MeterProgram).where(
                MeterProgram.program_code.in_([p.program_code for p in programs])
            )
        )
    }
    created = updated = 0
    for spec in programs:
        values: dict[str, Any] = {
            "name": spec.name,
            "description": spec.description,
            "tariff_code": spec.tariff_code,
            "demand_interval_min": spec.demand_interval_min,
            "demand_method": spec.demand_method,
            "demand_subinterval_min": spec.demand_subinterval_min,
            "channels": list(spec.channels),
            "tou_schedule": spec.schedule.to_document(),
        }
        program = stored.get(spec.program_code)
        if program is None:
            session.add(MeterProgram(program_code=spec.program_code, **values))
            created += 1
        elif any(getattr(program, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(program, name, value)
            updated += 1
    session.flush()
    entry = repository.add_journal(
        FleetImport(
            file_name=file,
            sha256=parsed.sha256,
            kind="meter_programs",
            imported_at_utc=now,
            actor=actor,
            rows=rows,
            created=created,
            updated=updated,
            unchanged=rows - created - updated,
        )
    )
    audit_service.record(
        session,
        actor=actor,
        action="fleet.import",
        entity_type="fleet_file",
        entity_id=entry.id,
        now=now,
        data={"file": file, "kind": "meter_programs", "created": created, "updated": updated},
    )
    return ImportReport(file, "meter_programs", rows, created, updated, rows - created - updated)
