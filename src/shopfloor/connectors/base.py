"""The small contract every machine connector implements, and the Signal it produces.

A connector turns one protocol (OPC UA, Modbus TCP, MQTT/Sparkplug B, MTConnect, ...) into Signals.
It never writes to the store itself: it hands batches to ``emit`` and waits for it to return, and
``emit`` returns only after the batch is durably committed (or buffered on disk).  A connector that
must acknowledge its source (MQTT QoS 1, an MTConnect cursor) does so only after ``emit`` returned, which
is how at-least-once delivery with acknowledgement after commit is kept end to end.

A batch holds Signals and, from a connector that receives many values of one machine in one message (a
Sparkplug DATA payload), ``SignalBlock``s: the same Signals as columns.  ``expand_signals`` makes a plain list
of Signals of a batch, for a consumer that looks at each one.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from itertools import repeat
from operator import add
from typing import Any, NamedTuple, Protocol, runtime_checkable

# Reconnection back-off of every connector: a peer (PLC, server, broker, agent) that comes back is used within
# RECONNECT_MAX_S, plus the connection itself.  Retrying a dead peer on a plant network that often costs nothing.
RECONNECT_MIN_S, RECONNECT_MAX_S = 0.25, 1.5


class ConnectorConfigError(ValueError):
    """A connector configuration that cannot work (an unknown option, a client id another process uses): the
    ingest stops with it, where a fault of the network or of the peer is only retried."""


class Quality(enum.StrEnum):
    """Quality of a value, after OPC UA / Sparkplug B usage (GOOD=192, BAD=0, STALE=500 in Sparkplug)."""

    GOOD = "good"
    UNCERTAIN = "uncertain"
    BAD = "bad"
    STALE = "stale"


SignalValue = float | int | str | bool | None


class Signal(NamedTuple):
    """One value of one tag of one machine, as read from a source.

    ``ts`` is timezone-aware UTC: the source's own timestamp where the protocol has one, else the time of
    reception.  ``source_id`` identifies this reading uniquely within ``source`` (e.g. a Sparkplug
    ``bdSeq/seq/metric``, an MTConnect sequence number, an OPC UA source timestamp) so that a redelivered
    reading is recognised; None when the protocol gives no such identity.

    A named tuple: immutable like a frozen dataclass, and cheaper to build, which counts at hundreds of
    thousands of values a second.  ``signal._replace(ts=...)`` makes a changed copy.
    """

    source: str
    machine: str
    tag: str
    value: SignalValue
    ts: datetime
    quality: Quality = Quality.GOOD
    source_id: str | None = None


make_signal = partial(tuple.__new__, Signal)  # a Signal from one tuple of all its fields (hot path)


class SignalBlock:
    """GOOD Signals of one machine from one message, as columns: ``tags[i]`` had ``values[i]`` at the instant
    ``times[stamps[i]]``, with the source id ``f"{prefix}{stamps[i]}:{tags[i]}"``.  ``stamps`` are keys (a
    Sparkplug metric's timestamp in ms), ``times`` holds one entry per distinct key.  ``tags`` may be shared
    by many blocks (the same metrics in every message of a device): it is never changed.

    The writer stores the process values of a block without making a Signal of each (the ingest hot path);
    ``signals()`` gives the Signals themselves, equal to those the connector would otherwise have made."""

    __slots__ = ("source", "machine", "tags", "values", "stamps", "times", "prefix")

    def __init__(
        self,
        source: str,
        machine: str,
        tags: Sequence[str],
        values: list[SignalValue],
        stamps: list[int],
        times: dict[int, datetime],
        prefix: str,
    ):
        self.source, self.machine, self.tags, self.values = source, machine, tags, values
        self.stamps, self.times, self.prefix = stamps, times, prefix

    def __len__(self) -> int:
        return len(self.tags)

    def __repr__(self) -> str:
        return f"SignalBlock({self.source!r}, {self.machine!r}, {len(self.tags)} values)"

    @property
    def ts(self) -> datetime:
        """The latest instant in the block."""
        return max(self.times.values())

    def signals(self) -> list[Signal]:
        stamps, tags = self.stamps, self.tags
        idents = {ms: f"{self.prefix}{ms}:" for ms in self.times}
        columns = zip(
            repeat(self.source),
            repeat(self.machine),
            tags,
            self.values,
            map(self.times.__getitem__, stamps),
            repeat(Quality.GOOD),
            map(add, map(idents.__getitem__, stamps), tags),
        )
        return list(map(make_signal, columns))


def expand_signals(batch: Iterable[Signal | SignalBlock]) -> list[Signal]:
    """The Signals of a batch, each block expanded in place."""
    out: list[Signal] = []
    for item in batch:
        if item.__class__ is SignalBlock:
            out.extend(item.signals())  # type: ignore[union-attr]
        else:
            out.append(item)  # type: ignore[arg-type]
    return out


def signal_count(batch: Iterable[Signal | SignalBlock]) -> int:
    """How many Signals a batch holds, a block counting for each of its values."""
    return sum(len(item) if item.__class__ is SignalBlock else 1 for item in batch)  # type: ignore[arg-type]


Emit = Callable[[list[Signal | SignalBlock]], Awaitable[None]]
# A connector's own state, committed with the batch it belongs to (``IngestWriter``): ingest_state key -> JSON
# document.  Each key starts with ``state_prefix(connector, worker)``.
ConnectorState = dict[str, Any]


def state_prefix(connector: str, worker: str) -> str:
    """Where one connector of one ingest worker keeps its state (``ConnectorState`` keys start with it)."""
    return f"connector/{connector}/{worker}/"


def stateful(emit: Emit) -> bool:
    """Whether ``emit`` takes a connector's state with a batch and gives it back after a restart (the
    writer's does; a plain function given by a test does not)."""
    return hasattr(emit, "saved_state")


@dataclass(slots=True)
class ConnectorStatus:
    """What ``shopfloor connectors status`` shows for one source."""

    name: str
    protocol: str
    endpoint: str
    connected: bool = False
    last_value_at: datetime | None = None
    messages_total: int = 0
    errors_total: int = 0
    last_error: str | None = None
    quarantined_total: int = 0
    buffered: int = 0
    _window: list[float] = field(default_factory=list, repr=False)

    def record_messages(self, count: int, now: float | None = None) -> None:
        """Count ``count`` received messages for the messages/s figure (a sliding 10 s window)."""
        now = time.monotonic() if now is None else now
        self.messages_total += count
        self._window.extend([now] * count)
        cutoff = now - 10.0
        if self._window and self._window[0] < cutoff:
            self._window = [t for t in self._window if t >= cutoff]

    def record_error(self, message: str) -> None:
        self.errors_total += 1
        self.last_error = message

    def messages_per_s(self, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        recent = [t for t in self._window if t >= now - 10.0]
        return len(recent) / 10.0

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "protocol": self.protocol,
            "endpoint": self.endpoint,
            "connected": self.connected,
            "last_value_at": self.last_value_at.isoformat() if self.last_value_at else None,
            "messages_total": self.messages_total,
            "messages_per_s": round(self.messages_per_s(), 3),
            "errors_total": self.errors_total,
            "last_error": self.last_error,
            "quarantined_total": self.quarantined_total,
            "buffered": self.buffered,
        }


@runtime_checkable
class Connector(Protocol):
    """A source of Signals.  ``run`` connects, reads and reconnects on its own until it is cancelled."""

    name: str
    status: ConnectorStatus

    async def run(self, emit: Emit) -> None: ...
