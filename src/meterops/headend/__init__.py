"""Head-ends: the protocol the platform talks to, a simulated head-end, HTTP service and client.

``protocol.py`` declares :class:`HeadEnd` (polls, asynchronous commands) with no simulator
imports; ``simulated.py`` implements it over the simulator's world; ``http.py`` serves any
head-end over HTTP and ``client.py`` is the HTTP client that is itself a head-end.
"""

from meterops.headend.protocol import (
    FAILURE_REASONS,
    POLL_KINDS,
    CommandKind,
    CommandState,
    CommandStatus,
    HeadEnd,
    HeadEndMixin,
    HeadEndUnavailableError,
    UnknownCommandError,
    UnknownDeviceError,
)

__all__ = [
    "FAILURE_REASONS",
    "POLL_KINDS",
    "CommandKind",
    "CommandState",
    "CommandStatus",
    "HeadEnd",
    "HeadEndMixin",
    "HeadEndUnavailableError",
    "UnknownCommandError",
    "UnknownDeviceError",
]
