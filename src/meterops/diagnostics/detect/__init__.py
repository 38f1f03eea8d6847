"""Exception detectors: pure functions over frames, one module per family.

Each detector takes the frames it needs (keyword-only, with :class:`DetectParams` and the
explicit ``as_of_utc``) and returns :data:`diagnostics.frames.EXCEPTIONS` rows.

Pure package: polars, standard library and pure meterops modules only.
"""

from __future__ import annotations

from meterops.diagnostics.detect.comm import detect_non_communicating
from meterops.diagnostics.detect.crossed import detect_crossed_meters
from meterops.diagnostics.detect.drop import detect_consumption_drop
from meterops.diagnostics.detect.events import (
    detect_hot_socket,
    detect_reverse_energy,
    detect_tamper,
)
from meterops.diagnostics.detect.program import detect_program_mismatch
from meterops.diagnostics.detect.quality import detect_register_mismatch, detect_suspect_reads
from meterops.diagnostics.detect.summary import (
    READ_CHANNELS,
    last_read_times,
    summarise_batch,
    summarise_intervals,
)
from meterops.diagnostics.detect.usage import (
    detect_high_bill,
    detect_inactive_usage,
    detect_zero_consumption,
)
from meterops.diagnostics.detect.voltage import detect_voltage_out_of_range

__all__ = [
    "READ_CHANNELS",
    "detect_consumption_drop",
    "detect_crossed_meters",
    "detect_high_bill",
    "detect_hot_socket",
    "detect_inactive_usage",
    "detect_non_communicating",
    "detect_program_mismatch",
    "detect_register_mismatch",
    "detect_reverse_energy",
    "detect_suspect_reads",
    "detect_tamper",
    "detect_voltage_out_of_range",
    "detect_zero_consumption",
    "last_read_times",
    "summarise_batch",
    "summarise_intervals",
]
