"""Dispatch: technicians' days (stock, availability), day plans, re-planning and KPIs.

``problem.py`` (pure) turns orders and technician days into the routing problem;
``service.py`` plans a territory's day with :func:`meterops.routing.solve`, stores it, and
changes it during the day with :mod:`meterops.routing.reoptimize` (reassign by hand,
emergency insert, cancel); ``crews.py`` keeps truck stock and day availability; ``flows.py``
pings meters through the head-end before visits; ``api.py``, ``pages.py`` and ``cli.py`` are
the adapters.

This package's ``__init__`` imports nothing.
"""
