"""SIGKILL during a stream: what was acknowledged is stored once; the broker redelivers the rest.

A publisher sends a PLC part counter (1..N, QoS 1) over a plain JSON MQTT topic to the real Mosquitto broker;
`shopfloor ingest` is killed with SIGKILL twice while it stores them, and started again.  Afterwards the good
count stored is exactly N - 1 (the first reading is the baseline): nothing lost, nothing counted twice.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid

import paho.mqtt.client as mqtt
import pytest
from sqlalchemy import func, select

from shopfloor.connectors.mqtt import broker_address
from shopfloor.model.plant import Plant
from shopfloor.store.db import open_store
from shopfloor.store.plant import save_plant
from shopfloor.store.schema import machine_events
from tests.conftest import require_service

pytestmark = pytest.mark.mqtt
N = 400


def _plant(url: str, prefix: str) -> Plant:
    return Plant.from_dict(
        {
            "site": {"code": "S", "timezone": "Asia/Seoul"},
            "areas": [
                {
                    "code": "A",
                    "lines": [
                        {
                            "code": "L",
                            "machines": [
                                {
                                    "code": "M1",
                                    "connector": {"name": "broker"},
                                    "tags": {
                                        "total_count": {"signal": "TotalCount", "bits": 32},
                                        "product": {"default": "P"},
                                    },
                                }
                            ],
                        }
                    ],
                }
            ],
            "products": [{"code": "P", "ideal_cycle_s": 0.001}],
            "connectors": [
                {
                    "name": "broker",
                    "type": "mqtt",
                    "url": url,
                    "host_id": f"h-{prefix}",
                    "json_topics": [{"topic": f"{prefix}/+/counter", "machine_level": 1}],
                }
            ],
        }
    )


def _good(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(
            select(func.coalesce(func.sum(machine_events.c.quantity), 0)).where(machine_events.c.kind == "good")
        ).scalar()


def test_sigkill_during_ingest_loses_nothing_acknowledged_and_counts_nothing_twice(tmp_path):
    url = require_service("SHOPFLOOR_TEST_MQTT", "MQTT broker")
    prefix = f"kill-{uuid.uuid4().hex[:8]}"
    db = str(tmp_path / "kill.db")
    engine = open_store(db)
    with engine.begin() as conn:
        save_plant(conn, _plant(url, prefix), "test")
    cmd = [sys.executable, "-m", "shopfloor.cli", "ingest", "--db", db]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}

    def start():
        return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    host, port = broker_address(url)
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    online = threading.Event()
    # The ingest's birth (its retained STATE, online) goes out once its persistent session has subscribed.
    pub.on_message = lambda _c, _u, msg: json.loads(msg.payload).get("online") and online.set()
    pub.connect(host, port)
    pub.subscribe(f"spBv1.0/STATE/h-{prefix}", qos=1)
    pub.loop_start()
    proc = start()
    try:
        assert online.wait(60), "shopfloor ingest did not subscribe within 60 s"
        for i in range(1, N + 1):
            body = json.dumps({"ts": 1772400000000 + i * 10, "values": {"TotalCount": i}})
            pub.publish(f"{prefix}/M1/counter", body, qos=1).wait_for_publish(5)
            if i in (N // 3, 2 * N // 3):
                proc.send_signal(signal.SIGKILL)
                proc.wait(10)
                time.sleep(0.5)
                proc = start()
            time.sleep(0.005)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and _good(engine) < N - 1:
            time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        pub.loop_stop()
        pub.disconnect()
    assert _good(engine) == N - 1
