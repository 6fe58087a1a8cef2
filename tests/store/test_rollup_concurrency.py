"""Rollups under concurrent writers: every writer's transaction commits, and the rollups equal a recomputation.

SQLite serialises writers behind its lock, so a read-then-insert of a machine's rollup state is only unsafe on
PostgreSQL, where two transactions can both find the row missing; the same tests run on both stores.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from shopfloor.actions.demo import sample_plant
from shopfloor.actions.events import store_events
from shopfloor.model.events import CountEvent, CountKind, MachineState, StateChange
from shopfloor.model.intervals import Interval
from shopfloor.store import kpi
from shopfloor.store.plant import save_plant
from shopfloor.store.schema import rollup_state
from tests.store.test_store_races import race

UTC = timezone.utc
WRITERS = 100


def _run_writers(engine, plant, entries) -> list[BaseException]:
    """Each entry in its own thread and write transaction, all released at once, through a pool of ``RACERS``
    connections; returns the errors raised."""
    errors: list[BaseException] = []

    def write(i: int, conn) -> None:
        events = entries[i]
        store_events(conn, plant, events)

    for outcome in race(engine, write, racers=len(entries)):
        if isinstance(outcome, BaseException):
            errors.append(outcome)
    return errors


def _assert_rollups_equal_raw(engine, plant, codes, window) -> None:
    with engine.connect() as conn:
        for code in codes:
            fast = kpi.machine_elements(conn, plant, code, window)
            raw = kpi.raw_elements(conn, plant, code, window)
            for name, value in fast.to_dict().items():
                assert value == pytest.approx(getattr(raw, name), abs=1e-6), (code, name)


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
    errors = _run_writers(engine, plant, entries)
    assert errors == [], errors[:3]
    with engine.connect() as conn:
        states = conn.execute(select(rollup_state.c.machine_id)).all()
    assert len(states) == len({e[0].machine for e in entries})
    _assert_rollups_equal_raw(engine, plant, codes, Interval(base - timedelta(days=1), base + timedelta(days=2)))


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
        store_events(conn, plant, first + last)
    entries = []
    for i in range(WRITERS):
        code = ("WLD-01", "CNC-01")[i % 2]
        ts = base + timedelta(days=8, hours=23) - timedelta(minutes=97 * i)  # each earlier than the one before
        state = (MachineState.DOWN, MachineState.RUNNING, MachineState.SETUP)[i % 3]
        entries.append([StateChange(ts, code, state), CountEvent(ts, code, CountKind.GOOD, 3, "DRUM-A")])
    errors = _run_writers(engine, plant, entries)
    assert errors == [], errors[:3]
    window = Interval(base - timedelta(hours=5), base + timedelta(days=10))
    _assert_rollups_equal_raw(engine, plant, ("WLD-01", "CNC-01"), window)


def test_writers_of_several_machines_in_any_order_do_not_deadlock(engine):
    """Batches that hold events of three machines, listed in different orders, stored at once: each transaction
    locks the machines' rollup states, always in the same order, so none waits for another in a cycle (before:
    DeadlockDetected on PostgreSQL)."""
    plant = sample_plant()
    codes = ["WLD-01", "CNC-01", "NC-01"]
    base = datetime(2026, 3, 2, 0, tzinfo=UTC)
    with engine.begin() as conn:
        save_plant(conn, plant, "test")
        store_events(conn, plant, [StateChange(base, c, MachineState.RUNNING) for c in codes])
    entries = []
    for i in range(WRITERS):
        order = codes[i % 3 :] + codes[: i % 3]
        if i % 2:
            order.reverse()
        ts = base + timedelta(hours=40) - timedelta(minutes=23 * i)
        entries.append([StateChange(ts + timedelta(seconds=k), c, MachineState.DOWN) for k, c in enumerate(order)])
    errors = _run_writers(engine, plant, entries)
    assert errors == [], errors[:3]
