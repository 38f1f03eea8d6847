"""The ``meterops`` command line: a thin adapter over the capability services."""
