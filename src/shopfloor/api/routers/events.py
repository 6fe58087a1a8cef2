"""Machine events: list with time/machine filters and keyset pagination; record new ones (idempotent)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy import Engine, select

from shopfloor.actions.imports import record_events
from shopfloor.api.deps import Principal, get_engine, require
from shopfloor.api.errors import Problem, problem_responses
from shopfloor.api.routers.plant import plant_or_404
from shopfloor.ingest.csv_events import MAX_FUTURE
from shopfloor.live import broker
from shopfloor.model.events import CountEvent, CountKind, MachineState, StateChange
from shopfloor.store.db import writing
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
    responses=problem_responses(401, 403, 413, 422),
    summary="Record machine events; an event already stored is skipped, so a resend counts nothing twice",
)
def post_events(
    events: list[EventIn],
    principal: Principal = Depends(require("import_events")),
    engine: Engine = Depends(get_engine),
) -> dict[str, Any]:
    if len(events) > MAX_BATCH:
        raise Problem(413, "Payload too large", f"at most {MAX_BATCH} events per request")
    plant = plant_or_404(engine)
    known = {mm.code for mm in plant.machines}
    products = {p.code for p in plant.products}
    problems, parsed = [], []
    now = datetime.now(timezone.utc)
    for i, e in enumerate(events):
        where = f"[{i}]"
        if e.machine not in known:
            problems.append(f"{where}.machine: unknown machine {e.machine!r}")
        if (e.ts - now).total_seconds() > MAX_FUTURE.total_seconds():
            problems.append(f"{where}.ts: {e.ts.isoformat()} is in the future")
        source = f"api:{principal.user.username}"
        if e.event == "state":
            if e.state is None:
                problems.append(f"{where}.state: required for event=state")
                continue
            parsed.append(StateChange(e.ts, e.machine, e.state, e.reason, source))
        else:
            if e.quantity is None:
                problems.append(f"{where}.quantity: required for a count")
                continue
            if e.product is not None and e.product not in products:
                problems.append(f"{where}.product: unknown product {e.product!r}")
            parsed.append(CountEvent(e.ts, e.machine, CountKind(e.event), e.quantity, e.product, e.reason, source))
    if problems:
        raise Problem(422, "Invalid request", "events refused, nothing recorded", problems=problems)
    with writing(engine) as conn:
        summary = record_events(conn, plant, parsed, principal.actor, "events.record", f"api:{len(parsed)} events")
    broker.publish(e.machine for e in parsed)
    return summary
