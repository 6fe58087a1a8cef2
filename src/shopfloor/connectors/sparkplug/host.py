"""The Sparkplug host application's session with each edge node (Eclipse Sparkplug 3.0, chapter 5), without I/O.

``SparkplugHost.receive(topic, payload)`` returns what one MQTT message means: Signals, rebirth requests,
quarantined input.  The connector publishes the rebirth requests (NCMD ``Node Control/Rebirth`` = true) and
commits the Signals; this module never touches the network, so every rule below is tested without a broker.

Per edge node (group id, edge node id):

* NBIRTH starts a session: its ``bdSeq`` metric, its ``seq`` (the specification says 0; any 0..255 is
  accepted), the datatype and alias of every node metric.  DBIRTH does the same for one device.  Aliases are
  unique per edge node (``tck-id-payloads-alias-uniqueness``); DATA carries aliases or names.
* ``seq`` is one counter for node and device messages (NBIRTH, DBIRTH, NDATA, DDATA, DDEATH) that wraps
  from 255 to 0 (``tck-id-payloads-sequence-num-incrementing``).  A message ahead of the expected one is held
  and a reorder timer starts (``tck-id-operational-behavior-host-reordering-start``); when the missing ones
  arrive the held messages are applied in order (``...-reordering-success``); when the Reorder Timeout passes
  first, the held messages are discarded (counted), the session waits for a new birth, and a rebirth is
  requested (``...-reordering-rebirth``).  A redelivered copy of a message already applied (same seq and
  payload timestamp, as after an MQTT reconnection) is ignored.
* DATA, DBIRTH or DDEATH before the NBIRTH, DATA of a device without DBIRTH, a metric that was not in the
  birth certificate, or a payload that is not a Sparkplug protobuf: a rebirth is requested (chapter 5,
  "Rebirth requests"; the last is configurable).  Requests for the same node are spaced by
  ``rebirth_interval_s`` so one broken edge node does not flood the broker.
* NDEATH whose bdSeq equals the current NBIRTH's marks the node's and all its devices' metrics STALE at the
  host's time (``tck-id-operational-behavior-edge-node-termination-host-action-ndeath-node-tags-stale`` and
  ``...-ndeath-devices-tags-stale``); an NDEATH with another bdSeq is the late will of an older session and is
  ignored.  DDEATH marks the device's metrics STALE at the DDEATH's timestamp (``...-ddeath-devices-tags-stale``).
* Input that breaks the specification is quarantined: kept with its topic, its reason and its bytes
  (``quarantine`` list and ``on_quarantine`` callback), never silently dropped.

Signals: machine = the device id, or ``machine_for[group/edge/device | edge/device | device]``; an edge node's
own metrics only when ``node_machine_for[group/edge | edge]`` names a machine.  tag = the metric name (a
template instance's members become ``metric/member``).  ts = the metric's timestamp, else the payload's, else
the time of reception.  quality from the metric's ``Quality`` property; a null value without one is BAD.
source_id = ``group/edge/device:bdSeq:seq:timestamp_ms:tag``, the same for a redelivered copy and different
for every real message (seq alone repeats every 256 messages).  Control metrics (``bdSeq``, ``Node Control/*``)
are not machine signals.  Transient metrics (not to be stored, section "Metric"), DataSets, arrays, bytes and
template definitions are valid but are not machine signals: they are listed in ``HostResult.skipped``.

Plain DATA (every metric a Double, Boolean or String by alias, no properties: what a busy edge node sends) is
read a column at a time: by ``_plain.plain_columns`` in C where it was built, else by protobuf; with ``blocks``
on (the MQTT connector) the payload's Signals are handed on as one ``SignalBlock``.  Either way they are the
Signals the metric-by-metric path makes.
"""

from __future__ import annotations

import base64
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from itertools import repeat
from operator import attrgetter, itemgetter, methodcaller, ne
from typing import Any

from shopfloor.connectors.base import Quality, Signal, SignalBlock, make_signal
from shopfloor.connectors.sparkplug.codec import (
    BASIC_TYPES,
    DATA_TYPE_NAMES,
    DT,
    Table,
    TemplateValue,
    datetime_from_ms,
    decode_payload,
    metric_value,
    quality_of,
)
from shopfloor.connectors.sparkplug.errors import PayloadError
from shopfloor.connectors.sparkplug.schema import Payload
from shopfloor.connectors.sparkplug.topics import Topic, TopicError, parse_topic

try:
    from shopfloor.connectors.sparkplug._plain import plain_columns as _plain_columns
except ImportError:  # not built (no C compiler at install): every payload is decoded by protobuf
    _plain_columns = None

