"""The Sparkplug host application's view of each edge node (Eclipse Sparkplug 3.0, chapter 5).

Per edge node: the bdSeq of its current NBIRTH, the sequence number expected next (one counter for node and
device messages, wrapping 255 -> 0), the aliases of its metrics, and which devices are born.  A message out
of sequence is held for the reorder timeout; if the missing one does not arrive, a rebirth is requested
(NCMD ``Node Control/Rebirth`` = true).  DATA before BIRTH, an unknown metric, or a malformed payload also
request a rebirth.  An NDEATH whose bdSeq matches the current birth (and a DDEATH) marks the metrics STALE;
an NDEATH from an older session is ignored.  Pure: no I/O; the connector publishes what ``rebirths`` lists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from shopfloor.connectors.base import Quality, Signal
from shopfloor.connectors.sparkplug.codec import SparkplugError, Topic, decode_payload, metric_value

REBIRTH_METRIC = "Node Control/Rebirth"


@dataclass
class NodeState:
    bdseq: int | None = None
    born: bool = False
    last_seq: int | None = None
    aliases: dict[int, tuple[str | None, str, int]] = field(default_factory=dict)  # alias -> (device, name, type)
    types: dict[tuple[str | None, str], int] = field(default_factory=dict)  # (device, name) -> datatype
    devices: set[str] = field(default_factory=set)
    pending: dict[int, tuple[Topic, Any]] = field(default_factory=dict)
    pending_since: datetime | None = None


@dataclass
class HostResult:
    signals: list[Signal] = field(default_factory=list)
    rebirths: list[tuple[str, str]] = field(default_factory=list)  # (group, edge node)
    quarantined: list[tuple[str, str]] = field(default_factory=list)  # (topic, reason)
    ignored: int = 0


class SparkplugHost:
    def __init__(self, source: str, machine_for: dict[str, str] | None = None, reorder_timeout_s: float = 2.0):
        """``machine_for`` maps a device id (or ``edge/device``) to a machine code; by default they are equal."""
        self.source = source
        self.machine_for = machine_for or {}
        self.reorder_timeout_s = reorder_timeout_s
        self.nodes: dict[tuple[str, str], NodeState] = {}

    def _machine(self, edge: str, device: str | None) -> str | None:
        if device is None:
            return None
        return self.machine_for.get(f"{edge}/{device}") or self.machine_for.get(device) or device

    def handle(self, topic: Topic, data: bytes, now: datetime | None = None) -> HostResult:
        now = now or datetime.now(timezone.utc)
        out = HostResult()
        if topic.message_type in ("STATE", "NCMD", "DCMD"):
            out.ignored += 1
            return out
        key = (topic.group or "", topic.edge_node or "")
        node = self.nodes.setdefault(key, NodeState())
        try:
            payload = decode_payload(data)
        except SparkplugError as exc:
            out.quarantined.append((str(topic), str(exc)))
            out.rebirths.append(key)
            return out
        if topic.message_type == "NDEATH":
            self._ndeath(key, node, payload, now, out)
            return out
        if topic.message_type == "NBIRTH":
            self._nbirth(key, node, payload, now, out)
            return out
        if not node.born:
            out.ignored += 1
            out.rebirths.append(key)
            return out
        if not payload.HasField("seq"):
            out.quarantined.append((str(topic), f"{topic.message_type} without a sequence number"))
            return out
        seq = int(payload.seq)
        expected = (node.last_seq + 1) % 256 if node.last_seq is not None else seq
        if seq == expected:
            self._apply(key, node, topic, payload, now, out)
            while (node.last_seq + 1) % 256 in node.pending:  # type: ignore[operator]
                t, p = node.pending.pop((node.last_seq + 1) % 256)  # type: ignore[operator]
                self._apply(key, node, t, p, now, out)
            if not node.pending:
                node.pending_since = None
        elif (seq - expected) % 256 < 128:
            # Ahead of the expected one: hold it until the gap fills or the reorder timeout passes.
            node.pending[seq] = (topic, payload)
            node.pending_since = node.pending_since or now
        else:
            out.ignored += 1  # behind: a duplicate of something already applied
        self._check_timeout(key, node, now, out)
        return out

    def check_timeouts(self, now: datetime | None = None) -> HostResult:
        now = now or datetime.now(timezone.utc)
        out = HostResult()
        for key, node in self.nodes.items():
            self._check_timeout(key, node, now, out)
        return out

    def _check_timeout(self, key, node: NodeState, now: datetime, out: HostResult) -> None:
        if node.pending_since and (now - node.pending_since).total_seconds() >= self.reorder_timeout_s:
            node.pending.clear()
            node.pending_since = None
            node.born = False  # nothing more is applied until the new birth
            out.rebirths.append(key)

    def _nbirth(self, key, node: NodeState, payload, now: datetime, out: HostResult) -> None:
        bdseq = None
        for m in payload.metrics:
            if m.name == "bdSeq":
                bdseq = int(m.long_value if m.WhichOneof("value") == "long_value" else m.int_value)
        if bdseq is None:
            out.quarantined.append((f"{key[0]}/{key[1]}", "NBIRTH without a bdSeq metric"))
            return
        node.bdseq = bdseq
        node.born = True
        node.last_seq = int(payload.seq) if payload.HasField("seq") else 0
        node.aliases.clear()
        node.types.clear()
        node.devices.clear()
        node.pending.clear()
        node.pending_since = None
        self._register(node, None, payload, out, key)

    def _register(self, node: NodeState, device: str | None, payload, out: HostResult, key) -> None:
        for m in payload.metrics:
            if not m.name:
                out.quarantined.append((f"{key[0]}/{key[1]}", "a BIRTH metric without a name"))
                continue
            node.types[(device, m.name)] = int(m.datatype)
            if m.HasField("alias"):
                node.aliases[int(m.alias)] = (device, m.name, int(m.datatype))

    def _ndeath(self, key, node: NodeState, payload, now: datetime, out: HostResult) -> None:
        bdseq = next((int(m.long_value or m.int_value) for m in payload.metrics if m.name == "bdSeq"), None)
        if node.bdseq is None or bdseq != node.bdseq:
            out.ignored += 1  # the death of an older session: the current birth stands
            return
        self._stale(key, node, None, now, out)
        node.born = False

    def _stale(self, key, node: NodeState, device: str | None, now: datetime, out: HostResult) -> None:
        for (dev, name), _ in node.types.items():
            if dev is None or (device is not None and dev != device):
                continue
            machine = self._machine(key[1], dev)
            if machine:
                out.signals.append(Signal(self.source, machine, name, None, now, Quality.STALE))

    def _apply(self, key, node: NodeState, topic: Topic, payload, now: datetime, out: HostResult) -> None:
        node.last_seq = int(payload.seq)
        mtype, device = topic.message_type, topic.device
        if mtype == "DBIRTH":
            node.devices.add(device)  # type: ignore[arg-type]
            self._register(node, device, payload, out, key)
        elif mtype == "DDEATH":
            self._stale(key, node, device, now, out)
            node.devices.discard(device)  # type: ignore[arg-type]
            return
        elif mtype == "DDATA" and device not in node.devices:
            out.rebirths.append(key)
            out.ignored += 1
            return
        machine = self._machine(topic.edge_node or "", device)
        # Per payload, not per value: most metrics share the payload's timestamp, and the identity prefix.
        times: dict[int, datetime] = {}
        prefix = f"{key[0]}/{key[1]}/{device}:{node.bdseq}:{payload.seq}:"
        source, good, aliases = self.source, Quality.GOOD, node.aliases
        for m in payload.metrics:
            name = m.name
            if not name and m.HasField("alias"):
                found = aliases.get(m.alias)
                if found is None or found[0] != device:
                    out.quarantined.append((str(topic), f"unknown alias {m.alias}"))
                    out.rebirths.append(key)
                    continue
                name, datatype = found[1], found[2]
            else:
                datatype = int(m.datatype) if m.HasField("datatype") else node.types.get((device, name), -1)
                if datatype == -1:
                    out.quarantined.append((str(topic), f"metric {name!r} was not in the birth certificate"))
                    out.rebirths.append(key)
                    continue
            if machine is None or name == "bdSeq" or name.startswith("Node Control/"):
                continue
            try:
                value = metric_value(m, datatype)
            except SparkplugError as exc:
                out.quarantined.append((str(topic), f"{name}: {exc}"))
                continue
            if not isinstance(value, (int, float, str, bool, type(None))):
                continue  # arrays, datasets, templates are not machine signals
            ts_ms = m.timestamp or payload.timestamp
            ts = times.get(ts_ms)
            if ts is None:
                ts = times[ts_ms] = datetime.fromtimestamp(ts_ms / 1000, tz=timezone.utc) if ts_ms else now
            out.signals.append(Signal(source, machine, name, value, ts, good, prefix + name))
