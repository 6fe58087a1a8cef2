"""MQTT v5 connector: Sparkplug B edge nodes and plain JSON topics, as a Sparkplug host application (paho-mqtt).

Delivery.  The connector keeps a persistent MQTT session (Clean Start = false, a Session Expiry Interval), so
the broker queues QoS 1 messages while it is away and resends what it did not acknowledge, and it acknowledges
each QoS 1 message (paho's ``manual_ack``) only after ``emit`` returned, i.e. after the Signals are committed,
and after quarantined input was handed to ``quarantine``.  A commit that fails is retried with back-off, never
acknowledged and never skipped.  The Sparkplug 3.0 specification asks a host application for a clean session
(``tck-id-message-flow-phid-sparkplug-clean-session-50``), because Sparkplug state comes back with a rebirth;
JSON topics and QoS 1 Sparkplug data need the broker's queue for acknowledgement after commit, so the session
is persistent unless ``session_expiry_s`` is 0 (then clean, as the specification says).

Threads.  paho runs its network loop in its own thread; its callbacks only append ``(kind, generation, data)``
to an inbox (a deque) and wake the event loop with ``call_soon_threadsafe`` when it was not already woken, so a
burst of messages costs one wake-up, not one per message.  Everything else (the Sparkplug session, emit, quarantine,
acknowledgements, rebirth requests) happens on the event loop.  ``generation`` counts connections: a message
is acknowledged only on the connection that delivered it; after a reconnection the broker resends it itself.

Sparkplug.  Subscribes to ``spBv1.0/<group>/#`` for each of ``groups`` (``+`` for every group) and to its own
``spBv1.0/STATE/<host_id>``; ``SparkplugHost`` turns messages into Signals, and the rebirth requests it asks for
go out as NCMD ``Node Control/Rebirth`` = true.  STATE (section "Sparkplug Host Application"): before each
CONNECT the Will is set to ``{"online": false, "timestamp": t}`` (QoS 1, retained); once the subscriptions are
acknowledged the birth ``{"online": true, "timestamp": t}`` with the same t goes out (QoS 1, retained); an
offline STATE of its own id (an older connection's will arriving late) is answered with the birth again; a
clean stop publishes the death before DISCONNECT.  When the connection drops and the broker kept the session,
nothing is lost: QoS 1 messages arrive late and in order, and a lost QoS 0 message shows as a sequence gap
(rebirth after the reorder timeout).  When the session is gone (a clean session, or a broker that lost it),
every metric is STALE from the moment the link broke and every edge node seen is asked for a rebirth.

Shared subscriptions (``share``: several ingest workers, one subscription).  NDATA/DDATA and JSON topics are
subscribed as ``$share/<share>/...``, so each message reaches one worker; births and deaths are subscribed by
every worker, so each knows every alias.  A worker then sees only part of each edge node's sequence: sequence
checking is off, and birth values are not emitted (every worker would store them), only learned.

JSON topics: ``json_topics: [{topic: "plant/+/telemetry", machine_level: 1}]`` (the machine is that topic
level; or ``machine: CNC-01`` for a fixed one; ``machines: {level value: machine}`` renames) with payloads
``{"ts": "2026-03-02T06:00:00+09:00" | 1772400000000, "values": {"State": 1, "TotalCount": 17}}``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from shopfloor.connectors.base import ConnectorStatus, Emit, Quality, Signal
from shopfloor.connectors.sparkplug.codec import DT, set_metric_value
from shopfloor.connectors.sparkplug.host import REBIRTH_METRIC, HostResult, Quarantined, SparkplugHost
from shopfloor.connectors.sparkplug.schema import Payload
from shopfloor.connectors.sparkplug.topics import NAMESPACE, check_id, node_topic, state_topic

log = logging.getLogger(__name__)
Quarantine = Callable[[str, str, bytes], Awaitable[None]]  # (source, reason, payload)
SESSION_EXPIRY_S = 3600
OPTIONS = (
    "url",
    "groups",
    "host_id",
    "json_topics",
    "share",
    "client_id",
    "reorder_timeout_s",
    "session_expiry_s",
    "keepalive_s",
    "node_machines",
    "username",
    "password",
)


class MqttConfigError(ValueError):
    """A connector option that cannot work; the message names the option."""


class JsonPayloadError(ValueError):
    """A JSON topic payload that is not ``{"ts": ..., "values": {tag: value}}``; the message says what is wrong."""


@dataclass(frozen=True)
class BrokerUrl:
    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = None


def parse_broker_url(url: str) -> BrokerUrl:
    """``mqtt://[user:password@]host[:port]`` (1883) or ``mqtts://...`` (TLS, 8883); a bare ``host:port`` works."""
    parts = urlsplit(url if "://" in url else f"mqtt://{url}")
    if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
        raise MqttConfigError(f"broker url {url!r}: scheme must be mqtt:// or mqtts://")
    tls = parts.scheme in ("mqtts", "ssl")
    try:
        port = parts.port or (8883 if tls else 1883)
    except ValueError:
        raise MqttConfigError(f"broker url {url!r}: the port is not a number from 1 to 65535") from None
    return BrokerUrl(
        parts.hostname or "127.0.0.1",
        port,
        tls,
        unquote(parts.username) if parts.username else None,
        unquote(parts.password) if parts.password else None,
    )


