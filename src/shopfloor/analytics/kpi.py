"""ISO 22400-2 key performance indicators of a work unit (machine), from its state and count events.

Pure functions: no I/O.  Two steps, so that every screen computes ratios the same way from the same sums:

1. ``compute_elements`` turns the events of one machine in a time window into the ISO 22400-2 *time and
   quantity elements* (``KpiElements``).  Elements are additive: the elements of two adjacent windows add up
   to the elements of their union, which is what makes hourly rollups and line/site totals exact.
2. ``kpis`` turns (summed) elements into ratios.  Aggregating a line or a site sums elements first and takes
   ratios last, so a line's availability is time-weighted, never an average of its machines' ratios.

Time elements (ISO 22400-2:2014; element names as in the standard):

* Scheduled time: the shift calendar's shifts minus breaks (planned operation time, POT).
* PDOT, planned downtime: scheduled time in state ``planned_stop`` or ``no_order``.
* PBT, planned busy time = POT - PDOT, plus unscheduled production: time outside the schedule in which the
  machine was running or in setup is work the plant chose to do (overtime), so it joins PBT; without this
  rule such work would push availability above 1.  Idle or down time outside the schedule is not PBT: a
  machine that is off on a Sunday has no loss.
* APT, actual production time: PBT in state ``running``.
* ASUT (AUST), actual unit setup time: PBT in state ``setup``.
* ADET, actual unit delay time: PBT in state ``down`` or ``idle`` (breakdowns, minor stops, waiting).
* Unknown time: PBT for which no state is known (before the machine's first event).  It is part of PBT,
  but it is neither ADET nor any other measured state: nothing was recorded then.  The ratios over PBT
  (availability, NEE, output per hour) are therefore taken over the *known* PBT, PBT - unknown time, the part
  that was measured; counting unmeasured time as a loss would report a month whose history starts on the 27th
  at a tenth of its real operating rate.  How much of a window was measured is the result's ``Coverage``.
* FE, failure events: entries into ``down``; a breakdown is counted once, in the window holding its first
  second of PBT.  TTR: the PBT spent ``down``.

Quantity elements: PQ produced = GQ good + SQ scrap + RQ rework.  PRU, the planned run time per unit
(ideal cycle time), comes from the product on the machine.  ``ideal_s`` = sum of PRU x PQ.

Time after "now" is never counted: the last state of a machine lasts until now, not until the end of a window
that reaches into the future (``compute_elements(..., now=...)``).  A window's ``Coverage`` says which part of it
had data (from each machine's first event up to now); a result without any data has null figures, never zeros.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timezone

from shopfloor.model.events import CountEvent, CountKind, MachineState, StateChange
from shopfloor.model.intervals import Interval, intersect_all, merge, subtract

PlannedTime = Callable[[Interval], list[Interval]]
IdealCycle = Callable[[str | None], float | None]

_PLANNED_DOWN = {MachineState.PLANNED_STOP, MachineState.NO_ORDER}
_DELAY = {MachineState.DOWN, MachineState.IDLE}
_WORK = {MachineState.RUNNING, MachineState.SETUP}


@dataclass(frozen=True, slots=True)
class KpiElements:
    """ISO 22400-2 time (seconds) and quantity elements of a work unit over a window.  Additive."""

    pbt_s: float = 0.0
    apt_s: float = 0.0
    asut_s: float = 0.0
    adet_s: float = 0.0
    pdot_s: float = 0.0
    unknown_s: float = 0.0
    overtime_s: float = 0.0
    down_s: float = 0.0
    failures: int = 0
    pq: int = 0
    gq: int = 0
    sq: int = 0
    rq: int = 0
    ideal_s: float = 0.0
    pq_without_pru: int = 0

    def __add__(self, other: KpiElements) -> KpiElements:
        return KpiElements(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)

    @classmethod
    def sum(cls, items: Iterable[KpiElements]) -> KpiElements:
        total = cls()
        for item in items:
            total = total + item
        return total


def _div(num: float, den: float) -> float | None:
    return num / den if den > 0 else None


# Timestamps have microsecond resolution: a known PBT below a microsecond is the rounding left over from summing
# PBT and unknown time separately, not measured time.
_RESOLUTION_S = 1e-6


def known_pbt(e: KpiElements) -> float:
    """PBT whose machine state is known: PBT - unknown time (the measured part of PBT), in seconds."""
    known = e.pbt_s - e.unknown_s
    return known if known > _RESOLUTION_S else 0.0


def kpis(e: KpiElements) -> dict[str, float | None]:
    """ISO 22400-2 KPIs and the derived figures Korean SMEs report, from summed elements.

    Ratios are fractions (0.85, not 85 %) and None where the denominator is zero.  PBT in a denominator is the
    known PBT (see ``known_pbt``): time before a machine's first event was not measured, so it is no loss.
    """
    pbt = known_pbt(e)
    availability = _div(e.apt_s, pbt)  # Availability = APT / PBT (known PBT)
    # Effectiveness = PRU x PQ / APT.  Undefined when some produced units have no PRU: a partial sum would
    # understate it silently.
    if e.apt_s > 0 and e.pq_without_pru == 0:
        effectiveness: float | None = e.ideal_s / e.apt_s
    else:
        effectiveness = None
    quality_ratio = _div(e.gq, e.pq)  # Quality ratio = GQ / PQ
    aupt = e.apt_s + e.asut_s  # AUPT = APT + AUST
    if availability == 0 or effectiveness == 0:
        oee: float | None = 0.0  # nothing produced in planned time: OEE is zero whatever Q would be
    elif None in (availability, effectiveness, quality_ratio):
        oee = None
    else:
        oee = availability * effectiveness * quality_ratio  # OEE index = A x E x QR
    nee_base = _div(aupt, pbt)
    if nee_base is None or effectiveness is None or quality_ratio is None:
        nee = 0.0 if (nee_base == 0 or effectiveness == 0) else None
    else:
        nee = nee_base * effectiveness * quality_ratio  # NEE index = (AUPT / PBT) x E x QR
    return {
        "availability": availability,
        "effectiveness": effectiveness,
        "quality_ratio": quality_ratio,
        "oee": oee,
        "nee": nee,
        "technical_efficiency": _div(e.apt_s, e.apt_s + e.adet_s),  # APT / (APT + ADET)
        "setup_rate": _div(e.asut_s, aupt),  # AUST / AUPT
        "scrap_ratio": _div(e.sq, e.pq),  # SQ / PQ
        "rework_ratio": _div(e.rq, e.pq),  # RQ / PQ
        # First pass yield = GP / IP.  Every produced unit is inspected once and good units are good at the
        # first pass (rework is reported as rework, not as good), so GP = GQ and IP = PQ.
        "first_pass_yield": _div(e.gq, e.pq),
        "mtbf_s": _div(e.apt_s, e.failures),  # MTBF = operating time (APT) / FE
        "mttr_s": _div(e.down_s, e.failures),  # MTTR = sum of TTR / FE
        # Defective units (scrap + rework) per million produced: PPM defective, not DPMO.
        "ppm": None if e.pq == 0 else (e.sq + e.rq) * 1_000_000 / e.pq,
        # Good units per hour of (known) planned busy time.
        "output_per_hour": None if pbt == 0 else e.gq * 3600.0 / pbt,
        # 가동률 (operating rate) as Korean SMEs use it: operating time over load time = APT / PBT.
        "operating_rate": availability,
    }


def worker_seconds(spans: Iterable[tuple[datetime, datetime | None]], window: Interval, now: datetime) -> float:
    """Worker-seconds in ``window`` up to ``now``: each person's time from sign-in to sign-out (still signed in: up
    to now), clipped to the window.  Two people at one machine for an hour are two worker-hours."""
    end = min(window.end, now)
    total = 0.0
    for signed_in, signed_out in spans:
        lo, hi = max(signed_in, window.start), min(now if signed_out is None else signed_out, end)
        if hi > lo:
            total += (hi - lo).total_seconds()
    return total


def labour_productivity(gq: float | None, worker_s: float) -> float | None:
    """Labour productivity = good units per worker-hour = GQ / (worker-seconds / 3,600): output per hour worked,
    the labour productivity measure of the OECD Productivity Manual ("Measuring Productivity", OECD 2001, ch. 2:
    output per hour worked) with good units as output.  None without worker time (nobody signed in) or GQ."""
    if gq is None or worker_s <= 0:
        return None
    return gq * 3600.0 / worker_s


# A machine cannot run faster than its ideal cycle: performance (effectiveness) or OEE above 1 is a wrong figure.
OVER_100_CAUSE = (
    "Performance above 100 %: the ideal cycle time is set longer than the machine needs, or units were counted "
    "twice (a typed count on top of the machine's counter)"
)


def over_100(k: dict[str, float | None]) -> list[str]:
    """The ratios of a KPI result that exceed 100 % (effectiveness = ideal time / APT, hence OEE): impossible for a
    machine at its real ideal cycle time, so the figure is flagged with ``OVER_100_CAUSE`` wherever it is shown."""
    return [name for name in ("effectiveness", "oee") if (v := k.get(name)) is not None and v > 1.0 + 1e-9]


@dataclass(frozen=True, slots=True)
class Coverage:
    """Which part of a window had data, over one or more machines.  Additive, like the elements.

    A machine has data from its first event on (before it, nothing was recorded) up to now (after now, nothing
    happened yet).  ``window_s`` and ``covered_s`` are machine-seconds: the window's length times the machines,
    and the part of it in which each machine had data.  ``start`` and ``end`` bound the covered part.
    """

    window_s: float = 0.0
    covered_s: float = 0.0
    start: datetime | None = None
    end: datetime | None = None

    @property
    def fraction(self) -> float | None:
        """Covered share of the window, 0..1; None for an empty window."""
        return self.covered_s / self.window_s if self.window_s > 0 else None

    @property
    def empty(self) -> bool:
        """No data at all: every figure of the window is unknown (null), never zero."""
        return self.covered_s <= 0

    @property
    def partial(self) -> bool:
        """Some part of the window had no data: before the first event, or after now."""
        return self.covered_s < self.window_s

    def __add__(self, other: Coverage) -> Coverage:
        starts = [t for t in (self.start, other.start) if t is not None]
        ends = [t for t in (self.end, other.end) if t is not None]
        return Coverage(
            self.window_s + other.window_s,
            self.covered_s + other.covered_s,
            min(starts) if starts else None,
            max(ends) if ends else None,
        )

    def to_dict(self) -> dict[str, str | float | None]:
        fraction = self.fraction
        return {
            "from": None if self.start is None else self.start.astimezone(timezone.utc).isoformat(),
            "to": None if self.end is None else self.end.astimezone(timezone.utc).isoformat(),
            "fraction": None if fraction is None else round(fraction, 6),
        }


def coverage(window: Interval, first_event: datetime | None, now: datetime) -> Coverage:
    """Coverage of one machine over ``window``: from its first event (None: it has none) up to ``now``."""
    start = None if first_event is None else max(window.start, first_event)
    end = min(window.end, now)
    if start is None or end <= start:
        return Coverage(window.seconds, 0.0)
    return Coverage(window.seconds, (end - start).total_seconds(), start, end)


def clip_to_now(window: Interval, now: datetime) -> Interval:
    """The part of ``window`` up to ``now`` (empty, at the window's start, when the window is all in the future)."""
    return Interval(window.start, min(window.end, max(now, window.start)))


def report(e: KpiElements, cover: Coverage | None = None) -> dict[str, object]:
    """Elements and KPIs in one flat mapping, the shape the CLI and API print.

    With ``cover``: also ``coverage`` (which part of the window had data) and ``partial``.  A window without any
    data has every measured element and every KPI null, since nothing measured it (a zero would claim it was);
    its PBT, all of it unknown time, comes from the calendar and stays, so that buckets still add up to the window.
    """
    out: dict[str, object] = {}
    out.update(e.to_dict())
    out.update(kpis(e))
    if cover is not None:
        if cover.empty:
            out = {k: (v if k in _CALENDAR_ELEMENTS else None) for k, v in out.items()}
        out["coverage"] = cover.to_dict()
        out["partial"] = cover.partial
    return out


# Elements that the shift calendar alone determines when no state is known: they stay numbers without data.
_CALENDAR_ELEMENTS = ("pbt_s", "unknown_s")


@dataclass(frozen=True, slots=True)
class _Segment:
    state: MachineState
    span: Interval


def _segments(states: Sequence[StateChange], horizon: datetime) -> list[_Segment]:
    """State segments up to ``horizon``: each state lasts until the next event of the machine.

    ``states`` must be in time order; of several events at the same instant the last one holds.
    """
    out: list[_Segment] = []
    for i, ev in enumerate(states):
        end = states[i + 1].ts if i + 1 < len(states) else horizon
        end = min(end, horizon)
        if end > ev.ts:
            if out and out[-1].state == ev.state and out[-1].span.end == ev.ts:
                out[-1] = _Segment(ev.state, Interval(out[-1].span.start, end))
            else:
                out.append(_Segment(ev.state, Interval(ev.ts, end)))
    return out


def _clip(spans: Iterable[Interval], window: Interval) -> list[Interval]:
    return [p for p in (s.intersect(window) for s in spans) if p is not None]


def _seconds(spans: Iterable[Interval]) -> float:
    return sum((s.seconds for s in spans), 0.0)


def compute_elements(
    window: Interval,
    states: Sequence[StateChange],
    counts: Iterable[CountEvent],
    planned_time: PlannedTime,
    ideal_cycle: IdealCycle,
    now: datetime | None = None,
) -> KpiElements:
    """ISO 22400-2 elements of one machine over ``window``.

    ``states``: the machine's state events in time order, starting with the last event at or before
    ``window.start`` (so the state at the start is known) and covering the window.
    ``counts``: its count events; those with ``window.start <= ts < window.end`` are counted.
    ``planned_time(interval)``: the scheduled time (shifts minus breaks) inside an interval.
    ``ideal_cycle(product)``: PRU of a product on this machine in seconds, or None when unknown.
    ``now``: time is not counted past this instant (the last state lasts until now, not until the window end).
    """
    if now is not None:
        window = clip_to_now(window, now)
    if window.seconds == 0:
        return _count_elements(KpiElements(), window, counts, ideal_cycle)
    segments = _segments(states, window.end)
    scheduled = planned_time(window)

    by_state: dict[MachineState, list[Interval]] = {s: [] for s in MachineState}
    for seg in segments:
        part = seg.span.intersect(window)
        if part is not None:
            by_state[seg.state].append(part)

    pdot = intersect_all(scheduled, [iv for s in _PLANNED_DOWN for iv in by_state[s]])
    busy = subtract(scheduled, pdot)
    work = merge(iv for s in _WORK for iv in by_state[s])
    overtime = subtract(work, scheduled)
    pbt = merge(busy + overtime)

    apt = _seconds(intersect_all(pbt, by_state[MachineState.RUNNING]))
    asut = _seconds(intersect_all(pbt, by_state[MachineState.SETUP]))
    down = _seconds(intersect_all(busy, by_state[MachineState.DOWN]))
    idle = _seconds(intersect_all(busy, by_state[MachineState.IDLE]))
    known = merge(iv for ivs in by_state.values() for iv in ivs)
    unknown = _seconds(subtract(busy, known))

    failures = 0
    for seg in segments:
        if seg.state is not MachineState.DOWN:
            continue
        first = _first_busy_instant(seg.span, window.end, planned_time, segments)
        if first is not None and window.contains(first):
            failures += 1

    elements = KpiElements(
        pbt_s=_seconds(pbt),
        apt_s=apt,
        asut_s=asut,
        adet_s=down + idle,
        pdot_s=_seconds(pdot),
        unknown_s=unknown,
        overtime_s=_seconds(overtime),
        down_s=down,
        failures=failures,
    )
    return _count_elements(elements, window, counts, ideal_cycle)


def _first_busy_instant(
    span: Interval, limit: datetime, planned_time: PlannedTime, segments: Sequence[_Segment]
) -> datetime | None:
    """First instant of a down segment that is planned busy time (scheduled and not planned downtime).

    Down time is never overtime (only running and setup are), and planned downtime cannot overlap a down
    segment of the same machine, so the scheduled part of the segment is its busy part.
    """
    span = Interval(span.start, min(span.end, limit)) if span.start < limit else None  # type: ignore[assignment]
    if span is None:
        return None
    scheduled = planned_time(span)
    return scheduled[0].start if scheduled else None


def _count_elements(
    base: KpiElements, window: Interval, counts: Iterable[CountEvent], ideal_cycle: IdealCycle
) -> KpiElements:
    gq = sq = rq = 0
    ideal = 0.0
    without_pru = 0
    for c in counts:
        if not window.contains(c.ts) or c.quantity == 0:
            continue
        if c.kind is CountKind.GOOD:
            gq += c.quantity
        elif c.kind is CountKind.SCRAP:
            sq += c.quantity
        else:
            rq += c.quantity
        pru = ideal_cycle(c.product)
        if pru is None:
            without_pru += c.quantity
        else:
            ideal += pru * c.quantity
    return KpiElements(
        pbt_s=base.pbt_s,
        apt_s=base.apt_s,
        asut_s=base.asut_s,
        adet_s=base.adet_s,
        pdot_s=base.pdot_s,
        unknown_s=base.unknown_s,
        overtime_s=base.overtime_s,
        down_s=base.down_s,
        failures=base.failures,
        pq=gq + sq + rq,
        gq=gq,
        sq=sq,
        rq=rq,
        ideal_s=ideal,
        pq_without_pru=without_pru,
    )


def collapse_states(states: Iterable[StateChange]) -> list[StateChange]:
    """Keep only the events that change the state (the first event of each run of equal states).

    A second ``down`` event with another reason does not start a second breakdown; KPIs depend only on
    when the state changes.
    """
    out: list[StateChange] = []
    for ev in states:
        if out and out[-1].state == ev.state:
            continue
        out.append(ev)
    return out


class PlannedTimeIndex:
    """Scheduled time over a long range, computed once and sliced per bucket with binary search."""

    def __init__(self, intervals: Sequence[Interval], covered: Interval, fallback: PlannedTime):
        self._intervals = merge(intervals)
        self._starts = [iv.start for iv in self._intervals]
        self._covered = covered
        self._fallback = fallback

    def __call__(self, window: Interval) -> list[Interval]:
        if window.start < self._covered.start or window.end > self._covered.end:
            return self._fallback(window)

        i = max(bisect_right(self._starts, window.start) - 1, 0)
        out = []
        while i < len(self._intervals) and self._intervals[i].start < window.end:
            part = self._intervals[i].intersect(window)
            if part is not None:
                out.append(part)
            i += 1
        return out


class MachineHistory:
    """One machine's events in time order, sliced per window for ``compute_elements``."""

    def __init__(self, states: Iterable[StateChange], counts: Iterable[CountEvent]):
        self.states = collapse_states(sorted(states, key=lambda e: e.ts))
        self.counts = sorted(counts, key=lambda e: e.ts)
        self._state_ts = [e.ts for e in self.states]
        self._count_ts = [e.ts for e in self.counts]

    def states_for(self, window: Interval) -> list[StateChange]:
        first = max(bisect_right(self._state_ts, window.start) - 1, 0)
        last = bisect_left(self._state_ts, window.end)
        return self.states[first:last]

    def counts_for(self, window: Interval) -> list[CountEvent]:
        return self.counts[bisect_left(self._count_ts, window.start) : bisect_left(self._count_ts, window.end)]

    def elements(
        self, window: Interval, planned_time: PlannedTime, ideal_cycle: IdealCycle, now: datetime | None = None
    ) -> KpiElements:
        return compute_elements(
            window, self.states_for(window), self.counts_for(window), planned_time, ideal_cycle, now
        )
