"""Register arithmetic: advance between two dial reads, with rollover.

A register with ``digits`` integer digits counts to ``10**digits`` and rolls over to zero. A
decrease between two reads is a rollover only when the implied advance is less than half the
register's range; any other decrease is an error (a wrong read, a swapped meter, or a reset)
and is refused rather than published as negative consumption (reliability-tests VER-08).

Pure module: standard library only.
"""

from __future__ import annotations

from decimal import Decimal

from meterops.errors import InvalidInputError

__all__ = ["ReadBelowPreviousError", "register_advance"]


class ReadBelowPreviousError(InvalidInputError):
    """A register read lower than the previous one that cannot be a rollover."""

    default_code = "register.read_below_previous"


def register_advance(
    *, previous: float, current: float, digits: int, decimals: int = 0, label: str = "register"
) -> float:
    """Energy counted between two dial reads of the same register, allowing one rollover.

    Args:
        previous: Earlier dial read. [kWh, before multiplier]
        current: Later dial read. [kWh, before multiplier]
        digits: Integer digits on the register (5 → rolls over after 99,999).
        decimals: Decimal digits on the register (for the exact rollover modulus).
        label: What the register is, for the error message.

    Returns:
        The advance, never negative. [kWh, before multiplier]

    Raises:
        ReadBelowPreviousError: ``current < previous`` and it is not a plausible rollover.
        InvalidInputError: A read is negative or does not fit the register.

    Examples:
        >>> register_advance(previous=12_000, current=12_345.5, digits=5)
        345.5
        >>> register_advance(previous=99_950, current=30, digits=5)
        80.0
    """
    modulus = Decimal(10) ** digits
    prev, cur = Decimal(str(previous)), Decimal(str(current))
    for name, value in (("previous", prev), ("current", cur)):
        if value < 0 or value >= modulus:
            msg = (
                f"{label}: {name} read {value} does not fit a {digits}-digit register "
                f"(0 to {modulus - Decimal(10) ** -decimals})"
            )
            raise InvalidInputError(msg, code="register.out_of_range")
    if cur >= prev:
        return float(cur - prev)
    rolled = cur + modulus - prev
    if rolled < modulus / 2:
        return float(rolled)
    msg = (
        f"{label}: read {cur} is lower than the previous read {prev} and is not a rollover of "
        f"a {digits}-digit register (it would mean {rolled} kWh in between); check the read"
    )
    raise ReadBelowPreviousError(
        msg, details={"previous": float(prev), "current": float(cur), "digits": digits}
    )
