"""MQTT v5 against the real Mosquitto broker: a Sparkplug edge node's births and data, a sequence gap answered
by a rebirth, a malformed payload quarantined, JSON topics acknowledged after commit, and a dropped link."""

import asyncio
import json
import uuid

import paho.mqtt.client as mqtt
import pytest

from shopfloor.connectors.mqtt import MqttConnector, broker_address
from shopfloor.connectors.sparkplug.edge import EdgeNode
from tests.conftest import require_service
from tests.connectors.waiting import run, until

pytestmark = pytest.mark.mqtt


@pytest.fixture
def broker():
    url = require_service("SHOPFLOOR_TEST_MQTT", "MQTT broker")
    return url


def test_sparkplug_births_data_gap_rebirth_and_malformed_payload(broker):
    group = f"test-{uuid.uuid4().hex[:8]}"
    host, port = broker_address(broker)

    async def scenario():
        quarantined = []

        async def keep(source, reason, payload):
            quarantined.append(reason)

        conn = MqttConnector(
            "mqtt",
            broker,
            groups=[group],
            host_id=f"h-{group}",
            quarantine=keep,
            client_id=f"c-{group}",
            reorder_timeout_s=0.5,
        )
        seen = []

        async def emit(signals):
            seen.extend(signals)

        task = asyncio.create_task(conn.run(emit))
        await until(lambda: conn.status.connected)
        await asyncio.sleep(0.3)  # subscription in place
        edge = EdgeNode(host, port, group, "edge1", {"WLD-01": {"State": 0, "TotalCount": 0, "laser_power": 0.0}})
        await asyncio.to_thread(edge.start)
        try:
            await until(lambda: any(s.tag == "State" for s in seen))
            edge.data("WLD-01", {"State": 1, "TotalCount": 5})
            await until(lambda: any(s.tag == "TotalCount" and s.value == 5 for s in seen))
            # A lost message: the host waits for the reorder timeout, then asks for a rebirth.
            edge.seq = (edge.seq + 1) % 256
            edge.data("WLD-01", {"TotalCount": 9})
            await until(lambda: edge.rebirths >= 1, timeout=10)
            edge.data("WLD-01", {"TotalCount": 11, "laser_power": 2000.5})
            await until(lambda: any(s.tag == "laser_power" and s.value == 2000.5 for s in seen))
            edge.raw(f"spBv1.0/{group}/DDATA/edge1/WLD-01", b"\x08\xff\xff garbage")
            await until(lambda: quarantined)
        finally:
            await asyncio.to_thread(edge.stop)
            task.cancel()
        return conn, seen, quarantined

    conn, seen, quarantined = run(scenario())
    counts = [s.value for s in seen if s.tag == "TotalCount"]
    # 9 was sent after a lost message: it reaches the host only as part of the rebirth's DBIRTH, in order.
    assert counts.index(5) < counts.index(9) < counts.index(11)
    assert conn.rebirth_requests >= 1
    assert "not a Sparkplug B protobuf" in quarantined[0]


def test_json_topics_are_acknowledged_after_commit_and_kept_while_the_host_is_away(broker):
    prefix = f"plant-{uuid.uuid4().hex[:8]}"
    host, port = broker_address(broker)
    client_id = f"c-{prefix}"
    publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    publisher.connect(host, port)
    publisher.loop_start()

    def publish(i):
        body = json.dumps({"ts": 1772400000000 + i, "values": {"TotalCount": i}})
        publisher.publish(f"{prefix}/CNC-01/telemetry", body, qos=1).wait_for_publish(5)

    async def session(received, fail_first=False, stop_after=None):
        conn = MqttConnector(
            "mqtt", broker, json_topics=[{"topic": f"{prefix}/+/telemetry", "machine_level": 1}], client_id=client_id
        )
        failed = {"done": not fail_first}

        async def emit(signals):
            if not failed["done"]:
                failed["done"] = True
                raise RuntimeError("store unavailable")  # not acknowledged: the broker must send it again
            received.extend(signals)

        task = asyncio.create_task(conn.run(emit))
        await until(lambda: conn.status.connected)
        if fail_first:
            await until(lambda: task.done())  # the failed commit ends the session: nothing was acknowledged
        if stop_after is not None:
            await until(lambda: len(received) >= stop_after)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return conn

    async def scenario():
        first: list = []
        await session(first)  # creates the persistent session and its subscription
        for i in range(1, 6):
            publish(i)  # the host is away: the broker keeps them for the session
        second: list = []
        await session(second, stop_after=5)
        publish(6)
        await session([], fail_first=True)
        third: list = []
        await session(third, stop_after=1)  # the broker sends the unacknowledged message again
        return second, third

    try:
        second, third = run(scenario())
    finally:
        publisher.loop_stop()
        publisher.disconnect()
    assert [s.value for s in second][:5] == [1, 2, 3, 4, 5]
    assert all(s.machine == "CNC-01" and s.tag == "TotalCount" for s in second)
    assert [s.value for s in third] == [6]


def test_malformed_json_is_quarantined_not_dropped(broker):
    conn = MqttConnector("mqtt", broker, json_topics=[{"topic": "x/+/t", "machine_level": 1}])
    for payload, message in (
        (b"{not json", "not JSON"),
        (b'{"values": 3}', '"values"'),
        (b'{"ts": "yesterday", "values": {"a": 1}}', "neither epoch"),
        (b'{"values": {"a": [1, 2]}}', "must be a number"),
    ):
        with pytest.raises(ValueError, match=message):
            conn._json_signals("x/M1/t", payload)
    assert conn._json_signals("x/M1/t", b'{"ts": 1772400000000, "values": {"a": 1}}')[0].machine == "M1"
