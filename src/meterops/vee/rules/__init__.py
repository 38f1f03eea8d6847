"""VEE validation rules: a registry of pure Polars expressions, one module per family.

A rule is a function decorated with :func:`rule` that takes its parameters as keyword
arguments and returns a boolean ``pl.Expr`` (True = the interval is suspect). The decorator
registers it with its flag (a bit of :mod:`meterops.vee.flags`, never renumbered), a stable
rule id (``family.name``) and a rule version (bumped whenever its meaning changes, VER-07), and
with the frozen dataclass that holds its parameters (filled from the YAML rule set).

Expressions run over the **prepared frame** built by :mod:`meterops.vee.prepare`: one row per
interval of a series (meter, channel) in time order, with the columns below. They read no
other state, so the same expression serves a whole fleet, a meter group in a process pool or a
Spark task.

==========================  =======  ==========================================================
column                      dtype    meaning
==========================  =======  ==========================================================
``value``                   Float64  the current value (null where the interval is absent)
``actual``                  Boolean  an actual value: present, not source-missing, not an
                                     estimate
``interval_s``              Int32    the series' interval length [s]
``flow``                    String   channel flow: delivered, received, net or none
``series_sum``              Float64  sum of the series' actual values in the frame
``series_count``            Int64    number of the series' actual values in the frame
``active_account``          Boolean  the meter serves an open account on the local day
``bidirectional``           Boolean  the meter measures both directions
``multiplier``              Float64  CT ratio x PT ratio
``nominal_voltage_v``       Float64  service voltage the voltage limits apply to [V] (nullable)
``disconnected``            Boolean  the interval overlaps a service-switch disconnection
``outage``                  Boolean  the interval overlaps an outage (events or source flag)
``clock_distance_us``       Int64    how far the interval is from the nearest clock event
                                     (negative inside it; null without events) [µs]
``zero_run_intervals``      Int64    length of the run of eligible zeros the row is in (0: none)
``flat_run_intervals``      Int64    length of the run of equal actual values the row is in
``day_sum``                 Float64  sum of the series' values on the local day
``day_complete``            Boolean  every expected interval of the local day is actual
``register_advance``        Float64  register advance over the local day after rollover,
                                     in register units (null without both reads)
``register_step``           Float64  register resolution, 10^-decimals [register units]
==========================  =======  ==========================================================

Pure package: standard library and polars only; must not import ``meterops.db``, ``models``,
``web``, ``cli`` or ``config``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

import polars as pl

from meterops.vee.flags import FLAGS

__all__ = ["RULES", "NoParams", "RuleSpec", "rule"]


@dataclass(frozen=True, slots=True)
class NoParams:
    """Parameters of a rule that has none."""


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """A registered rule.

    Attributes:
        rule_id: Stable dotted id, ``family.name``.
        flag: Name of the flag it sets.
        version: Rule version; bumped when the rule's meaning changes.
        check: The decorated function (keyword parameters → boolean expression).
        params_type: Frozen dataclass of its parameters.
        description: First line of the function's docstring.
    """

    rule_id: str
    flag: str
    version: int
    check: Callable[..., pl.Expr]
    params_type: type[Any]
    description: str

    @property
    def mask(self) -> int:
        """The flag's bit as an integer mask."""
        return FLAGS[self.flag].mask

    @property
    def actor(self) -> str:
        """``rule_id@version``: how versions and flags name the rule that made them."""
        return f"{self.rule_id}@{self.version}"

    def expr(self, params: Any) -> pl.Expr:
        """The rule's boolean expression for ``params`` (an instance of ``params_type``)."""
        values = {f.name: getattr(params, f.name) for f in dataclasses.fields(params)}
        return self.check(**values).fill_null(value=False).alias(self.rule_id)


_REGISTRY: dict[str, RuleSpec] = {}
RULES: Final[Mapping[str, RuleSpec]] = MappingProxyType(_REGISTRY)
"""Every registered rule by id (filled when :mod:`meterops.vee.rules` is imported)."""


def rule(
    *, flag: str, rule_id: str, version: int, params: type[Any] = NoParams
) -> Callable[[Callable[..., pl.Expr]], Callable[..., pl.Expr]]:
    """Register a rule function under ``rule_id`` with its flag, version and parameters.

    Args:
        flag: Name of a flag of group ``rule`` in :data:`meterops.vee.flags.FLAGS`.
        rule_id: Stable dotted id.
        version: Rule version (≥ 1).
        params: Frozen dataclass whose fields are the function's keyword parameters.

    Returns:
        A decorator that registers the function and returns it unchanged.

    Raises:
        ValueError: Unknown flag, duplicate id or bad version.
    """
    if flag not in FLAGS:
        msg = f"rule {rule_id!r} names unknown flag {flag!r}"
        raise ValueError(msg)
    if version < 1 or rule_id in _REGISTRY:
        msg = f"rule {rule_id!r}: version must be >= 1 and the id unique"
        raise ValueError(msg)

    def register(function: Callable[..., pl.Expr]) -> Callable[..., pl.Expr]:
        doc = (function.__doc__ or "").strip().splitlines()
        _REGISTRY[rule_id] = RuleSpec(
            rule_id, flag, version, function, params, doc[0] if doc else rule_id
        )
        return function

    return register


# Importing the families fills the registry.
from meterops.vee.rules import clock, completeness, limits, registers, usage  # noqa: E402

__all__ += ["clock", "completeness", "limits", "registers", "usage"]
