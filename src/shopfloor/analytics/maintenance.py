"""Maintenance figures of a machine or a mould, and how planned maintenance enters the KPI engine.  Pure.

Reliability (ISO 22400-2:2014, 5.2: MTBF and MTTR of a work unit; IEC 60050-192:2015, 192-05-13 mean operating
time between failures and 192-07-23 mean time to restoration):

* FE, failure events: the breakdowns raised in the window (maintenance orders of kind ``breakdown``).
* TBF, time between failures: operating time, i.e. actual production time (APT) in the window.
* MTBF = sum(TBF) / FE = APT / FE (None without a failure: no failure, no mean).
* TTR, time to repair of one breakdown: from the start of the downtime it was raised for (or when it was raised)
  until the order was closed and the machine was handed back.
* MTTR = sum(TTR) / number of repaired breakdowns.
* Maintenance cost = sum over orders of (parts: quantity x unit cost) + (labour minutes / 60 x hourly rate).

Planned maintenance is planned downtime (ISO 22400-2 PDOT): while a preventive order runs inside its planned
window the machine is in state ``planned_stop``, which ``analytics.kpi`` removes from planned busy time.  The part
of the work that runs past the planned window is not planned: the machine is in state ``idle`` (an unplanned
delay, ADET) from the end of the window until the order is closed.  It is not a breakdown either, so it adds no
failure event.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from shopfloor.model.events import MachineState, StateChange

PM_REASON = "PM"
PM_OVERRUN_REASON = "PM_OVERRUN"
PM_DONE_REASON = "PM_DONE"


@dataclass(frozen=True, slots=True)
class Repair:
    """One breakdown: when its downtime began and when it was closed (None while open)."""

    down_since: datetime
    closed_at: datetime | None


def mtbf_s(operating_s: float, failures: int) -> float | None:
    """Mean operating time between failures, seconds: APT / FE."""
    return operating_s / failures if failures > 0 else None


def mttr_s(repairs: Iterable[Repair]) -> float | None:
    """Mean time to repair, seconds, over the repairs that were closed."""
    times = [(r.closed_at - r.down_since).total_seconds() for r in repairs if r.closed_at is not None]
    return sum(times) / len(times) if times else None


def order_cost(parts: Sequence[dict], labour_minutes: float, hourly_rate: float) -> float:
    """Parts (``qty`` x ``unit_cost`` each) plus labour (minutes / 60 x hourly rate)."""
    return sum(float(p["qty"]) * float(p.get("unit_cost") or 0) for p in parts) + labour_minutes / 60 * hourly_rate


def pm_states(
    machine: str, started: datetime, planned_minutes: float, closed: datetime | None, source: str
) -> list[StateChange]:
    """The machine's states for a preventive order started at ``started`` with a planned window of
    ``planned_minutes``: ``planned_stop`` from the start; if it is closed after the window, ``idle`` (overrun) from
    the window's end; ``idle`` (done, waiting for the next order) from the close."""
    end_of_window = started + timedelta(minutes=planned_minutes)
    out = [StateChange(started, machine, MachineState.PLANNED_STOP, PM_REASON, source)]
    if closed is not None:
        if closed > end_of_window:
            out.append(StateChange(end_of_window, machine, MachineState.IDLE, PM_OVERRUN_REASON, source))
        out.append(StateChange(closed, machine, MachineState.IDLE, PM_DONE_REASON, source))
    return out
