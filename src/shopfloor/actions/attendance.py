"""People on the floor: sign-in and sign-out at a machine's terminal by badge, the worker time of labour
productivity.  Live event: the machine."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Engine

from shopfloor.actions.core import change
from shopfloor.errors import AlreadySignedIn, MachineUnknown
from shopfloor.store import attendance


def sign_in(engine: Engine, actor: str, badge: str, *, machine: str, at: datetime | None = None) -> dict[str, Any]:
    """The person with ``badge`` starts working at ``machine`` (once: signed in elsewhere is refused)."""
    ts = at or datetime.now(timezone.utc)
    with change(engine, actor) as c:
        if machine not in {m.code for m in c.plant().machines}:
            raise MachineUnknown(machine=machine)
        username = attendance.user_of_badge(c.conn, badge)
        c.duplicate_means(AlreadySignedIn(who=username, machine=machine))
        row = attendance.sign_in(c.conn, username, machine, actor, ts)
        c.audit("attendance.sign_in", f"machine:{machine}", {"user": username})
        c.publish("machine", machine)
    return row


def sign_out(engine: Engine, actor: str, badge: str, *, at: datetime | None = None) -> dict[str, Any]:
    """The person with ``badge`` stops working (at the machine they signed in at)."""
    ts = at or datetime.now(timezone.utc)
    with change(engine, actor) as c:
        username = attendance.user_of_badge(c.conn, badge)
        row = attendance.sign_out(c.conn, username, ts)
        c.audit("attendance.sign_out", f"machine:{row['machine']}", {"user": username})
        c.publish("machine", row["machine"])
    return row
