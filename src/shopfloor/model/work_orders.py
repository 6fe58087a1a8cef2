"""Work order statuses and the transitions between them.

planned -> released -> in_progress -> completed -> closed; planned, released and in_progress may be
cancelled.  Anything else is refused with the allowed next statuses named.
"""

from __future__ import annotations

import enum


class Status(enum.StrEnum):
    PLANNED = "planned"
    RELEASED = "released"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    CLOSED = "closed"
    CANCELLED = "cancelled"


TRANSITIONS: dict[Status, tuple[Status, ...]] = {
    Status.PLANNED: (Status.RELEASED, Status.CANCELLED),
    Status.RELEASED: (Status.IN_PROGRESS, Status.CANCELLED),
    Status.IN_PROGRESS: (Status.COMPLETED, Status.CANCELLED),
    Status.COMPLETED: (Status.CLOSED,),
    Status.CLOSED: (),
    Status.CANCELLED: (),
}


class TransitionError(ValueError):
    pass


def check_transition(code: str, current: Status, target: Status) -> None:
    allowed = TRANSITIONS[current]
    if target not in allowed:
        nxt = ", ".join(s.value for s in allowed) or "nothing (final)"
        raise TransitionError(f"work order {code} is {current.value}: it can go to {nxt}, not {target.value}")
