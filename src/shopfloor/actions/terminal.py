"""Operator terminal (POP) entries: start, pause, setup, finish, good and scrap counts, stop reasons.

Each entry carries the time of the tap and a key from the terminal.  The stored event is identified by its
content (machine, time, kind, quantity, ...), so the same entry sent again (a lost response, the offline queue
replayed) is stored once.  Start and finish also move the chosen work order.  Live events: the machine, and the
work order moved.
"""

from __future__ import annotations

import asyncio
import copy
import math
import threading
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, func, literal, select, union_all

from shopfloor.actions.board import current_window, shift_counts_of
from shopfloor.actions.core import Change, change
from shopfloor.actions.documents import check_confirmed
from shopfloor.actions.skills import check_skills
from shopfloor.errors import (
    CountApprovalRequired,
    CountImplausible,
    DefectUnknown,
    DomainError,
    DowntimeReasonUnknown,
    MachineNotStopped,
    MachineUnknown,
    ReasonMissing,
    SignInThrottled,
    TerminalActionUnknown,
    TerminalClockAhead,
    TerminalDefectMissing,
    TerminalEntryTooOld,
    TerminalQuantity,
)
from shopfloor.model.events import CountEvent, CountKind, MachineEvent, MachineState, StateChange, event_key
from shopfloor.model.plant import Plant
from shopfloor.model.tags import COUNT_ROLES
from shopfloor.model.work_orders import Status
from shopfloor.store import accounts, audit, rollups, work_orders
from shopfloor.store.db import writing
from shopfloor.store.events import AppendResult, append_events, state_run_start
from shopfloor.store.plant import machine_ids, machine_ids_kept
from shopfloor.store.schema import machine_events, machines

MAX_CLOCK_AHEAD = timedelta(minutes=5)
MAX_OFFLINE_AGE = timedelta(days=7)
STATE_ACTIONS = {
    "start": (MachineState.RUNNING, None),
    "pause": (MachineState.IDLE, "PAUSE"),
    "setup": (MachineState.SETUP, None),
    "finish": (MachineState.NO_ORDER, "FINISHED"),
}
ACTIONS = (*STATE_ACTIONS, "good", "scrap", "reason")


@dataclass(frozen=True)
class PopEntry:
    key: str
    ts: datetime
    machine: str
    action: str
    quantity: int | None = None
    defect: str | None = None
    reason: str | None = None
    product: str | None = None
    work_order: str | None = None
    # a count the ideal cycle time cannot explain: the operator confirms it, a supervisor approves it
    confirmed: bool = False
    approver: str | None = None  # badge or username
    approver_pin: str | None = None


APPROVER_ROLES = ("supervisor", "manager", "admin")


def has_counter(plant: Plant, machine: str) -> bool:
    """Whether the machine counts its own units (a good, total, scrap or rework counter in its tag mapping)."""
    tags = plant.machine(machine).tags or {}
    return any(role in tags for role in COUNT_ROLES)


def count_bound(
    conn: Connection, plant: Plant, machine: str, product: str | None, ts: datetime, seen: _Seen | None = None
):
    """(most units of ``product`` the machine can have made besides those counted already, minutes of the span,
    ideal cycle in s), or None without an ideal cycle time or a known state of the machine to count from.

    The span runs from the start of the current shift (else the local day), or from the machine's first known
    state if later, up to the entry.  Every unit counted in it (any source: the PLC's counter or the terminal,
    good, scrap or rework) took its product's ideal cycle, and so do the units of the entry: together they cannot
    take longer than the span plus one cycle (a unit finished right at its start).  Allowed = floor((span + cycle
    - ideal time already counted) / cycle).  Not the time since the last count alone: the scrap of a batch typed a
    moment after its good units belongs to the same span.  ``seen``: what a batch of taps has read already.
    """
    cycle = plant.ideal_cycle(product, machine)
    if not cycle:
        return None
    mid = machine_ids(conn)[machine]
    seen = seen or _Seen(conn)
    start = _span_start(plant, seen, mid, ts)
    if start is None:
        return None  # nothing says since when the machine could have been making parts
    counted = seen.counted(mid, start, ts).items()
    ideal_before = sum(int(q or 0) * (plant.ideal_cycle(p, machine) or 0) for p, q in counted)
    span = (ts - start).total_seconds()
    allowed = max(0, math.floor((span + cycle - ideal_before) / cycle))
    return allowed, span / 60, cycle


