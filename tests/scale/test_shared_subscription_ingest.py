"""Two ingest workers on one PostgreSQL store share one MQTT v5 subscription ($share/...) through the real
Mosquitto broker: a PLC counter's readings (JSON, QoS 1) are dealt to both, and each part is counted once.

Sent: the total counter of M1 at 1000 (its baseline), then up to 1300 in 300 readings; stored: 300 good parts,
and both workers took a share of the messages.  (A reading older than the first one a worker stored cannot move
the baseline back: that is why the baseline goes first.)"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from shopfloor.connectors.mqtt import MqttConnector
from shopfloor.ingest.writer import IngestWriter
from shopfloor.model.plant import Plant
from shopfloor.store.plant import load_plant, save_plant
from shopfloor.store.schema import machine_events
from tests.conftest import _truncate_pg
from tests.connectors.conftest import mqtt_url as mqtt_url  # noqa: F401,PLC0414 - fixture
from tests.connectors.conftest import unique as unique  # noqa: F401,PLC0414 - fixture
from tests.connectors.test_mqtt_connector import Probe, started, stopped
from tests.connectors.waiting import until

pytestmark = [pytest.mark.pg, pytest.mark.mqtt]


def test_two_workers_on_one_shared_subscription_count_each_part_once(pg_engine, mqtt_url, unique, tmp_path):  # noqa: F811
    _truncate_pg(pg_engine)
    doc = {
        "site": {"code": "S", "timezone": "UTC"},
        "areas": [{"code": "A", "lines": [{"code": "L", "machines": [
            {"code": "M1", "tags": {"total_count": {"signal": "Total", "bits": 32}, "product": {"default": "P"}}},
        ]}]}],
        "products": [{"code": "P", "ideal_cycle_s": 0.1}],
    }  # fmt: skip
    with pg_engine.begin() as conn:
        save_plant(conn, Plant.from_dict(doc), "t")
        plant = load_plant(conn)
    topic = f"{unique}/M1/telemetry"
    t0 = datetime(2026, 3, 2, tzinfo=timezone.utc)

    async def scenario():
        writers = [IngestWriter(pg_engine, plant, tmp_path / f"w{i}", state_key=f"mapper:{i}") for i in (1, 2)]
        received = {0: 0, 1: 0}
        conns, tasks = [], []
        for i, writer in enumerate(writers):
            await writer.start()
            conn = MqttConnector(f"ingest-{i}", mqtt_url, groups=[], host_id=f"h{i}-{unique}",
                                 client_id=f"c{i}-{unique}", share=f"s{unique}",
                                 json_topics=[{"topic": f"{unique}/+/telemetry"}])  # fmt: skip

            async def emit(signals, writer=writer, i=i):
                received[i] += len(signals)
                await writer.submit(signals)

            conns.append(conn)
            tasks.append(await started(conn, emit))
        await asyncio.sleep(0.3)
        publisher = Probe(mqtt_url, f"{unique}/nothing")
        try:
            for n in range(301):
                ts = (t0 + timedelta(seconds=n)).isoformat()
                publisher.publish(topic, json.dumps({"ts": ts, "values": {"Total": 1000 + n}}))
                if n == 0:  # the first reading is the counter's baseline: stored before the stream starts
                    await until(lambda: received[0] + received[1] >= 1)
                    await asyncio.sleep(0.2)
            await until(lambda: received[0] + received[1] >= 301, timeout=30)
        finally:
            publisher.close()
            for task in tasks:
                await stopped(task)
            for writer in writers:
                await writer.stop()
        return received

    received = asyncio.run(scenario())
    assert received[0] > 0 and received[1] > 0  # the broker dealt the readings to both workers
    with pg_engine.connect() as conn:
        good = conn.execute(select(func.sum(machine_events.c.quantity)).where(machine_events.c.kind == "good")).scalar()
    assert good == 300
