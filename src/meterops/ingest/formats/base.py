"""The shared result type of every parser: frames plus located issues.

Pure module.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import polars as pl

from meterops.errors import Issue, ValidationReportError
from meterops.reads.schema import (
    PARSED_COMM_STATS,
    PARSED_EVENTS,
    PARSED_INTERVAL_READS,
    PARSED_REGISTER_READS,
    PARSED_TOPOLOGY,
)

__all__ = ["ParseError", "ParsedBatch"]


class ParseError(ValidationReportError):
    """A file refused by a parser in strict mode (or with no usable rows at all).

    The message names the file, line and field of every issue found.
    """

    default_code = "ingest.parse_error"


@dataclass(slots=True)
class ParsedBatch:
    """What a parser found in one file.

    Attributes:
        source_name: File name the issues refer to.
        format: Format id, e.g. ``"cmep"``, ``"espi"``, ``"nem12"``.
        interval_reads: Frame of contract ``PARSED_INTERVAL_READS``.
        register_reads: Frame of contract ``PARSED_REGISTER_READS``.
        events: Frame of contract ``PARSED_EVENTS``.
        comm_stats: Frame of contract ``PARSED_COMM_STATS``.
        topology: Frame of contract ``PARSED_TOPOLOGY``.
        issues: Every located problem; rows with issues are not in the frames.
        rows_in_file: Records the file holds (values for interval formats), so that the
            journal can check accepted + rejected + … = rows in file.
    """

    source_name: str
    format: str
    interval_reads: pl.DataFrame = field(default_factory=PARSED_INTERVAL_READS.empty)
    register_reads: pl.DataFrame = field(default_factory=PARSED_REGISTER_READS.empty)
    events: pl.DataFrame = field(default_factory=PARSED_EVENTS.empty)
    comm_stats: pl.DataFrame = field(default_factory=PARSED_COMM_STATS.empty)
    topology: pl.DataFrame = field(default_factory=PARSED_TOPOLOGY.empty)
    issues: list[Issue] = field(default_factory=list)
    rows_in_file: int = 0

    @property
    def row_count(self) -> int:
        """Rows parsed successfully across all frames."""
        return (
            self.interval_reads.height
            + self.register_reads.height
            + self.events.height
            + self.comm_stats.height
            + self.topology.height
        )

    def raise_if_issues(self) -> None:
        """Raise :class:`ParseError` listing every issue, if there are any."""
        if self.issues:
            raise ParseError(
                f"{self.source_name}: {len(self.issues)} problem(s) found; nothing was stored.",
                self.issues,
            )

    def extend_issues(self, issues: Iterable[Issue]) -> None:
        """Add issues found by a later check."""
        self.issues.extend(issues)
