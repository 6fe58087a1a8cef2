"""Process alarms in the store: raised by live SPC (``store.spc_monitor``), listed, and acknowledged once."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Connection, select, update

from shopfloor.errors import AlarmAcknowledged, AlarmNotFound
from shopfloor.store.schema import alarms, machines

_WITH_MACHINE = select(alarms, machines.c.code).join(machines, machines.c.id == alarms.c.machine_id)


def _doc(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "machine": row.code,
        "name": row.name,
        "rule": row.rule,
        "ts": row.ts.isoformat(),
        "value": row.value,
        "points": row.points,
        "raised_at": row.raised_at.isoformat(),
        "ack_at": row.ack_at.isoformat() if row.ack_at else None,
        "ack_by": row.ack_by,
        "ack_comment": row.ack_comment,
    }


def get(conn: Connection, alarm: int) -> dict[str, Any]:
    row = conn.execute(_WITH_MACHINE.where(alarms.c.id == alarm)).first()
    if row is None:
        raise AlarmNotFound(alarm=alarm)
    return _doc(row)


def listing(
    conn: Connection, open_only: bool = False, machine: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Alarms, newest first."""
    query = _WITH_MACHINE.order_by(alarms.c.id.desc()).limit(limit)
    if open_only:
        query = query.where(alarms.c.ack_at.is_(None))
    if machine:
        query = query.where(machines.c.code == machine)
    return [_doc(r) for r in conn.execute(query)]


def acknowledge(conn: Connection, alarm: int, actor: str, comment: str) -> dict[str, Any]:
    """Acknowledge an alarm, only if nobody has yet: of two at the same moment the second is refused (the
    update's condition decides, under the row's lock)."""
    before = get(conn, alarm)
    a = alarms.c
    done = conn.execute(
        update(alarms)
        .where(a.id == alarm, a.ack_at.is_(None))
        .values(ack_at=datetime.now(timezone.utc), ack_by=actor, ack_comment=comment)
    ).rowcount
    if not done:
        raise AlarmAcknowledged(alarm=alarm, by=get(conn, alarm)["ack_by"] or before["ack_by"])
    return get(conn, alarm)
