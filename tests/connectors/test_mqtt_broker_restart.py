"""A broker restart: the connector reconnects by itself, its persistent session survives (the broker keeps it
on disk), and messages after the restart arrive.  Runs its own Mosquitto on a free loopback port."""

import asyncio
import json
import shutil
import signal
import subprocess
import time

import paho.mqtt.client as mqtt
import pytest

from shopfloor.connectors.base import expand_signals
from shopfloor.connectors.mqtt import MqttConnector
from shopfloor.simulator.modbus_server import free_port

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
pytestmark = pytest.mark.skipif(not shutil.which(MOSQUITTO), reason="mosquitto is not installed")


def _start_broker(tmp_path, port):
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
        f"persistence_location {tmp_path}/\nautosave_interval 1\n"
    )
    proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        probe = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        try:
            probe.connect("127.0.0.1", port)
            probe.disconnect()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("mosquitto did not start")


def _publish(port, topic, values):
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    pub.connect("127.0.0.1", port)
    pub.loop_start()
    for v in values:
        pub.publish(topic, json.dumps({"ts": 1772400000000 + v, "values": {"n": v}}), qos=1).wait_for_publish(5)
    pub.loop_stop()
    pub.disconnect()


def test_the_connector_comes_back_after_a_broker_restart(tmp_path):
    port = free_port()
    broker = _start_broker(tmp_path, port)
    received = []

    async def scenario():
        nonlocal broker
        conn = MqttConnector(
            "mqtt",
            f"mqtt://127.0.0.1:{port}",
            json_topics=[{"topic": "r/+/t", "machine_level": 1}],
            client_id="restart-test",
        )

        async def emit(signals):
            received.extend(s.value for s in expand_signals(signals))

        task = asyncio.create_task(conn.run(emit))
        for _ in range(100):
            if conn.status.connected:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
        await asyncio.to_thread(_publish, port, "r/M1/t", [1, 2, 3])
        while len(received) < 3:
            await asyncio.sleep(0.05)
        broker.send_signal(signal.SIGTERM)
        broker.wait(10)
        for _ in range(100):
            if not conn.status.connected:
                break
            await asyncio.sleep(0.05)
        assert not conn.status.connected
        broker = _start_broker(tmp_path, port)
        for _ in range(300):
            if conn.status.connected:
                break
            await asyncio.sleep(0.1)
        assert conn.status.connected
        await asyncio.to_thread(_publish, port, "r/M1/t", [4, 5])
        for _ in range(200):
            if len(received) >= 5:
                break
            await asyncio.sleep(0.05)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    try:
        asyncio.run(asyncio.wait_for(scenario(), timeout=60))
    finally:
        broker.kill()
        broker.wait(10)
    assert received == [1, 2, 3, 4, 5]
