"""A Sparkplug B edge node (used by the virtual plant): births, data and death as the specification says.

On connect it publishes NBIRTH (with ``bdSeq`` equal to the one in its Will, and ``Node Control/Rebirth`` =
false) and a DBIRTH per device, with an alias for every metric; DDATA then carries aliases only.  ``seq``
counts every message of the node from the NBIRTH on, wrapping 255 -> 0; ``bdSeq`` grows with every new MQTT
connection.  An NCMD ``Node Control/Rebirth`` = true makes it publish all births again, and so does a host
application's STATE message saying it came online (the specification's primary-host handling: the edge node births
again when the host appears, so a host that starts after the edge node still learns every metric).  Data messages use
QoS 0 and births QoS 0, the Will (NDEATH) QoS 1, as section 5 requires.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import paho.mqtt.client as mqtt

from shopfloor.connectors.sparkplug.codec import DT, Topic, datatype_for, decode_payload, set_metric_value
from shopfloor.connectors.sparkplug.host import REBIRTH_METRIC
from shopfloor.connectors.sparkplug.schema import Payload


def _ms() -> int:
    return int(time.time() * 1000)


class EdgeNode:
    def __init__(
        self,
        host: str,
        port: int,
        group: str,
        edge: str,
        devices: dict[str, dict[str, Any]],
        client_id: str | None = None,
    ):
        """``devices``: device id -> {metric name: initial value}; the datatype follows the value's type."""
        self.host, self.port = host, port
        self.group, self.edge = group, edge
        self.devices = {d: dict(metrics) for d, metrics in devices.items()}
        self.bdseq = 0
        self.seq = 0
        self.rebirths = 0
        self._lock = threading.Lock()
        self._aliases: dict[tuple[str, str], int] = {}
        self._types: dict[tuple[str, str], int] = {}
        alias = 1
        for device, metrics in self.devices.items():
            for name, value in metrics.items():
                self._aliases[(device, name)] = alias
                self._types[(device, name)] = datatype_for(value)
                alias += 1
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=client_id or f"edge-{group}-{edge}", protocol=mqtt.MQTTv5
        )
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.connected = threading.Event()

    def _topic(self, mtype: str, device: str | None = None) -> str:
        return str(Topic(self.group, mtype, self.edge, device))

    def _death(self) -> bytes:
        p = Payload()
        p.timestamp = _ms()
        m = p.metrics.add()
        m.name = "bdSeq"
        set_metric_value(m, DT["Int64"], self.bdseq)
        return p.SerializeToString()

    def start(self) -> None:
        self.client.will_set(self._topic("NDEATH"), self._death(), qos=1, retain=False)
        self.client.connect(self.host, self.port, keepalive=10)
        self.client.loop_start()
        if not self.connected.wait(10):
            raise ConnectionError(f"edge node could not connect to {self.host}:{self.port}")

    def stop(self, clean: bool = True) -> None:
        """Disconnect; with ``clean`` the NDEATH is published first (a broken link lets the broker send it)."""
        if clean:
            self.client.publish(self._topic("NDEATH"), self._death(), qos=1).wait_for_publish(5)
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client, userdata, flags, reason_code, properties=None) -> None:
        client.subscribe([(self._topic("NCMD"), 1), ("spBv1.0/STATE/+", 1)])
        self.births()
        self.connected.set()

    def _on_message(self, client, userdata, msg) -> None:
        if msg.topic.startswith("spBv1.0/STATE/"):
            try:
                online = json.loads(msg.payload).get("online") is True
            except (ValueError, AttributeError):
                online = False
            if online and not msg.retain:
                self.births()
            return
        try:
            payload = decode_payload(msg.payload)
        except ValueError:
            return
        if any(m.name == REBIRTH_METRIC and m.boolean_value for m in payload.metrics):
            self.rebirths += 1
            self.births()

    def _next_seq(self) -> int:
        seq = self.seq
        self.seq = (self.seq + 1) % 256
        return seq

    def births(self) -> None:
        with self._lock:
            self.seq = 0
            p = Payload()
            p.timestamp = _ms()
            p.seq = self._next_seq()
            for name, dtype, value in (("bdSeq", DT["Int64"], self.bdseq), (REBIRTH_METRIC, DT["Boolean"], False)):
                m = p.metrics.add()
                m.name = name
                m.timestamp = p.timestamp
                set_metric_value(m, dtype, value)
            self.client.publish(self._topic("NBIRTH"), p.SerializeToString(), qos=0)
            for device, metrics in self.devices.items():
                d = Payload()
                d.timestamp = _ms()
                d.seq = self._next_seq()
                for name, value in metrics.items():
                    m = d.metrics.add()
                    m.name = name
                    m.alias = self._aliases[(device, name)]
                    m.timestamp = d.timestamp
                    set_metric_value(m, self._types[(device, name)], value)
                self.client.publish(self._topic("DBIRTH", device), d.SerializeToString(), qos=0)

    def data(self, device: str, values: dict[str, Any], ts_ms: int | None = None, seq: int | None = None) -> int:
        """Publish DDATA for changed metrics; returns the seq used (``seq`` forces one, for tests)."""
        with self._lock:
            p = Payload()
            p.timestamp = ts_ms or _ms()
            p.seq = self._next_seq() if seq is None else seq
            for name, value in values.items():
                self.devices[device][name] = value
                m = p.metrics.add()
                m.alias = self._aliases[(device, name)]
                m.timestamp = p.timestamp
                set_metric_value(m, self._types[(device, name)], value)
                m.ClearField("datatype")  # datatype belongs in births only (section 6.4.4)
            self.client.publish(self._topic("DDATA", device), p.SerializeToString(), qos=0)
            return int(p.seq)

    def raw(self, topic: str, data: bytes, qos: int = 0) -> None:
        self.client.publish(topic, data, qos=qos)
