"""A small named place for work-order tests: meters at chosen coordinates in one territory."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from meterops.models import Installation, Meter, Premise, ServicePoint, Transformer
from meterops.workorders.service import WorkOrderPolicy
from tests.fixtures.builders import (
    create_installed_meter,
    create_service_point,
    create_transformer,
)

NOW = dt.datetime(2026, 7, 6, 14, 0, tzinfo=dt.UTC)
"""Monday 2026-07-06, 09:00 in America/Chicago."""

POLICY = WorkOrderPolicy(
    utility_timezone="America/Chicago", reconnect_deadline_hours=24, bundle_radius_m=30
)

MeterAt = Callable[..., Meter]


def premise_of(session: Session, meter: Meter) -> Premise:
    installation = session.scalars(
        select(Installation).where(
            Installation.meter_id == meter.id, Installation.removed_at_utc.is_(None)
        )
    ).one()
    service_point = session.get_one(ServicePoint, installation.service_point_id)
    return session.get_one(Premise, service_point.premise_id)


@pytest.fixture
def transformer(session: Session) -> Transformer:
    return create_transformer(session)


@pytest.fixture
def meter_at(session: Session, transformer: Transformer) -> MeterAt:
    """Install a meter at a new premise at (lat, lon) in the shared territory."""

    def build(
        lat: float = 41.6,
        lon: float = -93.6,
        *,
        transformer_rated: bool = False,
        same_premise_as: Meter | None = None,
        **meter: object,
    ) -> Meter:
        service_point = create_service_point(
            session, transformer=transformer, transformer_rated=transformer_rated
        )
        premise = session.get_one(Premise, service_point.premise_id)
        premise.latitude, premise.longitude = lat, lon
        if same_premise_as is not None:
            service_point.premise_id = premise_of(session, same_premise_as).id
        session.flush()
        if transformer_rated:
            meter = {"form": "9S", "meter_class": "CL20", **meter}
        installed, _ = create_installed_meter(session, service_point=service_point, **meter)
        return installed

    return build
