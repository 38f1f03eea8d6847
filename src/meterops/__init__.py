"""meterops: smart-meter (AMI) operations for a utility.

Ingest head-end data, validate and estimate interval reads, diagnose exceptions before a truck
rolls, plan technicians' days and guide the visit at the meter. See ``README.md`` and
``docs/`` for the map; the package layout follows ``architecture.md``.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
