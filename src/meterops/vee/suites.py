"""VEE suites: which rules, with which parameters, apply to which channel kind.

A :class:`Suite` is a rule set (thresholds) plus the table below (standards.md §9.2 mapped
onto channel kinds). Some rules apply to one energy direction only: a zero run or usage on an
inactive account means something for delivered energy, while a received (export) channel is
zero every night. Accumulating channels (energy, reactive energy, volume) are estimated;
voltage, demand and temperature are validated only.

Pure module: standard library, polars and pure meterops modules only; must not import
``meterops.db``, ``models``, ``web``, ``cli`` or ``config``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from meterops.nomenclature import CHANNELS, ChannelKind, FlowDirection
from meterops.vee.rules import RULES, RuleSpec
from meterops.vee.ruleset import RuleSet, load_rule_set

__all__ = ["SUITE_TABLE", "Suite", "default_suite"]

_ANY: Final = None
_CONSUMING: Final = frozenset({FlowDirection.DELIVERED, FlowDirection.NET})
_K = ChannelKind

_Rows = tuple[tuple[str, frozenset[FlowDirection] | None], ...]
SUITE_TABLE: Final[dict[ChannelKind | None, _Rows]] = {
    _K.ENERGY: (
        ("completeness.missing_interval", _ANY),
        ("limits.spike", _ANY),
        ("limits.reverse_energy", _ANY),
        ("usage.zero_run", _CONSUMING),
        ("usage.inactive_account", _CONSUMING),
        ("usage.flatline", _ANY),
        ("registers.sum_check", _ANY),
        ("clock.clock_error_window", _ANY),
    ),
    _K.REACTIVE_ENERGY: (
        ("completeness.missing_interval", _ANY),
        ("limits.reverse_energy", _ANY),
        ("usage.flatline", _ANY),
        ("clock.clock_error_window", _ANY),
    ),
    _K.VOLUME: (
        ("completeness.missing_interval", _ANY),
        ("limits.spike", _ANY),
        ("usage.inactive_account", _CONSUMING),
        ("usage.flatline", _ANY),
        ("registers.sum_check", _ANY),
        ("clock.clock_error_window", _ANY),
    ),
    _K.DEMAND: (
        ("completeness.missing_interval", _ANY),
        ("limits.spike", _ANY),
        ("clock.clock_error_window", _ANY),
    ),
    _K.VOLTAGE: (
        ("completeness.missing_interval", _ANY),
        ("limits.voltage_high", _ANY),
        ("limits.voltage_low", _ANY),
        ("clock.clock_error_window", _ANY),
    ),
    _K.TEMPERATURE: (
        ("completeness.missing_interval", _ANY),
        ("clock.clock_error_window", _ANY),
    ),
    # A channel meterops does not know (not in nomenclature.CHANNELS).
    None: (
        ("completeness.missing_interval", _ANY),
        ("clock.clock_error_window", _ANY),
    ),
}
"""Rules per channel kind, each with the flows it applies to (None: every flow)."""
del _K


@dataclass(frozen=True, slots=True)
class Suite:
    """A configured VEE suite: a rule set applied through :data:`SUITE_TABLE`.

    Attributes:
        rule_set: Enabled rules with their parameters, and the estimator parameters.
        name: Suite name recorded with runs.
    """

    rule_set: RuleSet
    name: str = "default"
    _cache: dict[str, tuple[RuleSpec, ...]] = field(default_factory=dict, compare=False)

    def rules_for(self, channel: str) -> tuple[RuleSpec, ...]:
        """The enabled rules that apply to ``channel``, in table order.

        Examples:
            >>> suite = default_suite()
            >>> [r.rule_id for r in suite.rules_for("voltage_min_v")][1:3]
            ['limits.voltage_high', 'limits.voltage_low']
            >>> "usage.zero_run" in [r.rule_id for r in suite.rules_for("kwh_received")]
            False
        """
        cached = self._cache.get(channel)
        if cached is not None:
            return cached
        known = CHANNELS.get(channel)
        flow = known.flow if known is not None else FlowDirection.NONE
        rows = SUITE_TABLE[known.kind if known is not None else None]
        chosen = tuple(
            RULES[rule_id]
            for rule_id, flows in rows
            if self.rule_set.enabled(rule_id) and (flows is None or flow in flows)
        )
        self._cache[channel] = chosen
        return chosen

    def rule_mask(self, channel: str) -> int:
        """OR of the flag bits of the rules that apply to ``channel``."""
        mask = 0
        for spec in self.rules_for(channel):
            mask |= spec.mask
        return mask

    def estimates(self, channel: str) -> bool:
        """Whether gaps of ``channel`` are estimated (accumulating channels only).

        Examples:
            >>> suite = default_suite()
            >>> suite.estimates("kwh_delivered"), suite.estimates("voltage_v")
            (True, False)
        """
        known = CHANNELS.get(channel)
        return self.rule_set.estimation.enabled and known is not None and known.is_energy


def default_suite(rule_set: RuleSet | None = None) -> Suite:
    """The preset suite: :data:`SUITE_TABLE` with the packaged (or a given) rule set."""
    return Suite(rule_set if rule_set is not None else load_rule_set())