REBIRTH_METRIC = "Node Control/Rebirth"
BDSEQ_METRIC = "bdSeq"
SEQ_MODULUS = 256  # seq and bdSeq run 0..255 and wrap to 0
_TOPIC_CACHE = 10_000
_TIME_CACHE = 10_000  # Sparkplug timestamps (ms) already converted: devices of one scan share theirs
_METRIC_TYPES = frozenset(DATA_TYPE_NAMES) - {DT["Unknown"], DT["PropertySet"], DT["PropertySetList"]}
_SCALARS = frozenset([int, float, str, bool])
_GOOD = Quality.GOOD
# Column readers for _plain_data.
_NAME, _ALIAS, _TIMESTAMP = attrgetter("name"), attrgetter("alias"), attrgetter("timestamp")
_TRANSIENT, _NULL = attrgetter("is_transient"), attrgetter("is_null")
_HAS_PROPERTIES = methodcaller("HasField", "properties")
_HAS_FIELD = Payload.Metric.HasField
_FIRST, _SECOND, _THIRD, _FOURTH = itemgetter(0), itemgetter(1), itemgetter(2), itemgetter(3)
_DATA = frozenset(["NDATA", "DDATA"])
# Datatypes whose value is the protobuf field as it is (codec.metric_value returns it unchanged).
_DIRECT_FIELD = {
    DT["Double"]: "double_value",
    DT["Boolean"]: "boolean_value",
    DT["String"]: "string_value",
    DT["Text"]: "string_value",
    DT["UUID"]: "string_value",
}
_FIELD_TYPE = {"double_value": float, "boolean_value": bool, "string_value": str}
_NOT_SET = object()


@dataclass(frozen=True, slots=True)
class Quarantined:
    """Input that could not be used, kept whole with the reason."""

    topic: str
    reason: str
    payload: bytes
    received_at: datetime


@dataclass(slots=True)
class HostResult:
    """What one message (or one timer check) means for the host application."""

    signals: list[Signal | SignalBlock] = field(default_factory=list)  # blocks where SparkplugHost.blocks is on
    rebirths: list[tuple[str, str]] = field(default_factory=list)  # (group id, edge node id) to send NCMD to
    quarantined: list[Quarantined] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (metric, why): valid, but not a machine signal
    ignored: int = 0  # messages not applied: duplicates, data before birth, older deaths, commands, STATE
    discarded: int = 0  # held out-of-order messages dropped when the reorder timeout asked for a rebirth

    def extend(self, other: HostResult) -> None:
        self.signals.extend(other.signals)
        self.rebirths.extend(other.rebirths)
        self.quarantined.extend(other.quarantined)
        self.skipped.extend(other.skipped)
        self.ignored += other.ignored
        self.discarded += other.discarded


@dataclass(slots=True)
class _Held:
    topic: Topic
    payload: Any
    data: bytes
    received: datetime


@dataclass(slots=True)
class NodeSession:
    """The host's knowledge of one edge node and its devices."""

    group: str
    edge: str
    bdseq: int | None = None
    born: bool = False
    last_seq: int | None = None
    types: dict[tuple[str | None, str], int] = field(default_factory=dict)  # (device, metric) -> datatype
    aliases: dict[int, tuple[str | None, str, int]] = field(default_factory=dict)  # alias -> (device, name, type)
    # The aliases whose DATA values are plain (a Double, Boolean or String metric that is not a control metric):
    # alias -> (device, name, protobuf value field, Python type of its value), for decoding a payload a column
    # at a time.
    plain: dict[int, tuple[str | None, str, str, type]] = field(default_factory=dict)
    # The last alias list of each device's plain DATA, as checked against ``plain``: device -> (aliases, machine,
    # tags, value types).  An edge node sends the same metrics in every DATA of a device; emptied with ``plain``.
    read_plans: dict[str | None, tuple[list[int], str, tuple[str, ...], list[type]]] = field(default_factory=dict)
    tags: dict[str | None, list[str]] = field(default_factory=dict)  # device -> tags its birth announced
    devices: set[str] = field(default_factory=set)  # devices born in this session
    pending: dict[int, _Held] = field(default_factory=dict)  # held out-of-order messages by seq
    pending_since: datetime | None = None
    applied: dict[int, int | None] = field(default_factory=dict)  # seq -> payload timestamp last applied
    rebirth_requested_at: datetime | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.group, self.edge)

    def _drop_device(self, device: str) -> None:
        self.tags.pop(device, None)
        self.devices.discard(device)
        for key in [k for k in self.types if k[0] == device]:
            del self.types[key]
        for alias in [a for a, found in self.aliases.items() if found[0] == device]:
            del self.aliases[alias]
            self.plain.pop(alias, None)
        self.read_plans.clear()


