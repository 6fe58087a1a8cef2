"""Rollups under concurrent writers: every writer's transaction commits, and the rollups equal a recomputation.

SQLite serialises writers behind its lock, so a read-then-insert of a machine's rollup state is only unsafe on
PostgreSQL, where two transactions can both find the row missing; the same tests run on both stores.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine, select

from shopfloor.actions.demo import sample_plant
from shopfloor.actions.imports import record_events
from shopfloor.model.events import CountEvent, CountKind, MachineState, StateChange
from shopfloor.model.intervals import Interval
from shopfloor.store import kpi
from shopfloor.store.db import open_engine, writing
from shopfloor.store.plant import save_plant
from shopfloor.store.schema import rollup_state

UTC = timezone.utc
WRITERS = 100
# Connections the writers share: enough for many transactions in flight at once, few enough to leave the shared
# test server (max_connections 100) room for the other test runs.
POOL = 20


def _engine_like(engine):
    """A second engine on the same store with a pool large enough for ``POOL`` transactions at once."""
    url = engine.url.render_as_string(hide_password=False)
    if engine.dialect.name == "sqlite":
        return open_engine(url)
    return create_engine(url, pool_size=POOL, max_overflow=0, pool_timeout=120)


def _run_writers(engine, plant, entries) -> list[BaseException]:
    """Each entry in its own thread and transaction, all released at once; returns the errors raised."""
    start = threading.Barrier(len(entries))
    errors: list[BaseException] = []

    def write(i: int, events) -> None:
        start.wait()
        try:
            with writing(engine) as conn:
                record_events(conn, plant, events, f"user:op{i}", "pop.test", f"machine:{events[0].machine}")
        except BaseException as exc:  # noqa: BLE001 - every failure is reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i, ev)) for i, ev in enumerate(entries)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    return errors


@pytest.mark.usefixtures("rollup_units")
def test_concurrent_first_entries_on_a_fresh_store_all_commit(engine):
    """A hundred terminals tap at once on a store without any history: each machine's first entries race to
    create its rollup state; every tap must be stored (before the fix: UniqueViolation on pk_rollup_state)."""
    plant = sample_plant()
    with engine.begin() as conn:
        save_plant(conn, plant, "test")
    codes = [m.code for m in plant.machines]
    base = datetime(2026, 3, 2, 0, tzinfo=UTC)
    entries = []
    for i in range(WRITERS):
        code = codes[i % len(codes)]
        ts = base + timedelta(minutes=7 * i)  # later writers' events are hours after earlier ones'
        if i % 3 == 0:
            entries.append([StateChange(ts, code, MachineState.RUNNING if i % 2 else MachineState.DOWN)])
        else:
            entries.append([CountEvent(ts, code, CountKind.GOOD, 1 + i % 5, "DRUM-A")])
    writers = _engine_like(engine)
    try:
        errors = _run_writers(writers, plant, entries)
    finally:
        writers.dispose()
    assert errors == [], errors[:3]
    window = Interval(base - timedelta(days=1), base + timedelta(days=2))
    with engine.connect() as conn:
        states = conn.execute(select(rollup_state.c.machine_id)).all()
        assert len(states) == len({e[0].machine for e in entries})
        for code in codes:
            fast = kpi.machine_elements(conn, plant, code, window)
            raw = kpi.raw_elements(conn, plant, code, window)
            for name, value in fast.to_dict().items():
                assert value == pytest.approx(getattr(raw, name), abs=1e-6), (code, name)


@pytest.mark.usefixtures("rollup_units")
def test_concurrent_late_events_rebuild_the_rollups_they_invalidate(engine):
    """A hundred writers store events at once, each earlier than what is rolled up already (late events), on two
    machines: each drops the rollups from its hour on and rebuilds them; all commit and the rollups equal a
    recomputation from the events (before the fix, two writers extended the same hours: pk_hourly_rollups)."""
    plant = sample_plant()
    base = datetime(2026, 3, 2, 0, tzinfo=UTC)
    with engine.begin() as conn:
        save_plant(conn, plant, "test")
        first = [StateChange(base, c, MachineState.RUNNING) for c in ("WLD-01", "CNC-01")]
        last = [StateChange(base + timedelta(days=9), c, MachineState.IDLE) for c in ("WLD-01", "CNC-01")]
        record_events(conn, plant, first + last, "test", "events.import", "test")
    entries = []
    for i in range(WRITERS):
        code = ("WLD-01", "CNC-01")[i % 2]
        ts = base + timedelta(days=8, hours=23) - timedelta(minutes=97 * i)  # each earlier than the one before
        state = (MachineState.DOWN, MachineState.RUNNING, MachineState.SETUP)[i % 3]
        entries.append([StateChange(ts, code, state), CountEvent(ts, code, CountKind.GOOD, 3, "DRUM-A")])
    writers = _engine_like(engine)
    try:
        errors = _run_writers(writers, plant, entries)
    finally:
        writers.dispose()
    assert errors == [], errors[:3]
    window = Interval(base - timedelta(hours=5), base + timedelta(days=10))
    with engine.connect() as conn:
        for code in ("WLD-01", "CNC-01"):
            fast = kpi.machine_elements(conn, plant, code, window)
            raw = kpi.raw_elements(conn, plant, code, window)
            for name, value in fast.to_dict().items():
                assert value == pytest.approx(getattr(raw, name), abs=1e-6), (code, name)


def test_writers_of_several_machines_in_any_order_do_not_deadlock(engine):
    """Batches that hold events of three machines, listed in different orders, stored at once: each transaction
    locks the machines' rollup states, always in the same order, so none waits for another in a cycle (before:
    DeadlockDetected on PostgreSQL)."""
    plant = sample_plant()
    codes = ["WLD-01", "CNC-01", "NC-01"]
    base = datetime(2026, 3, 2, 0, tzinfo=UTC)
    with engine.begin() as conn:
        save_plant(conn, plant, "test")
        record_events(conn, plant, [StateChange(base, c, MachineState.RUNNING) for c in codes], "t", "t", "t")
    entries = []
    for i in range(WRITERS):
        order = codes[i % 3 :] + codes[: i % 3]
        if i % 2:
            order.reverse()
        ts = base + timedelta(hours=40) - timedelta(minutes=23 * i)
        entries.append([StateChange(ts + timedelta(seconds=k), c, MachineState.DOWN) for k, c in enumerate(order)])
    writers = _engine_like(engine)
    try:
        errors = _run_writers(writers, plant, entries)
    finally:
        writers.dispose()
    assert errors == [], errors[:3]
