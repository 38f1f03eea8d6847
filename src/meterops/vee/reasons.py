"""Reason codes of manual edits.

Pure module: standard library only.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

__all__ = ["EDIT_REASONS"]

EDIT_REASONS: Final = MappingProxyType(
    {
        "meter_exchange": "Meter exchange: values from the old or new meter.",
        "multiplier_correction": "Multiplier or CT/PT ratio correction.",
        "customer_read": "Customer-provided read.",
        "field_read": "Read taken in the field by a technician.",
        "test_mode_data": "Data recorded while the meter was in test mode.",
        "clock_correction": "DST or meter clock correction.",
        "outage_adjustment": "Outage adjustment.",
        "crossed_meter": "Crossed meters (two premises' meters swapped).",
        "rebill": "Rebill or backbill.",
        "manual_estimate": "Manual estimate by an analyst.",
        "accepted_as_actual": "Suspect value reviewed and accepted as actual.",
    }
)
"""Reason codes of manual edits (standards.md §9.4, project-defined)."""
