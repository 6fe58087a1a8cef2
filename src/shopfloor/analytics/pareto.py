"""Pareto analysis (largest contributors first, with cumulative share) and downtime by reason.

Pareto ordering after J. M. Juran's "vital few and useful many" (Juran's Quality Handbook, 5th ed., 1999):
categories sorted by their contribution, each with its cumulative percentage of the total.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from shopfloor.analytics.kpi import PlannedTime
from shopfloor.model.events import MachineState, StateChange
from shopfloor.model.intervals import Interval, intersect_all

_LOSS_STATES = {MachineState.DOWN, MachineState.IDLE}


@dataclass(frozen=True)
class ParetoRow:
    category: str
    value: float
    count: int
    share_pct: float
    cumulative_pct: float


def pareto(items: Iterable[tuple[str, float, int]]) -> list[ParetoRow]:
    """Rows sorted by value (ties by name); shares of the total in percent."""
    merged: dict[str, list[float]] = {}
    for category, value, count in items:
        acc = merged.setdefault(category, [0.0, 0])
        acc[0] += value
        acc[1] += count
    rows = sorted(merged.items(), key=lambda kv: (-kv[1][0], kv[0]))
    total = sum(v for v, _ in merged.values())
    out, running = [], 0.0
    for category, (value, count) in rows:
        running += value
        out.append(
            ParetoRow(
                category,
                value,
                int(count),
                100.0 * value / total if total else 0.0,
                100.0 * running / total if total else 0.0,
            )
        )
    return out


def state_segments(states: Sequence[StateChange], window: Interval) -> list[tuple[Interval, StateChange]]:
    """Each state event's span (until the next event), clipped to the window; reasons are kept."""
    out = []
    for i, ev in enumerate(states):
        end = states[i + 1].ts if i + 1 < len(states) else window.end
        part = Interval(ev.ts, max(ev.ts, min(end, window.end))).intersect(window)
        if part is not None:
            out.append((part, ev))
    return out


def downtime_by_reason(
    states: Sequence[StateChange], window: Interval, planned_time: PlannedTime, unknown: str = "(no reason)"
) -> list[ParetoRow]:
    """Planned time lost in ``down`` or ``idle`` per reason (ADET by reason), largest first.

    A stop is counted once per reason run, however many events repeat it.
    """
    busy = planned_time(window)
    items = []
    previous: tuple[MachineState, str | None] | None = None
    for span, ev in state_segments(states, window):
        if ev.state not in _LOSS_STATES:
            previous = (ev.state, ev.reason)
            continue
        seconds = sum(iv.seconds for iv in intersect_all([span], busy))
        new_stop = previous != (ev.state, ev.reason)
        previous = (ev.state, ev.reason)
        if seconds > 0 or new_stop:
            items.append((ev.reason or unknown, seconds, 1 if new_stop and seconds > 0 else 0))
    return [r for r in pareto(items) if r.value > 0]
