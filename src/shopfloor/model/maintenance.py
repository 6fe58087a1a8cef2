"""Preventive maintenance: when a plan falls due, and what a maintenance order is.

A plan keeps a machine or a mould in order by one trigger:

* ``calendar``: every ``interval`` days since it was last done;
* ``run_hours``: every ``interval`` hours of actual production time (ISO 22400-2 APT, the time the machine was
  ``running``) since it was last done;
* ``cycles``: every ``interval`` units produced (PQ, the counts the machine reported) since it was last done;
* ``shots``: every ``interval`` shots of a mould (one shot makes ``cavities`` parts, so shots = PQ / cavities
  over the time it was mounted).

The usage since the plan was last done comes from the machine data the store already holds (events and
rollups); this module only compares it with the interval.  A plan is ``due`` once the usage is within
``warn_before`` of the interval (it is coming due: plan it), and ``overdue`` once it has reached the interval.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta


class Trigger(enum.StrEnum):
    CALENDAR = "calendar"
    RUN_HOURS = "run_hours"
    CYCLES = "cycles"
    SHOTS = "shots"


# The unit each trigger counts its usage in.
UNITS = {Trigger.CALENDAR: "d", Trigger.RUN_HOURS: "h", Trigger.CYCLES: "pcs", Trigger.SHOTS: "shots"}


class DueState(enum.StrEnum):
    OK = "ok"
    DUE = "due"  # within the warning margin: coming due
    OVERDUE = "overdue"  # the interval is used up


class OrderKind(enum.StrEnum):
    PREVENTIVE = "preventive"
    BREAKDOWN = "breakdown"


class OrderStatus(enum.StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    CLOSED = "closed"


# The steps an order may take: a breakdown is acknowledged by maintenance staff before the repair starts; a
# preventive order may start at once.  Any open order may be closed (a request raised by mistake is closed too).
ORDER_STEPS: dict[OrderStatus, tuple[OrderStatus, ...]] = {
    OrderStatus.OPEN: (OrderStatus.ACKNOWLEDGED, OrderStatus.IN_PROGRESS, OrderStatus.CLOSED),
    OrderStatus.ACKNOWLEDGED: (OrderStatus.IN_PROGRESS, OrderStatus.CLOSED),
    OrderStatus.IN_PROGRESS: (OrderStatus.CLOSED,),
    OrderStatus.CLOSED: (),
}


@dataclass(frozen=True, slots=True)
class Due:
    """Where a plan stands: usage since it was last done against its interval."""

    state: DueState
    used: float
    interval: float
    remaining: float  # interval - used; negative once overdue
    unit: str
    due_at: datetime | None = None  # calendar plans only: the day it falls due

    @property
    def fraction(self) -> float:
        return self.used / self.interval if self.interval else 0.0

    def to_dict(self) -> dict[str, object]:
        return {
            "state": self.state.value,
            "used": round(self.used, 3),
            "interval": self.interval,
            "remaining": round(self.remaining, 3),
            "unit": self.unit,
            "fraction": round(self.fraction, 4),
            "due_at": self.due_at.isoformat() if self.due_at else None,
        }


def due(trigger: Trigger, interval: float, warn_before: float, used: float, last_done: datetime | None = None) -> Due:
    """The state of a plan whose usage since it was last done is ``used`` (days, hours, units or shots).

    ``ok`` while ``used < interval - warn_before``, ``due`` from there, ``overdue`` once ``used >= interval``.
    """
    if interval <= 0:
        raise ValueError("a maintenance interval must be positive")
    if used >= interval:
        state = DueState.OVERDUE
    elif used >= interval - max(warn_before, 0.0):
        state = DueState.DUE
    else:
        state = DueState.OK
    due_at = last_done + timedelta(days=interval) if trigger is Trigger.CALENDAR and last_done else None
    return Due(state, used, interval, interval - used, UNITS[trigger], due_at)


def days_since(last_done: datetime, now: datetime) -> float:
    """Calendar usage: days (with fractions) from ``last_done`` to ``now``, never negative."""
    return max((now - last_done).total_seconds(), 0.0) / 86_400


def shots(parts: int, cavities: int) -> int:
    """Shots of a mould that made ``parts`` parts: each shot fills every cavity once, so shots = parts / cavities
    (a partial last shot, e.g. a blocked cavity, counts as a shot)."""
    if cavities < 1:
        raise ValueError("a mould has at least one cavity")
    return -(-parts // cavities)


def can_step(status: OrderStatus, to: OrderStatus) -> bool:
    return to in ORDER_STEPS[status]
