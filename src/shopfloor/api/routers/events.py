"""Machine events: list with time/machine filters and keyset pagination; record new ones (idempotent)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy import Engine, select

from shopfloor.actions.events import record_events
from shopfloor.api.body_guard import UPLOAD
from shopfloor.api.deps import Principal, get_engine, require
from shopfloor.api.errors import problem_responses
from shopfloor.errors import PayloadTooLarge
from shopfloor.model.events import MachineState
from shopfloor.store.schema import machine_events, machines

router = APIRouter(prefix="/api/v1/events", tags=["events"])
MAX_BATCH = 10_000


class EventIn(BaseModel):
    ts: AwareDatetime = Field(description="Instant with a UTC offset")
    machine: str = Field(min_length=1, max_length=64)
    event: Literal["state", "good", "scrap", "rework"]
    state: MachineState | None = Field(None, description="For event=state")
    quantity: int | None = Field(None, ge=0, le=10_000_000, description="For counts")
    product: str | None = Field(None, max_length=64)
    reason: str | None = Field(None, max_length=64, description="Downtime reason or defect code")


class EventOut(BaseModel):
    id: int
    ts: datetime
    machine: str
    event: str
    state: str | None
    quantity: int | None
    product: str | None
    reason: str | None
    source: str


class EventPage(BaseModel):
    items: list[EventOut]
    next_cursor: int | None = Field(description="Pass as cursor to get the next page; null at the end")


class RecordResult(BaseModel):
    inserted: int
    duplicates_skipped: int
    rollup_hours: int


@router.get(
    "",
    response_model=EventPage,
    responses=problem_responses(401, 422),
    summary="Machine events, oldest first, filtered by machine, kind and time",
)
def list_events(
    _: Principal = Depends(require("view")),
    engine: Engine = Depends(get_engine),
    machine: str | None = None,
    kind: Literal["state", "good", "scrap", "rework"] | None = None,
    start: Annotated[AwareDatetime | None, Query(alias="from")] = None,
    end: Annotated[AwareDatetime | None, Query(alias="to")] = None,
    cursor: Annotated[int | None, Query(ge=0, le=2**62)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> EventPage:
    me, m = machine_events.c, machines.c
    query = select(machine_events, m.code).join(machines, m.id == me.machine_id)
    if machine:
        query = query.where(m.code == machine)
    if kind:
        query = query.where(me.kind == kind)
    if start:
        query = query.where(me.ts >= start)
    if end:
        query = query.where(me.ts < end)
    if cursor is not None:
        query = query.where(me.id > cursor)
    with engine.connect() as conn:
        rows = conn.execute(query.order_by(me.id).limit(limit + 1)).all()
    items = [
        EventOut(
            id=r.id,
            ts=r.ts,
            machine=r.code,
            event=r.kind,
            state=r.state,
            quantity=r.quantity,
            product=r.product,
            reason=r.reason,
            source=r.source,
        )
        for r in rows[:limit]
    ]
    return EventPage(items=items, next_cursor=items[-1].id if len(rows) > limit else None)


@router.post(
    "",
    response_model=RecordResult,
    responses=problem_responses(401, 403, 404, 413, 422),
    summary="Record machine events; an event already stored is skipped, so a resend counts nothing twice",
    openapi_extra=UPLOAD,
)
def post_events(
    events: list[EventIn],
    principal: Principal = Depends(require("import_events")),
    engine: Engine = Depends(get_engine),
) -> dict[str, Any]:
    if len(events) > MAX_BATCH:
        raise PayloadTooLarge(limit=f"{MAX_BATCH} events")
    source = f"api:{principal.user.username}"
    return record_events(engine, principal.actor, [e.model_dump() for e in events], source)
