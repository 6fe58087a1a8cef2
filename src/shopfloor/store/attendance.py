"""Sign-in and sign-out of people at machines (the terminal, by badge): the worker time that labour productivity
divides good units by.  One open sign-in per person (a partial unique index holds it under races)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, or_, select, update

from shopfloor.analytics.kpi import worker_seconds
from shopfloor.errors import AlreadySignedIn, AttendanceBadgeUnknown, NotSignedInAnywhere
from shopfloor.model.intervals import Interval
from shopfloor.store.schema import attendance, users


def user_of_badge(conn: Connection, badge: str) -> str:
    """The username of the active user with ``badge`` (a username is accepted too, for a badge that is lost)."""
    row = conn.execute(
        select(users.c.username).where((users.c.badge == badge) | (users.c.username == badge), users.c.active)
    ).first()
    if row is None:
        raise AttendanceBadgeUnknown(badge=badge)
    return row.username


def open_sign_in(conn: Connection, username: str, lock: bool = False) -> Any:
    q = select(attendance).where(attendance.c.username == username, attendance.c.signed_out.is_(None))
    return conn.execute(q.with_for_update() if lock else q).first()


def sign_in(conn: Connection, username: str, machine: str, actor: str, ts: datetime) -> dict[str, Any]:
    current = open_sign_in(conn, username, lock=True)
    if current is not None:
        raise AlreadySignedIn(who=username, machine=current.machine)
    conn.execute(insert(attendance).values(username=username, machine=machine, signed_in=ts, actor=actor))
    return {"username": username, "machine": machine, "signed_in": ts.isoformat()}


def sign_out(conn: Connection, username: str, ts: datetime) -> dict[str, Any]:
    """Closes the person's open sign-in at ``ts`` (not before it began): a conditional update, one winner."""
    current = open_sign_in(conn, username, lock=True)
    if current is None:
        raise NotSignedInAnywhere(who=username)
    out = max(ts, current.signed_in)
    done = conn.execute(
        update(attendance)
        .where(attendance.c.id == current.id, attendance.c.signed_out.is_(None))
        .values(signed_out=out)
    )
    if done.rowcount != 1:
        raise NotSignedInAnywhere(who=username)
    return {"username": username, "machine": current.machine, "signed_in": current.signed_in.isoformat(),
            "signed_out": out.isoformat()}  # fmt: skip


def add_stay(conn: Connection, username: str, machine: str, span: Interval, actor: str) -> None:
    """A whole stay already over (a roster, the demo): signed in at the span's start, out at its end."""
    conn.execute(insert(attendance).values(username=username, machine=machine, signed_in=span.start,
                                           signed_out=span.end, actor=actor))  # fmt: skip


def signed_in_at(conn: Connection, machine: str) -> list[dict[str, Any]]:
    a = attendance.c
    rows = conn.execute(
        select(a.username, a.signed_in).where(a.machine == machine, a.signed_out.is_(None)).order_by(a.signed_in)
    ).all()
    return [{"username": r.username, "signed_in": r.signed_in} for r in rows]


def spans(conn: Connection, machines: list[str], window: Interval) -> list[tuple[datetime, datetime | None]]:
    """(sign-in, sign-out or None) of every stay at one of ``machines`` that overlaps ``window``."""
    a = attendance.c
    rows = conn.execute(
        select(a.signed_in, a.signed_out).where(
            a.machine.in_(machines),
            a.signed_in < window.end,
            or_(a.signed_out.is_(None), a.signed_out > window.start),
        )
    ).all()
    return [(r.signed_in, r.signed_out) for r in rows]


def worker_s(conn: Connection, machines: list[str], window: Interval, now: datetime) -> float:
    """Worker-seconds at ``machines`` in ``window`` up to ``now``."""
    return worker_seconds(spans(conn, machines, window), window, now)
