"""Errors of the meter_shop capability (subclasses of the shared error tree)."""

from __future__ import annotations

from meterops.errors import ConflictError, NotFoundError

__all__ = ["LotsAlreadyPlannedError", "NoLotsPlannedError"]


class LotsAlreadyPlannedError(ConflictError):
    """A programme year already has its lots and samples.

    Args:
        year: The programme year.
    """

    default_code = "meter_shop.lots_already_planned"

    def __init__(self, year: int) -> None:
        super().__init__(
            f"lots of programme year {year} are already planned; their samples are fixed "
            "(see `meterops shop lots status --year {year}`)".replace("{year}", str(year)),
            details={"year": year},
        )


class NoLotsPlannedError(NotFoundError):
    """No lots were planned for a programme year.

    Args:
        year: The programme year.
    """

    default_code = "meter_shop.no_lots"

    def __init__(self, year: int) -> None:
        super().__init__(
            f"no lots are planned for programme year {year}; run "
            f"`meterops shop lots plan --year {year}` first",
            details={"year": year},
        )
