"""The /remote console shows the open-payment-plan guard before anything is sent."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from meterops.auth import service as auth_service
from meterops.commands.policy import payment_plan_open_on
from meterops.config import Settings
from meterops.db.engine import make_engine, make_session_factory, session_scope
from meterops.models import Account, Installation, Meter
from meterops.models.accounts import PaymentPlan
from meterops.models.org import Role
from meterops.timeutil import utc_now
from meterops.web.app import create_app
from tests.commands.world import MONDAY_10, add_user, load_world
from tests.fixtures.web import csrf_token, sign_in

PASSWORD = "a long enough passphrase"


def test_the_console_check_shows_the_payment_plan_guard(
    module_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp("remote-plans")
    engine = make_engine(module_database_url)
    today = utc_now().date()
    with session_scope(make_session_factory(engine)) as session:
        loaded = load_world(session, folder / "fleet", payment_plans=True)
        add_user(session, "pam", Role.DISPATCHER, [loaded.territory])
        auth_service.set_password(
            session, username="pam", password=PASSWORD, actor="test", now=MONDAY_10
        )
        plans = session.execute(
            select(
                Meter.serial_number,
                PaymentPlan.status,
                PaymentPlan.start_date,
                PaymentPlan.end_date,
            )
            .join(Account, Account.id == PaymentPlan.account_id)
            .join(Installation, Installation.service_point_id == Account.service_point_id)
            .join(Meter, Meter.id == Installation.meter_id)
            .where(Installation.removed_at_utc.is_(None))
            .where(Account.move_out_date.is_(None))
        ).all()
    engine.dispose()
    switch = set(loaded.switch_serials)
    on_plan = sorted(
        s for s, st, b, e in plans if s in switch and payment_plan_open_on(st, b, e, today)
    )
    if not on_plan:
        pytest.skip("no simulated plan runs on today's date")
    serial = on_plan[0]
    settings = Settings(
        database_url=module_database_url, data_dir=folder / "var", cookie_secure=False
    )
    with TestClient(create_app(settings)) as client:
        assert sign_in(client, "pam", PASSWORD).status_code == 303
        checked = client.post(
            "/remote/check",
            data={
                "csrf_token": csrf_token(client),
                "kind": "disconnect",
                "serials": serial,
                "reason": "non-payment",
            },
        )
    assert checked.status_code == 200, checked.text
    preview = checked.text.split('id="preview"')[1].split("</section>")[0]
    row = preview.split(serial)[1]
    assert "guard.payment_plan" in row
    assert "open payment plan" in row
    assert "0 of 1 would be sent" in preview
