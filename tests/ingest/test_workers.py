"""Several ingest workers on one store: each runs its own connectors and keeps its own mapping state, so a
restart of one never takes the other's counter baselines."""

from __future__ import annotations

import asyncio

import pytest

from shopfloor.actions.demo import sample_plant
from shopfloor.ingest.service import build_connectors
from shopfloor.ingest.writer import IngestWriter, load_mapper_state
from shopfloor.model.plant import Plant
from tests.ingest.test_pipeline import _good, sig
from tests.ingest.test_pipeline import store as store  # noqa: F401,PLC0414 - the fixture


def test_a_worker_builds_only_its_connectors():
    doc = sample_plant().to_dict()
    doc["connectors"] = [
        {"name": "weld-broker", "type": "mqtt", "url": "mqtt://127.0.0.1:1883", "groups": ["WELD"]},
        {"name": "cnc-broker", "type": "mqtt", "url": "mqtt://127.0.0.1:1883", "groups": ["CNC"]},
    ]
    plant = Plant.from_dict(doc)
    names = {c.name for c in build_connectors(plant)}
    assert len(names) > 1
    one = sorted(names)[0]
    assert [c.name for c in build_connectors(plant, only={one})] == [one]
    with pytest.raises(ValueError, match="no connector NOPE"):
        build_connectors(plant, only={"NOPE"})


def test_workers_keep_their_own_state_and_restart_without_recounting(store, tmp_path):  # noqa: F811
    engine, plant = store

    async def scenario():
        a = IngestWriter(engine, plant, tmp_path / "a", state_key="mapper:a")
        b = IngestWriter(engine, plant, tmp_path / "b", state_key="mapper:b")
        await a.start()
        await b.start()
        await a.submit([sig("Total", 100, 0), sig("Total", 110, 10)])
        await b.submit([sig("Power", 5.0, 5)])  # b saves its state after a: it must not carry a's baseline
        await a.stop()
        await b.stop()
        again = IngestWriter(engine, plant, tmp_path / "a", state_key="mapper:a")
        await again.start()
        await again.submit([sig("Total", 115, 15)])
        await again.stop()

    asyncio.run(scenario())
    assert _good(engine) == 15
    assert load_mapper_state(engine, "mapper:a") != load_mapper_state(engine, "mapper:b")


def test_two_workers_that_split_one_machine_s_readings_count_each_part_once(store, tmp_path):  # noqa: F811
    """Sent: the total counter 100 -> 200 in steps of 5 and the scrap counter 0 -> 10, the readings dealt to two
    workers alternately (as a shared subscription does), each worker committing its own batches.  Stored: 100
    parts, 10 of them scrap: 90 good."""
    engine, plant = store
    readings = [("Total", 100 + 5 * i, i * 10) for i in range(21)] + [("Scrap", 0, 0)]
    readings += [("Scrap", n, 100 + n) for n in range(1, 11)]
    readings.sort(key=lambda r: r[2])

    async def scenario():
        a = IngestWriter(engine, plant, tmp_path / "a", state_key="mapper:a")
        b = IngestWriter(engine, plant, tmp_path / "b", state_key="mapper:b")
        await a.start()
        await b.start()
        for i, (tag, value, at) in enumerate(readings):
            await (a if i % 2 == 0 else b).submit([sig(tag, value, at)])
        await a.stop()
        await b.stop()

    asyncio.run(scenario())
    from sqlalchemy import func, select

    from shopfloor.store.schema import machine_events

    with engine.connect() as conn:
        kinds = dict(
            conn.execute(
                select(machine_events.c.kind, func.sum(machine_events.c.quantity)).group_by(machine_events.c.kind)
            ).all()
        )
    assert (int(kinds["good"]), int(kinds["scrap"])) == (90, 10)


WORKERS = 20


def test_workers_that_meet_a_new_machine_at_once_all_commit(store, tmp_path):  # noqa: F811
    """Twenty workers released together, each with a first reading of the same machine, whose state row none has
    stored yet: each commits (none fails on the row's key), and the machine keeps one state row.  On PostgreSQL,
    reading "no row" then inserting one lost the race for all but one of them."""
    import threading

    from sqlalchemy import func, select

    from shopfloor.store.schema import machine_ingest_state, measurements
    from tests.store.test_store_races import engine_like

    engine, plant = store
    racing = engine_like(engine, WORKERS)
    start = threading.Barrier(WORKERS)
    outcomes: list = [None] * WORKERS

    def worker(i: int) -> None:
        async def run() -> None:
            writer = IngestWriter(racing, plant, None, state_key=f"mapper:{i}")  # no disk buffer: a failure raises
            await writer.start()
            try:
                start.wait()
                await writer.submit([sig("Power", float(i), i)])
            finally:
                await writer.stop()

        try:
            asyncio.run(run())
        except Exception as exc:  # noqa: BLE001 - the test looks at every outcome
            outcomes[i] = exc

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    racing.dispose()
    assert outcomes == [None] * WORKERS
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(machine_ingest_state)).scalar() == 1
        assert conn.execute(select(func.count()).select_from(measurements)).scalar() >= 1
