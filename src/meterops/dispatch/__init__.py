"""Dispatch: technicians' days (stock, availability), day plans, re-planning and KPIs.

``problem.py`` (pure) turns orders and technician days into the routing problem;
``service.py`` plans a territory's day with :func:`meterops.routing.solve`, stores it, and
changes it during the day with :mod:`meterops.routing.reoptimize` (reassign by hand,
emergency insert, cancel, send a technician home) in ``changes.py``; ``crews.py`` keeps
truck stock and day availability; ``flows.py`` pings meters through the head-end before
visits; ``views.py`` reads plans as dispatchers do (and as GeoJSON); ``api.py``, ``pages.py``
and ``cli.py`` are the adapters, ``wiring.py`` builds their planner and head-end from
settings.

This package's ``__init__`` imports nothing.
"""
