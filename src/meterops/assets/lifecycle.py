"""Asset lifecycle states and the legal moves between them, as data.

A meter (or communication module) is received from the manufacturer, put in stock, installed,
removed, tested in the meter shop and finally retired. Only the moves in :data:`TRANSITIONS`
are legal; a removed meter goes to the shop (or is scrapped) before it can be installed again.

Pure module: standard library only.
"""

from __future__ import annotations

from enum import StrEnum
from types import MappingProxyType
from typing import Final

from meterops.errors import IllegalTransitionError

__all__ = ["TRANSITIONS", "AssetStatus", "check_transition"]


class AssetStatus(StrEnum):
    """Where an asset is in its life."""

    RECEIVED = "received"
    IN_STOCK = "in_stock"
    INSTALLED = "installed"
    REMOVED = "removed"
    IN_SHOP = "in_shop"
    RETIRED = "retired"


_S = AssetStatus
TRANSITIONS: Final[MappingProxyType[AssetStatus, frozenset[AssetStatus]]] = MappingProxyType(
    {
        # Acceptance testing of a new shipment sends a sample straight to the shop; a meter dead
        # on arrival is retired.
        _S.RECEIVED: frozenset({_S.IN_STOCK, _S.IN_SHOP, _S.RETIRED}),
        _S.IN_STOCK: frozenset({_S.INSTALLED, _S.IN_SHOP, _S.RETIRED}),
        _S.INSTALLED: frozenset({_S.REMOVED}),
        # A removed meter is tested before it may be installed again, or scrapped.
        _S.REMOVED: frozenset({_S.IN_SHOP, _S.RETIRED}),
        _S.IN_SHOP: frozenset({_S.IN_STOCK, _S.RETIRED}),
        _S.RETIRED: frozenset(),
    }
)
del _S
"""Legal moves: state → states reachable from it."""


def check_transition(entity: str, current: AssetStatus, target: AssetStatus) -> None:
    """Refuse an illegal lifecycle move.

    Args:
        entity: What moves, for the message (e.g. ``"meter 12345678"``).
        current: Current state.
        target: Requested state.

    Raises:
        IllegalTransitionError: ``target`` is not reachable from ``current``.

    Examples:
        >>> check_transition("meter M1", AssetStatus.IN_STOCK, AssetStatus.INSTALLED)
        >>> check_transition("meter M1", AssetStatus.RETIRED, AssetStatus.IN_STOCK)
        Traceback (most recent call last):
        ...
        meterops.errors.IllegalTransitionError: meter M1 is 'retired' and cannot move to \
'in_stock'; from 'retired' it can move to: none (final state).
    """
    allowed = TRANSITIONS[current]
    if target not in allowed:
        raise IllegalTransitionError(
            entity=entity,
            current=current.value,
            target=target.value,
            allowed=(state.value for state in allowed),
        )