class SparkplugHost:
    """The host application side of every edge node seen; pure, driven by ``receive`` and ``check_timeouts``."""

    def __init__(
        self,
        source: str,
        machine_for: dict[str, str] | None = None,
        reorder_timeout_s: float = 2.0,
        *,
        node_machine_for: dict[str, str] | None = None,
        rebirth_interval_s: float = 5.0,
        rebirth_on_malformed: bool = True,
        check_sequence: bool = True,
        emit_births: bool = True,
        on_quarantine: Callable[[Quarantined], None] | None = None,
        keep_quarantined: int = 100,
    ):
        """``check_sequence`` and ``emit_births`` are off for a worker of a shared subscription, which sees only
        part of each edge node's DATA but every birth (the births are emitted by none, to avoid copies)."""
        if reorder_timeout_s <= 0:
            raise ValueError(f"reorder_timeout_s must be positive, not {reorder_timeout_s}")
        self.source = source
        self.machine_for = dict(machine_for or {})
        self.node_machine_for = dict(node_machine_for or {})
        self.reorder_timeout_s = reorder_timeout_s
        self.rebirth_interval_s = rebirth_interval_s
        self.rebirth_on_malformed = rebirth_on_malformed
        self.check_sequence = check_sequence
        self.emit_births = emit_births
        self.on_quarantine = on_quarantine
        self.nodes: dict[tuple[str, str], NodeSession] = {}
        self.quarantine: deque[Quarantined] = deque(maxlen=keep_quarantined)
        self.quarantined_total = 0
        self._machines: dict[tuple[str, str, str | None], str | None] = {}
        self._topics: dict[str, Topic] = {}  # valid topics already parsed
        self._times: dict[int, datetime] = {}  # ms -> instant, for plain DATA
        # Edge nodes whose session (sequence, births) changed since the last ``export_state``.
        self._touched: set[tuple[str, str]] = set()
        self._births_touched: set[tuple[str, str]] = set()
        self.columns = True  # plain DATA payloads decoded a column at a time (off: metric by metric, for tests)
        self.blocks = False  # plain DATA payloads given as one SignalBlock each rather than as Signals

    # -- entry points --------------------------------------------------------------------------------------
    def receive(self, topic: str, data: bytes, now: datetime | None = None) -> HostResult:
        """One MQTT message on a ``spBv1.0/...`` topic."""
        now = now or datetime.now(timezone.utc)
        parsed = self._topics.get(topic)
        if parsed is None:
            try:
                parsed = parse_topic(topic)
            except TopicError as exc:
                out = HostResult()
                self._quarantine(out, topic, str(exc), data, now)
                return out
            if len(self._topics) >= _TOPIC_CACHE:
                self._topics.clear()  # a plant has far fewer topics; this bounds what a topic flood can hold
            self._topics[topic] = parsed
        return self.handle(parsed, data, now)

    def handle(self, topic: Topic, data: bytes, now: datetime | None = None) -> HostResult:
        """One MQTT message on a parsed Sparkplug topic."""
        now = now or datetime.now(timezone.utc)
        out = HostResult()
        mtype = topic.message_type
        if mtype in ("STATE", "NCMD", "DCMD"):
            out.ignored += 1  # commands and host states are for edge nodes and other hosts
            return out
        node = self.nodes.get(topic.node)
        if node is None:
            node = self.nodes[topic.node] = NodeSession(*topic.node)
        self._touched.add(topic.node)
        try:
            # A plain DATA payload (every metric a known kind of value by alias) is read a column at a time
            # in C; any other payload, or any doubt, goes through protobuf.
            columns = _plain_columns(data) if mtype in _DATA and self.columns and _plain_columns else None
            payload = decode_payload(data) if columns is None else _PlainPayload(*columns)
        except PayloadError as exc:
            self._quarantine(out, str(topic), str(exc), data, now)
            if self.rebirth_on_malformed:
                self._request_rebirth(node, now, out)
            return out
        if mtype == "NDEATH":
            self._ndeath(node, topic, payload, data, now, out)
        elif mtype == "NBIRTH":
            self._nbirth(node, topic, payload, data, now, out)
        elif not node.born:
            out.ignored += 1  # a session is defined by its NBIRTH: nothing can be applied before one
            self._request_rebirth(node, now, out)
        elif not payload.HasField("seq") or payload.seq >= SEQ_MODULUS:
            why = "without a sequence number" if not payload.HasField("seq") else f"with seq {payload.seq} > 255"
            self._quarantine(out, str(topic), f"{mtype} {why}", data, now)
        else:
            self._sequenced(node, topic, payload, data, now, out)
            self._check_timeout(node, now, out)
        return out

    def check_timeouts(self, now: datetime | None = None) -> HostResult:
        """Rebirth requests for edge nodes whose missing messages did not arrive within the reorder timeout."""
        now = now or datetime.now(timezone.utc)
        out = HostResult()
        for node in self.nodes.values():
            self._check_timeout(node, now, out)
        return out

    def connection_lost(self, now: datetime | None = None, forget: bool = False) -> HostResult:
        """The host lost its MQTT connection: every metric of every live session is STALE from ``now``.

        With ``forget`` (a clean MQTT session, where nothing missed is redelivered) the sessions end and each
        edge node must be born again; otherwise they go on with the messages the broker kept.
        """
        now = now or datetime.now(timezone.utc)
        out = HostResult()
        self._touched.update(self.nodes)
        for node in self.nodes.values():
            if node.born:
                self._stale(node, None, now, "lost", out)
                for device in sorted(node.devices):
                    self._stale(node, device, now, "lost", out)
            if forget:
                out.discarded += len(node.pending)
                self._end_session(node)
        return out

    def rebirth_all(self, now: datetime | None = None) -> HostResult:
        """Rebirth requests for every edge node seen (after a reconnection, to refresh every value)."""
        now = now or datetime.now(timezone.utc)
        out = HostResult()
        for node in self.nodes.values():
            node.rebirth_requested_at = None
            self._request_rebirth(node, now, out)
        return out

    # -- persistence ---------------------------------------------------------------------------------------
    def export_state(self) -> dict[str, Any]:
        """What changed since the last export, as JSON documents: per edge node its session (bdSeq, sequence,
        messages applied and held, devices born) and, when a birth changed them, its births (datatypes, aliases,
        tags).  Committed with the Signals of the messages decoded so far, it lets a restarted host decode what
        the broker delivers again (``restore_state``)."""
        docs: dict[str, Any] = {}
        for key in self._touched:
            node = self.nodes.get(key)
            if node is not None:
                docs[f"sparkplug/{key[0]}/{key[1]}/session"] = _session_doc(node)
        for key in self._births_touched:
            node = self.nodes.get(key)
            if node is not None:
                docs[f"sparkplug/{key[0]}/{key[1]}/birth"] = _birth_doc(node)
        self._touched.clear()
        self._births_touched.clear()
        return docs

    def restore_state(self, docs: dict[str, Any]) -> None:
        """Take back the edge node sessions that ``export_state`` gave (keys as it made them)."""
        for key, doc in docs.items():
            parts = key.split("/")
            if len(parts) != 4 or parts[0] != "sparkplug" or parts[3] not in ("session", "birth"):
                continue
            node_key = (parts[1], parts[2])
            node = self.nodes.get(node_key)
            if node is None:
                node = self.nodes[node_key] = NodeSession(*node_key)
            if parts[3] == "birth":
                _restore_birth(node, doc)
            else:
                self._restore_session(node, doc)

    def _restore_session(self, node: NodeSession, doc: dict[str, Any]) -> None:
        node.bdseq = doc.get("bdseq")
        node.born = bool(doc.get("born"))
        node.last_seq = doc.get("last_seq")
        node.applied = {int(seq): ts for seq, ts in doc.get("applied", [])}
        node.devices = set(doc.get("devices", []))
        node.pending = {}
        for seq, topic, data, received in doc.get("pending", []):
            raw = base64.b64decode(data)
            try:
                node.pending[int(seq)] = _Held(parse_topic(topic), decode_payload(raw), raw, _from_iso(received))
            except (TopicError, PayloadError):
                continue  # it was applied-checked when it arrived; a held copy that no longer reads is dropped
        node.pending_since = _from_iso(doc["pending_since"]) if doc.get("pending_since") else None

    # -- sessions ------------------------------------------------------------------------------------------
    def _end_session(self, node: NodeSession) -> None:
        node.born = False
        node.pending.clear()
        node.pending_since = None
        node.devices.clear()

    def _request_rebirth(self, node: NodeSession, now: datetime, out: HostResult) -> None:
        last = node.rebirth_requested_at
        if last is not None and (now - last).total_seconds() < self.rebirth_interval_s:
            return
        node.rebirth_requested_at = now
        out.rebirths.append(node.key)

    def _quarantine(self, out: HostResult, topic: str, reason: str, data: bytes, now: datetime) -> None:
        item = Quarantined(topic, reason, bytes(data), now)
        out.quarantined.append(item)
        self.quarantine.append(item)
        self.quarantined_total += 1
        if self.on_quarantine is not None:
            self.on_quarantine(item)

    def _nbirth(self, node: NodeSession, topic: Topic, payload: Any, data: bytes, now: datetime, out: HostResult):
        problem = None
        try:
            bdseq = _bdseq_of(payload)
        except PayloadError as exc:
            bdseq, problem = None, str(exc)
        if bdseq is None:
            problem = problem or f"NBIRTH without a {BDSEQ_METRIC} metric"
        elif not payload.HasField("seq") or payload.seq >= SEQ_MODULUS:
            problem = "NBIRTH without a sequence number" if not payload.HasField("seq") else "NBIRTH seq > 255"
        if problem is not None:
            # No rebirth request: the edge node would send the same certificate again.
            out.discarded += len(node.pending)
            self._end_session(node)
            self._quarantine(out, str(topic), problem, data, now)
            return
        out.discarded += len(node.pending)
        self._end_session(node)
        node.bdseq = bdseq
        node.born = True
        node.last_seq = int(payload.seq)
        node.types.clear()
        node.aliases.clear()
        node.plain.clear()
        node.tags.clear()
        node.applied = {node.last_seq: payload.timestamp if payload.HasField("timestamp") else None}
        node.rebirth_requested_at = None
        self._birth_metrics(node, topic, payload, data, now, out)

    def _ndeath(self, node: NodeSession, topic: Topic, payload: Any, data: bytes, now: datetime, out: HostResult):
        try:
            bdseq = _bdseq_of(payload)
        except PayloadError as exc:
            self._quarantine(out, str(topic), str(exc), data, now)
            return
        if bdseq is None:
            self._quarantine(out, str(topic), f"NDEATH without a {BDSEQ_METRIC} metric", data, now)
            return
        if not node.born or bdseq != node.bdseq:
            out.ignored += 1  # the will of an older session: the current birth stands
            return
        # STALE at the host's own time (the NDEATH, often the broker's will, has no trustworthy timestamp).
        self._stale(node, None, now, "NDEATH", out)
        for device in sorted(node.devices):
            self._stale(node, device, now, "NDEATH", out)
        out.discarded += len(node.pending)
        self._end_session(node)

    def _sequenced(self, node: NodeSession, topic: Topic, payload: Any, data: bytes, now: datetime, out: HostResult):
        seq = int(payload.seq)
        if not self.check_sequence:
            self._apply(node, topic, payload, data, now, out)
            return
        expected = (node.last_seq + 1) % SEQ_MODULUS if node.last_seq is not None else seq
        if seq == expected:
            self._apply(node, topic, payload, data, now, out)
            while node.born and node.last_seq is not None:
                held = node.pending.pop((node.last_seq + 1) % SEQ_MODULUS, None)
                if held is None:
                    break
                self._apply(node, held.topic, held.payload, held.data, held.received, out)
            if not node.pending:
                node.pending_since = None
            return
        stamp = payload.timestamp if payload.HasField("timestamp") else None
        if node.applied.get(seq, _NOT_SET) == stamp or seq in node.pending:
            out.ignored += 1  # a redelivered copy of a message already applied or held
            return
        node.pending[seq] = _Held(topic, payload, data, now)
        if node.pending_since is None:
            node.pending_since = now
        if len(node.pending) >= SEQ_MODULUS // 2:
            # Half the sequence space is waiting on one gap: no reorder can fill it any more.
            node.pending_since = datetime.min.replace(tzinfo=timezone.utc)

    def _check_timeout(self, node: NodeSession, now: datetime, out: HostResult) -> None:
        if node.pending_since is None:
            return
        if (now - node.pending_since).total_seconds() < self.reorder_timeout_s:
            return
        self._touched.add(node.key)
        out.discarded += len(node.pending)
        node.pending.clear()
        node.pending_since = None
        node.born = False  # nothing more is applied until the new NBIRTH
        node.rebirth_requested_at = None  # this request must go out, whatever was asked before
        self._request_rebirth(node, now, out)

    def _apply(self, node: NodeSession, topic: Topic, payload: Any, data: bytes, now: datetime, out: HostResult):
        seq = int(payload.seq)
        node.last_seq = seq
        node.applied[seq] = payload.timestamp if payload.HasField("timestamp") else None
        mtype, device = topic.message_type, topic.device
        if mtype == "DBIRTH":
            node._drop_device(device)  # type: ignore[arg-type]
            node.devices.add(device)  # type: ignore[arg-type]
            self._birth_metrics(node, topic, payload, data, now, out)
        elif mtype == "DDEATH":
            if device in node.devices:
                ts = _payload_time(payload) or now
                self._stale(node, device, ts, "DDEATH", out)
                node.devices.discard(device)  # type: ignore[arg-type]
            else:
                out.ignored += 1
        elif mtype == "DDATA" and device not in node.devices:
            out.ignored += 1
            self._request_rebirth(node, now, out)
        else:
            self._data_metrics(node, topic, payload, data, now, out)

    # -- metrics -------------------------------------------------------------------------------------------
    def _machine(self, node: NodeSession, device: str | None) -> str | None:
        key = (node.group, node.edge, device)
        try:
            return self._machines[key]
        except KeyError:
            pass
        if device is None:
            found = self.node_machine_for.get(f"{node.group}/{node.edge}") or self.node_machine_for.get(node.edge)
        else:
            found = (
                self.machine_for.get(f"{node.group}/{node.edge}/{device}")
                or self.machine_for.get(f"{node.edge}/{device}")
                or self.machine_for.get(device)
                or device
            )
        self._machines[key] = found
        return found

    def _birth_metrics(self, node: NodeSession, topic: Topic, payload: Any, data: bytes, now: datetime, out):
        device = topic.device
        machine = self._machine(node, device) if self.emit_births else None
        self._births_touched.add(node.key)
        problems: list[str] = []
        tags = node.tags.setdefault(device, [])
        signals = _SignalMaker(self.source, machine, node, topic, payload, now)
        node.read_plans.clear()  # the aliases may change meaning
        for m in payload.metrics:
            name = m.name
            if not name:
                problems.append(f"a {topic.message_type} metric without a name (alias {m.alias})")
                continue
            if not m.HasField("datatype") or m.datatype not in _METRIC_TYPES:
                what = "no datatype" if not m.HasField("datatype") else f"datatype {m.datatype}"
                problems.append(f"birth metric {name!r} has {what}")
                continue
            datatype = m.datatype
            node.types[(device, name)] = datatype
            if m.HasField("alias"):
                taken = node.aliases.get(m.alias)
                if taken is not None and taken[:2] != (device, name):
                    problems.append(
                        f"alias {m.alias} of {name!r} already names {taken[1]!r} of {taken[0] or 'the node'}"
                    )
                else:
                    node.aliases[m.alias] = (device, name, datatype)
                    if datatype in _DIRECT_FIELD and not is_control_metric(name):
                        value_field = _DIRECT_FIELD[datatype]
                        node.plain[m.alias] = (device, name, value_field, _FIELD_TYPE[value_field])
                    else:
                        node.plain.pop(m.alias, None)
            if is_control_metric(name):
                continue
            if m.is_transient:
                out.skipped.append((name, "transient: not to be stored"))
                continue
            try:
                value = metric_value(m, datatype, name)
            except PayloadError as exc:
                problems.append(str(exc))
                if datatype in BASIC_TYPES:
                    tags.append(name)  # its DATA may still be good, and go STALE with the rest
                continue
            for tag, scalar in _flatten(name, value, out):
                tags.append(tag)
                if machine is not None:
                    signals.add(m, tag, scalar, out)
        if problems:
            self._quarantine(out, str(topic), "; ".join(problems), data, now)

    def _plain_data(self, node: NodeSession, topic: Topic, payload: Any, now: datetime, out: HostResult) -> bool:
        """The Signals of a DATA payload whose every metric is plain: given by an alias of this device's birth
        (not 0, which an absent alias also reads as), a Double, Boolean or String in its own field, not null,
        not transient, no properties (so GOOD).  Built a column at a time, each step one pass in C over the
        metrics; the same Signals, in the same order, as the metric-by-metric path.  False, with nothing done,
        for any other payload."""
        metrics = list(payload.metrics)  # each pass over the protobuf field itself would wrap every metric again
        device = topic.device
        machine = self._machine(node, device)
        if not metrics or machine is None or any(map(_NAME, metrics)):
            return False
        aliases = list(map(_ALIAS, metrics))
        plans = list(map(node.plain.get, aliases))
        if None in plans or 0 in aliases or any(map(ne, map(_FIRST, plans), repeat(device))):
            return False
        if any(map(_TRANSIENT, metrics)) or any(map(_NULL, metrics)) or any(map(_HAS_PROPERTIES, metrics)):
            return False
        fields = list(map(_THIRD, plans))
        if not all(map(_HAS_FIELD, metrics, fields)):
            return False
        values = map(getattr, metrics, fields)
        stamps = list(map(_TIMESTAMP, metrics))
        self._plain_signals(machine, node, topic, payload, now, list(map(_SECOND, plans)), values, stamps, out)
        return True

    def _plain_from_reader(self, node: NodeSession, topic: Topic, payload: _PlainPayload, now: datetime, out) -> bool:
        """``_plain_data`` for a payload read by ``_plain.plain_columns``, which has already checked every
        metric's form (alias, no name, not null or transient, no properties): what is left is that each alias
        is this device's and names a metric of the value's type.  False, with nothing done, otherwise."""
        aliases = payload.aliases
        device = topic.device
        known = node.read_plans.get(device)
        if known is not None and known[0] == aliases:
            _, machine, names, types = known
        else:
            machine = self._machine(node, device)  # type: ignore[assignment]
            if not aliases or machine is None:
                return False
            plans = list(map(node.plain.get, aliases))
            if None in plans or any(map(ne, map(_FIRST, plans), repeat(device))):
                return False
            names, types = tuple(map(_SECOND, plans)), list(map(_FOURTH, plans))
            node.read_plans[device] = (aliases, machine, names, types)
        values = payload.values
        if list(map(type, values)) != types:
            return False
        self._plain_signals(machine, node, topic, payload, now, names, values, payload.stamps, out)
        return True

    def _plain_signals(self, machine, node, topic, payload, now, names, values, stamps: list[int], out) -> None:
        """The Signals of a plain payload's columns: tags, values and metric timestamps (0: none); one
        SignalBlock of them where ``blocks`` is on."""
        payload_ms = payload.timestamp
        if 0 in stamps:
            stamps = [ms or payload_ms for ms in stamps]
        times = {}
        for ms in set(stamps):
            ts = self._times.get(ms)
            if ts is None:
                ts = times[ms] = _time_of(ms, names[stamps.index(ms)], now)
                if ts is not now:  # a real conversion, not the reception time standing in
                    if len(self._times) >= _TIME_CACHE:
                        self._times.clear()
                    self._times[ms] = ts
            else:
                times[ms] = ts
        block = SignalBlock(self.source, machine, names, list(values), stamps, times, _prefix(node, topic, payload))
        if self.blocks:
            out.signals.append(block)
        else:
            out.signals.extend(block.signals())

    def _data_metrics(self, node: NodeSession, topic: Topic, payload: Any, data: bytes, now: datetime, out):
        if payload.__class__ is _PlainPayload:
            if self._plain_from_reader(node, topic, payload, now, out):
                return
            try:
                payload = decode_payload(data)  # plain in form, but not as this session knows its aliases
            except PayloadError as exc:
                self._quarantine(out, str(topic), str(exc), data, now)
                return
        if self.columns and self._plain_data(node, topic, payload, now, out):
            return
        device = topic.device
        machine = self._machine(node, device)
        problems: list[str] = []
        unknown = False
        types, aliases = node.types, node.aliases
        signals = _SignalMaker(self.source, machine, node, topic, payload, now)
        for m in payload.metrics:
            name = m.name
            if name:
                datatype = types.get((device, name))
                if datatype is None:
                    problems.append(f"metric {name!r} was not in the birth certificate")
                    unknown = True
                    continue
            else:
                # m.alias reads 0 when the field is absent: an alias 0 is believed only when it is really set.
                alias = m.alias
                found = aliases.get(alias)
                if found is None or (alias == 0 and not m.HasField("alias")) or found[0] != device:
                    if not m.HasField("alias"):
                        problems.append("a metric with neither name nor alias")
                        continue
                    problems.append(f"alias {alias} was not in the birth certificate of {device or 'the node'}")
                    unknown = True
                    continue
                name, datatype = found[1], found[2]
            if machine is None or is_control_metric(name):
                continue
            if m.is_transient:
                out.skipped.append((name, "transient: not to be stored"))
                continue
            # A Double, Boolean or String in its own field is its value as it is.
            field_name = _DIRECT_FIELD.get(datatype)
            if field_name is not None and not m.is_null and m.HasField(field_name):
                signals.add(m, name, getattr(m, field_name), out)
                continue
            try:
                value = metric_value(m, datatype, name)
            except PayloadError as exc:
                problems.append(str(exc))
                continue
            if value.__class__ in _SCALARS:
                signals.add(m, name, value, out)
            else:
                for tag, scalar in _flatten(name, value, out):
                    signals.add(m, tag, scalar, out)
        if problems:
            self._quarantine(out, str(topic), "; ".join(problems), data, now)
        if unknown:
            self._request_rebirth(node, now, out)

    def _stale(self, node: NodeSession, device: str | None, ts: datetime, why: str, out: HostResult) -> None:
        machine = self._machine(node, device)
        if machine is None:
            return
        ms = int(ts.timestamp() * 1000)
        prefix = f"{node.group}/{node.edge}/{device or ''}:{node.bdseq}:{why}:{ms}:"
        for tag in node.tags.get(device, ()):
            out.signals.append(Signal(self.source, machine, tag, None, ts, Quality.STALE, prefix + tag))


