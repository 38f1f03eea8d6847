"""Quality flags: a versioned table from flag name to bit, never renumbered.

Every read row carries ``quality_flags`` (UInt32). A bit, once assigned, keeps its meaning for
ever: new flags take the next free bit and bump :data:`FLAGS_VERSION`; retired flags stay
listed with ``retired=True``. Parsers set the *source* flags (what the head-end or file said);
VEE rules set the *rule* flags; estimation and editing set their own. ``EXCLUDE_FROM_BILLING``
lists the flags whose values must not feed billing determinants without review.

Pure module: standard library and polars only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final

import polars as pl

__all__ = [
    "EXCLUDE_FROM_BILLING",
    "FLAGS",
    "FLAGS_VERSION",
    "RULE_MASK",
    "Flag",
    "FlagGroup",
    "flag_mask",
    "flag_names",
    "has_flag_expr",
]


class FlagGroup(StrEnum):
    """Who sets a flag."""

    SOURCE = "source"
    """Reported by the meter, head-end or file (mapped from the source's quality codes)."""
    INGEST = "ingest"
    """Set by meterops on arrival (late data)."""
    RULE = "rule"
    """Set by a VEE validation rule."""
    VERSION = "version"
    """Describes how the value was produced (estimated, edited)."""


@dataclass(frozen=True, slots=True)
class Flag:
    """One quality flag.

    Attributes:
        name: Stable upper-case name.
        bit: Bit position in ``quality_flags`` (0-31); never reused.
        group: Who sets it.
        description: Plain-language meaning.
        cim_quality: Closest IEC 61968-9 ReadingQualityType ``system.category.index``.
        since_version: :data:`FLAGS_VERSION` in which the bit was assigned.
        retired: True when no longer set (the bit stays reserved).
    """

    name: str
    bit: int
    group: FlagGroup
    description: str
    cim_quality: str
    since_version: int = 1
    retired: bool = False

    @property
    def mask(self) -> int:
        """The flag's bit as an integer mask."""
        return 1 << self.bit


FLAGS_VERSION: Final = 2
"""Version of the flag table; bump when a flag is added or retired."""

_G = FlagGroup
_FLAG_LIST: Final = (
    # Source flags (bits 0-7): what the head-end or file said about the value.
    Flag("SOURCE_ESTIMATED", 0, _G.SOURCE, "The source marked the value as estimated.", "2.8.0"),
    Flag(
        "SOURCE_EDITED", 1, _G.SOURCE, "The source marked the value as edited or adjusted.", "2.7.0"
    ),
    Flag(
        "SOURCE_SUSPECT",
        2,
        _G.SOURCE,
        "The source marked the value questionable or invalid.",
        "2.5.258",
    ),
    Flag("POWER_OUTAGE", 3, _G.SOURCE, "Power failed during the interval.", "1.2.32"),
    Flag(
        "PARTIAL_INTERVAL",
        4,
        _G.SOURCE,
        "The interval was shorter or longer than nominal.",
        "1.4.2",
    ),
    Flag("CLOCK_CHANGED", 5, _G.SOURCE, "The meter clock was set during the interval.", "1.4.9"),
    Flag("TEST_MODE", 6, _G.SOURCE, "The meter was in test mode.", "1.4.5"),
    Flag(
        "SOURCE_MISSING", 7, _G.SOURCE, "The source reported no data for the interval.", "2.5.259"
    ),
    # Ingest flags (bits 8-9).
    Flag(
        "LATE",
        8,
        _G.INGEST,
        "Arrived after the day was first processed (inside the horizon).",
        "3.4.0",
    ),
    # Bits 10-23: VEE rule flags, assigned by vee/rules as they are added (version 2: 10-19).
    Flag(
        "MISSING_INTERVAL",
        10,
        _G.RULE,
        "No actual value for an expected interval (the version that fills it is an estimate).",
        "3.5.259",
        since_version=2,
    ),
    Flag(
        "SPIKE",
        11,
        _G.RULE,
        "Value far above the meter's own history (the other reads of the series).",
        "3.6.5",
        since_version=2,
    ),
    Flag(
        "ZERO_RUN",
        12,
        _G.RULE,
        "Part of a long run of zero consumption on an active, connected, powered account.",
        "3.6.1",
        since_version=2,
    ),
    Flag(
        "INACTIVE_USAGE",
        13,
        _G.RULE,
        "Consumption on a day the meter serves no open account.",
        "3.6.2",
        since_version=2,
    ),
    Flag(
        "REVERSE_ENERGY",
        14,
        _G.RULE,
        "Negative energy, or received energy on a meter that is not bidirectional.",
        "1.3.4",
        since_version=2,
    ),
    Flag(
        "SUM_CHECK",
        15,
        _G.RULE,
        "The day's interval sum disagrees with the register advance (multiplier, rollover).",
        "3.6.9",
        since_version=2,
    ),
    Flag(
        "CLOCK_ERROR",
        16,
        _G.RULE,
        "Inside the window around a meter clock error or clock change.",
        "1.1.9",
        since_version=2,
    ),
    Flag(
        "FLATLINE",
        17,
        _G.RULE,
        "Part of a long run of the same non-zero value (frozen register or stuck channel).",
        "3.5.258",
        since_version=2,
    ),
    Flag(
        "HIGH_VOLTAGE",
        18,
        _G.RULE,
        "Voltage above the service's upper limit (ANSI C84.1 range).",
        "3.6.3",
        since_version=2,
    ),
    Flag(
        "LOW_VOLTAGE",
        19,
        _G.RULE,
        "Voltage below the service's lower limit (ANSI C84.1 range), outside outages.",
        "3.6.4",
        since_version=2,
    ),
    # Bits 24-31: version flags.
    Flag("ESTIMATED", 24, _G.VERSION, "Value estimated by meterops VEE.", "3.8.0"),
    Flag("EDITED", 25, _G.VERSION, "Value edited by a person with a reason code.", "3.7.0"),
)
del _G

FLAGS: Final[MappingProxyType[str, Flag]] = MappingProxyType({f.name: f for f in _FLAG_LIST})
"""Every flag ever assigned, by name."""

EXCLUDE_FROM_BILLING: Final[frozenset[str]] = frozenset(
    {"SOURCE_SUSPECT", "SOURCE_MISSING", "TEST_MODE"}
)
"""Flags whose values need review before they feed billing determinants."""

RULE_MASK: Final[int] = sum(f.mask for f in _FLAG_LIST if f.group is FlagGroup.RULE)
"""Every bit a VEE validation rule may set (bits 10-23); a VEE run recomputes these."""


def flag_mask(names: Iterable[str]) -> int:
    """The OR of the named flags' bits.

    Args:
        names: Flag names.

    Returns:
        Integer mask.

    Raises:
        KeyError: A name is not in :data:`FLAGS`; the message lists the valid names.

    Examples:
        >>> flag_mask(["SOURCE_ESTIMATED", "POWER_OUTAGE"])
        9
    """
    mask = 0
    for name in names:
        try:
            mask |= FLAGS[name].mask
        except KeyError:
            msg = f"unknown quality flag {name!r}; known flags: {sorted(FLAGS)}"
            raise KeyError(msg) from None
    return mask


def flag_names(value: int) -> list[str]:
    """Names of the flags set in ``value``, in bit order.

    Examples:
        >>> flag_names(9)
        ['SOURCE_ESTIMATED', 'POWER_OUTAGE']
    """
    return [f.name for f in sorted(FLAGS.values(), key=lambda f: f.bit) if value & f.mask]


def has_flag_expr(name: str, column: str = "quality_flags") -> pl.Expr:
    """Boolean expression: the named flag is set in ``column``.

    Examples:
        >>> df = pl.DataFrame({"quality_flags": [0, 8]}, schema={"quality_flags": pl.UInt32})
        >>> df.select(has_flag_expr("POWER_OUTAGE")).to_series().to_list()
        [False, True]
    """
    return (pl.col(column) & pl.lit(FLAGS[name].mask, dtype=pl.UInt32)) != 0
