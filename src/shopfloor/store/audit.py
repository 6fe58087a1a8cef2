"""The audit log: who changed what, when and why.  Every change a person makes writes one record."""

from __future__ import annotations

import getpass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Connection, insert, select

from shopfloor.store.bulk import insert_many
from shopfloor.store.schema import audit_log


def current_actor() -> str:
    """The operating-system user running a CLI command, as ``cli:<name>``."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


def record(
    conn: Connection, actor: str, action: str, target: str, detail: dict[str, Any], reason: str | None = None
) -> None:
    conn.execute(
        insert(audit_log).values(
            ts=datetime.now(timezone.utc), actor=actor, action=action, target=target, detail=detail, reason=reason
        )
    )


def record_many(conn: Connection, rows: list[tuple[str, str, str, dict[str, Any]]]) -> None:
    """Several audit rows (actor, action, target, detail) in one statement."""
    if rows:
        now = datetime.now(timezone.utc)
        insert_many(
            conn,
            audit_log,
            [{"ts": now, "actor": a, "action": act, "target": t, "detail": d, "reason": None} for a, act, t, d in rows],
        )


def entries(conn: Connection, limit: int = 100) -> list[dict[str, Any]]:
    rows = conn.execute(select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)).mappings()
    return [dict(r) for r in rows]