class _PlainPayload:
    """A plain DATA payload as ``_plain.plain_columns`` read it: what the session needs of a Payload (``seq``,
    ``timestamp``, ``HasField``), and the metrics as columns (alias, timestamp or 0, value)."""

    __slots__ = ("timestamp", "seq", "aliases", "stamps", "values", "_present")

    def __init__(self, timestamp: int | None, seq: int | None, aliases: list[int], stamps: list[int], values):
        self.timestamp = timestamp or 0
        self.seq = seq or 0
        self._present = {"timestamp": timestamp is not None, "seq": seq is not None}
        self.aliases, self.stamps, self.values = aliases, stamps, values

    def HasField(self, name: str) -> bool:  # noqa: N802 - the protobuf message method it stands in for
        return self._present.get(name, False)


class _SignalMaker:
    """Signals of one payload: shares the identity prefix and converts each distinct timestamp once."""

    __slots__ = ("source", "machine", "prefix", "payload_ms", "received", "times")

    def __init__(self, source: str, machine: str | None, node: NodeSession, topic: Topic, payload: Any, now):
        self.source = source
        self.machine = machine
        self.prefix = _prefix(node, topic, payload)
        self.payload_ms = payload.timestamp
        self.received = now
        self.times: dict[int, datetime] = {}

    def time_of(self, ms: int, tag: str) -> datetime:
        """The instant of ``ms`` (0: the time of reception), converted once per payload."""
        ts = self.times.get(ms)
        if ts is None:
            ts = self.times[ms] = _time_of(ms, tag, self.received)
        return ts

    def add(self, metric: Any, tag: str, value: Any, out: HostResult) -> None:
        ms = metric.timestamp or self.payload_ms
        ts = self.time_of(ms, tag)
        quality = quality_of(metric, tag) if metric.HasField("properties") else _GOOD
        if value is None and quality is _GOOD:
            quality = Quality.BAD
        out.signals.append(
            make_signal((self.source, self.machine, tag, value, ts, quality, f"{self.prefix}{ms}:{tag}"))
        )


