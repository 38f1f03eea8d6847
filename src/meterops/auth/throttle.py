"""Throttling of sign-in attempts: per user name and per client address, in a rolling window.

After ``max_failures`` failed attempts within ``window_s`` for the same key (a user name, or a
client address), further attempts for that key are refused until ``lockout_s`` after the last
failure. A success does not erase failures: an attacker who knows one password cannot reset
the counter for others. Refusals say when to try again and never whether the user exists.

Pure module: standard library only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["ThrottleDecision", "ThrottlePolicy", "decide"]


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    """Limits on failed sign-in attempts.

    Attributes:
        max_failures: Failures per key within the window before attempts are refused.
        window_s: Length of the rolling window [s].
        lockout_s: How long after the last failure attempts stay refused [s].
    """

    max_failures: int = 5
    window_s: int = 15 * 60
    lockout_s: int = 15 * 60


@dataclass(frozen=True, slots=True)
class ThrottleDecision:
    """Whether an attempt may proceed, and if not, how long to wait [s]."""

    allowed: bool
    retry_after_s: int = 0


def decide(
    failures_utc: Iterable[dt.datetime], now: dt.datetime, policy: ThrottlePolicy
) -> ThrottleDecision:
    """Decide on an attempt from the times of earlier failures for one key.

    Args:
        failures_utc: Times of failed attempts for the key (any order; old ones are ignored).
        now: Time of the attempt (aware UTC).
        policy: The limits.

    Returns:
        Allowed, or refused with the seconds until the lockout ends.

    Examples:
        >>> t = dt.datetime(2026, 7, 6, 12, 0, tzinfo=dt.UTC)
        >>> fails = [t - dt.timedelta(minutes=m) for m in range(5)]
        >>> decide(fails, t, ThrottlePolicy())
        ThrottleDecision(allowed=False, retry_after_s=900)
        >>> decide(fails[:4], t, ThrottlePolicy()).allowed
        True
    """
    horizon = now - dt.timedelta(seconds=policy.window_s)
    recent = sorted(t for t in failures_utc if horizon < t <= now)
    if len(recent) < policy.max_failures:
        return ThrottleDecision(allowed=True)
    until = recent[-1] + dt.timedelta(seconds=policy.lockout_s)
    wait = int((until - now).total_seconds() + 0.999)
    return ThrottleDecision(allowed=wait <= 0, retry_after_s=max(wait, 0))
