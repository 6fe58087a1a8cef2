"""Check-then-write under concurrency, on SQLite and PostgreSQL: threads released together change one work order
or one machine at once, and the store ends as if they had come one after the other."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from shopfloor.actions import maintenance as mnt
from shopfloor.actions import quality as quality_actions
from shopfloor.actions import work_orders as wo_actions
from shopfloor.actions.demo import sample_plant
from shopfloor.errors import AlarmAcknowledged, BreakdownAlreadyOpen, DomainError, MachineBusy
from shopfloor.store import maintenance as mnt_store
from shopfloor.store import work_orders as wo_store
from shopfloor.store.plant import save_plant
from shopfloor.store.schema import alarms, machines, work_order_events, work_orders

THREADS = 8


def together(calls) -> list[object]:
    """Run the calls in threads released at the same instant; each result, or the DomainError it raised."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(i, call):
        barrier.wait()
        try:
            results[i] = call()
        except DomainError as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


@pytest.fixture
def planned(engine):
    with engine.begin() as conn:
        save_plant(conn, sample_plant(), "test")
    return engine


def _history(engine, code):
    ev, wo = work_order_events.c, work_orders.c
    with engine.connect() as conn:
        return conn.execute(
            select(ev.from_status, ev.to_status)
            .join(work_orders, wo.id == ev.work_order_id)
            .where(wo.code == code)
            .order_by(ev.id)
        ).all()