def _prefix(node: NodeSession, topic: Topic, payload: Any) -> str:
    """What every source id of one payload's Signals starts with: ``group/edge/device:bdSeq:seq:``."""
    seq = payload.seq if payload.HasField("seq") else ""
    return f"{node.group}/{node.edge}/{topic.device or ''}:{node.bdseq}:{seq}:"


def _time_of(ms: int, tag: str, received: datetime) -> datetime:
    """The instant of a Sparkplug timestamp; 0 (none) or an impossible one: the time of reception."""
    if not ms:
        return received
    try:
        return datetime_from_ms(ms, tag)
    except PayloadError:
        return received


def is_control_metric(name: str) -> bool:
    """``bdSeq`` and ``Node Control/*``: metrics of the session itself, not machine signals."""
    return name == BDSEQ_METRIC or name.startswith("Node Control/")


def _flatten(name: str, value: Any, out: HostResult) -> Iterator[tuple[str, Any]]:
    """Machine signals in one decoded value: itself, a template instance's members, or none (listed skipped)."""
    if value is None or value.__class__ in _SCALARS:
        yield name, value
    elif isinstance(value, datetime):
        yield name, value.isoformat()
    elif isinstance(value, TemplateValue):
        if value.is_definition:
            out.skipped.append((name, "a template definition describes a type, it carries no values"))
            return
        for member in value.members:
            yield from _flatten(f"{name}/{member.name}", member.value, out)
    elif isinstance(value, Table):
        out.skipped.append((name, "a DataSet is not a machine signal"))
    elif isinstance(value, list):
        out.skipped.append((name, "an array is not a machine signal"))
    else:
        out.skipped.append((name, f"a {type(value).__name__} value is not a machine signal"))


