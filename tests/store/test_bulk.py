"""Many rows in one statement (``store.bulk.insert_many``) and the write transaction it runs in, on SQLite and
PostgreSQL: what goes in is what a row-by-row insert would store, refusals stay refusals, and a savepoint inside a
write transaction is part of it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from shopfloor.errors import TextHasNul
from shopfloor.model.events import CountEvent, CountKind, MachineState, StateChange
from shopfloor.model.plant import Plant
from shopfloor.store import audit
from shopfloor.store.bulk import insert_many
from shopfloor.store.db import writing
from shopfloor.store.events import append_events
from shopfloor.store.plant import machine_ids, save_plant
from shopfloor.store.schema import audit_log, machine_events

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=timezone(timedelta(hours=9)))  # an offset other than UTC
PLANT = {"site": {"code": "S", "name": "Bulk", "timezone": "Asia/Seoul"},
         "areas": [{"code": "A", "lines": [{"code": "L", "machines": [{"code": "M1"}, {"code": "M2"}]}]}]}  # fmt: skip


@pytest.fixture
def store(engine):
    with engine.begin() as conn:
        save_plant(conn, Plant.from_dict(PLANT), "t")
    return engine


def test_audit_rows_keep_their_text_json_and_times(store):
    details = [{"n": i, "name": "Nguyễn Văn An", "nested": {"ok": True, "none": None}} for i in range(3)]
    with writing(store) as conn:
        audit.record_many(conn, [("user:a", "x.do", f"thing:{i}", d) for i, d in enumerate(details)])
    with store.connect() as conn:
        rows = conn.execute(select(audit_log).order_by(audit_log.c.id)).mappings().all()
    assert [r["detail"] for r in rows] == details
    assert [r["target"] for r in rows] == ["thing:0", "thing:1", "thing:2"]
    assert all(r["reason"] is None and r["ts"].utcoffset() == timedelta(0) for r in rows)


def test_events_in_one_statement_skip_those_stored_and_read_back_only_the_new(store):
    events = [
        StateChange(T0, "M1", MachineState.RUNNING, None, "t"),
        CountEvent(T0 + timedelta(seconds=1), "M1", CountKind.GOOD, 2**40, "P", None, "t"),
        CountEvent(T0 + timedelta(seconds=2), "M2", CountKind.SCRAP, 1, None, "BURR", "t", "WO-1"),
    ]
    with writing(store) as conn:
        first = append_events(conn, events[:2])
    with writing(store) as conn:
        again = append_events(conn, events)
    assert (first.inserted, again.inserted, again.duplicates) == (2, 1, 2)
    utc = T0.astimezone(timezone.utc)
    assert first.earliest == {"M1": utc} and again.earliest == {"M2": utc + timedelta(seconds=2)}
    assert all(ts.utcoffset() == timedelta(0) for ts in [*first.earliest.values(), *again.earliest.values()])
    with store.connect() as conn:
        me = machine_events.c
        rows = conn.execute(select(me.ts, me.kind, me.state, me.quantity, me.product, me.reason, me.work_order)
                            .order_by(me.id)).all()  # fmt: skip
    assert [tuple(r) for r in rows] == [
        (utc, "state", "running", None, None, None, None),
        (utc + timedelta(seconds=1), "good", None, 2**40, "P", None, None),
        (utc + timedelta(seconds=2), "scrap", None, 1, None, "BURR", "WO-1"),
    ]


def test_a_naive_time_or_a_nul_is_refused_and_nothing_is_written(store):
    with pytest.raises(Exception, match="naive datetime"):  # SQLAlchemy wraps it on SQLite
        with writing(store) as conn:
            audit.record_many(conn, [("user:a", "x.do", "t", {})])
            insert_many(conn, audit_log, [{"ts": datetime(2026, 1, 1), "actor": "a", "action": "b", "target": "c",
                                           "detail": {}, "reason": None}])  # fmt: skip
    with pytest.raises(TextHasNul):
        with writing(store) as conn:
            audit.record_many(conn, [("user:a", "x.do", "t", {}), ("user:\x00", "x.do", "t", {})])
    with store.connect() as conn:
        assert conn.execute(select(audit_log.c.id)).all() == []


def test_a_savepoint_in_a_write_transaction_is_undone_with_it(store):
    """A savepoint taken before the transaction's first write (on SQLite, Python's sqlite3 began the transaction
    only at the first INSERT, so the savepoint began one of its own, committed when it was released)."""
    with pytest.raises(RuntimeError):
        with writing(store) as conn:
            mid = machine_ids(conn)["M1"]
            with conn.begin_nested():
                append_events(conn, [StateChange(T0, "M1", MachineState.RUNNING, None, "t")])
            assert conn.execute(select(machine_events.c.id).where(machine_events.c.machine_id == mid)).all()
            raise RuntimeError("the change fails after its savepoint")
    with store.connect() as conn:
        assert conn.execute(select(machine_events.c.id)).all() == []


def test_no_rows_is_no_statement(store):
    with writing(store) as conn:
        assert insert_many(conn, audit_log, []) == []
