"""The edge node on the real broker (SHOPFLOOR_TEST_MQTT): what another client sees of it, in order.

Sources: Eclipse Sparkplug 3.0 chapters 5-6 (NBIRTH / DBIRTH before data, seq, bdSeq in the Will and the NBIRTH,
+1 on every new connection; NDEATH on a clean stop and as the Will on a broken link); MQTT 5.0 3.1.2.5 (the Will),
3.2.2.3.3 / 4.9 (Receive Maximum: Mosquitto allows 20 QoS 1 messages in flight).  The listener is paho-mqtt, an
MQTT implementation other than the edge node's.
"""

import asyncio
import threading
import time

import paho.mqtt.client as paho
import pytest

from shopfloor.connectors.mqtt import broker_address
from shopfloor.connectors.sparkplug.codec import DT, decode_payload, metric_value, set_metric_value
from shopfloor.connectors.sparkplug.edge import EdgeNode
from shopfloor.connectors.sparkplug.host import REBIRTH_METRIC
from shopfloor.connectors.sparkplug.schema import Payload
from shopfloor.simulator.modbus_server import free_port


class Listener:
    """A paho client subscribed to one group's messages: (message type, device, seq, bdSeq or None) in order."""

    def __init__(self, url: str, group: str):
        host, port = broker_address(url)
        self.heard: list[tuple[str, str, int | None, int | None]] = []
        ready = threading.Event()
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
        self.client.on_message = self._message
        self.client.on_subscribe = lambda *args: ready.set()
        self.client.connect(host, port)
        self.client.loop_start()
        self.client.subscribe(f"spBv1.0/{group}/#", qos=1)
        assert ready.wait(5)

    def _message(self, _client, _userdata, msg) -> None:
        levels = msg.topic.split("/")
        payload = decode_payload(msg.payload)
        bdseq = next((metric_value(m) for m in payload.metrics if m.name == "bdSeq"), None)
        seq = payload.seq if payload.HasField("seq") else None
        self.heard.append((levels[2], levels[4] if len(levels) > 4 else "", seq, bdseq))

    def kinds(self) -> list[str]:
        return [kind for kind, *_ in self.heard]

    def wait(self, predicate, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"not heard in time; heard {self.heard}")
            time.sleep(0.05)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def node(url: str, unique: str, **kwargs) -> EdgeNode:
    host, port = broker_address(url)
    return EdgeNode(host, port, unique, "edge1", {"D1": {"n": 0}}, client_id=f"e-{unique}", **kwargs)


@pytest.mark.mqtt
@pytest.mark.parametrize("qos", [0, 1])
def test_births_then_data_in_order_then_the_ndeath_on_a_clean_stop(mqtt_url, unique, qos):
    """More messages than the broker's Receive Maximum at QoS 1: all acknowledged, none out of order."""
    listener = Listener(mqtt_url, unique)
    edge = node(mqtt_url, unique, qos=qos, bdseq=5)
    try:
        edge.start()
        sent = [edge.send("D1", {"n": i}) for i in range(1, 101)]
        listener.wait(lambda: len(listener.heard) >= 102)
        if qos:
            for s in sent:
                s.done.result(5)
            assert all(s.acknowledged for s in sent)
        edge.stop()
        listener.wait(lambda: "NDEATH" in listener.kinds())
    finally:
        edge.stop()
        listener.close()
    assert listener.heard[:2] == [("NBIRTH", "", 0, 5), ("DBIRTH", "D1", 1, None)]
    assert listener.heard[2:102] == [("DDATA", "D1", (i + 1) % 256, None) for i in range(1, 101)]
    assert listener.heard[102:] == [("NDEATH", "", None, 5)]
    assert [s.seq for s in sent] == [(i + 1) % 256 for i in range(1, 101)]