def broker_address(url: str) -> tuple[str, int]:
    """Host and port of a broker url."""
    parsed = parse_broker_url(url)
    return parsed.host, parsed.port


def _check_filter(topic: str, what: str) -> str:
    if not isinstance(topic, str) or not topic:
        raise MqttConfigError(f"{what} must be a non-empty MQTT topic filter")
    levels = topic.split("/")
    for i, level in enumerate(levels):
        if ("#" in level and (level != "#" or i != len(levels) - 1)) or ("+" in level and level != "+"):
            raise MqttConfigError(f"{what} {topic!r}: '+' must fill a whole level and '#' only the last one")
    return topic


@dataclass(frozen=True)
class JsonTopic:
    """A topic filter whose messages are JSON values of one machine, named by a topic level or fixed."""

    topic: str
    machine_level: int | None = None
    machine: str | None = None
    machines: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_config(cls, entry: Any) -> JsonTopic:
        if not isinstance(entry, Mapping) or "topic" not in entry:
            raise MqttConfigError(f"json_topics entry {entry!r} needs a 'topic'")
        unknown = set(entry) - {"topic", "machine_level", "machine", "machines"}
        if unknown:
            raise MqttConfigError(f"json_topics entry {entry['topic']!r}: unknown keys {sorted(unknown)}")
        topic = _check_filter(entry["topic"], "json_topics topic")
        machine = entry.get("machine")
        level = entry.get("machine_level", None if machine else 1)
        if machine is not None and not (isinstance(machine, str) and machine):
            raise MqttConfigError(f"json_topics {topic!r}: machine must be a machine code")
        if level is not None:
            levels = topic.split("/")
            if isinstance(level, bool) or not isinstance(level, int) or not 0 <= level < len(levels):
                raise MqttConfigError(f"json_topics {topic!r}: machine_level must be a level 0..{len(levels) - 1}")
            if levels[level] == "#":
                raise MqttConfigError(f"json_topics {topic!r}: machine_level {level} is the '#' wildcard")
        machines = entry.get("machines") or {}
        if not isinstance(machines, Mapping):
            raise MqttConfigError(f"json_topics {topic!r}: machines must map topic levels to machine codes")
        return cls(topic, level, machine, dict(machines))

    def machine_of(self, topic: str) -> str:
        if self.machine_level is None:
            return self.machine or ""
        levels = topic.split("/")
        if self.machine_level >= len(levels):
            raise JsonPayloadError(f"topic {topic!r} has no level {self.machine_level} to name the machine")
        level = levels[self.machine_level]
        return self.machines.get(level, level)


