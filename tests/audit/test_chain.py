"""The audit chain detects any single modified, deleted, inserted or reordered record."""

import datetime as dt

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from meterops.audit.service import record, verify_chain
from meterops.models import AuditEvent

T0 = dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC)


def _chain(session: Session, n: int = 5) -> list[AuditEvent]:
    return [
        record(
            session,
            actor="alice",
            action="test.step",
            entity_type="thing",
            entity_id=i,
            reason=f"step {i}",
            data={"i": i},
            now=T0 + dt.timedelta(minutes=i),
        )
        for i in range(n)
    ]


def test_an_intact_chain_verifies(session: Session) -> None:
    _chain(session)
    assert verify_chain(session) == []


def test_a_modified_record_is_detected(session: Session) -> None:
    events = _chain(session)
    session.execute(
        update(AuditEvent).where(AuditEvent.id == events[2].id).values(reason="nothing to see")
    )
    session.expire_all()
    problems = verify_chain(session)
    assert [p.event_id for p in problems] == [events[2].id]
    assert "modified" in problems[0].message


def test_a_deleted_record_is_detected(session: Session) -> None:
    events = _chain(session)
    session.execute(delete(AuditEvent).where(AuditEvent.id == events[1].id))
    assert [p.event_id for p in verify_chain(session)] == [events[2].id]


def test_an_inserted_record_is_detected(session: Session) -> None:
    events = _chain(session, 3)
    forged = AuditEvent(
        occurred_at_utc=T0,
        actor="mallory",
        action="test.step",
        entity_type="thing",
        entity_id="x",
        data={},
        prev_hash=events[2].hash,
        hash="f" * 64,
    )
    session.add(forged)
    session.flush()
    assert [p.event_id for p in verify_chain(session)] == [forged.id]


def test_reordered_records_are_detected(session: Session) -> None:
    events = _chain(session, 4)
    a, b = events[1], events[2]
    fields = ("occurred_at_utc", "reason", "data", "entity_id", "prev_hash", "hash")
    values_a = {f: getattr(a, f) for f in fields}
    values_b = {f: getattr(b, f) for f in fields}
    session.execute(
        update(AuditEvent)
        .where(AuditEvent.id == a.id)
        .values(**{**values_b, "prev_hash": "tmp", "hash": "tmp2"})
    )
    session.execute(update(AuditEvent).where(AuditEvent.id == b.id).values(**values_a))
    session.execute(update(AuditEvent).where(AuditEvent.id == a.id).values(**values_b))
    session.expire_all()
    assert verify_chain(session) != []


def test_events_carry_who_what_when_why(session: Session) -> None:
    event = _chain(session, 1)[0]
    stored = session.scalars(select(AuditEvent).where(AuditEvent.id == event.id)).one()
    assert (stored.actor, stored.action, stored.reason) == ("alice", "test.step", "step 0")
    assert stored.occurred_at_utc == T0


def test_record_many_chains_like_one_record_per_event(session: Session) -> None:
    from meterops.audit.service import Entry, record_many

    _chain(session, 2)
    entries = [
        Entry("test.bulk", "thing", i, reason=f"bulk {i}", data={"i": i, "when": T0})
        for i in range(50)
    ]
    assert record_many(session, entries, actor="bob", now=T0 + dt.timedelta(hours=1)) == 50
    assert record_many(session, [], actor="bob") == 0
    _chain(session, 2)
    assert verify_chain(session) == []
    bulk = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "test.bulk").order_by(AuditEvent.id)
    ).all()
    assert [e.entity_id for e in bulk] == [str(i) for i in range(50)]
    assert bulk[7].data == {"i": 7, "when": T0.isoformat(sep=" ")}
    session.execute(delete(AuditEvent).where(AuditEvent.id == bulk[20].id))
    session.expire_all()
    assert [p.event_id for p in verify_chain(session)] == [bulk[21].id]