def _span_start(plant: Plant, seen: _Seen, mid: int, ts: datetime) -> datetime | None:
    """Where ``count_bound``'s span for an entry at ``ts`` on machine ``mid`` starts: the start of the shift (else
    the local day), or the machine's first known state if later; None without a state before ``ts``."""
    first_state = seen.first_state(mid)
    if first_state is None or first_state >= ts:
        return None
    _, shift = current_window(plant, ts)
    return max(shift.start, first_state)


_ME = machine_events.c
_M = machines.c
_MACHINES_ASKED = _M.id.in_(bindparam("mids", expanding=True))
# The first state of each machine asked for, each read from the start of its part of the (machine, kind, time) index.
_FIRST_STATES = select(
    _M.id,
    select(func.min(_ME.ts)).where(_ME.machine_id == _M.id, _ME.kind == "state").scalar_subquery(),
).where(_MACHINES_ASKED)
_COUNTED = (
    select(_ME.product, func.sum(_ME.quantity))
    .where(
        _ME.machine_id == bindparam("mid"), _ME.kind != "state", _ME.ts >= bindparam("start"), _ME.ts < bindparam("end")
    )
    .group_by(_ME.product)
)


_PREFETCH_CHUNK = 50  # machines a statement: SQLite allows 500 parts of a UNION


@lru_cache(maxsize=_PREFETCH_CHUNK)
def _counted_statements(n: int):
    """For ``n`` (machine, span start, split) triples (parameters mid<i>, start<i>, split<i>): the units counted
    by product in [start, split), and each count from split on, of all of them in one statement each."""
    before, after = [], []
    for i in range(n):
        mid, start, split = bindparam(f"mid{i}"), bindparam(f"start{i}"), bindparam(f"split{i}")
        of_machine = (_ME.machine_id == mid, _ME.kind != "state")
        before.append(
            select(literal(i).label("i"), _ME.product, func.sum(_ME.quantity).label("units"))
            .where(*of_machine, _ME.ts >= start, _ME.ts < split)
            .group_by(_ME.product)
        )
        after.append(
            select(literal(i).label("i"), _ME.ts, _ME.product, _ME.quantity).where(*of_machine, _ME.ts >= split)
        )
    return union_all(*before), union_all(*after)