def _session_doc(node: NodeSession) -> dict[str, Any]:
    return {
        "bdseq": node.bdseq,
        "born": node.born,
        "last_seq": node.last_seq,
        "applied": [[seq, ts] for seq, ts in node.applied.items()],
        "devices": sorted(node.devices),
        "pending": [
            [seq, str(held.topic), base64.b64encode(held.data).decode(), held.received.isoformat()]
            for seq, held in node.pending.items()
        ],
        "pending_since": node.pending_since.isoformat() if node.pending_since else None,
    }


def _birth_doc(node: NodeSession) -> dict[str, Any]:
    return {
        "types": [[device, name, datatype] for (device, name), datatype in node.types.items()],
        "aliases": [[alias, device, name, datatype] for alias, (device, name, datatype) in node.aliases.items()],
        "tags": [[device, tags] for device, tags in node.tags.items()],
    }


def _restore_birth(node: NodeSession, doc: dict[str, Any]) -> None:
    node.types = {(device, name): datatype for device, name, datatype in doc.get("types", [])}
    node.aliases = {int(alias): (device, name, datatype) for alias, device, name, datatype in doc.get("aliases", [])}
    node.tags = {device: list(tags) for device, tags in doc.get("tags", [])}
    node.plain = {}
    for alias, (device, name, datatype) in node.aliases.items():
        if datatype in _DIRECT_FIELD and not is_control_metric(name):
            value_field = _DIRECT_FIELD[datatype]
            node.plain[alias] = (device, name, value_field, _FIELD_TYPE[value_field])
    node.read_plans.clear()


def _from_iso(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _payload_time(payload: Any) -> datetime | None:
    if not payload.timestamp:
        return None
    try:
        return datetime_from_ms(payload.timestamp, "payload timestamp")
    except PayloadError:
        return None


def _bdseq_of(payload: Any) -> int | None:
    """The value of the ``bdSeq`` metric (Int64 in births and wills, UInt64 in some examples), if present."""
    for m in payload.metrics:
        if m.name == BDSEQ_METRIC:
            kind = m.WhichOneof("value")
            if kind == "long_value":
                return int(m.long_value)
            if kind == "int_value":
                return int(m.int_value)
            raise PayloadError(f"{BDSEQ_METRIC} must be an integer, not {kind or 'no value'}")
    return None