def _json_time(raw: Any) -> datetime:
    if isinstance(raw, bool):
        raise JsonPayloadError(f"ts {raw!r} is neither epoch milliseconds nor ISO 8601 with a UTC offset")
    if isinstance(raw, (int, float)):
        try:
            return datetime.fromtimestamp(raw / 1000, tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            raise JsonPayloadError(f"ts {raw!r} ms is not a representable time") from None
    try:
        ts = datetime.fromisoformat(str(raw))
    except ValueError:
        raise JsonPayloadError(f"ts {raw!r} is neither epoch milliseconds nor ISO 8601") from None
    if ts.tzinfo is None:
        raise JsonPayloadError(f"ts {raw!r} has no UTC offset")
    return ts.astimezone(timezone.utc)


def json_signals(source: str, spec: JsonTopic, topic: str, payload: bytes, received: datetime) -> list[Signal]:
    """The Signals of a JSON topic message ``{"ts": ..., "values": {tag: value}}``.

    ts: epoch milliseconds or ISO 8601 with an offset; without one, the time of reception (and then a
    redelivered copy is not recognised by its source_id).  A null value is kept with quality BAD.
    """
    try:
        doc = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise JsonPayloadError(f"payload is not JSON: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("values"), dict):
        raise JsonPayloadError('payload must be an object with "values": {tag: value}')
    ts = received if doc.get("ts") is None else _json_time(doc["ts"])
    machine = spec.machine_of(topic)
    stamp = ts.isoformat()
    out = []
    for tag, value in doc["values"].items():
        if value is not None and not isinstance(value, (int, float, str, bool)):
            raise JsonPayloadError(f"value of {tag!r} must be a number, text, boolean or null")
        if isinstance(value, float) and not math.isfinite(value):
            raise JsonPayloadError(f"value of {tag!r} must be a finite number, not {value}")
        quality = Quality.GOOD if value is not None else Quality.BAD
        out.append(Signal(source, machine, str(tag), value, ts, quality, f"{topic}@{stamp}:{tag}"))
    return out


@dataclass(slots=True)
class _Batch:
    """Inbox items decoded, waiting for their commit: what they mean, and the messages to acknowledge after it."""

    result: HostResult = field(default_factory=HostResult)
    acks: list[tuple[int, mqtt.MQTTMessage]] = field(default_factory=list)
    messages: int = 0
    republish_state: bool = False


def _state(online: bool, ts_ms: int) -> str:
    return json.dumps({"online": online, "timestamp": ts_ms})


class MqttConnector:
    """A Sparkplug host application and JSON topic reader on one MQTT v5 connection."""

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
        batch_delay_s: float = 0.0,
        max_batch: int = 5000,
        *,
        node_machine_for: dict[str, str] | None = None,
        session_expiry_s: int = SESSION_EXPIRY_S,
        keepalive_s: int = 10,
        reconnect_min_s: int = 1,
        reconnect_max_s: int = 30,
        commit_retry_max_s: float = 30.0,
        keep_quarantined: int = 100,
        username: str | None = None,
        password: str | None = None,
    ):
        """``username``/``password`` override credentials given in ``url``."""
        self.name = name
        self.broker = parse_broker_url(url)
        if username is not None:
            self.broker = BrokerUrl(self.broker.host, self.broker.port, self.broker.tls, username, password)
        self.groups = [g if g == "+" else check_id(g, "group id") for g in (groups or [])]
        self.host_id = check_id(host_id, "host id")
        self.json_topics = [JsonTopic.from_config(t) for t in (json_topics or [])]
        if share is not None:
            check_id(share, "shared subscription name")
        if session_expiry_s < 0:
            raise MqttConfigError(f"session_expiry_s must be 0 (clean session) or more, not {session_expiry_s}")
        if max_batch < 1:
            raise MqttConfigError(f"max_batch must be at least 1, not {max_batch}")
        self.share = share
        self.client_id = client_id or f"shopfloor-{name}"
        self.quarantine = quarantine
        self.batch_delay_s = batch_delay_s
        self.max_batch = max_batch
        self.session_expiry_s = session_expiry_s
        self.keepalive_s = keepalive_s
        self.reconnect_min_s, self.reconnect_max_s = reconnect_min_s, reconnect_max_s
        self.commit_retry_max_s = commit_retry_max_s
        self.sparkplug = SparkplugHost(
            name,
            machine_for,
            reorder_timeout_s,
            node_machine_for=node_machine_for,
            check_sequence=share is None,
            emit_births=share is None,
        )
        self.status = ConnectorStatus(name=name, protocol="mqtt", endpoint=f"{self.broker.host}:{self.broker.port}")
        self.rebirth_requests = 0
        self.quarantined: deque[Quarantined] = deque(maxlen=keep_quarantined)
        self.state_topic = state_topic(self.host_id)
        self.client: mqtt.Client | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._inbox: deque[tuple[str, int, Any]] = deque()
        self._arrived: asyncio.Event | None = None
        self._wake_pending = False  # set by paho's thread, cleared by the event loop before it drains the inbox
        self._generation = 0  # written by paho's thread only
        self._subscribe_mid: int | None = None
        self._state_ts = 0
        self._connections = 0
        self._down_at: datetime | None = None

    @classmethod
    def from_config(
        cls,
        name: str,
        options: dict[str, Any],
        machines: dict[str, dict[str, Any]],
        quarantine: Quarantine | None = None,
    ) -> MqttConnector:
        """From a plant file's connector options; each machine may name its Sparkplug ``device`` (and ``edge``)."""
        unknown = sorted(set(options) - set(OPTIONS))
        if unknown:
            raise MqttConfigError(f"connector {name}: unknown options {unknown}; known: {', '.join(OPTIONS)}")
        if "url" not in options:
            raise MqttConfigError(f"connector {name}: url of the broker is required (mqtt://host:1883)")
        machine_for = {}
        for code, cfg in machines.items():
            device = cfg.get("device", code)
            machine_for[f"{cfg['edge']}/{device}" if cfg.get("edge") else device] = code
        try:
            return cls(
                name,
                str(options["url"]),
                list(options.get("groups") or []),
                str(options.get("host_id", "shopfloor")),
                list(options.get("json_topics") or []),
                machine_for,
                options.get("share"),
                options.get("client_id"),
                quarantine,
                float(options.get("reorder_timeout_s", 2.0)),
                node_machine_for=dict(options.get("node_machines") or {}),
                session_expiry_s=int(options.get("session_expiry_s", SESSION_EXPIRY_S)),
                keepalive_s=int(options.get("keepalive_s", 10)),
                username=options.get("username"),
                password=options.get("password"),
            )
        except (TypeError, ValueError) as exc:  # MqttConfigError and SparkplugError are ValueErrors too
            raise MqttConfigError(f"connector {name}: {exc}") from None

    def subscriptions(self) -> list[tuple[str, int]]:
        """Topic filters and QoS, in the order they are subscribed."""
        subs = [(self.state_topic, 1)]
        for group in self.groups:
            if self.share is None:
                subs.append((f"{NAMESPACE}/{group}/#", 1))
                continue
            subs += [(f"{NAMESPACE}/{group}/{t}/+", 1) for t in ("NBIRTH", "NDEATH")]
            subs += [(f"{NAMESPACE}/{group}/{t}/+/+", 1) for t in ("DBIRTH", "DDEATH")]
            subs += [(f"$share/{self.share}/{NAMESPACE}/{group}/NDATA/+", 1)]
            subs += [(f"$share/{self.share}/{NAMESPACE}/{group}/DDATA/+/+", 1)]
        for spec in self.json_topics:
            subs.append((f"$share/{self.share}/{spec.topic}" if self.share else spec.topic, 1))
        return subs

    # -- paho's thread: post, never block ------------------------------------------------------------------
    def _post(self, kind: str, data: Any = None) -> None:
        loop, arrived = self._loop, self._arrived
        if loop is None or arrived is None or loop.is_closed():
            return
        self._inbox.append((kind, self._generation, data))
        if self._wake_pending:
            return  # the event loop has not drained the inbox yet: it will find this item too
        self._wake_pending = True
        try:
            loop.call_soon_threadsafe(arrived.set)
        except RuntimeError:
            pass  # the event loop is closing: what was not acknowledged, the broker sends again

    def _take(self) -> list[tuple[str, int, Any]]:
        """Up to ``max_batch`` items from the inbox, in arrival order (event loop)."""
        assert self._arrived is not None
        # Cleared before draining: an item appended after this point either is drained now or wakes us again.
        self._arrived.clear()
        self._wake_pending = False
        inbox, items = self._inbox, []
        while inbox and len(items) < self.max_batch:
            items.append(inbox.popleft())
        if inbox:
            self._arrived.set()  # more than one batch waiting
        return items

    def _on_pre_connect(self, client: mqtt.Client, userdata: Any) -> None:
        self._state_ts = int(time.time() * 1000)
        client.will_set(self.state_topic, _state(False, self._state_ts), qos=1, retain=True)

    def _on_connect(self, client: mqtt.Client, userdata, flags, reason_code, properties=None) -> None:
        if reason_code.is_failure:
            self._post("refused", str(reason_code))
            return
        self._generation += 1
        self._subscribe_mid = client.subscribe(self.subscriptions())[1]
        self._post("up", bool(getattr(flags, "session_present", False)))

    def _on_subscribe(self, client: mqtt.Client, userdata, mid, reason_codes, properties=None) -> None:
        if mid != self._subscribe_mid:
            return
        refused = [f"{topic} ({rc})" for (topic, _), rc in zip(self.subscriptions(), reason_codes) if rc.is_failure]
        # The host's birth goes out once its subscriptions are in place (tck-id-message-flow-phid-sparkplug-...).
        client.publish(self.state_topic, _state(True, self._state_ts), qos=1, retain=True)
        # The status shows the link at once, even while the event loop is retrying a commit.
        self.status.connected = True
        self._post("ready", refused)

    def _on_disconnect(self, client: mqtt.Client, userdata, flags, reason_code, properties=None) -> None:
        self.status.connected = False
        self._post("down", str(reason_code))

    def _on_connect_fail(self, client: mqtt.Client, userdata) -> None:
        self._post("refused", f"cannot reach {self.broker.host}:{self.broker.port}")

    def _on_message(self, client: mqtt.Client, userdata, msg: mqtt.MQTTMessage) -> None:
        self._post("msg", msg)

    def _make_client(self) -> mqtt.Client:
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=mqtt.MQTTv5, manual_ack=True
        )
        if self.broker.username is not None:
            client.username_pw_set(self.broker.username, self.broker.password)
        if self.broker.tls:
            client.tls_set()
        client.on_pre_connect = self._on_pre_connect
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_disconnect = self._on_disconnect
        client.on_connect_fail = self._on_connect_fail
        client.on_message = self._on_message
        client.reconnect_delay_set(min_delay=self.reconnect_min_s, max_delay=self.reconnect_max_s)
        return client

    # -- the event loop ------------------------------------------------------------------------------------
    async def run(self, emit: Emit) -> None:
        """Connect, hand Signals to ``emit``, reconnect with back-off, until cancelled."""
        self._loop = asyncio.get_running_loop()
        self._inbox.clear()
        self._arrived = asyncio.Event()
        self._wake_pending = False
        client = self.client = self._make_client()
        props = Properties(PacketTypes.CONNECT)
        if self.session_expiry_s:
            props.SessionExpiryInterval = self.session_expiry_s
        client.connect_async(
            self.broker.host,
            self.broker.port,
            keepalive=self.keepalive_s,
            clean_start=self.session_expiry_s == 0,
            properties=props,
        )
        client.loop_start()
        tick = min(0.25, self.sparkplug.reorder_timeout_s / 4)
        committing: asyncio.Task[None] | None = None
        try:
            while True:
                try:
                    # asyncio.timeout, not wait_for: Python 3.11's wait_for can swallow a cancellation that
                    # arrives together with a result (CPython issue #86296), and the connector would never stop.
                    async with asyncio.timeout(tick):
                        await self._arrived.wait()
                except TimeoutError:
                    pass
                if self._inbox and self.batch_delay_s > 0:
                    await asyncio.sleep(self.batch_delay_s)  # let a burst gather into one commit
                # Decoding this batch overlaps the commit of the one before; commits (and acknowledgements)
                # still happen one at a time, in the order the messages arrived.
                batch = self._decode(self._take())
                if committing is not None:
                    await committing
                committing = asyncio.create_task(self._settle(batch, emit))
        finally:
            if committing is not None and not committing.done():
                # Not acknowledged: the broker delivers these messages again.
                committing.cancel()
                await asyncio.gather(committing, return_exceptions=True)
            self.status.connected = False
            await self._stop(client)

    async def _stop(self, client: mqtt.Client) -> None:
        def stop() -> None:
            if client.is_connected():
                # The host's death before a clean DISCONNECT (the broker sends the Will only on a broken link).
                info = client.publish(self.state_topic, _state(False, self._state_ts), qos=1, retain=True)
                try:
                    info.wait_for_publish(2)
                except (RuntimeError, ValueError):
                    pass
            client.disconnect()
            client.loop_stop()

        try:
            await asyncio.to_thread(stop)
        except RuntimeError:  # no executor any more (the event loop is shutting down)
            stop()

    def _decode(self, items: list[tuple[str, int, Any]]) -> _Batch:
        """What a batch of inbox items means (Sparkplug session, JSON topics, connection events); no I/O."""
        now = datetime.now(timezone.utc)
        batch = _Batch()
        result = batch.result
        for kind, generation, data in items:
            if kind == "msg":
                batch.messages += 1
                msg: mqtt.MQTTMessage = data
                if msg.qos > 0:
                    batch.acks.append((generation, msg))
                batch.republish_state |= self._receive(msg, now, result)
            else:
                self._event(kind, data, now, result)
        result.extend(self.sparkplug.check_timeouts(now))
        return batch

    async def _settle(self, batch: _Batch, emit: Emit) -> None:
        """Commit a decoded batch, then acknowledge its messages and send the requests it asked for."""
        result = batch.result
        if batch.republish_state and self.client is not None:
            self.client.publish(self.state_topic, _state(True, self._state_ts), qos=1, retain=True)
        if batch.messages:
            self.status.record_messages(batch.messages)
        await self._commit(emit, result.signals, result.quarantined)
        if result.signals:
            self.status.last_value_at = max(s.ts for s in result.signals)
        client = self.client
        if client is not None:
            for generation, msg in batch.acks:
                if generation == self._generation:
                    client.ack(msg.mid, msg.qos)
        self._request_rebirths(result.rebirths)

    def _receive(self, msg: mqtt.MQTTMessage, now: datetime, result: HostResult) -> bool:
        """Add what one message means to ``result``; True when the host must publish its birth again."""
        topic = msg.topic
        if topic == self.state_topic:
            try:
                return json.loads(msg.payload).get("online") is False
            except (ValueError, AttributeError):
                return True  # whatever it is, the retained STATE must say online
        if topic.startswith(f"{NAMESPACE}/"):
            if topic.startswith(f"{NAMESPACE}/STATE/"):
                result.ignored += 1  # another host application's state
            else:
                result.extend(self.sparkplug.receive(topic, msg.payload, now))
            return False
        spec = next((t for t in self.json_topics if mqtt.topic_matches_sub(t.topic, topic)), None)
        try:
            if spec is None:
                raise JsonPayloadError("no json_topics entry matches this topic")
            result.signals.extend(json_signals(self.name, spec, topic, msg.payload, now))
        except JsonPayloadError as exc:
            result.quarantined.append(Quarantined(topic, str(exc), bytes(msg.payload), now))
        return False

    def _event(self, kind: str, data: Any, now: datetime, result: HostResult) -> None:
        if kind == "up":
            self._connections += 1
            if self._connections > 1 and self.session_expiry_s and not data:
                # The broker lost our session (expired, or restarted without persistence): what was sent while
                # we were away is gone, so the values are STALE from the moment the link broke.
                result.extend(self.sparkplug.connection_lost(self._down_at or now, forget=True))
            if self._connections > 1 and (self.session_expiry_s == 0 or not data):
                result.extend(self.sparkplug.rebirth_all(now))  # every edge node seen tells its values again
        elif kind == "ready":
            self.status.connected = True
            if data:
                self.status.record_error(f"broker refused subscriptions: {', '.join(data)}")
        elif kind == "down":
            log.warning("%s: lost the broker connection (%s); reconnecting", self.name, data)
            self.status.connected = False
            self.status.record_error(f"disconnected: {data}")
            self._down_at = now
            if self.session_expiry_s == 0:
                # A clean session keeps nothing for us: every value is STALE now (Sparkplug host behaviour).
                result.extend(self.sparkplug.connection_lost(now, forget=True))
        elif kind == "refused":
            self.status.record_error(f"broker refused the connection: {data}")

    async def _commit(self, emit: Emit, signals: list[Signal], quarantined: list[Quarantined]) -> None:
        """Hand over Signals and quarantined input; retried with back-off until it succeeds (or is cancelled)."""
        self.quarantined.extend(quarantined)
        self.status.quarantined_total += len(quarantined)
        if quarantined:
            self.status.last_error = f"quarantined {quarantined[-1].topic}: {quarantined[-1].reason}"
        todo = list(quarantined)
        delay = 0.5
        while True:
            try:
                if signals:
                    await emit(signals)
                    signals = []
                while todo:
                    if self.quarantine is not None:
                        await self.quarantine(self.name, f"{todo[0].topic}: {todo[0].reason}", todo[0].payload)
                    todo.pop(0)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - whatever the store raised, the batch is kept and retried
                self.status.record_error(f"commit failed, retrying in {delay:g} s: {exc!r}")
                log.warning("%s: commit failed (%r); retrying in %g s", self.name, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.commit_retry_max_s)

    def _request_rebirths(self, nodes: list[tuple[str, str]]) -> None:
        client = self.client
        if client is None or not nodes:
            return
        for group, edge in dict.fromkeys(nodes):
            payload = Payload(timestamp=int(time.time() * 1000))
            set_metric_value(payload.metrics.add(name=REBIRTH_METRIC), DT["Boolean"], True)
            client.publish(node_topic(group, "NCMD", edge), payload.SerializeToString(), qos=0)
            self.rebirth_requests += 1
