"""A Sparkplug B edge node with its devices (used by the virtual plant): births, data, deaths and commands.

``EdgeSession`` builds the messages and keeps the counters, without I/O (Eclipse Sparkplug 3.0, chapters 5-6):

* NBIRTH carries ``bdSeq`` (Int64), ``Node Control/Rebirth`` = false (never aliased), and the node's metrics;
  each DBIRTH the device's metrics.  Every birth metric has a name, an alias unique across the edge node, a
  datatype and a timestamp; NDATA and DDATA carry the alias, the timestamp and the value only.
* ``seq`` is 0 in the NBIRTH and +1 on every following DBIRTH, NDATA, DDATA and DDEATH of the node and its
  devices, wrapping 255 -> 0.  ``bdSeq`` is +1 (mod 256) on every new MQTT connection; the NDEATH in the
  connection's Will carries it, and the NBIRTH of that connection repeats it.  A rebirth keeps it.

``EdgeNode`` connects that session to a broker with the project's own MQTT v5 client (``mqtt_client``, the one
the host side reads with; clean start) on an event loop in a thread of its own, so its callers make plain
function calls from any thread or event loop: the NDEATH is its Will (QoS 1, not retained), births, data and
device deaths go out at QoS 0 as the specification says, in the order they were made.  ``qos=1``
raises all of them to QoS 1, for a plant that wants the broker to queue them for an absent host: all of them,
because a broker may deliver a QoS 0 message ahead of QoS 1 messages it still holds, and a birth must never
overtake the data sent before it.  Nor may old data follow a new birth: after a reconnection the messages of the
old connection that the broker never acknowledged are dropped (``dropped_unacknowledged``), never sent again
behind the new NBIRTH with the old session's seq.  NCMD ``Node Control/Rebirth`` = true makes it publish NBIRTH
and every DBIRTH again (the same bdSeq) before any more data, and other NCMD/DCMD metrics go to ``on_command``.  With
``primary_host`` it births only while that host application's STATE says online (section "Edge Node Session
Establishment"); without one it births on connecting, and again when any host application announces itself
online, so a host that starts after the edge node still learns every metric.  A lost connection is made again
every 1-2 s, with the next bdSeq, and the births go out again on it.  ``send`` gives a data message's seq with a
future of its delivery (the broker's PUBACK at QoS 1), for callers that count what the broker acknowledged.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shopfloor.connectors.mqtt_client import LoopThread, MqttLink, MqttRefused, Will, connect, connect_packet
from shopfloor.connectors.mqtt_client import Message as MqttMessage
from shopfloor.connectors.sparkplug.codec import (
    DATA_TYPE_NAMES,
    DT,
    datatype_for,
    decode_payload,
    metric_value,
    set_metric_value,
)
from shopfloor.connectors.sparkplug.errors import SparkplugError
from shopfloor.connectors.sparkplug.host import BDSEQ_METRIC, REBIRTH_METRIC, SEQ_MODULUS, is_control_metric
from shopfloor.connectors.sparkplug.schema import Payload
from shopfloor.connectors.sparkplug.topics import NAMESPACE, check_id, node_topic, parse_topic, state_topic

log = logging.getLogger(__name__)
Message = tuple[str, bytes]
Command = Callable[[str | None, str, Any], None]  # (device or None for the node, metric name, value)


def now_ms() -> int:
    return int(time.time() * 1000)


class EdgeError(SparkplugError):
    """A request the edge node cannot turn into a valid Sparkplug message; the message says why."""


class EdgeSession:
    """The messages of one edge node and its devices, with their seq and bdSeq; no I/O."""

    def __init__(
        self,
        group: str,
        edge: str,
        devices: dict[str, dict[str, Any]],
        node_metrics: dict[str, Any] | None = None,
        datatypes: dict[str | None, dict[str, int | str]] | None = None,
        bdseq: int = 0,
    ):
        """``devices``: device id -> {metric: initial value}.  A metric's datatype follows its initial value
        (bool Boolean, int Int64, float Double, str String) unless ``datatypes[device][metric]`` names one."""
        self.group = check_id(group, "group id")
        self.edge = check_id(edge, "edge node id")
        if not 0 <= bdseq < SEQ_MODULUS:
            raise EdgeError(f"bdSeq must be 0..255, not {bdseq}")
        self.values: dict[str | None, dict[str, Any]] = {None: dict(node_metrics or {})}
        for device, metrics in devices.items():
            self.values[check_id(device, "device id")] = dict(metrics)
        self.types: dict[tuple[str | None, str], int] = {}
        self.aliases: dict[tuple[str | None, str], int] = {}
        self.names: dict[int, tuple[str | None, str]] = {}
        for device, metrics in self.values.items():
            for name, value in metrics.items():
                if is_control_metric(name):
                    raise EdgeError(f"{name!r} is a control metric of the edge node, not a value to publish")
                given = (datatypes or {}).get(device, {}).get(name)
                datatype = DT[given] if isinstance(given, str) else given
                if datatype is None:
                    datatype = datatype_for(value)
                elif datatype not in DATA_TYPE_NAMES:
                    raise EdgeError(f"metric {name!r}: unknown datatype {given!r}")
                self.types[(device, name)] = datatype
                alias = len(self.aliases) + 1
                self.aliases[(device, name)] = alias
                self.names[alias] = (device, name)
        self.bdseq = bdseq
        self.seq = 0

    @property
    def devices(self) -> list[str]:
        return [d for d in self.values if d is not None]

    def topic(self, message_type: str, device: str | None = None) -> str:
        return node_topic(self.group, message_type, self.edge, device)

    def new_connection(self) -> None:
        """A new MQTT CONNECT: the next bdSeq, for its Will and its NBIRTH."""
        self.bdseq = (self.bdseq + 1) % SEQ_MODULUS

    def lose(self, count: int = 1) -> None:
        """Advance seq as if ``count`` messages had been lost on the way (fault injection)."""
        self.seq = (self.seq + count) % SEQ_MODULUS

    def _next_seq(self) -> int:
        seq = self.seq
        self.seq = (seq + 1) % SEQ_MODULUS
        return seq

    def death(self, ts_ms: int | None = None) -> Message:
        """The NDEATH (the Will of the connection): bdSeq only, no seq (section "NDEATH")."""
        payload = Payload(timestamp=ts_ms or now_ms())
        set_metric_value(payload.metrics.add(name=BDSEQ_METRIC), DT["Int64"], self.bdseq)
        return self.topic("NDEATH"), payload.SerializeToString()

    def births(self, ts_ms: int | None = None) -> list[Message]:
        """NBIRTH (seq 0) and a DBIRTH for every device, in that order."""
        ts = ts_ms or now_ms()
        self.seq = 0
        payload = Payload(timestamp=ts, seq=self._next_seq())
        for name, datatype, value in ((BDSEQ_METRIC, DT["Int64"], self.bdseq), (REBIRTH_METRIC, DT["Boolean"], False)):
            set_metric_value(payload.metrics.add(name=name, timestamp=ts), datatype, value)
        self._birth_metrics(payload, None, ts)
        return [(self.topic("NBIRTH"), payload.SerializeToString())] + [self.device_birth(d, ts) for d in self.devices]

    def device_birth(self, device: str, ts_ms: int | None = None) -> Message:
        self._device(device)
        ts = ts_ms or now_ms()
        payload = Payload(timestamp=ts, seq=self._next_seq())
        self._birth_metrics(payload, device, ts)
        return self.topic("DBIRTH", device), payload.SerializeToString()

    def _birth_metrics(self, payload: Any, device: str | None, ts: int) -> None:
        for name, value in self.values[device].items():
            metric = payload.metrics.add(name=name, alias=self.aliases[(device, name)], timestamp=ts)
            set_metric_value(metric, self.types[(device, name)], value)

    def data(self, device: str | None, values: dict[str, Any], ts_ms: int | None = None) -> tuple[str, bytes, int]:
        """DDATA (NDATA for ``device`` None) with the given metrics by alias; returns topic, payload and seq."""
        if device is not None:
            self._device(device)
        if not values:
            raise EdgeError(f"no metric values to publish for {device or 'the edge node'}")
        ts = ts_ms or now_ms()
        payload = Payload(timestamp=ts)
        for name, value in values.items():
            key = (device, name)
            if key not in self.types:
                raise EdgeError(f"metric {name!r} is not in the birth certificate of {device or 'the edge node'}")
            metric = payload.metrics.add(alias=self.aliases[key], timestamp=ts)
            set_metric_value(metric, self.types[key], value)
            metric.ClearField("datatype")  # the datatype belongs to births (tck-id-payloads-metric-datatype-not-req)
        for name, value in values.items():
            self.values[device][name] = value
        payload.seq = self._next_seq()
        topic = self.topic("DDATA" if device is not None else "NDATA", device)
        return topic, payload.SerializeToString(), int(payload.seq)

    def update(self, device: str | None, values: dict[str, Any]) -> None:
        """Change current values without publishing them (the next birth carries them)."""
        if device is not None:
            self._device(device)
        for name in values:
            if (device, name) not in self.types:
                raise EdgeError(f"metric {name!r} is not in the birth certificate of {device or 'the edge node'}")
        self.values[device].update(values)

    def device_death(self, device: str, ts_ms: int | None = None) -> Message:
        """DDEATH: a timestamp and the next seq, no metrics (section "DDEATH")."""
        self._device(device)
        payload = Payload(timestamp=ts_ms or now_ms(), seq=self._next_seq())
        return self.topic("DDEATH", device), payload.SerializeToString()

    def commands(self, device: str | None, data: bytes) -> list[tuple[str, Any]]:
        """The (metric name, value) pairs of an NCMD or DCMD payload; aliases resolved to names."""
        payload = decode_payload(data)
        out = []
        for m in payload.metrics:
            name = m.name
            if not name:
                found = self.names.get(m.alias) if m.HasField("alias") else None
                if found is None or found[0] != device:
                    raise EdgeError(f"command for unknown alias {m.alias} of {device or 'the edge node'}")
                name = found[1]
            datatype = m.datatype if m.HasField("datatype") else self.types.get((device, name), DT["Unknown"])
            if name == REBIRTH_METRIC and not m.HasField("datatype"):
                datatype = DT["Boolean"]
            if datatype == DT["Unknown"]:
                raise EdgeError(f"command metric {name!r} has no datatype and is not a metric of this edge node")
            out.append((name, metric_value(m, datatype, name)))
        return out

    def _device(self, device: str) -> None:
        if device is None or device not in self.values:
            raise EdgeError(f"{device!r} is not a device of edge node {self.group}/{self.edge}")


@dataclass(frozen=True)
class Sent:
    """A published message: its seq, and a future that resolves once the broker has it (the PUBACK at QoS 1,
    the write at QoS 0), or fails when the connection ended first."""

    seq: int
    done: concurrent.futures.Future

    @property
    def acknowledged(self) -> bool:
        return self.done.done() and not self.done.cancelled() and self.done.exception() is None


class EdgeNode:
    """An ``EdgeSession`` on an MQTT v5 connection (the project's own client, on a loop thread of its own)."""

    def __init__(
        self,
        host: str,
        port: int,
        group: str,
        edge: str,
        devices: dict[str, dict[str, Any]],
        client_id: str | None = None,
        *,
        node_metrics: dict[str, Any] | None = None,
        datatypes: dict[str | None, dict[str, int | str]] | None = None,
        qos: int = 0,
        primary_host: str | None = None,
        on_command: Command | None = None,
        keepalive_s: int = 10,
        bdseq: int = 0,
    ):
        if qos not in (0, 1):
            raise EdgeError(f"data QoS must be 0 or 1, not {qos}")
        self.session = EdgeSession(group, edge, devices, node_metrics, datatypes, bdseq)
        self.host, self.port, self.keepalive_s = host, port, keepalive_s
        self.client_id = client_id or f"edge-{group}-{edge}"
        self.qos = qos
        self.primary_host = check_id(primary_host, "primary host id") if primary_host is not None else None
        self.on_command = on_command
        self.rebirths = 0  # births published on request (NCMD Node Control/Rebirth)
        self.births_published = 0
        self.dropped_unacknowledged = 0  # messages of an earlier connection never acknowledged, not sent again
        self.errors: list[str] = []
        self.born = False
        self.connected = threading.Event()
        self._lock = threading.RLock()  # the session, and the order in which messages are handed to the loop
        self._connects = 0  # connections attempted; a message goes out only on the one it was made for
        self._host_online_ts: int | None = None
        self._thread: LoopThread | None = None
        self._link: MqttLink | None = None
        self._stopping = False
        self._outgoing: list[tuple[int, str, bytes, int, concurrent.futures.Future]] = []  # for the loop, in order
        self._flush_due = False

    # Convenience views of the session, for the virtual plant and tests.
    @property
    def group(self) -> str:
        return self.session.group

    @property
    def edge(self) -> str:
        return self.session.edge

    @property
    def seq(self) -> int:
        return self.session.seq

    @property
    def bdseq(self) -> int:
        return self.session.bdseq

    @property
    def devices(self) -> dict[str, dict[str, Any]]:
        return {d: v for d, v in self.session.values.items() if d is not None}

    # -- lifecycle -----------------------------------------------------------------------------------------
    def start(self, timeout_s: float = 10.0) -> None:
        """Connect and wait until the births are out (or, with a primary host, until connected).  Raises
        ``OSError`` when the broker cannot be reached, ``MqttRefused`` (a ``ConnectionError``) when it refuses."""
        if self._thread is not None:
            raise EdgeError(f"edge node {self.group}/{self.edge} is already started")
        self._stopping = False
        with self._lock:  # anything handed to the loop of an earlier start never went out
            for *_, done in self._outgoing:
                done.set_exception(ConnectionError(f"edge node {self.group}/{self.edge} was stopped"))
            self._outgoing, self._flush_due = [], False
        self._thread = LoopThread(name=f"edge-{self.group}-{self.edge}")
        try:
            self._thread.run(self._connect(timeout_s), timeout_s + 1)
        except BaseException:
            self._thread.close()
            self._thread = None
            raise
        self._thread.submit(self._stay_connected())
        if not self.connected.wait(timeout_s):
            self.stop(clean=False)
            raise ConnectionError(f"edge node {self.group}/{self.edge} could not connect to {self.host}:{self.port}")

    def stop(self, clean: bool = True) -> None:
        """Disconnect; with ``clean`` the NDEATH is published first (on a broken link the broker sends the Will)."""
        thread = self._thread
        if thread is None:
            return
        self._stopping = True
        try:
            if clean and self.connected.is_set():
                with self._lock:
                    topic, payload = self.session.death()
                    done = self._send(topic, payload, 1)
                try:
                    done.result(5)
                except (ConnectionError, concurrent.futures.TimeoutError, concurrent.futures.CancelledError):
                    pass
            thread.call(self._disconnect)
        finally:
            thread.close()
            self._thread = None
            with self._lock:
                self.born = False
            self.connected.clear()

    # -- publishing ----------------------------------------------------------------------------------------
    def births(self) -> None:
        """NBIRTH and every DBIRTH; DATA waits for them (the lock) so none goes out between."""
        with self._lock:
            for topic, payload in self.session.births():
                self._send(topic, payload, self.qos)
            self.born = True
            self.births_published += 1

    def data(self, device: str, values: dict[str, Any], ts_ms: int | None = None) -> int | None:
        """Publish DDATA for ``values``; returns its seq, or None when not born (the next birth carries them)."""
        sent = self.send(device, values, ts_ms)
        return sent.seq if sent is not None else None

    def node_data(self, values: dict[str, Any], ts_ms: int | None = None) -> int | None:
        """Publish NDATA for the edge node's own metrics; returns its seq, or None when not born."""
        sent = self.send(None, values, ts_ms)
        return sent.seq if sent is not None else None

    def send(self, device: str | None, values: dict[str, Any], ts_ms: int | None = None) -> Sent | None:
        """DDATA (NDATA for ``device`` None) as ``data``, with the future of its delivery; None when not born."""
        with self._lock:
            if not self.born:
                self.session.update(device, values)
                return None
            topic, payload, seq = self.session.data(device, values, ts_ms)
            return Sent(seq, self._send(topic, payload, self.qos))

    def device_death(self, device: str) -> None:
        with self._lock:
            topic, payload = self.session.device_death(device)
            self._send(topic, payload, self.qos)

    def device_birth(self, device: str) -> None:
        with self._lock:
            topic, payload = self.session.device_birth(device)
            self._send(topic, payload, self.qos)

    def lose(self, count: int = 1) -> None:
        """Skip ``count`` sequence numbers, as if that many messages were lost (fault injection)."""
        with self._lock:
            self.session.lose(count)

    def raw(self, topic: str, data: bytes, qos: int = 0) -> None:
        """Publish arbitrary bytes (fault injection: a malformed payload)."""
        with self._lock:
            self._send(topic, data, qos)

    def _send(self, topic: str, payload: bytes, qos: int) -> concurrent.futures.Future:
        """Hand a message to the loop, behind every one handed before (the caller holds the lock, so the order
        is the order of seq); it goes out only on the connection it was made for.  Messages handed while the
        loop has not yet taken the last ones go with them: one wake-up of the loop thread for the lot."""
        done: concurrent.futures.Future = concurrent.futures.Future()
        thread = self._thread
        with self._lock:
            self._outgoing.append((self._connects, topic, payload, qos, done))
            if self._flush_due:
                return done
            try:
                if thread is None or not thread.running:
                    raise RuntimeError("no loop")
                thread.call(self._flush)
                self._flush_due = True
            except RuntimeError:  # not started, or stopped meanwhile
                for *_, waiting in self._outgoing:
                    waiting.set_exception(ConnectionError(f"edge node {self.group}/{self.edge} is not running"))
                self._outgoing.clear()
        return done

    def _flush(self) -> None:
        with self._lock:
            batch, self._outgoing = self._outgoing, []
            self._flush_due = False
        for item in batch:
            self._write(*item)

    def _write(self, connection: int, topic: str, payload: bytes, qos: int, done: concurrent.futures.Future) -> None:
        link = self._link
        try:
            if link is None or not link.is_open or connection != self._connects:
                raise ConnectionError("the connection it was made for has ended")
            ack = link.publish(topic, payload, qos)
        except (ConnectionError, ValueError) as exc:
            self._failed(qos, done, exc)
            return
        if ack is None:
            done.set_result(None)
        else:
            ack.add_done_callback(lambda f: self._acknowledged(f, qos, done))

    def _acknowledged(self, ack: asyncio.Future, qos: int, done: concurrent.futures.Future) -> None:
        if ack.cancelled():
            self._failed(qos, done, ConnectionError("cancelled"))
        elif ack.exception() is not None:
            self._failed(qos, done, ack.exception())  # type: ignore[arg-type]
        else:
            done.set_result(ack.result())

    def _failed(self, qos: int, done: concurrent.futures.Future, exc: BaseException) -> None:
        # Messages of a connection that ended before the broker acknowledged them belong to the old session: sent
        # after the new births, they would carry the old seq into the new session.  They are dropped (the births
        # carry the current values) and counted.
        if qos and isinstance(exc, ConnectionError):
            self.dropped_unacknowledged += 1
        done.set_exception(exc)

    # -- the connection (on the loop thread) ---------------------------------------------------------------
    async def _connect(self, timeout_s: float = 10.0) -> None:
        """A new connection: the next bdSeq in its Will, the subscriptions, then the births (without a primary
        host)."""
        with self._lock:
            if self._connects:
                self.session.new_connection()
            self._connects += 1
            topic, payload = self.session.death()
        packet = connect_packet(self.client_id, self.keepalive_s, clean_start=True, will=Will(topic, payload, qos=1))
        try:
            link = await connect(self.host, self.port, packet, self._on_message, self.keepalive_s, timeout_s=timeout_s)
        except MqttRefused as exc:
            self.errors.append(f"broker refused the connection: {exc}")
            raise
        self._link = link
        states = state_topic(self.primary_host) if self.primary_host else f"{NAMESPACE}/STATE/+"
        filters = [(self.session.topic("NCMD"), 1), (f"{NAMESPACE}/{self.group}/DCMD/{self.edge}/+", 1), (states, 1)]
        try:
            codes = await link.subscribe(filters, timeout_s)
        except BaseException:
            link.close("no SUBACK", None)
            raise
        for (topic_filter, _), code in zip(filters, codes, strict=True):
            if code >= 0x80:
                self.errors.append(f"broker refused the subscription to {topic_filter}: 0x{code:02X}")
        if self.primary_host is None:
            self.births()
        self.connected.set()

    async def _stay_connected(self) -> None:
        """After a lost connection: not born, and a new connection (the next bdSeq) every 1-2 s until one holds."""
        while not self._stopping:
            link = self._link
            reason = await asyncio.shield(link.closed) if link is not None else "not connected"
            with self._lock:
                self.born = False
            self.connected.clear()
            if self._stopping:
                return
            log.warning("edge node %s/%s: %s; connecting again", self.group, self.edge, reason)
            while not self._stopping:
                await asyncio.sleep(1.0 + random.random())
                try:
                    await self._connect()
                    break
                except (OSError, ValueError) as exc:  # unreachable, refused, no CONNACK / SUBACK in time, bad bytes
                    log.warning("edge node %s/%s: %s", self.group, self.edge, exc)

    def _disconnect(self) -> None:
        if self._link is not None:
            self._link.disconnect()

    def _on_message(self, msg: MqttMessage) -> None:
        try:
            self._handle(msg)
        finally:
            if msg.qos and self._link is not None and self._link.is_open:
                self._link.ack([msg.mid])

    def _handle(self, msg: MqttMessage) -> None:
        try:
            topic = parse_topic(msg.topic)
            if topic.message_type == "STATE":
                self._host_state(topic.host_id or "", msg.payload, msg.retain)
                return
            device = topic.device if topic.message_type == "DCMD" else None
            with self._lock:
                commands = self.session.commands(device, msg.payload)
            for name, value in commands:
                if device is None and name == REBIRTH_METRIC:
                    if value is True:
                        self.rebirths += 1
                        self.births()
                elif self.on_command is not None:
                    try:
                        self.on_command(device, name, value)
                    except Exception as exc:  # noqa: BLE001 - the application's trouble must not end the connection
                        self.errors.append(f"{msg.topic}: on_command failed: {exc!r}")
                        log.exception("edge node %s/%s: on_command for %s", self.group, self.edge, msg.topic)
        except (SparkplugError, ValueError) as exc:
            self.errors.append(f"{msg.topic}: {exc}")
            log.warning("edge node %s/%s: %s: %s", self.group, self.edge, msg.topic, exc)

    def _host_state(self, host_id: str, data: bytes, retained: bool) -> None:
        try:
            doc = json.loads(data)
            online, ts = doc["online"], doc.get("timestamp")
        except (ValueError, TypeError, KeyError):
            raise EdgeError(f"STATE of {host_id!r} is not {{'online': bool, 'timestamp': ms}} JSON") from None
        if self.primary_host is None:
            if online is True and not retained:
                self.births()  # a host application appeared: let it learn every metric
            return
        if online is True and (not self.born or ts != self._host_online_ts):
            self._host_online_ts = ts
            self.births()
        elif online is False and ts == self._host_online_ts:
            with self._lock:
                self.born = False  # the primary host is gone: no DATA until it is back and the births went out