@pytest.mark.mqtt
def test_a_broken_link_sends_the_will_and_the_node_comes_back_with_the_next_bdseq(mqtt_url, unique):
    listener = Listener(mqtt_url, unique)
    edge = node(mqtt_url, unique, keepalive_s=5)
    try:
        edge.start()
        edge.data("D1", {"n": 1})
        listener.wait(lambda: listener.kinds() == ["NBIRTH", "DBIRTH", "DDATA"])
        edge._thread.call(lambda: edge._link.transport.abort())  # no DISCONNECT: the broker sees a broken link
        listener.wait(lambda: listener.kinds().count("NBIRTH") == 2)
        assert edge.connected.wait(5) and edge.born
        edge.data("D1", {"n": 2})
        listener.wait(lambda: listener.kinds()[-1] == "DDATA" and len(listener.heard) >= 7)
    finally:
        edge.stop()
        listener.close()
    assert listener.heard[3] == ("NDEATH", "", None, 0)  # the Will of the first connection
    assert listener.heard[4:7] == [("NBIRTH", "", 0, 1), ("DBIRTH", "D1", 1, None), ("DDATA", "D1", 2, None)]


def test_data_while_not_born_goes_into_the_next_birth():
    edge = EdgeNode("127.0.0.1", 1, "g", "e", {"D1": {"n": 0}})
    assert edge.data("D1", {"n": 7}) is None and edge.send("D1", {"n": 8}) is None
    assert edge.devices == {"D1": {"n": 8}}


def test_an_unreachable_broker_is_named_at_start_and_leaves_no_thread():
    before = threading.active_count()
    edge = EdgeNode("127.0.0.1", free_port(), "g", "e", {"D1": {"n": 0}})
    with pytest.raises(OSError):
        edge.start(timeout_s=3)
    assert threading.active_count() == before and not edge.connected.is_set()
    edge.stop()  # nothing to stop: no error


@pytest.mark.mqtt
def test_callers_on_an_event_loop_publish_without_blocking_it(mqtt_url, unique):
    """As the virtual plant does: start and stop in a worker thread, data from coroutines on the caller's loop."""
    listener = Listener(mqtt_url, unique)
    edge = node(mqtt_url, unique)

    async def plant():
        await asyncio.to_thread(edge.start)
        for i in range(1, 21):
            edge.data("D1", {"n": i})
            await asyncio.sleep(0)
        await asyncio.to_thread(listener.wait, lambda: len(listener.heard) >= 22)
        await asyncio.to_thread(edge.stop)

    try:
        asyncio.run(asyncio.wait_for(plant(), 30))
    finally:
        edge.stop()
        listener.close()
    assert listener.kinds()[:22] == ["NBIRTH", "DBIRTH"] + ["DDATA"] * 20


@pytest.mark.mqtt
def test_device_commands_reach_on_command_and_a_failing_handler_keeps_the_connection(mqtt_url, unique):
    """DCMD by alias (as a host writes it) goes to ``on_command``; an NCMD rebirth brings births with the same
    bdSeq; a second start after a stop is a new connection (the next bdSeq)."""
    commands = []

    def on_command(device, name, value):
        commands.append((device, name, value))
        raise RuntimeError("the application failed")

    listener = Listener(mqtt_url, unique)
    edge = node(mqtt_url, unique, on_command=on_command)
    try:
        edge.start()
        dcmd = Payload(timestamp=1)
        set_metric_value(dcmd.metrics.add(alias=edge.session.aliases[("D1", "n")]), DT["Int64"], 42)
        listener.client.publish(f"spBv1.0/{unique}/DCMD/edge1/D1", dcmd.SerializeToString(), qos=1)
        listener.wait(lambda: commands)
        ncmd = Payload(timestamp=2)
        set_metric_value(ncmd.metrics.add(name=REBIRTH_METRIC), DT["Boolean"], True)
        listener.client.publish(f"spBv1.0/{unique}/NCMD/edge1", ncmd.SerializeToString(), qos=1)
        listener.wait(lambda: listener.kinds().count("NBIRTH") == 2)
        edge.stop()
        edge.start()
        listener.wait(lambda: listener.kinds().count("NBIRTH") == 3)
        edge.stop()
        listener.wait(lambda: listener.kinds().count("NDEATH") == 2)
    finally:
        edge.stop()
        listener.close()
    assert commands == [("D1", "n", 42)] and edge.rebirths == 1
    assert "on_command failed" in edge.errors[0]
    births = [(kind, bdseq) for kind, _, _, bdseq in listener.heard if kind in ("NBIRTH", "NDEATH")]
    assert births[:5] == [("NBIRTH", 0), ("NBIRTH", 0), ("NDEATH", 0), ("NBIRTH", 1), ("NDEATH", 1)]
