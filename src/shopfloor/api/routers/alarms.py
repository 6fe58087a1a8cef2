"""Process alarms from live SPC: list them, and acknowledge one with a comment."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import Engine

from shopfloor.actions.quality import acknowledge_alarm
from shopfloor.api.deps import Principal, get_engine, require
from shopfloor.api.errors import problem_responses
from shopfloor.store import alarms

router = APIRouter(prefix="/api/v1/alarms", tags=["quality"])


class AckIn(BaseModel):
    comment: str = Field(min_length=1, max_length=2000, description="What was found and done")


@router.get("", responses=problem_responses(401), summary="Alarms, newest first; open=true for unacknowledged ones")
def list_alarms(
    _: Principal = Depends(require("view")),
    engine: Engine = Depends(get_engine),
    open_only: Annotated[bool, Query(alias="open", description="Only unacknowledged alarms")] = False,
    machine: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return alarms.listing(conn, open_only, machine, limit)


@router.post(
    "/{alarm_id}/ack", responses=problem_responses(401, 403, 404, 409), summary="Acknowledge an alarm with a comment"
)
def acknowledge(
    alarm_id: int,
    body: AckIn,
    principal: Principal = Depends(require("acknowledge_alarms")),
    engine: Engine = Depends(get_engine),
) -> dict[str, Any]:
    return acknowledge_alarm(engine, principal.actor, alarm_id, comment=body.comment)
