"""MQTT v5 connector: Sparkplug B edge nodes and plain JSON topics, as a Sparkplug host application.

Delivery.  The connector keeps a persistent MQTT session (Clean Start = false, a Session Expiry Interval), so
the broker queues QoS 1 messages while it is away and resends what it did not acknowledge, and it acknowledges
each QoS 1 message only after ``emit`` returned, i.e. after the Signals are committed,
and after quarantined input was handed to ``quarantine``.  A commit that fails is retried with back-off, never
acknowledged and never skipped.  The Sparkplug 3.0 specification asks a host application for a clean session
(``tck-id-message-flow-phid-sparkplug-clean-session-50``), because Sparkplug state comes back with a rebirth;
JSON topics and QoS 1 Sparkplug data need the broker's queue for acknowledgement after commit, so the session
is persistent unless ``session_expiry_s`` is 0 (then clean, as the specification says).

One event loop.  The MQTT connection (``mqtt_client``, an MQTT v5 client on asyncio) reads on the event loop
itself: each socket read yields every whole packet in it, appended as ``(kind, generation, data)`` to an inbox;
connection events (up, ready, down, refused) go to the same inbox, in order.  The connector takes up to
``max_batch`` items (or ``MAX_BATCH_BYTES`` of payload; ``FIRST_BATCH_BYTES`` when nothing is committing) at a
time, decodes them (Sparkplug session, JSON topics), and commits them while it decodes the next batch; commits,
acknowledgements (one write per batch) and rebirth requests go one batch at a time, in arrival order.  Given the
writer's emit (``hand_over``), each batch is handed over as soon as it is decoded, behind the one committing, so
the writer never waits for it; a batch handed over behind one whose commit fails is not committed either, and
both are emitted again in order.  ``generation`` counts connections: a message is
acknowledged only on the connection that delivered it; after a reconnection the broker resends it itself.
While more than ``4 * max_batch`` items wait in the inbox, the connection stops reading, so a slow store holds
messages back at the broker rather than in memory.

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
``{"id": "m-1042", "ts": "2026-03-02T06:00:00+09:00" | 1772400000000, "values": {"State": 1, "TotalCount": 17}}``.
A message is identified by its topic and ``id`` (the publisher's message id: a resend with the same id is stored
once), or, without an ``id``, by its topic and ``ts``: counter readings and state changes of one instant are
still told apart by the values they report, but a publisher that may send the very same values twice at one
instant on purpose must give each message an ``id``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import unquote, urlsplit

from shopfloor.connectors.base import (
    RECONNECT_MAX_S,
    RECONNECT_MIN_S,
    ConnectorConfigError,
    ConnectorState,
    ConnectorStatus,
    Emit,
    Quality,
    Signal,
    SignalBlock,
    state_prefix,
    stateful,
)
from shopfloor.connectors.mqtt_client import (
    Message,
    MqttLink,
    MqttProtocolError,
    MqttRefused,
    Will,
    connect,
    connect_packet,
    reason_text,
    topic_matches,
)
from shopfloor.connectors.sparkplug.codec import DT, set_metric_value
from shopfloor.connectors.sparkplug.host import REBIRTH_METRIC, HostResult, Quarantined, SparkplugHost
from shopfloor.connectors.sparkplug.schema import Payload
from shopfloor.connectors.sparkplug.topics import NAMESPACE, check_id, node_topic, state_topic

log = logging.getLogger(__name__)
Quarantine = Callable[[str, str, bytes], Awaitable[None]]  # (source, reason, payload)
SESSION_EXPIRY_S = 3600
# The broker handing this client's session to another client with the same id this many times within
# TAKEOVER_WINDOW_S is two processes fighting over one client id: a configuration error, not a fault.  A broker
# says so with reason 0x8E (Session taken over); some (Mosquitto 2.0.11) only close the connection, so a
# connection the broker closes within SHORT_LIFE_S of accepting it counts too, as long as every reconnection is
# accepted at once (a broker that is going down refuses some in between).
TAKEOVER_LIMIT, TAKEOVER_WINDOW_S, SHORT_LIFE_S = 4, 60.0, 10.0
SESSION_TAKEN_OVER = 0x8E
# Payload bytes taken from the inbox into one batch: about 50,000 plain values, one transaction (paired runs of
# bench_ingest: 1 MiB 5-15% faster than 512 KiB, the fsync of each commit counting less).
MAX_BATCH_BYTES = 1024 * 1024
FIRST_BATCH_BYTES = 64 * 1024  # at most, when nothing is being committed: the first values are stored sooner
# Decoded between two turns of the event loop: this many inbox items, or this many values, whichever first.
_DECODE_SLICE_ITEMS, _DECODE_SLICE_VALUES = 100, 500
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


class MqttConfigError(ConnectorConfigError):
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
    redelivered copy is not recognised by its source_id).  id: the publisher's message id (text or a whole
    number), the message's identity when given.  A null value is kept with quality BAD.
    """
    try:
        doc = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise JsonPayloadError(f"payload is not JSON: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("values"), dict):
        raise JsonPayloadError('payload must be an object with "values": {tag: value}')
    ts = received if doc.get("ts") is None else _json_time(doc["ts"])
    machine = spec.machine_of(topic)
    message_id = doc.get("id")
    if message_id is not None and (isinstance(message_id, bool) or not isinstance(message_id, (str, int))):
        raise JsonPayloadError(f"id {message_id!r} must be text or a whole number (the publisher's message id)")
    stamp = f"#{message_id}" if message_id is not None else f"@{ts.isoformat()}"
    out = []
    for tag, value in doc["values"].items():
        if value is not None and not isinstance(value, (int, float, str, bool)):
            raise JsonPayloadError(f"value of {tag!r} must be a number, text, boolean or null")
        if isinstance(value, float) and not math.isfinite(value):
            raise JsonPayloadError(f"value of {tag!r} must be a finite number, not {value}")
        quality = Quality.GOOD if value is not None else Quality.BAD
        out.append(Signal(source, machine, str(tag), value, ts, quality, f"{topic}{stamp}:{tag}"))
    return out


@dataclass(slots=True)
class _Batch:
    """Inbox items decoded, waiting for their commit: what they mean, and the messages to acknowledge after it."""

    result: HostResult = field(default_factory=HostResult)
    acks: list[tuple[int, Message]] = field(default_factory=list)
    messages: int = 0
    republish_state: bool = False
    handed: asyncio.Future[None] | None = None  # its Signals as handed over to the writer, before its turn
    state: ConnectorState | None = None  # the Sparkplug sessions as they stand after these messages


def _failed(fut: asyncio.Future[None] | None) -> bool:
    """Whether a handed-over batch is done and was not committed."""
    return fut is not None and fut.done() and (fut.cancelled() or fut.exception() is not None)


def default_client_id(site: str | None, connector: str, worker: str) -> str:
    """``shopfloor-<site>-<connector>-<worker>``: two plants with a connector of the same name, or two workers
    of one connector, never share a session (letters, digits, ``-`` and ``_`` only, as every broker accepts)."""
    parts = [p for p in ("shopfloor", site, connector, worker) if p]
    return re.sub(r"[^A-Za-z0-9_-]+", "_", "-".join(parts))


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
        reconnect_min_s: float = RECONNECT_MIN_S,
        reconnect_max_s: float = RECONNECT_MAX_S,
        commit_retry_max_s: float = 2.0,
        keep_quarantined: int = 100,
        username: str | None = None,
        password: str | None = None,
        worker: str = "main",
        site: str | None = None,
    ):
        """``username``/``password`` override credentials given in ``url``.  ``worker`` names this ingest worker:
        its Sparkplug sessions are kept in the store under it."""
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
        self.client_id = client_id or default_client_id(site, name, worker)
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
        self.sparkplug.blocks = True  # a plain DATA payload is handed on as one SignalBlock
        self.status = ConnectorStatus(name=name, protocol="mqtt", endpoint=f"{self.broker.host}:{self.broker.port}")
        self.rebirth_requests = 0
        self.quarantined: deque[Quarantined] = deque(maxlen=keep_quarantined)
        self.state_topic = state_topic(self.host_id)
        self.state_prefix = state_prefix(name, worker)
        self._stateful = False  # whether the emit commits the Sparkplug sessions with the batches
        self.link: MqttLink | None = None
        self._inbox: deque[tuple[str, int, Any]] = deque()
        self._arrived: asyncio.Event | None = None
        # Received but not yet decoded: above this many the link stops reading (TCP holds the rest back).
        self._high_water = 4 * max_batch
        self._generation = 0  # counts connections
        self._state_ts = 0
        self._connections = 0
        self._down_at: datetime | None = None
        self._takeovers: deque[float] = deque(maxlen=TAKEOVER_LIMIT)
        self.stop_timeout_s = 10.0  # how long a stop waits for the commit in flight

    @classmethod
    def from_config(
        cls,
        name: str,
        options: dict[str, Any],
        machines: dict[str, dict[str, Any]],
        quarantine: Quarantine | None = None,
        site: str | None = None,
        worker: str = "main",
    ) -> MqttConnector:
        """From a plant file's connector options; each machine may name its Sparkplug ``device`` (and ``edge``).
        ``site`` and ``worker`` make the default client id unique per plant, connector and ingest worker."""
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
                worker=worker,
                site=site,
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

    # -- the link: connect, subscribe, reconnect -----------------------------------------------------------
    def _post(self, kind: str, data: Any = None) -> None:
        self._inbox.append((kind, self._generation, data))
        if self._arrived is not None:
            self._arrived.set()

    def _on_message(self, msg: Message) -> None:
        self._post("msg", msg)

    def _take(self, max_bytes: int = MAX_BATCH_BYTES) -> list[tuple[str, int, Any]]:
        """Up to ``max_batch`` items, or ``max_bytes`` of payload, from the inbox, in arrival order.

        A batch of moderate size is committed while the next one is decoded; one batch of everything that
        arrived (a burst of large messages) would be decoded and then committed with nothing beside it."""
        assert self._arrived is not None
        self._arrived.clear()
        inbox, items, size = self._inbox, [], 0
        while inbox and len(items) < self.max_batch and size < max_bytes:
            item = inbox.popleft()
            items.append(item)
            if item[0] == "msg":
                size += len(item[2].payload)
        if inbox:
            self._arrived.set()  # more than one batch waiting
        if self.link is not None and len(inbox) < self._high_water // 2:
            self.link.resume()
        return items

    async def _keep_connected(self) -> None:
        """Connect, subscribe and publish the host's birth; after a drop or a refusal, again with back-off."""
        delay = self.reconnect_min_s
        while True:
            self._state_ts = int(time.time() * 1000)
            packet = connect_packet(
                self.client_id,
                self.keepalive_s,
                clean_start=self.session_expiry_s == 0,
                session_expiry_s=self.session_expiry_s,
                will=Will(self.state_topic, _state(False, self._state_ts).encode(), qos=1, retain=True),
                username=self.broker.username,
                password=self.broker.password,
            )
            self._generation += 1  # before the CONNACK: a session's messages may follow it at once
            try:
                link = await connect(
                    self.broker.host,
                    self.broker.port,
                    packet,
                    self._on_message,
                    self.keepalive_s,
                    tls=self.broker.tls,
                    high_water=self._high_water,
                    held=self._inbox.__len__,
                    on_connack=lambda ack: self._post("up", ack.session_present),
                )
            except MqttRefused as exc:
                self._takeovers.clear()
                self._post("refused", str(exc))
            except (OSError, TimeoutError, MqttProtocolError):
                self._takeovers.clear()
                self._post("refused", f"cannot reach {self.broker.host}:{self.broker.port}")
            else:
                self.link = link
                connected_at = time.monotonic()
                subscriptions = self.subscriptions()
                try:
                    codes = await link.subscribe(subscriptions)
                except (ConnectionError, TimeoutError, MqttProtocolError) as exc:
                    link.close(f"subscribing failed: {exc}")
                else:
                    refused = [f"{t} ({reason_text(c)})" for (t, _), c in zip(subscriptions, codes) if c >= 0x80]
                    try:
                        # The host's birth goes out once its subscriptions are in place (tck-id-message-flow-...).
                        link.publish(self.state_topic, _state(True, self._state_ts), qos=1, retain=True)
                    except ConnectionError:
                        pass  # the link broke meanwhile: ``closed`` below says why
                    else:
                        self.status.connected = True
                        self._post("ready", refused)
                        delay = self.reconnect_min_s
                reason = await asyncio.shield(link.closed)
                self.status.connected = False
                self._post("down", reason)
                short = time.monotonic() - connected_at < SHORT_LIFE_S
                if link.disconnect_code == SESSION_TAKEN_OVER or (link.closed_by_server and short):
                    self._taken_over()
                else:
                    self._takeovers.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.reconnect_max_s)

    def _taken_over(self) -> None:
        """Count the broker handing our session to another client; refuse to go on when it keeps happening."""
        now = time.monotonic()
        self._takeovers.append(now)
        if len(self._takeovers) == TAKEOVER_LIMIT and now - self._takeovers[0] <= TAKEOVER_WINDOW_S:
            raise MqttConfigError(
                f"connector {self.name}: another MQTT client uses the client id {self.client_id!r}: the broker "
                f"took the session away {TAKEOVER_LIMIT} times in {now - self._takeovers[0]:.0f} s. "
                "Give each ingest worker its own client_id, or leave client_id out (the default is unique per "
                "plant, connector and worker)"
            )

    # -- the event loop ------------------------------------------------------------------------------------
    async def run(self, emit: Emit) -> None:
        """Connect, hand Signals to ``emit``, reconnect with back-off, until cancelled."""
        self._inbox.clear()
        self._arrived = asyncio.Event()
        self._stateful = stateful(emit)
        if self._stateful:
            # The sessions as last committed: what the broker delivers again is decoded with the births it needs.
            saved = await asyncio.to_thread(emit.saved_state, self.state_prefix)  # type: ignore[attr-defined]
            prefix = len(self.state_prefix)
            self.sparkplug.restore_state({key[prefix:]: doc for key, doc in saved.items()})
            self.sparkplug.export_state()  # nothing to write back: it is what the store holds
        keeper = asyncio.create_task(self._keep_connected(), name=f"mqtt-link-{self.name}")
        tick = min(0.25, self.sparkplug.reorder_timeout_s / 4)
        committing: asyncio.Task[None] | None = None
        # An emit that takes batches ahead of their turn (the writer's): each batch is handed over as soon as it
        # is decoded, so the writer finds it waiting when the commit before ends.
        hand_over = getattr(emit, "hand_over", None)
        previous: _Batch | None = None
        try:
            while True:
                try:
                    # asyncio.timeout, not wait_for: Python 3.11's wait_for can swallow a cancellation that
                    # arrives together with a result (CPython issue #86296), and the connector would never stop.
                    async with asyncio.timeout(tick):
                        await self._arrived.wait()
                except TimeoutError:
                    pass
                if keeper.done():
                    keeper.result()  # a bug in the link keeper: raise it rather than wait forever
                if self._inbox and self.batch_delay_s > 0:
                    await asyncio.sleep(self.batch_delay_s)  # let a burst gather into one commit
                # Decoding this batch overlaps the commit of the one before; commits (and acknowledgements)
                # still happen one at a time, in the order the messages arrived.
                # With nothing committing, a small batch, to be stored at once; behind a commit, a full one.
                idle = committing is None or committing.done()
                batch = await self._decode(self._take(FIRST_BATCH_BYTES if idle else MAX_BATCH_BYTES))
                if hand_over is not None and (batch.result.signals or batch.state):
                    # Handed over only behind a batch that is committed already, or that is itself waiting in
                    # the writer and has not failed: the writer commits them in order, and not this one if that
                    # one fails (this batch's settling then emits it again, in its turn).
                    if committing is None or committing.done():
                        batch.handed = hand_over(batch.result.signals, None, batch.state)
                    elif previous is not None and previous.handed is not None and not _failed(previous.handed):
                        batch.handed = hand_over(batch.result.signals, previous.handed, batch.state)
                previous = batch
                if committing is not None:
                    await asyncio.shield(committing)  # a stop lets it finish (see below)
                if hand_over is not None and (batch.result.signals or batch.state) and batch.handed is None:
                    # Everything before it is committed.
                    batch.handed = hand_over(batch.result.signals, None, batch.state)
                committing = asyncio.create_task(self._settle(batch, emit))
                # Two turns of the event loop: the commit reaches the writer, which hands it to its thread.
                await asyncio.sleep(0)
                await asyncio.sleep(0)
        finally:
            if committing is not None and not committing.done():
                # Stopping (SIGTERM): the commit in flight is finished and acknowledged, for up to
                # ``stop_timeout_s``; what is cut short is not acknowledged, and the broker delivers it again.
                try:
                    async with asyncio.timeout(self.stop_timeout_s):
                        await asyncio.shield(committing)
                except (TimeoutError, asyncio.CancelledError):
                    committing.cancel()
                except Exception:  # noqa: BLE001, S110 - reported by the commit itself; nothing acknowledged
                    pass
                await asyncio.gather(committing, return_exceptions=True)
            keeper.cancel()
            await asyncio.gather(keeper, return_exceptions=True)
            self.status.connected = False
            await self._stop()

    async def _stop(self) -> None:
        link, self.link = self.link, None
        if link is None or not link.is_open:
            return
        # The host's death before a clean DISCONNECT (the broker sends the Will only on a broken link).
        try:
            done = link.publish(self.state_topic, _state(False, self._state_ts), qos=1, retain=True)
            if done is not None:
                async with asyncio.timeout(2):
                    await done
        except (ConnectionError, TimeoutError):
            pass
        link.disconnect()

    async def _decode(self, items: list[tuple[str, int, Any]]) -> _Batch:
        """What a batch of inbox items means (Sparkplug session, JSON topics, connection events); no I/O.

        After every ``_DECODE_SLICE_ITEMS`` items or ``_DECODE_SLICE_VALUES`` values it lets the others run:
        ``time.sleep(0)`` hands the GIL to the writer's thread, which is committing the previous batch and would
        otherwise wait out the interpreter's switch interval (5 ms) each time it comes back from SQLite; the
        event loop turn then lets that commit get under way and the connection be read and kept alive."""
        now = datetime.now(timezone.utc)
        batch = _Batch()
        result = batch.result
        signals, mark = result.signals, 0
        for n, (kind, generation, data) in enumerate(items, 1):
            if kind == "msg":
                batch.messages += 1
                msg: Message = data
                if msg.qos > 0:
                    batch.acks.append((generation, msg))
                batch.republish_state |= self._receive(msg, now, result)
            else:
                self._event(kind, data, now, result)
            if n % _DECODE_SLICE_ITEMS == 0 or len(signals) - mark >= _DECODE_SLICE_VALUES:
                mark = len(signals)
                time.sleep(0)
                await asyncio.sleep(0)
        result.extend(self.sparkplug.check_timeouts(now))
        if self._stateful:
            changed = self.sparkplug.export_state()
            if changed:
                batch.state = {self.state_prefix + key: doc for key, doc in changed.items()}
        return batch

    async def _settle(self, batch: _Batch, emit: Emit) -> None:
        """Commit a decoded batch, then acknowledge its messages and send the requests it asked for."""
        result = batch.result
        if batch.republish_state and self.link is not None and self.link.is_open:
            self.link.publish(self.state_topic, _state(True, self._state_ts), qos=1, retain=True)
        if batch.messages:
            self.status.record_messages(batch.messages)
        await self._commit(emit, result.signals, result.quarantined, batch.handed, batch.state)
        if result.signals:
            self.status.last_value_at = max(s.ts for s in result.signals)
        link = self.link
        if link is not None and link.is_open:
            # Only on the connection that delivered them; after a reconnection the broker sends them again.
            link.ack([msg.mid for generation, msg in batch.acks if generation == self._generation])
        self._request_rebirths(result.rebirths)

    def _receive(self, msg: Message, now: datetime, result: HostResult) -> bool:
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
        spec = next((t for t in self.json_topics if topic_matches(t.topic, topic)), None)
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

    async def _commit(
        self,
        emit: Emit,
        signals: list[Signal | SignalBlock],
        quarantined: list[Quarantined],
        handed: asyncio.Future[None] | None = None,
        state: ConnectorState | None = None,
    ) -> None:
        """Hand over Signals (with the connector state they bring about) and quarantined input; retried with
        back-off until it succeeds (or is cancelled).  ``handed``: the Signals were handed over ahead already;
        only if that failed are they emitted again."""
        if handed is not None:
            await asyncio.wait([handed])
            if not _failed(handed):
                signals, state = [], None
            else:
                why = "cancelled" if handed.cancelled() else repr(handed.exception())
                self.status.record_error(f"commit failed, trying again: {why}")
        self.quarantined.extend(quarantined)
        self.status.quarantined_total += len(quarantined)
        if quarantined:
            self.status.last_error = f"quarantined {quarantined[-1].topic}: {quarantined[-1].reason}"
        todo = list(quarantined)
        delay = 0.5
        while True:
            try:
                if state:
                    await emit(signals, state)  # type: ignore[call-arg]
                    signals, state = [], None
                elif signals:
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
        link = self.link
        if link is None or not link.is_open or not nodes:
            return
        for group, edge in dict.fromkeys(nodes):
            payload = Payload(timestamp=int(time.time() * 1000))
            set_metric_value(payload.metrics.add(name=REBIRTH_METRIC), DT["Boolean"], True)
            link.publish(node_topic(group, "NCMD", edge), payload.SerializeToString(), qos=0)
            self.rebirth_requests += 1