class _Seen:
    """What a batch of taps reads of each machine's events for the count check, read once and kept up to date
    with the events the batch stores (``stored``): the first state of the machine, and the units counted since the
    start of a span (summed up to the first entry that asked, and each unit after it).  ``prefetch`` reads them for
    several machines at once."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._first: dict[int, datetime | None] = {}
        # (machine id, span start) -> (split, units by product before it, (time, product, units) from it on)
        self._counted: dict[tuple[int, datetime], tuple[datetime, dict[str | None, int], list]] = {}
        # Events taken as stored that the store does not hold yet (``record_terminal_entries`` stores them together)
        self.pending: list[tuple[int, CountEvent]] = []

    def first_state(self, mid: int) -> datetime | None:
        if mid not in self._first:
            self.first_states([mid])
        return self._first[mid]

    def first_states(self, mids: list[int]) -> None:
        """The first states of ``mids`` read (those not known yet), in one statement."""
        asked = sorted(set(mids) - set(self._first))
        if asked:
            self._first.update(dict.fromkeys(asked))
            self._first.update({mid: ts for mid, ts in self.conn.execute(_FIRST_STATES, {"mids": asked})})

    def prefetch(self, spans: dict[int, tuple[datetime, datetime]]) -> None:
        """The units counted on each machine (id) since the start of its span, split at the time of the span's
        first entry: ``spans`` maps a machine to (span start, split).  Two statements for up to 50 machines."""
        asked = [(mid, start, split) for mid, (start, split) in spans.items() if (mid, start) not in self._counted]
        for i in range(0, len(asked), _PREFETCH_CHUNK):
            self._prefetch(asked[i : i + _PREFETCH_CHUNK])

    def _prefetch(self, asked: list[tuple[int, datetime, datetime]]) -> None:
        params: dict[str, Any] = {}
        for i, (mid, start, split) in enumerate(asked):
            params.update({f"mid{i}": mid, f"start{i}": start, f"split{i}": split})
        before_sql, after_sql = _counted_statements(len(asked))
        before: list[dict[str | None, int]] = [{} for _ in asked]
        after: list[list] = [[] for _ in asked]
        for i, product, units in self.conn.execute(before_sql, params):
            before[i][product] = int(units or 0)
        for i, ts, product, quantity in self.conn.execute(after_sql, params):
            after[i].append((ts, product, quantity))
        for i, (mid, start, split) in enumerate(asked):
            self._counted[(mid, start)] = (split, before[i], after[i])
            for m, event in self.pending:
                if m == mid:
                    self._add(mid, start, event)

    def counted(self, mid: int, start: datetime, ts: datetime) -> dict[str | None, int]:
        """Units by product counted on machine ``mid`` in [start, ts)."""
        if (mid, start) not in self._counted:
            self.prefetch({mid: (start, ts)})
        split, before, after = self._counted[(mid, start)]
        if ts < split:  # an entry older than the one that asked first: read as it is
            return {p: int(q or 0) for p, q in self.conn.execute(_COUNTED, {"mid": mid, "start": start, "end": ts})}
        out = dict(before)
        for at, p, q in after:
            if at < ts:
                out[p] = out.get(p, 0) + int(q or 0)
        return out

    def kept(self) -> tuple:
        return copy.deepcopy((self._first, self._counted))

    def restore(self, kept: tuple) -> None:
        self._first, self._counted = kept
        self.pending = []

    def stored(self, mid: int, event: MachineEvent) -> None:
        """``event`` of machine ``mid`` was stored by the batch."""
        if isinstance(event, StateChange):
            first = self._first.get(mid)
            if mid in self._first and (first is None or event.ts < first):
                self._first[mid] = event.ts
            return
        assert isinstance(event, CountEvent)
        for m, start in self._counted:
            if m == mid:
                self._add(mid, start, event)

    def _add(self, mid: int, start: datetime, event: CountEvent) -> None:
        split, before, after = self._counted[(mid, start)]
        if event.ts < start:
            return
        if event.ts < split:
            before[event.product] = before.get(event.product, 0) + event.quantity
        else:
            after.append((event.ts, event.product, event.quantity))


def _approval(
    conn: Connection,
    plant: Plant,
    entry: PopEntry,
    operator: str,
    product: str | None,
    ts: datetime,
    approver,
    seen: _Seen | None = None,
):
    """None when the count is plausible; else the approver's username once confirmed and approved, or a refusal.
    ``approver`` is the user whose badge and PIN came with the entry (checked and throttled by ``_approver``)."""
    bound = count_bound(conn, plant, entry.machine, product, ts, seen)
    if bound is None or entry.quantity <= bound[0]:
        return None
    allowed, minutes, cycle = bound
    if not entry.confirmed:
        raise CountImplausible(quantity=entry.quantity, minutes=f"{minutes:.1f}", cycle=f"{cycle:g}", allowed=allowed)
    if approver is None or approver.role not in APPROVER_ROLES or approver.username == operator:
        raise CountApprovalRequired()
    return {"approved_by": approver.username, "allowed": allowed, "minutes": round(minutes, 1), "cycle_s": cycle}


def _latest_products_statement():
    # For each machine asked for, its latest count of each kind that names a product: the id of each read from the
    # end of the (machine, kind, time) index, then those rows.
    e = machine_events.alias("latest")
    ids = [
        select(
            select(e.c.id)
            .where(e.c.machine_id == _M.id, e.c.kind == kind.value, e.c.product.is_not(None))
            .order_by(e.c.ts.desc(), e.c.id.desc())
            .limit(1)
            .scalar_subquery()
        ).where(_MACHINES_ASKED)
        for kind in CountKind
    ]
    return select(_ME.machine_id, _ME.ts, _ME.id, _ME.product).where(_ME.id.in_(union_all(*ids)))


_LATEST_PRODUCTS = _latest_products_statement()


def latest_products(conn: Connection, machines: list[str], latest: dict) -> None:
    """Each machine's latest count that names a product, (time, product) or None, into ``latest`` (by machine
    code), in one statement for the machines not in it yet."""
    ids = machine_ids(conn)
    asked = {ids[m]: m for m in machines if m not in latest and m in ids}
    if not asked:
        return
    found: dict[str, tuple] = {}
    for mid, ts, id_, product in conn.execute(_LATEST_PRODUCTS, {"mids": sorted(asked)}):
        code = asked[mid]
        if code not in found or (ts, id_) > found[code][:2]:
            found[code] = (ts, id_, product)
    for code in asked.values():
        row = found.get(code)
        latest[code] = None if row is None else (row[0], row[2])


def current_product(conn: Connection, plant: Plant, machine: str, latest: dict | None = None) -> str | None:
    """The product of the machine's latest count, else the product its tag mapping names.  ``latest`` keeps the
    machine's latest count that names a product, (time, product) or None, from one call to the next (a caller
    that stores a count updates it)."""
    latest = {} if latest is None else latest
    latest_products(conn, [machine], latest)
    known = latest[machine]
    product = known[1] if known else None
    if product:
        return product
    tags = plant.machine(machine).tags or {}
    default = (tags.get("product") or {}).get("default") if isinstance(tags.get("product"), dict) else None
    return default


def _entry_product(conn: Connection, plant: Plant, entry: PopEntry, latest: dict | None) -> str | None:
    """The product a count entry is for: the one it names, else its work order's, else the machine's current one."""
    product = entry.product
    if product is None and entry.work_order:
        product = work_orders.get(conn, entry.work_order).product
    return product or current_product(conn, plant, entry.machine, latest)


def _prefetch(
    conn: Connection, plant: Plant, taps: list[tuple[str, PopEntry]], latest: dict, spans: dict, seen: _Seen
) -> None:
    """What a batch's good and scrap taps will read of their machines, read for all of them at once: each machine's
    latest product, order spans and first state, and the units counted in the span of its first count that has an
    ideal cycle.  A tap that asks for something else reads it itself."""
    ids = machine_ids(conn)
    counts = [entry for _, entry in taps if entry.action in ("good", "scrap") and entry.machine in ids]
    machines_ = sorted({entry.machine for entry in counts})
    if not machines_:
        return
    latest_products(conn, machines_, latest)
    spans.update(work_orders.in_progress_spans(conn, [m for m in machines_ if m not in spans]))
    seen.first_states([ids[m] for m in machines_])
    asked: dict[int, tuple[datetime, datetime]] = {}
    for entry in counts:
        mid = ids[entry.machine]
        if mid in asked or (entry.product is None and entry.work_order):
            continue
        ts = entry.ts.astimezone(timezone.utc)
        product = entry.product or current_product(conn, plant, entry.machine, latest)
        start = _span_start(plant, seen, mid, ts) if plant.ideal_cycle(product, entry.machine) else None
        if start is not None:
            asked[mid] = (start, ts)
    seen.prefetch(asked)


def _last_state(conn: Connection, machine_id: int, at: datetime):
    me = machine_events.c
    return conn.execute(
        select(me.ts, me.state)
        .where(me.machine_id == machine_id, me.kind == "state", me.ts <= at)
        .order_by(me.ts.desc(), me.id.desc())
        .limit(1)
    ).first()


def to_event(
    conn: Connection, plant: Plant, entry: PopEntry, operator: str, now: datetime, latest: dict | None = None
) -> MachineEvent | None:
    """The event an entry stores; None for "finish" on a machine that is down (see ``_keeps_down``).  ``latest``:
    see ``current_product``."""
    try:
        plant.machine(entry.machine)
    except KeyError:
        raise MachineUnknown(machine=entry.machine) from None
    ts = entry.ts.astimezone(timezone.utc)
    if ts > now + MAX_CLOCK_AHEAD:
        raise TerminalClockAhead()
    if ts < now - MAX_OFFLINE_AGE:
        raise TerminalEntryTooOld(days=MAX_OFFLINE_AGE.days)
    source = f"pop:{operator}"
    if entry.action in STATE_ACTIONS:
        state, reason = STATE_ACTIONS[entry.action]
        if entry.action == "finish" and _keeps_down(conn, entry, ts):
            return None
        return StateChange(ts, entry.machine, state, entry.reason or reason, source)
    if entry.action in ("good", "scrap"):
        if entry.quantity is None or entry.quantity < 1:
            raise TerminalQuantity()
        if entry.action == "scrap":
            if not entry.defect:
                raise TerminalDefectMissing()
            if plant.defect_codes and entry.defect not in plant.defect_codes:
                raise DefectUnknown(defect=entry.defect)
        product = _entry_product(conn, plant, entry, latest)
        kind = CountKind.GOOD if entry.action == "good" else CountKind.SCRAP
        if has_counter(plant, entry.machine):
            source = f"pop-correction:{operator}"  # the machine counts: a typed count corrects its counter
        return CountEvent(ts, entry.machine, kind, entry.quantity, product, entry.defect, source, entry.work_order)
    if entry.action == "reason":
        if not entry.reason:
            raise ReasonMissing()
        if plant.downtime_reasons and entry.reason not in plant.downtime_reasons:
            raise DowntimeReasonUnknown(reason=entry.reason)
        mid = machine_ids(conn)[entry.machine]
        last = _last_state(conn, mid, ts)
        if last is None or last.state not in (MachineState.DOWN.value, MachineState.IDLE.value):
            raise MachineNotStopped()
        # The reason belongs to the stop: recorded as of the stop's start, so reports attribute all of it.
        start = state_run_start(conn, mid, ts) or last.ts
        return StateChange(start, entry.machine, MachineState(last.state), entry.reason, source)
    raise TerminalActionUnknown(action=entry.action)


def _approver(engine: Engine, entry: PopEntry):
    """The user whose badge (or name) and PIN approve the entry, None without them or when the PIN is wrong.  The
    PIN is checked as a sign-in is: the try reserved first against the account and the terminal's machine
    (``store.accounts.reserve_try``, in a transaction of its own, so a refused entry still counts its try), and
    given back when the PIN is right."""
    if not (entry.confirmed and entry.approver and entry.approver_pin):
        return None
    with writing(engine) as conn:
        account = accounts.account_key(conn, entry.approver)
        device = f"device:approval:{entry.machine}"
        wait = accounts.reserve_try(conn, account, device)
        if wait:
            conn.rollback()
            raise SignInThrottled(seconds=wait)
    with engine.connect() as conn:
        user = accounts.check_pin(conn, entry.approver, entry.approver_pin)
    if user is not None:
        with writing(engine) as conn:
            accounts.try_succeeded(conn, account, device)
    return user


def _keeps_down(conn: Connection, entry: PopEntry, ts: datetime) -> bool:
    """Finishing (an order, or a stray tap with none) does not end a breakdown: a machine that is down stays down
    until the machine signals another state or the operator gives an explicit reason with the entry.  Otherwise
    the stop would become ``no_order``, planned time, and stop counting against availability."""
    if entry.reason:
        return False
    last = _last_state(conn, machine_ids(conn)[entry.machine], ts)
    return last is not None and last.state == MachineState.DOWN.value


def _order_step(c: Change, entry: PopEntry) -> None:
    """Start moves the chosen order to in progress on the machine; finish completes the running one.  A
    resent entry finds the order already there and changes nothing."""
    if entry.action == "start" and entry.work_order:
        wo = work_orders.get(c.conn, entry.work_order)
        if wo.status is Status.IN_PROGRESS and wo.machine == entry.machine:
            return
        # The documents in force for this order at this machine must have been read and confirmed.
        check_confirmed(c.conn, c.plant(), wo.code, entry.machine, c.actor, entry.ts)
        # Whoever starts it holds the skills its operations here need.
        check_skills(c.conn, c.plant(), wo.code, entry.machine, c.actor, entry.ts)
        if wo.status is Status.PLANNED:
            work_orders.transition(c.conn, wo.code, Status.RELEASED, c.actor, "started on the terminal", at=entry.ts)
        work_orders.transition(c.conn, wo.code, Status.IN_PROGRESS, c.actor, None, entry.machine, at=entry.ts)
        c.publish("work_order", wo.code)
    elif entry.action == "finish":
        running = work_orders.running_on(c.conn, entry.machine)
        if running is not None:
            work_orders.transition(
                c.conn, running.code, Status.COMPLETED, c.actor, "finished on the terminal", at=entry.ts
            )
            c.publish("work_order", running.code)


class _NothingStored(Exception):
    """Every tap of a batch was refused: the transaction ends without a change (and without an audit row)."""


def record_terminal_entries(engine: Engine, taps: list[tuple[str, PopEntry]]) -> list[dict[str, Any] | DomainError]:
    """Several taps, each of an operator (a username), in one transaction: each checked and stored in turn (so a
    tap sees those before it, as if sent one after the other), the rollups of their machines brought up to date
    once, one audit row per tap stored, and the good and scrap units of each machine's shift so far.  A tap that
    is refused does not hold up the others: its place in the answer holds its error.  Each tap is stored once
    however often it is sent."""
    now = datetime.now(timezone.utc)
    out: list[dict[str, Any] | DomainError] = []
    # A supervisor's badge and PIN approving a count are checked (and the attempt recorded) before the taps'
    # transaction, each in its own: a wrong PIN still counts against the throttle.
    approvers: list[Any] = []
    for _, entry in taps:
        try:
            approvers.append(_approver(engine, entry))
        except DomainError as exc:
            approvers.append(exc)
    stored: list[tuple[int, Change, PopEntry, MachineEvent | None, dict[str, Any] | None, bool]] = []
    try:
        with change(engine, "system:terminal") as c, machine_ids_kept(c.conn):
            plant = c.plant()
            earliest: dict[str, datetime] = {}
            # Read once per batch, and kept up to date by its taps: the latest product of each machine and when
            # its orders were in progress.
            latest: dict[str, tuple[datetime, str] | None] = {}
            spans: dict[str, list] = {}
            seen = _Seen(c.conn)
            _prefetch(c.conn, plant, taps, latest, spans, seen)

            def note(result: AppendResult | None) -> None:
                if result is not None:
                    for code, ts in result.earliest.items():
                        earliest[code] = min(ts, earliest.get(code, ts))

            def one(i: int) -> None:
                """Tap ``i`` checked and stored on its own."""
                (operator, entry), approver = taps[i], approvers[i]
                tap = Change(c.conn, f"user:{operator}", _plant=plant)
                if isinstance(approver, DomainError):
                    out.append(approver)
                    return
                try:
                    # Start and finish move work orders: a refusal half-way leaves them as they were.
                    moves_orders = entry.action in ("start", "finish")
                    if moves_orders:
                        spans.pop(entry.machine, None)
                    with c.conn.begin_nested() if moves_orders else nullcontext():
                        event = to_event(c.conn, plant, entry, operator, now, latest)
                        approval = None
                        if isinstance(event, CountEvent):
                            approval = _approval(
                                c.conn, plant, entry, operator, event.product, event.ts, approver, seen
                            )
                        _order_step(tap, entry)
                        if moves_orders:
                            spans.pop(entry.machine, None)
                        result = None
                        if event is not None:  # None: a finish that leaves a machine that is down as it is
                            result = append_events(c.conn, work_orders.attribute(c.conn, [event], spans))
                except DomainError as exc:
                    out.append(exc)
                    return
                if event is not None and result is not None and result.inserted:
                    _stored(event)
                note(result)
                duplicate = result is not None and result.inserted == 0
                stored.append((len(out), tap, entry, event, approval, duplicate))
                out.append({})

            def _stored(event: MachineEvent) -> None:
                seen.stored(machine_ids(c.conn)[event.machine], event)
                if isinstance(event, CountEvent) and event.product:
                    if event.machine not in latest:  # read before this count is counted in
                        current_product(c.conn, plant, event.machine, latest)
                    known = latest.get(event.machine)
                    if event.machine in latest and (known is None or event.ts >= known[0]):
                        latest[event.machine] = (event.ts, event.product)

            def counts_together(run: list[int]) -> None:
                """Good and scrap taps that follow each other, checked in turn as if each were stored at once and
                then stored in one statement; should one of them be stored already (sent again), they are done
                again one by one, which tells exactly what each saw."""
                kept = (copy.deepcopy(latest), seen.kept())
                at = (len(out), len(stored))
                ready: list[tuple[int, CountEvent, str]] = []  # (place in ``stored``, event, its key)
                keys: set[str] = set()
                for i in run:
                    (operator, entry), approver = taps[i], approvers[i]
                    if isinstance(approver, DomainError):
                        out.append(approver)
                        continue
                    tap = Change(c.conn, f"user:{operator}", _plant=plant)
                    try:
                        event = to_event(c.conn, plant, entry, operator, now, latest)
                        assert isinstance(event, CountEvent)
                        approval = _approval(c.conn, plant, entry, operator, event.product, event.ts, approver, seen)
                    except DomainError as exc:
                        out.append(exc)
                        continue
                    key = event_key(event)
                    if key not in keys:  # the same tap twice in the batch: the second is a duplicate
                        keys.add(key)
                        _stored(event)
                        seen.pending.append((machine_ids(c.conn)[event.machine], event))
                        ready.append((len(stored), event, key))
                    stored.append((len(out), tap, entry, event, approval, True))
                    out.append({})
                if not ready:
                    return
                events = work_orders.attribute(c.conn, [e for _, e, _ in ready], spans)
                savepoint = c.conn.begin_nested()
                result = append_events(c.conn, events)
                if result.inserted < len(ready):
                    savepoint.rollback()
                    latest.clear()
                    latest.update(kept[0])
                    seen.restore(kept[1])
                    del out[at[0] :], stored[at[1] :]
                    for i in run:
                        one(i)
                    return
                savepoint.commit()
                seen.pending = []
                note(result)
                for place, _, key in ready:
                    stored[place] = (*stored[place][:5], key not in result.keys)

            run: list[int] = []
            for i, (_, entry) in enumerate(taps):
                if entry.action in ("good", "scrap"):
                    run.append(i)
                    continue
                if run:
                    counts_together(run)
                    run = []
                one(i)
            if run:
                counts_together(run)
            if not stored:
                raise _NothingStored
            hours = rollups.bring_up_to_date(c.conn, plant, earliest)
            machines = sorted({entry.machine for _, _, entry, *_ in stored})
            counts = shift_counts_of(c.conn, plant, machines, now)
            audit_rows: list[tuple[str, str, str, dict[str, Any]]] = []
            for place, tap, entry, event, approval, duplicate in stored:
                summary: dict[str, Any] = {
                    "inserted": 0 if duplicate or event is None else 1,
                    "duplicates_skipped": int(duplicate),
                    "rollup_hours": hours,
                }
                if event is None:
                    summary["state_kept"] = MachineState.DOWN.value
                if approval:
                    summary["implausible_count"] = approval
                correction = isinstance(event, CountEvent) and event.source.startswith("pop-correction:")
                if correction:
                    summary["correction_of_counter"] = True
                action = "pop.correction" if correction else f"pop.{entry.action}"
                detail = {"action": entry.action, **summary} if correction else summary
                audit_rows.append((tap.actor, action, f"machine:{entry.machine}", detail))
                c.audited += 1 + tap.audited
                for topic, keys in tap.events.items():
                    c.publish(topic, *keys)
                c.publish("machine", entry.machine)
                gq_sq = counts[entry.machine]
                out[place] = {"stored": True, "duplicate": duplicate, "key": entry.key, "action": entry.action,
                              "state_kept": event is None, "correction": correction,
                              "approved_by": approval["approved_by"] if approval else None,
                              "gq": gq_sq["gq"], "sq": gq_sq["sq"]}  # fmt: skip
            audit.record_many(c.conn, audit_rows)
    except _NothingStored:
        pass
    return out


def record_terminal_entry(engine: Engine, operator: str, entry: PopEntry) -> dict[str, Any]:
    """One tap of ``operator`` (a username) on the terminal, answered once stored (or raising its refusal), with
    the good and scrap units of the machine's shift so far.

    Taps go to the store's tap writer (a thread of its own while there are taps to write): those that arrive while
    it writes earlier ones wait and go together into its next transaction (``record_terminal_entries``; one commit,
    the rollups brought up to date once), so a hundred terminals cost the store a few transactions a second, not
    a hundred.  Each tap is answered after the commit of its own batch."""
    tap = _Tap(operator, entry, done=threading.Event())
    _enqueue(engine, tap)
    tap.done.wait()
    return tap.answer()


async def record_terminal_entry_async(engine: Engine, operator: str, entry: PopEntry) -> dict[str, Any]:
    """``record_terminal_entry`` for a request handled on the event loop: it waits for the commit of its tap
    without holding a thread."""
    loop = asyncio.get_running_loop()
    tap = _Tap(operator, entry, future=loop.create_future())
    _enqueue(engine, tap)
    await asyncio.shield(tap.future)  # a request that goes away still has its tap written, and answered to nobody
    return tap.answer()


MAX_TAPS_PER_COMMIT = 500


@dataclass
class _Tap:
    operator: str
    entry: PopEntry
    done: threading.Event | None = None  # set once written (a caller waiting in a thread) ...
    future: asyncio.Future | None = None  # ... or this resolved on its loop (a caller on an event loop)
    outcome: dict[str, Any] | BaseException | None = None

    def settle(self, outcome: dict[str, Any] | BaseException) -> None:
        self.outcome = outcome
        if self.done is not None:
            self.done.set()
        if self.future is not None:
            loop = self.future.get_loop()
            if not loop.is_closed():
                loop.call_soon_threadsafe(_resolve, self.future)

    def answer(self) -> dict[str, Any]:
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        assert self.outcome is not None
        return self.outcome


def _resolve(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)


@dataclass
class _TapQueue:
    lock: threading.Lock = field(default_factory=threading.Lock)
    pending: list[_Tap] = field(default_factory=list)
    busy: bool = False  # the writer thread is running


_queues: dict[int, _TapQueue] = {}  # by engine
_queues_guard = threading.Lock()


def _enqueue(engine: Engine, tap: _Tap) -> None:
    with _queues_guard:
        queue = _queues.setdefault(id(engine), _TapQueue())
    with queue.lock:
        queue.pending.append(tap)
        if queue.busy:
            return
        queue.busy = True
    threading.Thread(target=_write_taps, args=(engine, queue), name="shopfloor-taps", daemon=True).start()


def _write_taps(engine: Engine, queue: _TapQueue) -> None:
    """The tap writer: batches of the waiting taps, one transaction each, until none waits."""
    while True:
        with queue.lock:
            if not queue.pending:
                queue.busy = False
                return
            batch, queue.pending = queue.pending[:MAX_TAPS_PER_COMMIT], queue.pending[MAX_TAPS_PER_COMMIT:]
        try:
            outcomes = _record_batch(engine, batch)
        except BaseException as exc:  # noqa: BLE001 - every waiting request hears of it; the writer goes on
            outcomes = [exc] * len(batch)
        for t, outcome in zip(batch, outcomes):
            t.settle(outcome)


def _record_batch(engine: Engine, batch: list[_Tap]) -> list[dict[str, Any] | BaseException]:
    """The outcome of each tap of ``batch``; should the batch's transaction fail as a whole (the store away, a
    conflict with another writer), each tap is tried on its own, so that one cannot fail the others."""
    try:
        return list(record_terminal_entries(engine, [(t.operator, t.entry) for t in batch]))
    except Exception as exc:  # noqa: BLE001 - handed to the requests that wait for it
        if len(batch) == 1:
            return [exc]
    out: list[dict[str, Any] | BaseException] = []
    for t in batch:
        try:
            out += record_terminal_entries(engine, [(t.operator, t.entry)])
        except Exception as exc:  # noqa: BLE001 - handed to the request that waits for it
            out.append(exc)
    return out
