"""Frame contracts for meter data: one definition each.

Two families:

* **Parsed** frames are what format parsers emit. They identify the meter as the file does
  (``serial_number``) and keep the source line for traceability; values are already in the
  channel's canonical unit (``nomenclature.CHANNELS``), timestamps are interval-*beginning* UTC.
* **Stored** frames are what the Delta tables hold. They identify the meter by our
  ``meter_id`` (resolved at ingest from the fleet model) and carry version and provenance.

Pure module: standard library and polars only.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from meterops.kit.frames import ColumnSpec, FrameContract

__all__ = [
    "COMM_STATS",
    "CONFLICTS",
    "EVENTS",
    "INTERVAL_FLAGS",
    "INTERVAL_READS",
    "INTERVAL_VERSIONS",
    "PARSED_COMM_STATS",
    "PARSED_EVENTS",
    "PARSED_INTERVAL_READS",
    "PARSED_REGISTER_READS",
    "PARSED_TOPOLOGY",
    "QUARANTINE",
    "REGISTER_READS",
    "TOPOLOGY",
    "UTC_DATETIME",
]

UTC_DATETIME: Final = pl.Datetime("us", "UTC")
"""The one timestamp dtype: microseconds, UTC."""

_C = ColumnSpec

# Shared column specs ------------------------------------------------------------------------
_SERIAL = _C("serial_number", pl.String(), "Meter identifier as the source file gives it.")
_METER_ID = _C("meter_id", pl.Int64(), "meterops meter id (fleet model primary key).")
_CHANNEL = _C("channel", pl.String(), "Canonical channel name from nomenclature.CHANNELS.")
_FLAGS = _C("quality_flags", pl.UInt32(), "Bits from vee.flags.FLAGS.")
_SOURCE_QUALITY = _C(
    "source_quality",
    pl.String(),
    "Quality code exactly as the source gave it (CMEP protocol text, NEM12 quality method, "
    "ESPI qualityOfReading, CIM ReadingQualityType), kept for audit.",
    nullable=True,
)
_SOURCE_LINE = _C("source_line", pl.Int64(), "1-based line in the source file (XML: element line).")
_SOURCE_FILE_ID = _C("source_file_id", pl.Int64(), "Import journal id of the file it came from.")
_RECEIVED = _C("received_at_utc", UTC_DATETIME, "When meterops stored the row. [UTC]")

# Interval reads -----------------------------------------------------------------------------
_INTERVAL_CORE = (
    _CHANNEL,
    _C("interval_start_utc", UTC_DATETIME, "Beginning of the interval. [UTC]"),
    _C("interval_s", pl.Int32(), "Interval length. [s]"),
    _C("value", pl.Float64(), "Value in the channel's canonical unit (kWh, kW, V …)."),
    _FLAGS,
)

PARSED_INTERVAL_READS: Final = FrameContract(
    "parsed_interval_reads", (_SERIAL, *_INTERVAL_CORE, _SOURCE_QUALITY, _SOURCE_LINE)
)
"""Interval reads as a parser emits them."""

_VERSION_COLUMNS = (
    _C("version", pl.Int32(), "0 for the value as received; VEE/edits add 1, 2, …"),
    _C("version_kind", pl.String(), "raw | estimate | edit | substitute"),
    _C("method", pl.String(), "Estimation method or edit kind; null for raw.", nullable=True),
    _C("reason_code", pl.String(), "Why the version exists; null for raw.", nullable=True),
    _C("actor", pl.String(), "User name or rule id@version that made it.", nullable=True),
    _C("parent_version", pl.Int32(), "Version this one replaces; null for raw.", nullable=True),
)
_SOURCE_VERSION = _C(
    "source_version",
    pl.Int64(),
    "Version the source gave the value (e.g. NEM12 UpdateDateTime as epoch µs); a higher one "
    "supersedes a lower one for the same key; null when the format carries none.",
    nullable=True,
)

INTERVAL_READS: Final = FrameContract(
    "interval_reads",
    (
        _METER_ID,
        *_INTERVAL_CORE,
        *_VERSION_COLUMNS,
        _SOURCE_QUALITY,
        _SOURCE_VERSION,
        _C(
            "source_file_id",
            pl.Int64(),
            "Import journal id of the file a raw value came from; null for versions made by "
            "meterops (VEE, edits).",
            nullable=True,
        ),
        _RECEIVED,
    ),
)
"""Interval reads as stored (raw version 0 and later versions)."""

INTERVAL_VERSIONS: Final = FrameContract(
    "interval_versions",
    (
        _METER_ID,
        *_INTERVAL_CORE,
        _C("version", pl.Int32(), "1, 2, … (unique per key; 0 is the raw value)."),
        _C("version_kind", pl.String(), "estimate | edit | substitute"),
        _C("method", pl.String(), "Estimation method or edit kind."),
        _C("reason_code", pl.String(), "Why the version exists (standards.md §9.4)."),
        _C("actor", pl.String(), "User name or rule id@version that made it."),
        _C(
            "parent_version",
            pl.Int32(),
            "Version this one replaces (0 = the raw read); null when no read existed.",
            nullable=True,
        ),
    ),
)
"""What VEE and editing hand to the store: new versions of interval values."""

INTERVAL_FLAGS: Final = FrameContract(
    "interval_flags",
    (
        _METER_ID,
        _CHANNEL,
        _C("interval_start_utc", UTC_DATETIME, "Beginning of the interval. [UTC]"),
        _C("version", pl.Int32(), "Version the flags apply to (0 = raw)."),
        _C("quality_flags", pl.UInt32(), "Values of the bits named in flag_mask."),
        _C("flag_mask", pl.UInt32(), "Bits this row speaks for; other bits are left alone."),
        _C("actor", pl.String(), "Rule id@version (or user) that set the flags."),
    ),
)
"""Sparse VEE flags for stored versions, merged into the current view (never rewrites rows)."""

# Register reads -----------------------------------------------------------------------------
_REGISTER_CORE = (
    _CHANNEL,
    _C("read_time_utc", UTC_DATETIME, "When the register was read. [UTC]"),
    _C(
        "value",
        pl.Float64(),
        "Cumulative dial reading in the channel's unit, before the meter multiplier. [kWh]",
    ),
    _C(
        "tou_period",
        pl.String(),
        "TOU tier the register accumulates (null = total).",
        nullable=True,
    ),
    _FLAGS,
)

PARSED_REGISTER_READS: Final = FrameContract(
    "parsed_register_reads", (_SERIAL, *_REGISTER_CORE, _SOURCE_QUALITY, _SOURCE_LINE)
)
"""Register (dial) reads as a parser emits them."""

REGISTER_READS: Final = FrameContract(
    "register_reads", (_METER_ID, *_REGISTER_CORE, _SOURCE_QUALITY, _SOURCE_FILE_ID, _RECEIVED)
)
"""Register reads as stored."""

# Events -------------------------------------------------------------------------------------
_EVENT_CORE = (
    _C("event_time_utc", UTC_DATETIME, "When the device logged the event. [UTC]"),
    _C("cim_event_type", pl.String(), "IEC 61968-9 type.domain.subDomain.eventOrAction code."),
    _C("vendor_code", pl.String(), "Head-end's own event code or text.", nullable=True),
    _C("severity", pl.String(), "info | warning | alarm | critical"),
    _C("details", pl.String(), "JSON object of name/value details.", nullable=True),
)

PARSED_EVENTS: Final = FrameContract("parsed_events", (_SERIAL, *_EVENT_CORE, _SOURCE_LINE))
"""End-device events as a parser emits them."""

EVENTS: Final = FrameContract("events", (_METER_ID, *_EVENT_CORE, _SOURCE_FILE_ID, _RECEIVED))
"""End-device events as stored."""

# Communication statistics -------------------------------------------------------------------
_COMM_CORE = (
    _C("period_start_utc", UTC_DATETIME, "Start of the reporting period (usually a day). [UTC]"),
    _C("period_s", pl.Int32(), "Length of the reporting period. [s]"),
    _C("reads_expected", pl.Int32(), "Interval reads the head-end expected in the period."),
    _C("reads_received", pl.Int32(), "Interval reads the head-end received in the period."),
    _C("rssi_dbm", pl.Float64(), "Received signal strength at the parent. [dBm]", nullable=True),
    _C("hop_count", pl.Int16(), "Mesh hops to the collector.", nullable=True),
    _C("parent_node", pl.String(), "Router or collector code of the mesh parent.", nullable=True),
    _C("collector_code", pl.String(), "Collector the meter reports through.", nullable=True),
)

PARSED_COMM_STATS: Final = FrameContract("parsed_comm_stats", (_SERIAL, *_COMM_CORE, _SOURCE_LINE))
"""Per-meter communication statistics as a parser emits them."""

COMM_STATS: Final = FrameContract(
    "comm_stats", (_METER_ID, *_COMM_CORE, _SOURCE_FILE_ID, _RECEIVED)
)
"""Per-meter communication statistics as stored."""

# Mesh topology snapshot ---------------------------------------------------------------------
PARSED_TOPOLOGY: Final = FrameContract(
    "parsed_topology",
    (
        _C("node_id", pl.String(), "Meter serial, router code or collector code."),
        _C("node_kind", pl.String(), "meter | router | collector"),
        _C("parent_node", pl.String(), "Parent node id (null for a collector).", nullable=True),
        _C("hop_count", pl.Int16(), "Hops to the collector (0 for a collector)."),
        _C("rssi_dbm", pl.Float64(), "Link RSSI to the parent. [dBm]", nullable=True),
        _C("observed_at_utc", UTC_DATETIME, "When the head-end reported the link. [UTC]"),
        _C("status", pl.String(), "up | down | unknown"),
        _SOURCE_LINE,
    ),
)
"""Mesh topology (nodes, parents, link quality) as a head-end exports it."""

TOPOLOGY: Final = FrameContract(
    "topology",
    (*(c for c in PARSED_TOPOLOGY if c.name != "source_line"), _SOURCE_FILE_ID, _RECEIVED),
)
"""Mesh topology snapshots as stored (node ids as the head-end gives them)."""

# Quarantine and conflicts -------------------------------------------------------------------
_RECORD_KIND = _C(
    "record_kind",
    pl.String(),
    "interval_read | register_read | event | comm_stat | topology | source_line",
)

QUARANTINE: Final = FrameContract(
    "quarantine",
    (
        _SOURCE_FILE_ID,
        _C("source_line", pl.Int64(), "Line in the source file.", nullable=True),
        _RECORD_KIND,
        _C("reason_code", pl.String(), "Why it was held, e.g. unknown_meter, beyond_horizon."),
        _C("message", pl.String(), "Plain-language reason with the offending values."),
        _C("payload", pl.String(), "The held record as JSON, so nothing is lost."),
        _RECEIVED,
    ),
)
"""Rows held back at ingest with their reasons (never silently dropped)."""

CONFLICTS: Final = FrameContract(
    "conflicts",
    (
        _SOURCE_FILE_ID,
        _C("source_line", pl.Int64(), "Line of the conflicting record.", nullable=True),
        _RECORD_KIND,
        _C("meter_id", pl.Int64(), "meterops meter id (null for topology).", nullable=True),
        _C("channel", pl.String(), "Channel, for reads.", nullable=True),
        _C("time_utc", UTC_DATETIME, "The record's own time (interval start, read time …). [UTC]"),
        _C("key_detail", pl.String(), "Other key columns as JSON.", nullable=True),
        _C("stored_value", pl.Float64(), "Value kept (reads).", nullable=True),
        _C("new_value", pl.Float64(), "Value received and not applied (reads).", nullable=True),
        _C("stored_payload", pl.String(), "Kept record's value columns as JSON."),
        _C("new_payload", pl.String(), "Received record's value columns as JSON."),
        _C(
            "stored_source_file_id",
            pl.Int64(),
            "Import journal id of the kept record.",
            nullable=True,
        ),
        _RECEIVED,
    ),
)
"""Same natural key, different value: both values and both files; the stored record stays."""

del _C