@pytest.mark.parametrize("round_", range(3))
def test_start_and_cancel_of_one_order_at_once_leave_one_consistent_history(planned, round_):
    code = f"WO-R{round_}"
    wo_actions.create_work_order(planned, "user:p", code=code, product="DRUM-A", quantity=5, machine="WLD-01")
    wo_actions.transition_work_order(planned, "user:p", code, "released")
    calls = [lambda to=to: wo_actions.transition_work_order(planned, "user:t", code, to)
             for to in ("in_progress", "cancelled") * (THREADS // 2)]  # fmt: skip
    results = together(calls)
    history = _history(planned, code)[2:]  # after planned and released
    succeeded = [r for r in results if isinstance(r, dict)]
    assert len(history) == len(succeeded) >= 1
    for (before, _), (_, after) in zip(history[1:], history):
        assert before == after  # each change starts where the one before it ended
    assert history[0][0] == "released"
    with planned.connect() as conn:
        assert wo_store.get(conn, code).status.value == history[-1][1]


def test_orders_started_on_one_machine_at_once_leave_one_in_progress(planned):
    codes = [f"WO-M{i}" for i in range(THREADS)]
    for code in codes:
        wo_actions.create_work_order(planned, "user:p", code=code, product="DRUM-A", quantity=5, machine="CNC-01")
        wo_actions.transition_work_order(planned, "user:p", code, "released")
    results = together(
        [lambda code=code: wo_actions.transition_work_order(planned, "user:t", code, "in_progress") for code in codes]
    )
    kinds = Counter(type(r).__name__ for r in results)
    assert kinds == Counter({"dict": 1, "MachineBusy": THREADS - 1})
    running = next(r["code"] for r in results if isinstance(r, dict))
    assert all(r.params == {"running": running, "machine": "CNC-01"} for r in results if isinstance(r, MachineBusy))
    with planned.connect() as conn:
        assert [o.code for o in wo_store.list_orders(conn, "in_progress", "CNC-01")] == [running]


@pytest.mark.parametrize("round_", range(2))
def test_a_product_changed_while_the_order_starts_is_changed_before_the_start_or_refused(planned, round_):
    code = f"WO-P{round_}"
    wo_actions.create_work_order(planned, "user:p", code=code, product="DRUM-A", quantity=5, machine="WLD-02")
    wo_actions.transition_work_order(planned, "user:p", code, "released")
    products = ("TM-CASE", "DF-CASE", "MOULD-CORE")
    calls = [lambda: wo_actions.transition_work_order(planned, "user:t", code, "in_progress")] * 2
    calls += [lambda p=p: wo_actions.edit_work_order(planned, "user:p", code, product=p) for p in products * 2]
    results = together(calls)
    assert {type(r).__name__ for r in results} <= {"dict", "TransitionNotAllowed", "WorkOrderProductFixed"}
    ev, wo = work_order_events.c, work_orders.c
    with planned.connect() as conn:
        reasons = conn.execute(
            select(ev.to_status, ev.reason).join(work_orders, wo.id == ev.work_order_id).where(wo.code == code)
            .order_by(ev.id)
        ).all()  # fmt: skip
        order = wo_store.get(conn, code)
    started = next(i for i, (to, reason) in enumerate(reasons) if to == "in_progress" and reason is None)
    changes = [i for i, (_, reason) in enumerate(reasons) if reason and reason.startswith("changed product")]
    assert all(i < started for i in changes)  # never a product changed once a unit could be made
    assert order.status.value == "in_progress"
    assert order.product == (reasons[changes[-1]][1].rsplit(" ", 1)[1] if changes else "DRUM-A")


def test_an_alarm_acknowledged_by_several_at_once_is_acknowledged_once(planned):
    with planned.begin() as conn:
        mid = conn.execute(select(machines.c.id).where(machines.c.code == "NC-01")).scalar()
        now = datetime.now(timezone.utc)
        alarm = conn.execute(
            alarms.insert().values(machine_id=mid, name="temp", rule="nelson1", ts=now, value=1.0, points=[0],
                                   raised_at=now)
        ).inserted_primary_key[0]  # fmt: skip
    results = together(
        [
            lambda i=i: quality_actions.acknowledge_alarm(planned, f"user:q{i}", alarm, comment="seen")
            for i in range(THREADS)
        ]
    )
    assert Counter(type(r).__name__ for r in results) == Counter({"dict": 1, "AlarmAcknowledged": THREADS - 1})
    winner = next(r["ack_by"] for r in results if isinstance(r, dict))
    assert all(r.params["by"] == winner for r in results if isinstance(r, AlarmAcknowledged))


# -- the guided set-up and the plant pages ----------------------------------------------------------------------
def test_two_first_set_ups_at_once_make_one_plant_and_one_administrator(engine):
    from shopfloor.actions.plant import parse_plant_document
    from shopfloor.actions.setup import set_up_plant
    from shopfloor.errors import SetupDone
    from shopfloor.store.schema import sites, users

    docs = [parse_plant_document(f"site: {{code: S{i}, timezone: UTC}}\nareas: [{{code: A, lines: [{{code: L{i}, "
                                 f"machines: [{{code: M{i}}}]}}]}}]\n", "p.yaml") for i in range(THREADS)]  # fmt: skip
    results = together(
        [
            lambda i=i: set_up_plant(engine, f"user:a{i}", docs[i], admin={"username": f"a{i}", "password": "x" * 12})
            for i in range(THREADS)
        ]  # fmt: skip
    )
    assert Counter(type(r).__name__ for r in results) == Counter({"dict": 1, "SetupDone": THREADS - 1})
    assert all(isinstance(r, SetupDone) for r in results if not isinstance(r, dict))
    with engine.connect() as conn:
        assert conn.execute(select(sites.c.code)).scalars().all() == [
            next(r for r in results if isinstance(r, dict))["site"]
        ]
        assert len(conn.execute(select(users.c.username)).all()) == 1


def test_plant_changes_at_once_are_all_kept(planned):
    from shopfloor.actions.plant import edit_plant
    from shopfloor.store.plant import load_plant

    results = together([lambda i=i: edit_plant(planned, "user:x", "holiday", f"2027-01-{i + 10:02d}", {})
                        for i in range(THREADS)])  # fmt: skip
    assert all(isinstance(r, dict) for r in results), results
    with planned.connect() as conn:
        holidays = {d.isoformat() for d in load_plant(conn).calendar.holidays}
    assert {f"2027-01-{i + 10:02d}" for i in range(THREADS)} <= holidays  # none lost to a concurrent change


def test_one_breakdown_request_per_machine_when_many_call_at_once(planned):
    results = together([lambda: mnt.raise_breakdown(planned, "user:op", "CNC-01")] * THREADS)
    kinds = Counter(type(r).__name__ for r in results)
    assert kinds == {"dict": 1, BreakdownAlreadyOpen.__name__: THREADS - 1}
    with planned.connect() as conn:
        assert len(mnt_store.orders(conn, machine="CNC-01")) == 1
    # Two orders raised at once on two machines take two numbers.
    two = together([lambda: mnt.raise_breakdown(planned, "user:op", "CNC-02"),
                    lambda: mnt.raise_breakdown(planned, "user:op", "CNC-03")])  # fmt: skip
    assert len({r["code"] for r in two}) == 2
