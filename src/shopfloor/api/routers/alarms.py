"""Process alarms from live SPC: list them, and acknowledge one with a comment."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import Engine, select, update

from shopfloor.api.deps import Principal, get_engine, require
from shopfloor.api.errors import Problem, problem_responses
from shopfloor.live import broker
from shopfloor.store import audit
from shopfloor.store.db import writing
from shopfloor.store.schema import alarms, machines

router = APIRouter(prefix="/api/v1/alarms", tags=["quality"])


class AckIn(BaseModel):
    comment: str = Field(min_length=1, max_length=2000, description="What was found and done")


def _out(row) -> dict[str, Any]:
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


@router.get("", responses=problem_responses(401), summary="Alarms, newest first; open=true for unacknowledged ones")
def list_alarms(
    _: Principal = Depends(require("view")),
    engine: Engine = Depends(get_engine),
    open_only: Annotated[bool, Query(alias="open", description="Only unacknowledged alarms")] = False,
    machine: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    a, m = alarms.c, machines.c
    query = select(alarms, m.code).join(machines, m.id == a.machine_id).order_by(a.id.desc()).limit(limit)
    if open_only:
        query = query.where(a.ack_at.is_(None))
    if machine:
        query = query.where(m.code == machine)
    with engine.connect() as conn:
        return [_out(r) for r in conn.execute(query)]


@router.post(
    "/{alarm_id}/ack", responses=problem_responses(401, 403, 404, 409), summary="Acknowledge an alarm with a comment"
)
def acknowledge(
    alarm_id: int,
    body: AckIn,
    principal: Principal = Depends(require("acknowledge_alarms")),
    engine: Engine = Depends(get_engine),
) -> dict[str, Any]:
    from datetime import datetime, timezone

    a, m = alarms.c, machines.c
    with writing(engine) as conn:
        row = conn.execute(select(alarms, m.code).join(machines, m.id == a.machine_id).where(a.id == alarm_id)).first()
        if row is None:
            raise Problem(404, "Not found", f"no alarm {alarm_id}")
        if row.ack_at is not None:
            raise Problem(409, "Conflict", f"alarm {alarm_id} was acknowledged by {row.ack_by} already")
        conn.execute(
            update(alarms)
            .where(a.id == alarm_id)
            .values(ack_at=datetime.now(timezone.utc), ack_by=principal.actor, ack_comment=body.comment)
        )
        audit.record(conn, principal.actor, "alarm.ack", f"alarm:{alarm_id}", {"rule": row.rule}, body.comment)
        done = conn.execute(select(alarms, m.code).join(machines, m.id == a.machine_id).where(a.id == alarm_id)).first()
    broker.publish([row.code])
    return _out(done)
