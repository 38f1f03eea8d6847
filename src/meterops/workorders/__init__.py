"""Work orders: lifecycle, types as data, creation from verdicts, programmes and by hand.

``lifecycle.py`` (states and legal moves) and ``types.py`` (the order types with their default
duration, skill, parts and checklist) are pure; ``service.py`` holds the business operations,
``repository.py`` all SQL, ``importers.py`` the programme CSV parser, ``api.py`` and ``cli.py``
the adapters. Planning the orders into technicians' days is :mod:`meterops.dispatch`.

This package's ``__init__`` imports nothing, so ORM models can import the pure modules.
"""
