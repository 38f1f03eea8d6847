"""Dispatch's objects built from settings, for its adapters (CLI, JSON API, pages).

Only adapters import this module (it reads :class:`~meterops.config.Settings`): services get
the :class:`~meterops.dispatch.service.Planner`, the work-order policy and the head-end as
explicit arguments.
"""

from __future__ import annotations

from starlette.requests import Request

from meterops.config import Settings
from meterops.dispatch.service import Planner
from meterops.headend.client import HttpHeadEnd
from meterops.headend.protocol import HeadEnd
from meterops.routing import GreatCircleTravel, MaxRuntime, NoImprovement
from meterops.workorders.service import WorkOrderPolicy

__all__ = ["DEFAULT_SOLVE_SECONDS", "actor_of", "head_end", "planner", "policy"]

DEFAULT_SOLVE_SECONDS = 10.0
"""Longest full solve of a day when optimising [s]; small days stop much earlier."""


def planner(
    settings: Settings, *, seconds: float = DEFAULT_SOLVE_SECONDS, seed: int = 0
) -> Planner:
    """How to plan: great-circle travel, the utility's zone, a runtime budget.

    The search stops at ``seconds`` or after 1,000 iterations without improvement, whichever
    comes first (a 20-stop day settles in well under a second).
    """
    return Planner(
        travel=GreatCircleTravel(),
        utility_timezone=settings.utility_timezone,
        stop=MaxRuntime(seconds) | NoImprovement(1000),
        seed=seed,
    )


def policy(settings: Settings) -> WorkOrderPolicy:
    """The work-order rules (deadlines, bundling) for the utility's zone and its regulator."""
    return WorkOrderPolicy(
        utility_timezone=settings.utility_timezone,
        reconnect_deadline_hours=settings.reconnect_deadline_hours,
        bundle_radius_m=settings.bundle_radius_m,
    )


def head_end(settings: Settings, url: str | None = None) -> HeadEnd | None:
    """The head-end to ping through: ``url``, else the ``headend_url`` setting, else None.

    Without a head-end no meter is pinged (planning goes on without the check).
    """
    address = url or settings.headend_url
    return HttpHeadEnd(address) if address else None


def actor_of(request: Request, default: str) -> str:
    """Who acts, for the audit trail: the signed-in user's name, else ``default``."""
    user = getattr(request.state, "user", None)
    name = getattr(user, "username", None)
    return str(name) if name else default
