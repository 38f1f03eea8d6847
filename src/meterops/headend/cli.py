"""``meterops headend-sim serve``: a simulated head-end over HTTP.

Mount with ``app.add_typer(headend_cli.app, name="headend-sim")`` in ``cli/main.py``. The
service's simulated clock starts ``--warmup-days`` after the scenario's first day (so there is
history to poll) and runs with the wall clock times ``--speed``; ``--manual-clock`` instead
moves only through ``POST /v1/sim/clock``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

__all__ = ["app", "build_app", "serve"]

app = typer.Typer(
    name="headend-sim", help="A simulated AMI head-end for demos and tests.", no_args_is_help=True
)


@app.callback()
def _group() -> None:
    """A simulated AMI head-end for demos and end-to-end tests."""


def build_app(
    *,
    scenario: str,
    seed: int,
    start: str | None,
    warmup_days: int,
    speed: float,
    manual_clock: bool,
) -> object:
    """The FastAPI application of a simulated head-end (what ``serve`` runs)."""
    from meterops.errors import InvalidInputError
    from meterops.headend.http import create_app
    from meterops.headend.simulated import SimClock, SimulatedHeadEnd, WallClock
    from meterops.simulator.scenarios import SCENARIOS
    from meterops.simulator.world import World

    if scenario not in SCENARIOS:
        msg = f"unknown scenario {scenario!r}; choose one of {sorted(SCENARIOS)}"
        raise InvalidInputError(msg, code="headend.unknown_scenario")
    options: dict[str, object] = {"seed": seed}
    if start is not None:
        options["start"] = dt.date.fromisoformat(start)
    world = World(SCENARIOS[scenario](**options), keep_days=3)
    begin = world.day(warmup_days).start_utc
    clock = SimClock(begin) if manual_clock else WallClock(begin, speed=speed)
    head_end = SimulatedHeadEnd(world, clock=clock)
    sender = "".join(w[0] for w in world.scenario.territory.utility_name.split()).upper()[:8]
    return create_app(
        head_end,
        zone=world.zone,
        sender_id=sender,
        clock=clock if isinstance(clock, SimClock) else None,
    )


@app.command()
def serve(
    *,
    seed: Annotated[int, typer.Option("--seed", help="Seed of every random draw (required).")],
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8765,
    scenario: Annotated[
        str, typer.Option("--scenario", help="small_town, county or metro.")
    ] = "small_town",
    start: Annotated[
        str | None, typer.Option("--start", help="First simulated day, YYYY-MM-DD.")
    ] = None,
    warmup_days: Annotated[
        int, typer.Option("--warmup-days", min=1, help="Days of history before the clock starts.")
    ] = 1,
    speed: Annotated[
        float, typer.Option("--speed", min=0.0, help="Simulated seconds per real second.")
    ] = 1.0,
    manual_clock: Annotated[
        bool, typer.Option("--manual-clock", help="Move the clock only by POST /v1/sim/clock.")
    ] = False,
) -> None:
    """Serve a simulated head-end over HTTP (polls as format files, commands as JSON)."""
    import uvicorn

    application = build_app(
        scenario=scenario,
        seed=seed,
        start=start,
        warmup_days=warmup_days,
        speed=speed,
        manual_clock=manual_clock,
    )
    typer.echo(f"simulated head-end ({scenario}, seed {seed}) on http://{host}:{port}/v1")
    uvicorn.run(application, host=host, port=port, log_level="warning")  # type: ignore[arg-type]
