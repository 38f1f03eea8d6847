"""Record kinds of a meter-data file and the journal counts of an ingest.

Pure module: standard library, polars and pure meterops modules only; never ``meterops.db``,
``models``, ``web``, ``cli`` or ``config``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, fields
from typing import Final

from meterops.errors import DataContractError
from meterops.kit.frames import FrameContract
from meterops.reads import schema
from meterops.reads.store import Table

__all__ = ["KINDS", "RAW_COLUMNS", "Counts", "IngestRules", "KindSpec"]


@dataclass(frozen=True, slots=True)
class Counts:
    """Journal counts of one file.

    ``accepted + rejected + duplicate + conflicting + late + quarantined = rows_in_file``;
    ``late`` rows are stored and flagged, and not also counted as ``accepted``; ``superseded``
    (outside the sum) counts stored rows that replaced a lower source version.
    """

    rows_in_file: int = 0
    accepted: int = 0
    rejected: int = 0
    duplicate: int = 0
    conflicting: int = 0
    late: int = 0
    quarantined: int = 0
    superseded: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        )

    @property
    def stored(self) -> int:
        """Rows stored as readings (accepted and late)."""
        return self.accepted + self.late

    def as_dict(self) -> dict[str, int]:
        """The counts by name."""
        return asdict(self)

    def check(self, file_name: str) -> None:
        """Raise when the buckets do not add up to the rows in the file.

        Raises:
            DataContractError: The sum differs (a bug, never a property of the input).
        """
        total = (
            self.accepted
            + self.rejected
            + self.duplicate
            + self.conflicting
            + self.late
            + self.quarantined
        )
        if total != self.rows_in_file:
            raise DataContractError(
                f"{file_name}: journal counts add up to {total}, not to the {self.rows_in_file} "
                f"rows in the file ({self.as_dict()}).",
                code="ingest.counts_mismatch",
                details=self.as_dict(),
            )


@dataclass(frozen=True, slots=True)
class IngestRules:
    """Arrival rules, explicit so that tests pass fixed times.

    Attributes:
        now: Arrival time; also every stored row's ``received_at_utc``. [UTC]
        late_data_horizon_days: Rows older than this at arrival are quarantined. [days]
        future_tolerance_s: Rows ending more than this after ``now`` are quarantined. [s]
    """

    now: dt.datetime
    late_data_horizon_days: int = 60
    future_tolerance_s: int = 300


@dataclass(frozen=True, slots=True)
class KindSpec:
    """How one record kind is keyed, compared and stored.

    Attributes:
        table: Store table the kind goes to.
        record_kind: Name used in quarantine and conflict rows.
        batch_attr: ``ParsedBatch`` attribute holding the parsed frame.
        id_column: ``meter_id`` (resolved from ``serial_number``) or ``node_id``.
        time_column: The record's own time (horizon, future check, windows).
        duration_column: Length added to the time for the future check, if any.
        key: Natural key.
        values: Columns whose difference makes a conflict rather than a duplicate.
        late_group: Columns that make one series for late detection (id, channel, TOU tier).
        late_flag: Whether late rows are flagged ``LATE`` in ``quality_flags``.
        stored: Stored frame contract (``None``: the raw interval layout).
    """

    table: Table
    record_kind: str
    batch_attr: str
    id_column: str
    time_column: str
    duration_column: str | None
    key: tuple[str, ...]
    values: tuple[str, ...]
    late_group: tuple[str, ...]
    late_flag: bool
    stored: FrameContract | None


KINDS: Final = (
    KindSpec(
        Table.INTERVAL_READS,
        "interval_read",
        "interval_reads",
        "meter_id",
        "interval_start_utc",
        "interval_s",
        ("meter_id", "channel", "interval_start_utc"),
        ("value",),
        ("meter_id", "channel"),
        late_flag=True,
        stored=None,
    ),
    KindSpec(
        Table.REGISTER_READS,
        "register_read",
        "register_reads",
        "meter_id",
        "read_time_utc",
        None,
        ("meter_id", "channel", "tou_period", "read_time_utc"),
        ("value",),
        ("meter_id", "channel", "tou_period"),
        late_flag=True,
        stored=schema.REGISTER_READS,
    ),
    KindSpec(
        Table.EVENTS,
        "event",
        "events",
        "meter_id",
        "event_time_utc",
        None,
        ("meter_id", "event_time_utc", "cim_event_type", "vendor_code"),
        ("severity", "details"),
        ("meter_id",),
        late_flag=False,
        stored=schema.EVENTS,
    ),
    KindSpec(
        Table.COMM_STATS,
        "comm_stat",
        "comm_stats",
        "meter_id",
        "period_start_utc",
        None,
        ("meter_id", "period_start_utc", "period_s"),
        (
            "reads_expected",
            "reads_received",
            "rssi_dbm",
            "hop_count",
            "parent_node",
            "collector_code",
        ),
        ("meter_id",),
        late_flag=False,
        stored=schema.COMM_STATS,
    ),
    KindSpec(
        Table.TOPOLOGY,
        "topology",
        "topology",
        "node_id",
        "observed_at_utc",
        None,
        ("node_id", "observed_at_utc"),
        ("node_kind", "parent_node", "hop_count", "rssi_dbm", "status"),
        ("node_id",),
        late_flag=False,
        stored=schema.TOPOLOGY,
    ),
)
"""Every record kind a file can carry."""

RAW_COLUMNS: Final = (
    "meter_id",
    "channel",
    "interval_start_utc",
    "interval_s",
    "value",
    "quality_flags",
    "source_quality",
    "source_version",
)
