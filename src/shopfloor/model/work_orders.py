"""Work order statuses and the transitions between them.

planned -> released -> in_progress -> completed -> closed; planned, released and in_progress may be
cancelled.  Anything else is refused with the allowed next statuses named.
"""

from __future__ import annotations

import enum

from shopfloor.errors import TransitionNotAllowed, WorkOrderFinal


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


def check_transition(code: str, current: Status, target: Status) -> None:
    """Refuse a step the order's status does not allow, naming the steps it does."""
    allowed = TRANSITIONS[current]
    if target in allowed:
        return
    if not allowed:
        raise WorkOrderFinal(work_order=code, status=current.value, target=target.value)
    raise TransitionNotAllowed(
        work_order=code, status=current.value, allowed=[s.value for s in allowed], target=target.value
    )
