"""The append-only machine event log: idempotent appends and reads of one machine's history."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

from sqlalchemy import Connection, and_, bindparam, func, or_, select

from shopfloor.errors import MachineNotFound, MachineUnknown
from shopfloor.model.events import CountEvent, CountKind, MachineEvent, MachineState, StateChange, event_key
from shopfloor.model.intervals import Interval
from shopfloor.store.bulk import insert_many
from shopfloor.store.plant import machine_ids
from shopfloor.store.schema import machine_events, machines

_CHUNK = 1000


@dataclass
class AppendResult:
    inserted: int = 0
    duplicates: int = 0
    # Earliest new event per machine code: rollups from that hour on must be rebuilt.
    earliest: dict[str, datetime] = field(default_factory=dict)
    keys: set[str] = field(default_factory=set)  # the event keys of the events inserted


def _row(event: MachineEvent, machine_id: int, key: str, now: datetime) -> dict:
    if isinstance(event, StateChange):
        return {
            "machine_id": machine_id,
            "ts": event.ts,
            "kind": "state",
            "state": event.state.value,
            "quantity": None,
            "product": None,
            "reason": event.reason,
            "source": event.source,
            "work_order": None,
            "event_key": key,
            "recorded_at": now,
        }
    return {
        "machine_id": machine_id,
        "ts": event.ts,
        "kind": event.kind.value,
        "state": None,
        "quantity": event.quantity,
        "product": event.product,
        "reason": event.reason,
        "source": event.source,
        "work_order": event.work_order,
        "event_key": key,
        "recorded_at": now,
    }


def append_events(conn: Connection, events: Sequence[MachineEvent]) -> AppendResult:
    """Insert events not stored yet, in the caller's transaction.  An event already stored (same content
    key) is skipped and counted as a duplicate: re-sending a batch never counts anything twice."""
    result = AppendResult()
    if not events:
        return result
    ids = machine_ids(conn)
    unknown = sorted({e.machine for e in events} - set(ids))
    if unknown:
        raise MachineUnknown(machine=", ".join(unknown))
    keyed: dict[str, MachineEvent] = {}
    for ev in events:
        key = event_key(ev)
        if key in keyed:
            result.duplicates += 1
        else:
            keyed[key] = ev
    now = datetime.now(timezone.utc)
    rows = [_row(ev, ids[ev.machine], key, now) for key, ev in keyed.items()]
    code_of = {mid: code for code, mid in ids.items()}
    for i in range(0, len(rows), _CHUNK):
        inserted = insert_many(conn, machine_events, rows[i : i + _CHUNK], skip_conflicts_on="event_key",
                               returning=_RETURNED)  # fmt: skip
        for machine_id, ts, key in inserted:
            result.inserted += 1
            result.keys.add(key)
            code = code_of[machine_id]
            first = result.earliest.get(code)
            if first is None or ts < first:
                result.earliest[code] = ts
    result.duplicates += len(rows) - result.inserted
    return result


_RETURNED = (machine_events.c.machine_id, machine_events.c.ts, machine_events.c.event_key)


def _to_event(row, code: str) -> MachineEvent:
    if row.kind == "state":
        return StateChange(ts=row.ts, machine=code, state=MachineState(row.state), reason=row.reason, source=row.source)
    return CountEvent(
        ts=row.ts,
        machine=code,
        kind=CountKind(row.kind),
        quantity=int(row.quantity),
        product=row.product,
        reason=row.reason,
        source=row.source,
        work_order=row.work_order,
    )


def state_run_start(conn: Connection, machine_id: int, at: datetime) -> datetime | None:
    """When the state the machine was in at ``at`` began (the first event of that run of equal states).

    Events are ordered by time, then by arrival (id): of several events at one instant the last one holds, so a
    run may begin at the very instant another state's event was stored."""
    me = machine_events.c
    states = [me.machine_id == machine_id, me.kind == "state"]
    last = conn.execute(
        select(me.ts, me.id, me.state).where(*states, me.ts <= at).order_by(me.ts.desc(), me.id.desc()).limit(1)
    ).first()
    if last is None:
        return None
    before_last = or_(me.ts < last.ts, and_(me.ts == last.ts, me.id < last.id))
    other = conn.execute(
        select(me.ts, me.id)
        .where(*states, before_last, me.state != last.state)
        .order_by(me.ts.desc(), me.id.desc())
        .limit(1)
    ).first()
    if other is None:
        return conn.execute(select(func.min(me.ts)).where(*states, me.ts <= last.ts)).scalar()
    after_other = or_(me.ts > other.ts, and_(me.ts == other.ts, me.id > other.id))
    return conn.execute(select(me.ts).where(*states, after_other).order_by(me.ts, me.id).limit(1)).scalar()


def history(conn: Connection, machine: str, window: Interval) -> tuple[list[StateChange], list[CountEvent]]:
    """A machine's state events from the start of the state it was in at ``window.start`` up to the window
    end, and its count events inside the window."""
    ids = machine_ids(conn)
    if machine not in ids:
        raise MachineNotFound(machine=machine)
    mid = ids[machine]
    me = machine_events.c
    run_start = state_run_start(conn, mid, window.start)
    state_from = run_start if run_start is not None else window.start
    states = [
        _to_event(r, machine)
        for r in conn.execute(
            select(machine_events)
            .where(me.machine_id == mid, me.kind == "state", me.ts >= state_from, me.ts < window.end)
            .order_by(me.ts, me.id)
        )
    ]
    counts = [
        _to_event(r, machine)
        for r in conn.execute(
            select(machine_events)
            .where(me.machine_id == mid, me.kind != "state", me.ts >= window.start, me.ts < window.end)
            .order_by(me.ts, me.id)
        )
    ]
    return states, counts  # type: ignore[return-value]


def _span_statement():
    # The first and last of each kind for each machine asked for, each read from the end of the (machine, kind,
    # time) index: a min and max over all kinds at once would read every event of the machine (its index does not
    # lead with time).  Built once: the statement is run on every write of events.
    me, m = machine_events.c, machines.c

    def end(agg, kind: str):
        return select(agg(me.ts)).where(me.machine_id == m.id, me.kind == kind).scalar_subquery()

    return select(m.id, *[end(func.min, k) for k in _KINDS], *[end(func.max, k) for k in _KINDS]).where(
        m.id.in_(bindparam("machine_ids", expanding=True))
    )


_KINDS = ("state", *(k.value for k in CountKind))
_SPANS = _span_statement()


def event_spans(conn: Connection, machine_ids_: Sequence[int]) -> dict[int, tuple[datetime, datetime] | None]:
    """First and last event time of each machine (None without events), in one statement."""
    out: dict[int, tuple[datetime, datetime] | None] = dict.fromkeys(machine_ids_)
    if not out:
        return out
    for mid, *row in conn.execute(_SPANS, {"machine_ids": list(out)}):
        firsts = [ts for ts in row[: len(_KINDS)] if ts is not None]
        if firsts:
            out[mid] = min(firsts), max(ts for ts in row[len(_KINDS) :] if ts is not None)
    return out


def event_span(conn: Connection, machine_id: int) -> tuple[datetime, datetime] | None:
    """First and last event time of a machine, or None without events."""
    return event_spans(conn, [machine_id])[machine_id]


def count_events(conn: Connection) -> int:
    return conn.execute(select(func.count()).select_from(machine_events)).scalar_one()
