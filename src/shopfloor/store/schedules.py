"""Report schedules in the store: what to send after each shift or day, the last period sent, the failed
attempts, and the lease of the worker sending them now.

Several web workers run the scheduler on one store.  Before making a schedule's reports a worker claims it: a
conditional update sets ``claimed_by`` and ``claimed_until`` only where no other worker holds an unexpired lease,
so exactly one worker sends each period; the lease ends with the worker's record of the result, or expires if the
worker died while sending (another then takes over).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, or_, select, update

from shopfloor.errors import ScheduleNotFound
from shopfloor.store.schema import report_schedules

LEASE = timedelta(minutes=10)


def _doc(row: Any) -> dict[str, Any]:
    return {
        "name": row.name,
        "period": row.period,
        "line": row.line,
        "lang": row.lang,
        "formats": row.formats,
        "delivery": row.delivery,
        "target": row.target,
        "active": row.active,
        "last_period": row.last_period,
        "last_success_at": row.last_success_at.isoformat() if row.last_success_at else None,
        "last_attempt_at": row.last_attempt_at.isoformat() if row.last_attempt_at else None,
        "attempts": row.attempts,
        "last_error": row.last_error,
    }


def get(conn: Connection, name: str) -> dict[str, Any]:
    row = conn.execute(select(report_schedules).where(report_schedules.c.name == name)).first()
    if row is None:
        raise ScheduleNotFound(schedule=name)
    return _doc(row)


def exists(conn: Connection, name: str) -> bool:
    return conn.execute(select(report_schedules.c.id).where(report_schedules.c.name == name)).first() is not None


def listing(conn: Connection) -> list[dict[str, Any]]:
    return [_doc(r) for r in conn.execute(select(report_schedules).order_by(report_schedules.c.name))]


def add(conn: Connection, values: dict[str, Any]) -> dict[str, Any]:
    conn.execute(insert(report_schedules).values(**values, active=True, attempts=0))
    return get(conn, values["name"])


def claim(conn: Connection, name: str, worker: str, now: datetime) -> bool:
    """Take the schedule's lease for ``worker`` unless another worker holds one that has not expired."""
    s = report_schedules.c
    taken = conn.execute(
        update(report_schedules)
        .where(s.name == name, or_(s.claimed_until.is_(None), s.claimed_until < now, s.claimed_by == worker))
        .values(claimed_by=worker, claimed_until=now + LEASE)
    ).rowcount
    return bool(taken)


def record_sent(conn: Connection, name: str, period: str, now: datetime) -> None:
    conn.execute(
        update(report_schedules)
        .where(report_schedules.c.name == name)
        .values(last_period=period, last_success_at=now, last_attempt_at=now, attempts=0, last_error=None)
    )


def record_failure(conn: Connection, name: str, error: str, now: datetime) -> None:
    conn.execute(
        update(report_schedules)
        .where(report_schedules.c.name == name)
        .values(attempts=report_schedules.c.attempts + 1, last_attempt_at=now, last_error=error)
    )


def release(conn: Connection, name: str, worker: str) -> None:
    conn.execute(
        update(report_schedules)
        .where(report_schedules.c.name == name, report_schedules.c.claimed_by == worker)
        .values(claimed_by=None, claimed_until=None)
    )
