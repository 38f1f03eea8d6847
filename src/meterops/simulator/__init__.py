"""Territory simulator: a seeded utility in a box, with faults and their ground truth.

``small_town``, ``county`` and ``metro`` describe scenarios (``seed`` required);
:class:`World` builds one and holds its mutable state (the technician's actions change it);
:func:`simulate_days` returns the head-end's ``PARSED_*`` frames for a range of days plus the
ground truth; :func:`write_simulation` writes the files a utility would have. See
``docs/simulator.md``.

Pure package: standard library, numpy, polars, pyarrow and pure meterops modules; never
``meterops.db``, ``models``, ``web``, ``cli`` or ``config`` (``simulator/cli.py`` is the only
adapter, and imports them lazily).
"""

from meterops.simulator.days import DayOutput
from meterops.simulator.engine import SimulationResult, simulate_days
from meterops.simulator.faults import FaultKind
from meterops.simulator.output import write_simulation
from meterops.simulator.params import FaultRates, Scenario, TerritoryParams
from meterops.simulator.scenarios import SCENARIOS, county, metro, small_town
from meterops.simulator.world import World

__all__ = [
    "SCENARIOS",
    "DayOutput",
    "FaultKind",
    "FaultRates",
    "Scenario",
    "SimulationResult",
    "TerritoryParams",
    "World",
    "county",
    "metro",
    "simulate_days",
    "small_town",
    "write_simulation",
]
