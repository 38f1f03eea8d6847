"""Crossed meters on the simulator: a meter that misses its transformer's outages is flagged.

A small territory with many crossed pairs and frequent transformer outages goes through the
fleet import and the ingest of intervals, registers and events. The check can only judge a
meter whose recorded transformer had an outage in the periods; where it does, crossed meters
are found and meters without a fault are not flagged. Ground truth only in the assertions.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
import pytest
from sqlalchemy import select

from meterops.billing import service as billing_service
from meterops.billing.checks import Status
from meterops.billing.compare import BillingPeriod
from meterops.db.engine import make_engine, make_session_factory, session_scope
from meterops.errors import InvalidInputError
from meterops.models.accounts import Account
from meterops.models.meters import Installation, Meter
from meterops.reads.store import ReadStore
from meterops.simulator.params import FaultRates
from tests.billing.utility import ZONE, SimulatedUtility, build_utility

PREVIOUS = BillingPeriod(dt.date(2026, 11, 2), dt.date(2026, 11, 16))
CURRENT = BillingPeriod(dt.date(2026, 12, 2), dt.date(2026, 12, 16))


@pytest.fixture(scope="module")
def utility(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> SimulatedUtility:
    return build_utility(
        module_database_url,
        tmp_path_factory.mktemp("crossed"),
        seed=9,
        service_points=300,
        days=45,
        faults=FaultRates(crossed_pairs_per_1000=40, transformer_outage_per_transformer_year=6),
    )


def _finding(utility: SimulatedUtility, sessions: Any, account: str) -> Any:
    """The crossed-meter finding of an account, or None when a period has no reads to judge.

    A crossed meter may carry another fault too (a failed radio, a removed meter) and have
    no reads in a period: the explanation then refuses, naming the period.
    """
    with session_scope(sessions) as session:
        try:
            result = billing_service.explain_account(
                session,
                ReadStore(utility.reads_uri),
                account_number=account,
                current=CURRENT,
                previous=PREVIOUS,
                zone=ZONE,
                weather_dir=utility.data_dir / "weather",
            )
        except InvalidInputError as error:
            if error.code != "billing.empty_period":
                raise
            return None
    return next(f for f in result.findings if f.code == "billing.crossed_meters")


def test_crossed_meters_are_found_where_outages_tell(utility: SimulatedUtility) -> None:
    engine = make_engine(utility.database_url)
    sessions = make_session_factory(engine)
    with session_scope(sessions) as session:
        rows = session.execute(
            select(Meter.serial_number, Account.account_number)
            .join(Installation, Installation.meter_id == Meter.id)
            .join(Account, Account.service_point_id == Installation.service_point_id)
            .where(Installation.removed_at_utc.is_(None), Account.move_out_date.is_(None))
            .order_by(Account.account_number)
        ).all()
    account_of = dict(rows)
    crossed = set(
        utility.truth.filter(pl.col("kind") == "crossed_meters")["meter_serial"].to_list()
    )
    faulted = set(utility.truth["meter_serial"].drop_nulls().to_list())
    crossed_findings = [
        _finding(utility, sessions, account_of[s]) for s in crossed if s in account_of
    ]
    crossed_status = [f.status for f in crossed_findings if f is not None]
    healthy = [s for s in account_of if s not in faulted][:60]
    healthy_findings = [_finding(utility, sessions, account_of[s]) for s in healthy]
    assert None not in healthy_findings  # a meter without a fault always has reads
    healthy_status = [f.status for f in healthy_findings]
    engine.dispose()
    assert len(crossed_status) >= 10
    assert Status.PROBLEM in crossed_status
    assert Status.OK in healthy_status  # the check does judge healthy meters
    assert Status.PROBLEM not in healthy_status
