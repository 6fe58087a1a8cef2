"""A store slower than the MQTT keep-alive: the connector stops reading (back-pressure) while the writer is
stalled, and the broker would drop a connection that sends nothing for 1.5 keep-alive intervals, with the QoS 0
Sparkplug data it holds for it.  The client keeps pinging while it does not read: the connection stays up and
every value sent is stored.  Against the real broker (SHOPFLOOR_TEST_MQTT); MQTT 5.0 section 3.1.2.10."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from sqlalchemy import func, select

from shopfloor.ingest.writer import IngestWriter
from shopfloor.model.plant import Plant
from shopfloor.store.db import open_store
from shopfloor.store.plant import load_plant, save_plant
from shopfloor.store.schema import measurements
from tests.connectors.conftest import mqtt_url as mqtt_url  # noqa: F401,PLC0414 - fixture
from tests.connectors.conftest import unique as unique  # noqa: F401,PLC0414 - fixture
from tests.connectors.test_mqtt_connector import connector, edge_node, started, stopped
from tests.connectors.waiting import run, until

pytestmark = pytest.mark.mqtt
KEEPALIVE_S = 2
STALL_S = 4 * KEEPALIVE_S


def test_a_store_stalled_longer_than_the_keep_alive_loses_no_qos0_value(mqtt_url, unique, tmp_path):  # noqa: F811
    engine = open_store(str(tmp_path / "ka.db"))
    plant = Plant.from_dict({
        "site": {"code": "S", "timezone": "UTC"},
        "areas": [{"code": "A", "lines": [{"code": "L", "machines": [
            {"code": "WLD-01", "tags": {"process": [{"signal": "laser_power", "name": "laser_power"}]}},
        ]}]}],
    })  # fmt: skip
    with engine.begin() as conn:
        save_plant(conn, plant, "test")
        plant = load_plant(conn)
    stalled = threading.Event()
    real_begin = engine.begin

    def begin():
        if stalled.is_set():
            time.sleep(STALL_S)  # a store that takes this long to answer (a lock, a checkpoint, a failover)
            stalled.clear()
        return real_begin()

    engine.begin = begin
    edge = edge_node(mqtt_url, unique, qos=0)
    n = 3000

    def stored() -> int:
        with engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(measurements)).scalar_one()

    async def scenario():
        writer = IngestWriter(engine, plant, tmp_path / "buffer")
        await writer.start()
        conn = connector(mqtt_url, unique, keepalive_s=KEEPALIVE_S, max_batch=20)  # reading pauses at 80 waiting
        task = await started(conn, writer.emit_for_connector())
        try:
            await asyncio.to_thread(edge.start)
            await until(lambda: stored() >= 1, timeout=15)  # the birth's value
            stalled.set()
            for i in range(1, n + 1):
                await asyncio.to_thread(edge.data, "WLD-01", {"laser_power": float(i)}, 1_800_000_000_000 + i)
            await until(lambda: stored() >= n + 1, timeout=STALL_S + 30)
        finally:
            await stopped(task)
            await writer.stop()
            await asyncio.to_thread(edge.stop)
        return conn

    conn = run(scenario(), timeout=STALL_S + 90)
    assert stored() == n + 1
    assert conn._connections == 1 and "disconnected" not in (conn.status.last_error or ""), conn.status.last_error
