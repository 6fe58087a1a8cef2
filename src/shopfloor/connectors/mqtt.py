"""MQTT v5: Sparkplug B edge nodes and plain JSON topics (paho-mqtt), as a host application.

The connector keeps a persistent session (clean_start=False with a session expiry), so QoS 1 messages queue
at the broker while it is away, and acknowledges a QoS 1 message only after ``emit`` returned, i.e. after
the values are committed (paho's ``manual_ack``).  Sparkplug messages go through ``SparkplugHost``; the
rebirth requests it asks for are published as NCMD.  Its STATE (``spBv1.0/STATE/<host_id>``) is published
retained with QoS 1 on connect, and its Will says offline.  Several ingest workers can share the work with a
shared subscription (``share: ingest`` subscribes to ``$share/ingest/...``).

JSON topics: ``json_topics: [{topic: "plant/+/telemetry", machine_level: 1}]`` with payloads like
``{"ts": "2026-03-02T06:00:00+09:00", "values": {"State": 1, "TotalCount": 17}}``; the machine is the topic
level named by ``machine_level``.  A malformed payload is quarantined with its reason, never dropped.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from shopfloor.connectors.base import ConnectorStatus, Emit, Quality, Signal
from shopfloor.connectors.sparkplug.codec import DT, SparkplugError, Topic, parse_topic, set_metric_value
from shopfloor.connectors.sparkplug.host import REBIRTH_METRIC, SparkplugHost
from shopfloor.connectors.sparkplug.schema import Payload

log = logging.getLogger(__name__)
Quarantine = Callable[[str, str, bytes], Awaitable[None]]
SESSION_EXPIRY_S = 3600


def broker_address(url: str) -> tuple[str, int]:
    parts = urlsplit(url if "://" in url else f"mqtt://{url}")
    return parts.hostname or "127.0.0.1", parts.port or 1883


class MqttConnector:
    def __init__(
        self,
        name: str,
        url: str,
        groups: list[str] | None = None,
        host_id: str = "shopfloor",
        json_topics: list[dict[str, Any]] | None = None,
        machine_for: dict[str, str] | None = None,
        share: str | None = None,
        client_id: str | None = None,
        quarantine: Quarantine | None = None,
        reorder_timeout_s: float = 2.0,
        batch_delay_s: float = 0.05,
        max_batch: int = 5000,
    ):
        self.name = name
        self.host, self.port = broker_address(url)
        self.groups = groups or []
        self.host_id = host_id
        self.json_topics = json_topics or []
        self.share = share
        self.client_id = client_id or f"shopfloor-{name}"
        self.quarantine = quarantine
        self.batch_delay_s = batch_delay_s
        self.max_batch = max_batch
        self.sparkplug = SparkplugHost(name, machine_for, reorder_timeout_s)
        self.status = ConnectorStatus(name=name, protocol="mqtt", endpoint=f"{self.host}:{self.port}")
        self.rebirth_requests = 0
        self._queue: asyncio.Queue[mqtt.MQTTMessage] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.client: mqtt.Client | None = None

    @classmethod
    def from_config(
        cls,
        name: str,
        options: dict[str, Any],
        machines: dict[str, dict[str, Any]],
        quarantine: Quarantine | None = None,
    ) -> MqttConnector:
        if "url" not in options:
            raise ValueError(f"connector {name}: url of the broker is required (mqtt://host:1883)")
        machine_for = {cfg.get("device", code): code for code, cfg in machines.items()}
        return cls(
            name,
            str(options["url"]),
            list(options.get("groups") or []),
            str(options.get("host_id", "shopfloor")),
            list(options.get("json_topics") or []),
            machine_for,
            options.get("share"),
            quarantine=quarantine,
        )

    # -- paho thread -----------------------------------------------------------------------------------------
    def _subscriptions(self) -> list[tuple[str, int]]:
        topics = [(f"spBv1.0/{g}/#", 1) for g in self.groups] + [(t["topic"], 1) for t in self.json_topics]
        if self.share:
            topics = [(f"$share/{self.share}/{t}", q) for t, q in topics]
        return topics

    def _on_connect(self, client, userdata, flags, reason_code, properties=None) -> None:
        if reason_code.is_failure:
            self.status.record_error(f"broker refused the connection: {reason_code}")
            return
        self.status.connected = True
        state = json.dumps({"online": True, "timestamp": int(time.time() * 1000)})
        client.publish(f"spBv1.0/STATE/{self.host_id}", state, qos=1, retain=True)
        subs = self._subscriptions()
        if subs:
            client.subscribe(subs)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties=None) -> None:
        if self.status.connected:
            log.warning("%s: disconnected from the broker (%s); paho reconnects", self.name, reason_code)
        self.status.connected = False
        self.status.record_error(f"disconnected: {reason_code}")

    def _on_message(self, client, userdata, msg) -> None:
        assert self._loop is not None and self._queue is not None
        self._loop.call_soon_threadsafe(self._queue.put_nowait, msg)

    def _make_client(self) -> mqtt.Client:
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=mqtt.MQTTv5, manual_ack=True
        )
        offline = json.dumps({"online": False, "timestamp": int(time.time() * 1000)})
        client.will_set(f"spBv1.0/STATE/{self.host_id}", offline, qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        return client

    # -- asyncio side ----------------------------------------------------------------------------------------
    async def run(self, emit: Emit) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue()
        client = self.client = self._make_client()
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = SESSION_EXPIRY_S
        client.connect_async(self.host, self.port, keepalive=10, clean_start=False, properties=props)
        client.loop_start()
        try:
            while True:
                try:
                    first = await asyncio.wait_for(self._queue.get(), timeout=0.5)
                except TimeoutError:
                    self._publish_rebirths(self.sparkplug.check_timeouts().rebirths)
                    continue
                batch = [first]
                await asyncio.sleep(self.batch_delay_s)
                while not self._queue.empty() and len(batch) < self.max_batch:
                    batch.append(self._queue.get_nowait())
                await self._process(batch, emit)
        finally:
            client.disconnect()
            client.loop_stop()

    async def _process(self, batch: list[mqtt.MQTTMessage], emit: Emit) -> None:
        signals: list[Signal] = []
        rebirths: list[tuple[str, str]] = []
        for msg in batch:
            topic = msg.topic
            if topic.startswith("spBv1.0/"):
                try:
                    parsed = parse_topic(topic)
                except SparkplugError as exc:
                    await self._quarantine(topic, str(exc), msg.payload)
                    continue
                result = self.sparkplug.handle(parsed, msg.payload)
                signals.extend(result.signals)
                rebirths.extend(result.rebirths)
                for where, reason in result.quarantined:
                    await self._quarantine(where, reason, msg.payload)
            else:
                try:
                    signals.extend(self._json_signals(topic, msg.payload))
                except ValueError as exc:
                    await self._quarantine(topic, str(exc), msg.payload)
        if signals:
            await emit(signals)
            self.status.record_messages(len(signals))
            self.status.last_value_at = signals[-1].ts
        # Acknowledged only now: the values are committed (or durably buffered).
        for msg in batch:
            if msg.qos > 0 and self.client is not None:
                self.client.ack(msg.mid, msg.qos)
        self._publish_rebirths(rebirths)

    def _publish_rebirths(self, nodes: list[tuple[str, str]]) -> None:
        for group, edge in dict.fromkeys(nodes):
            p = Payload()
            p.timestamp = int(time.time() * 1000)
            m = p.metrics.add()
            m.name = REBIRTH_METRIC
            set_metric_value(m, DT["Boolean"], True)
            if self.client is not None:
                self.client.publish(str(Topic(group, "NCMD", edge)), p.SerializeToString(), qos=0)
            self.rebirth_requests += 1

    async def _quarantine(self, where: str, reason: str, payload: bytes) -> None:
        self.status.quarantined_total += 1
        self.status.record_error(f"{where}: {reason}")
        if self.quarantine is not None:
            await self.quarantine(self.name, f"{where}: {reason}", payload)

    def _json_signals(self, topic: str, payload: bytes) -> list[Signal]:
        spec = next((t for t in self.json_topics if mqtt.topic_matches_sub(t["topic"], topic)), None)
        if spec is None:
            raise ValueError("no json_topics entry matches this topic")
        levels = topic.split("/")
        level = int(spec.get("machine_level", 1))
        if level >= len(levels):
            raise ValueError(f"topic has no level {level} to name the machine")
        machine = levels[level]
        try:
            doc = json.loads(payload)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"payload is not JSON: {exc}") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("values"), dict):
            raise ValueError('payload must be an object with "values": {tag: value}')
        ts_raw = doc.get("ts")
        if ts_raw is None:
            ts = datetime.now(timezone.utc)
        elif isinstance(ts_raw, (int, float)) and not isinstance(ts_raw, bool):
            ts = datetime.fromtimestamp(ts_raw / 1000, tz=timezone.utc)
        else:
            try:
                ts = datetime.fromisoformat(str(ts_raw))
            except ValueError:
                raise ValueError(f"ts {ts_raw!r} is neither epoch milliseconds nor ISO 8601") from None
            if ts.tzinfo is None:
                raise ValueError(f"ts {ts_raw!r} has no UTC offset")
        out = []
        for tag, value in doc["values"].items():
            if not isinstance(value, (int, float, str, bool)) and value is not None:
                raise ValueError(f"value of {tag!r} must be a number, text, boolean or null")
            out.append(
                Signal(
                    self.name,
                    machine,
                    str(tag),
                    value,
                    ts.astimezone(timezone.utc),
                    Quality.GOOD if value is not None else Quality.BAD,
                    source_id=f"{topic}@{ts.isoformat()}:{tag}",
                )
            )
        return out
