"""Machine events: state changes and produced counts, the append-only history every KPI is computed from.

A state lasts from its event until the machine's next state event.  Counts are quantities reported at an
instant (good, scrap or rework units of one product).  Timestamps are timezone-aware UTC.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timezone


class MachineState(enum.StrEnum):
    """Machine states and how ISO 22400-2 time elements classify them.

    running       -> APT, actual production time
    setup         -> ASUT, actual unit setup time
    down          -> ADET, actual unit delay time (breakdown; each entry is a failure event for MTBF/MTTR)
    idle          -> ADET (waiting, minor stoppage, any unplanned stop that is not a breakdown)
    planned_stop  -> planned downtime: removed from planned busy time (PBT = POT - planned downtime)
    no_order      -> planned downtime as well: no work was scheduled, so it is not a loss of the machine
    """

    RUNNING = "running"
    IDLE = "idle"
    SETUP = "setup"
    DOWN = "down"
    PLANNED_STOP = "planned_stop"
    NO_ORDER = "no_order"


class CountKind(enum.StrEnum):
    GOOD = "good"
    SCRAP = "scrap"
    REWORK = "rework"


class EventKind(enum.StrEnum):
    STATE = "state"
    GOOD = "good"
    SCRAP = "scrap"
    REWORK = "rework"


@dataclass(frozen=True, slots=True)
class StateChange:
    ts: datetime
    machine: str
    state: MachineState
    reason: str | None = None
    source: str = ""
    # The source reading this event comes from (see ``event_key``); None for events identified by their content.
    origin: str | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class CountEvent:
    ts: datetime
    machine: str
    kind: CountKind
    quantity: int
    product: str | None = None
    reason: str | None = None
    source: str = ""
    work_order: str | None = None
    origin: str | None = field(default=None, compare=False)


MachineEvent = StateChange | CountEvent


def event_key(event: MachineEvent) -> str:
    """A hash that identifies an event, so that the same event delivered twice is stored once.

    An event made from a machine's reading has an ``origin``: the identity of that reading at its source (a
    Sparkplug bdSeq/seq and metric, an MTConnect sequence, the counter values read, a publisher's message id),
    and its key is the machine, the kind and that origin, never the timestamp alone: two increments at one
    instant are two events, and the same reading delivered again is one.  An event without an origin (a CSV
    row, a typed entry) is identified by its content: the same row imported twice is stored once.  The source
    name is not part of either key: a reading re-imported from another file name or replayed from a buffer is
    still the same event.
    """
    kind = "state" if isinstance(event, StateChange) else event.kind.value
    if event.origin is not None:
        parts: tuple[str, ...] = ("origin", kind, event.machine, event.origin)
    elif isinstance(event, StateChange):
        parts = ("state", event.machine, _utc_text(event.ts), event.state.value, event.reason or "")
    else:
        parts = (
            event.kind.value,
            event.machine,
            _utc_text(event.ts),
            str(event.quantity),
            event.product or "",
            event.reason or "",
        )
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=16).hexdigest()


def _utc_text(ts: datetime) -> str:
    return ts.astimezone(timezone.utc).isoformat()
