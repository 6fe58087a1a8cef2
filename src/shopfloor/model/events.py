"""Machine events: state changes and produced counts, the append-only history every KPI is computed from.

A state lasts from its event until the machine's next state event.  Counts are quantities reported at an
instant (good, scrap or rework units of one product).  Timestamps are timezone-aware UTC.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass
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


MachineEvent = StateChange | CountEvent


def event_key(event: MachineEvent) -> str:
    """A content hash that identifies an event, so that the same event delivered twice is stored once.

    The source is deliberately not part of the key: the same reading re-imported from another file name or
    replayed from a buffer is still the same event.
    """
    if isinstance(event, StateChange):
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
