"""Route optimisation for field technicians: plan, re-plan and check a day of work.

The public entry points: build a :class:`RoutingProblem` (:func:`build_problem` with a
:class:`TravelTimeSource`), :func:`solve` it into a :class:`RoutePlan`, check the plan with
:func:`check_plan`, and change it during the day with the functions of
:mod:`meterops.routing.reoptimize`. The solver (PyVRP) is the optional ``routing`` extra and is
imported only when a solve runs.

Pure package: standard library, numpy, pyvrp (inside ``_pyvrp`` only) and httpx (inside
``osrm`` only); it must not import ``meterops.db``, ``models``, ``web``, ``cli`` or ``config``.
"""

from meterops.routing.feasibility import Violation, check_plan, plan_distance
from meterops.routing.plan import (
    LeaveOutReason,
    LeftOut,
    PlanKpis,
    Route,
    RoutePlan,
    TakenBreak,
    Visit,
    plan_cost,
    plan_kpis,
    plan_to_geojson,
)
from meterops.routing.problem import (
    Break,
    LeaveOutPenalty,
    Location,
    Objective,
    PinnedBreak,
    PinnedVisit,
    RoutingProblem,
    Stop,
    Technician,
    TimeWindow,
    VisitStatus,
    build_problem,
)
from meterops.routing.solve import SolveParams, construct, solve
from meterops.routing.stop import AnyOf, MaxIterations, MaxRuntime, NoImprovement, StoppingCriterion
from meterops.routing.travel import (
    EuclideanTravel,
    GreatCircleTravel,
    SpeedBand,
    TravelMatrices,
    TravelTimeSource,
)

__all__ = [
    "AnyOf",
    "Break",
    "EuclideanTravel",
    "GreatCircleTravel",
    "LeaveOutPenalty",
    "LeaveOutReason",
    "LeftOut",
    "Location",
    "MaxIterations",
    "MaxRuntime",
    "NoImprovement",
    "Objective",
    "PinnedBreak",
    "PinnedVisit",
    "PlanKpis",
    "Route",
    "RoutePlan",
    "RoutingProblem",
    "SolveParams",
    "SpeedBand",
    "Stop",
    "StoppingCriterion",
    "TakenBreak",
    "Technician",
    "TimeWindow",
    "TravelMatrices",
    "TravelTimeSource",
    "Violation",
    "Visit",
    "VisitStatus",
    "build_problem",
    "check_plan",
    "construct",
    "plan_cost",
    "plan_distance",
    "plan_kpis",
    "plan_to_geojson",
    "solve",
]
