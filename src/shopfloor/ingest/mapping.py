"""Turning Signals into machine events and process-value measurements, following each machine's tag
mapping (``model.tags``).

``SignalMapper``'s state (counter baselines, compression filters, current product) is exported with
``state()`` and committed with the rows it produced, so a restart neither counts twice nor loses a held value.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial
from itertools import repeat
from math import isfinite
from operator import is_
from typing import Any, NamedTuple

from shopfloor.connectors.base import Quality, Signal, SignalBlock
from shopfloor.ingest.compression import Deadband, Point, SwingingDoor, make_filter
from shopfloor.ingest.counters import CounterTracker
from shopfloor.model.events import CountEvent, CountKind, MachineEvent, MachineState, StateChange
from shopfloor.model.plant import Plant
from shopfloor.model.tags import COUNT_ROLES, CounterRule, ProcessRule, as_number, parse_tags, value_key


class Measurement(NamedTuple):
    """One stored process value (a named tuple: immutable and cheap to build on the ingest hot path)."""

    ts: datetime
    machine: str
    name: str
    value: float
    quality: str = "good"


# Builds a Measurement from one tuple of its fields without the keyword-handling constructor (hot path).
_measurement = partial(tuple.__new__, Measurement)


class MeasurementColumns(NamedTuple):
    """The process values of one SignalBlock stored as they are (every tag an uncompressed process value,
    every value a finite float, all GOOD): ``names[i]`` is ``values[i]`` at ``times[stamps[i]]``."""

    machine: str
    names: list[str]
    stamps: list[int]
    times: dict[int, datetime]
    values: list[float]

    def rows(self) -> list[Measurement]:
        return [Measurement(self.times[k], self.machine, n, v) for k, n, v in zip(self.stamps, self.names, self.values)]


@dataclass
class Mapped:
    events: list[MachineEvent] = field(default_factory=list)
    measurements: list[Measurement] = field(default_factory=list)
    columns: list[MeasurementColumns] = field(default_factory=list)  # more measurements, a block at a time
    anomalies: list[tuple[Signal, str]] = field(default_factory=list)
    # The NC programs the machines reported running: (time, machine, program name), each change once.
    programs: list[tuple[datetime, str, str]] = field(default_factory=list)
    ignored: int = 0
    # Good count events made from total increments in this batch, by machine: their place in ``events``.
    _good_from_total: dict[str, list[int]] = field(default_factory=dict, repr=False)

    def add_good_from_total(self, event: CountEvent) -> None:
        self._good_from_total.setdefault(event.machine, []).append(len(self.events))
        self.events.append(event)

    def take_back_good(self, machine: str, units: int) -> int:
        """Take ``units`` back from this batch's good events of ``machine`` made from total increments, the most
        recent first (they were scrap or rework); the units that found no good event to come from."""
        places = self._good_from_total.get(machine)
        while units and places:
            place = places[-1]
            event = self.events[place]
            taken = min(units, event.quantity)  # type: ignore[union-attr]
            units -= taken
            if taken == event.quantity:  # type: ignore[union-attr]
                places.pop()
                self.events[place] = None  # type: ignore[call-overload]
            else:
                self.events[place] = replace(event, quantity=event.quantity - taken)  # type: ignore[arg-type]
        return units

    def finish(self) -> Mapped:
        """Drop the events taken back whole."""
        if self._good_from_total:
            self.events = [e for e in self.events if e is not None]
            self._good_from_total = {}
        return self


class SignalMapper:
    """Signals -> events and measurements for every machine of a plant, following its tag mapping."""

    def __init__(self, plant: Plant, state: dict[str, Any] | None = None):
        self.plant = plant
        products = {p.code for p in plant.products}
        self.tags = {m.code: parse_tags(m.code, m.tags, products) for m in plant.machines if m.tags}
        self._by_signal: dict[tuple[str, str], list[tuple[str, Any]]] = {}
        for code, t in self.tags.items():
            if t.state:
                self._route(code, t.state.signal, "state", t.state)
            for c in t.counters:
                self._route(code, c.signal, c.role, c)
            if t.alarm_signal:
                self._route(code, t.alarm_signal, "alarm", None)
            if t.product_signal:
                self._route(code, t.product_signal, "product", None)
            for p in t.process:
                self._route(code, p.signal, "process", p)
            if t.program_signal:
                self._route(code, t.program_signal, "program", None)
        # Signals whose only use is an uncompressed process value: (machine, signal) -> stored name.
        self._plain = {
            key: routes[0][1].name
            for key, routes in self._by_signal.items()
            if len(routes) == 1 and routes[0][0] == "process" and routes[0][1].compression == "none"
        }
        # The same per machine: machine -> {signal: stored name}, for a SignalBlock's tags.
        self._plain_by_machine: dict[str, dict[str, str]] = {}
        for (machine, signal), name in self._plain.items():
            self._plain_by_machine.setdefault(machine, {})[signal] = name
        # The stored names of each machine's last block tags (None: not every tag plain); blocks of one device
        # share their tags, so this is looked up once per device rather than once per value.
        self._stored: dict[str, tuple[Sequence[str], list[str] | None]] = {}
        self._counters: dict[str, CounterTracker] = {}
        self._filters: dict[str, Deadband | SwingingDoor | None] = {}
        self._product: dict[str, str | None] = {}
        self._program: dict[str, str] = {}  # not kept across restarts: the first reading after one is checked again
        self._last_state: dict[str, MachineState] = {}
        self._alarm: dict[str, str | None] = {}
        self._pending_scrap: dict[str, int] = {}
        self._filter_state: dict[str, Any] = {}
        if state:
            self.load_state(state)

    def product_of(self, machine: str) -> str | None:
        """The product the machine makes now: from its product signal, else its configured default."""
        tags = self.tags.get(machine)
        return self._product.get(machine) or (tags.product_default if tags else None)

    def _route(self, machine: str, signal: str, role: str, rule: Any) -> None:
        self._by_signal.setdefault((machine, signal), []).append((role, rule))

    # -- state --------------------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """Everything needed to continue exactly where this mapper stands (JSON-serialisable)."""
        return {
            "counters": {k: c.to_dict() for k, c in self._counters.items()},
            "filters": {k: f.state() for k, f in self._filters.items() if f is not None},
            "product": self._product,
            "last_state": {k: v.value for k, v in self._last_state.items()},
            "alarm": self._alarm,
            "pending_scrap": self._pending_scrap,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self._counters = {k: CounterTracker.from_dict(v) for k, v in state.get("counters", {}).items()}
        self._filter_state = state.get("filters", {})
        self._filters = {}  # rebuilt from the saved states on next use
        self._product = dict(state.get("product", {}))
        self._last_state = {k: MachineState(v) for k, v in state.get("last_state", {}).items()}
        self._alarm = dict(state.get("alarm", {}))
        self._pending_scrap = dict(state.get("pending_scrap", {}))

    def machine_state(self, machine: str) -> dict[str, Any]:
        """The part of the state that belongs to one machine (its counters, compression filters, product, state,
        alarm and scrap already reported), to be kept per machine where several workers share the machines."""
        prefix = f"{machine}/"
        filters = {k: f.state() for k, f in self._filters.items() if f is not None and k.startswith(prefix)}
        for k, v in self._filter_state.items():
            if k.startswith(prefix) and k not in self._filters:
                filters[k] = v
        return {
            "counters": {k: c.to_dict() for k, c in self._counters.items() if k.startswith(prefix)},
            "filters": filters,
            "product": self._product.get(machine),
            "last_state": self._last_state[machine].value if machine in self._last_state else None,
            "alarm": self._alarm.get(machine),
            "pending_scrap": self._pending_scrap.get(machine, 0),
        }

    def load_machine_state(self, machine: str, state: dict[str, Any]) -> None:
        """Take one machine's state as another worker left it (replacing what this mapper held for it)."""
        prefix = f"{machine}/"
        for table in (self._counters, self._filters, self._filter_state):
            for k in [k for k in table if k.startswith(prefix)]:
                del table[k]
        self._counters.update({k: CounterTracker.from_dict(v) for k, v in state.get("counters", {}).items()})
        self._filter_state.update(state.get("filters", {}))
        for table, key in ((self._product, "product"), (self._alarm, "alarm")):
            table[machine] = state.get(key)
        if state.get("last_state"):
            self._last_state[machine] = MachineState(state["last_state"])
        else:
            self._last_state.pop(machine, None)
        self._pending_scrap[machine] = int(state.get("pending_scrap") or 0)

    # -- mapping ------------------------------------------------------------------------------------------
    def map(self, signals: list[Signal | SignalBlock]) -> Mapped:
        out = Mapped()
        self._map_into(signals, out)
        return out.finish()

    def _map_into(self, signals: list[Signal | SignalBlock] | list[Signal], out: Mapped) -> None:
        by_signal, plain, append, good = self._by_signal, self._plain, out.measurements.append, Quality.GOOD
        for sig in signals:
            if sig.__class__ is SignalBlock:
                if not self._columns(sig, out):  # type: ignore[arg-type]
                    self._map_into(sig.signals(), out)  # type: ignore[union-attr]
                continue
            _, machine, tag, value, ts, quality, _ = sig
            # The hot path of ingest: a good float of a process value stored as it is.
            name = plain.get((machine, tag))
            # (value - value == 0.0 holds for every finite float, and for neither infinity nor NaN.)
            if name is not None and quality is good and value.__class__ is float and value - value == 0.0:
                append(_measurement((ts, machine, name, value, "good")))
                continue
            routes = by_signal.get((machine, tag))
            if not routes:
                out.ignored += 1
                continue
            for role, rule in routes:
                if role == "process" and rule.compression == "none" and quality is good and type(value) is int:
                    append(_measurement((ts, machine, rule.name, float(value), "good")))
                    continue
                self._apply(sig, role, rule, out)  # type: ignore[arg-type]

    def take_columns(
        self, signals: list[Signal | SignalBlock]
    ) -> tuple[list[Signal | SignalBlock], list[MeasurementColumns]]:
        """The blocks of plain process values as columns (they need no state of the mapper), and the rest."""
        taken = Mapped()
        rest = [s for s in signals if s.__class__ is not SignalBlock or not self._columns(s, taken)]  # type: ignore[arg-type]
        return rest, taken.columns

    def _columns(self, block: SignalBlock, out: Mapped) -> bool:
        """A block whose every tag is an uncompressed process value and every value a finite float goes to
        ``out.columns`` whole; False, with nothing done, for any other (mapped Signal by Signal instead)."""
        tags = block.tags
        known = self._stored.get(block.machine)
        if known is not None and (known[0] is tags or known[0] == tags):
            stored = known[1]
        else:
            names = self._plain_by_machine.get(block.machine)
            stored = list(map(names.get, tags)) if names is not None else None
            if stored is not None and None in stored:
                stored = None
            if len(self._stored) >= 10_000:
                self._stored.clear()
            self._stored[block.machine] = (tags, stored)
        if stored is None:
            return False
        values = block.values
        if not all(map(is_, map(type, values), repeat(float))) or not all(map(isfinite, values)):
            return False
        out.columns.append(MeasurementColumns(block.machine, stored, block.stamps, block.times, values))  # type: ignore[arg-type]
        return True

    def _apply(self, sig: Signal, role: str, rule: Any, out: Mapped) -> None:
        m = sig.machine
        if sig.quality in (Quality.BAD, Quality.STALE) or sig.value is None:
            # An unknown value says nothing about the machine; counters keep their baseline.
            out.ignored += 1
            return
        if role == "state":
            st = rule.state_of(sig.value)
            if st is None:
                out.anomalies.append((sig, f"state value {sig.value!r} matches no rule of the mapping"))
                return
            before = self._last_state.get(m)
            if before == st:
                return  # polled sources repeat the state; only a change is an event
            self._last_state[m] = st
            if not self._alarm.get(m):
                origin = _origin(sig, f"{before.value if before else ''}>{st.value}")
                out.events.append(StateChange(sig.ts, m, st, None, sig.source, origin))
        elif role == "alarm":
            code = value_key(sig.value)
            active = code not in ("0", "", "false", "none", "None")
            reason = self.tags[m].alarm_reasons.get(code, f"ALARM_{code}") if active else None
            before_reason = self._alarm.get(m)
            if reason == before_reason:
                return
            self._alarm[m] = reason
            origin = _origin(sig, f"alarm:{before_reason or ''}>{reason or ''}")
            if active:
                out.events.append(StateChange(sig.ts, m, MachineState.DOWN, reason, sig.source, origin))
            else:
                back = self._last_state.get(m, MachineState.IDLE)
                out.events.append(StateChange(sig.ts, m, back, None, sig.source, origin))
        elif role == "product":
            key = value_key(sig.value)
            self._product[m] = self.tags[m].product_map.get(key, key)
        elif role == "program":
            name = str(sig.value).strip()
            if name and self._program.get(m) != name:
                self._program[m] = name
                out.programs.append((sig.ts, m, name))
        elif role in COUNT_ROLES:
            self._count(sig, rule, out)
        elif role == "process":
            self._process(sig, rule, out)

    def _count(self, sig: Signal, rule: CounterRule, out: Mapped) -> None:
        """One counter reading -> its increment as a count event.

        A total counter and scrap (or rework) counters of one machine: total = good + scrap + rework, so the
        good units of an observation are delta(total) - delta(scrap) - delta(rework), never negative, whatever
        order the readings arrive in.  A scrap increment first takes back good units that total increments of
        the same batch counted (the most recent first: readings of one instant arrive together, and a part is
        found bad at or after it was counted); what is left waits (``pending_scrap``, kept with the mapper's
        state) and is taken from the next total increments."""
        number = as_count(sig.value)
        if number is None:
            out.anomalies.append((sig, f"counter value {sig.value!r} is not a whole number"))
            return
        key = f"{sig.machine}/{sig.tag}"
        tracker = self._counters.get(key)
        if tracker is None:
            tracker = self._counters[key] = CounterTracker(bits=rule.bits)
        # A machine cannot make parts faster than twice its ideal rate: more is a jump, not production.
        pru = self.plant.ideal_cycle(self.product_of(sig.machine), sig.machine)
        tracker.max_rate_per_s = 2.0 / pru if pru else None
        before = tracker.last
        result = tracker.update(number, sig.ts)
        if result.anomaly:
            out.anomalies.append((sig, result.reason))
        increment = result.increment
        if increment <= 0:
            return
        ts = result.at if result.at is not None else sig.ts
        m = sig.machine
        product = self.product_of(m)
        # The reading's identity: its source id where the protocol has one, else its time; and the counter
        # values read, so that two increments at one instant are two events.
        origin = _origin(sig, f"{before}>{number}")
        if rule.role in ("scrap_count", "rework_count"):
            kind = CountKind.SCRAP if rule.role == "scrap_count" else CountKind.REWORK
            out.events.append(CountEvent(ts, m, kind, increment, product, rule.reason, sig.source, None, origin))
            if self._has_total(m):
                left = out.take_back_good(m, increment)
                if left:
                    self._pending_scrap[m] = self._pending_scrap.get(m, 0) + left
        elif rule.role == "good_count":
            out.events.append(CountEvent(ts, m, CountKind.GOOD, increment, product, None, sig.source, None, origin))
        else:
            # total = good + scrap + rework: scrap and rework already reported are not good units.
            pending = self._pending_scrap.get(m, 0)
            taken = min(increment, pending)
            if pending:
                self._pending_scrap[m] = pending - taken
            if increment - taken > 0:
                event = CountEvent(ts, m, CountKind.GOOD, increment - taken, product, None, sig.source, None, origin)
                out.add_good_from_total(event)

    def _has_total(self, machine: str) -> bool:
        tags = self.tags.get(machine)
        return tags is not None and any(c.role == "total_count" for c in tags.counters)

    def _process(self, sig: Signal, rule: ProcessRule, out: Mapped) -> None:
        number = as_number(sig.value)
        if number is None:
            out.anomalies.append((sig, f"process value {sig.value!r} is not a number"))
            return
        if not math.isfinite(number):
            # NaN or an infinity is no measurement (and a store keeps NaN as NULL): kept in quarantine instead.
            out.anomalies.append((sig, f"process value {sig.value!r} is not a finite number"))
            return
        key = f"{sig.machine}/{rule.name}"
        if key not in self._filters:
            filt = make_filter(rule.compression, rule.deviation, rule.max_gap_s)
            saved = self._filter_state.get(key)
            if filt is not None and saved and saved.get("kind") == rule.compression:
                filt.restore(saved)
            self._filters[key] = filt
        filt = self._filters[key]
        quality = sig.quality.value
        if filt is None or sig.quality is not Quality.GOOD:
            out.measurements.append(Measurement(sig.ts, sig.machine, rule.name, number, quality))
            return
        try:
            kept = filt.add(Point(sig.ts, number))
        except ValueError as exc:
            out.anomalies.append((sig, str(exc)))
            return
        out.measurements.extend(Measurement(p.ts, sig.machine, rule.name, p.value) for p in kept)


def as_count(value: Any) -> int | None:
    """A counter reading as an exact integer (a UInt64 counter near 2^64 must not pass through a float), or None
    when it is not a whole number."""
    if value.__class__ is int:
        return value  # type: ignore[return-value]
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str):
        text = value.strip()
        if text.isascii() and (text.isdigit() or (text[:1] in "+-" and text[1:].isdigit())):
            return int(text)
        try:
            number = float(text)
        except ValueError:
            return None
        return int(number) if number.is_integer() else None
    return None


def _origin(sig: Signal, change: str) -> str:
    """The identity of the event a reading makes: the reading's source id (or, without one, its time) and tag,
    and the change it reports (counter values before and after, states before and after)."""
    return f"{sig.source_id or sig.ts.isoformat()}|{sig.tag}|{change}"
