"""Scale-out: run one pure batch job per group of meters, in process, over processes or Spark.

Every batch step (VEE, daily totals, determinants) is a pure function over the frame of a group
of meters (:class:`~meterops.scale.executors.GroupJob`). :mod:`meterops.scale.groups` cuts
meters into groups, :mod:`meterops.scale.executors` runs a job over them in this process or a
process pool, :mod:`meterops.scale.spark` on Spark, and :func:`run_job` is the one call a CLI
needs. See ``docs/scale.md``.
"""

from meterops.scale.executors import (
    Executor,
    GroupJob,
    InProcessExecutor,
    LocalExecutor,
    ReadWindow,
)
from meterops.scale.groups import MeterGroup, fixed_groups, membership, plan_groups
from meterops.scale.run import EXECUTORS, ExecutorName, iter_job, plan_store, run_job

__all__ = [
    "EXECUTORS",
    "Executor",
    "ExecutorName",
    "GroupJob",
    "InProcessExecutor",
    "LocalExecutor",
    "MeterGroup",
    "ReadWindow",
    "fixed_groups",
    "iter_job",
    "membership",
    "plan_groups",
    "plan_store",
    "run_job",
]
