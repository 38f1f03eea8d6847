"""Outages found in the simulator's events, confirmed and verified restored by pings.

Pings go through the command outbox and the dispatcher to the simulated head-end; a meter
whose transformer is out never answers. The ground truth is used only in assertions.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from meterops.commands.dispatcher import Dispatcher
from meterops.commands.policy import CommandPolicy
from meterops.ingest.formats.cim import parse_cim
from meterops.models import Meter
from meterops.outages import service as outages_service
from meterops.outages.inference import OutageParams
from meterops.simulator.params import FaultRates
from tests.commands.world import load_world

POLICY = CommandPolicy(jitter_max_s=0.0)


@pytest.fixture
def sessions(session: Session) -> sessionmaker[Session]:
    return sessionmaker(
        bind=session.connection(), join_transaction_mode="create_savepoint", expire_on_commit=False
    )


def test_a_simulated_transformer_outage_is_found_confirmed_and_verified_restored(
    session: Session, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    faults = dataclasses.replace(
        FaultRates(),
        transformer_outage_per_transformer_year=12.0,
        feeder_outage_per_feeder_year=0.0,
    )
    loaded = load_world(session, tmp_path, service_points=300, faults=faults, seed=4)
    world = loaded.world
    ids = {row[0]: row[1] for row in session.execute(select(Meter.serial_number, Meter.id))}
    events = pl.concat([world.day(i).events for i in range(8)])
    events = events.filter(pl.col("serial_number").is_in(list(ids))).with_columns(
        pl.col("serial_number").replace_strict(ids, return_dtype=pl.Int64).alias("meter_id")
    )
    found = outages_service.detect_from_events(
        session, events, now=loaded.clock.now(), params=OutageParams()
    )
    truth = world.ground_truth().filter(pl.col("kind") == "transformer_outage")
    transformers = [i for i in found if i.level.value == "transformer"]
    assert transformers, "the scenario should have transformer outages"
    incident = None
    for candidate in transformers:
        match = truth.filter(
            (pl.col("transformer_code") == candidate.device_code)
            & (
                (pl.col("start_utc") - pl.lit(candidate.started_at_utc)).abs()
                < dt.timedelta(minutes=5)
            )
        )
        if match.height and candidate.affected_meters > candidate.last_gasps:
            incident, fault = candidate, match.row(0, named=True)
            break
    if incident is None:
        pytest.skip("no transformer outage with a missing last gasp in this scenario")
    # During the outage: the meters that sent no last gasp do not answer either.
    clock = loaded.clock
    clock._now = fault["start_utc"] + dt.timedelta(minutes=5)
    dispatcher = Dispatcher(sessions, loaded.headend, policy=POLICY, clock=clock.now)
    outages_service.request_pings(
        session, incident.id, round_="confirm", sample=5, now=clock.now(), policy=POLICY
    )
    for _ in range(8):
        dispatcher.cycle()
        clock.advance(dt.timedelta(seconds=30))
    confirmed = outages_service.collect_pings(session, incident.id)
    assert confirmed.pings_sent >= 1
    assert confirmed.pings_unanswered == confirmed.pings_sent
    assert confirmed.confidence == 1.0
    # After the restore, the meters answer again: restoration verified.
    clock._now = fault["end_utc"] + dt.timedelta(minutes=5)
    outages_service.request_pings(
        session, incident.id, round_="restore", sample=5, now=clock.now(), policy=POLICY
    )
    for _ in range(8):
        dispatcher.cycle()
        clock.advance(dt.timedelta(seconds=30))
    restored = outages_service.collect_pings(session, incident.id)
    assert restored.restored_at_utc is not None
    assert restored.restored_at_utc >= fault["end_utc"]
    # Exported as IEC 61968-9 EndDeviceEvents, which parse back.
    xml = outages_service.export_cim(session)
    parsed = parse_cim(xml, name="outages.xml", strict=True)
    assert parsed.events.height >= incident.affected_meters
