"""Maintenance: preventive plans with their due state, maintenance orders (preventive and breakdowns), moulds
and where they are mounted, and MTBF / MTTR / cost of a machine or a mould."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy import Engine

from shopfloor.actions import maintenance as mnt
from shopfloor.api.deps import Principal, get_engine, require
from shopfloor.api.errors import problem_responses
from shopfloor.errors import MaintenancePlanSubject
from shopfloor.model.intervals import Interval
from shopfloor.store import maintenance as store
from shopfloor.store.plant import current_plant

router = APIRouter(prefix="/api/v1/maintenance", tags=["maintenance"])
moulds_router = APIRouter(prefix="/api/v1/moulds", tags=["maintenance"])
Code = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\s/]+$")]


class PlanIn(BaseModel):
    code: Code
    name: str = Field("", max_length=200)
    trigger: Literal["calendar", "run_hours", "cycles", "shots"]
    interval: float = Field(gt=0, description="Days, run hours, units or shots, by trigger")
    warn_before: float = Field(0, ge=0, description="Coming due this much before the interval, same unit")
    machine: str | None = Field(None, max_length=64)
    mould: str | None = Field(None, max_length=64)
    planned_minutes: float = Field(60, gt=0, description="Planned downtime of the work")
    checklist: list[Annotated[str, Field(max_length=200)]] = Field(default_factory=list, max_length=50)
    last_done_at: AwareDatetime | None = None


class BreakdownIn(BaseModel):
    machine: str = Field(min_length=1, max_length=64)
    description: str | None = Field(None, max_length=2000)


class PartIn(BaseModel):
    part: str = Field(min_length=1, max_length=100)
    qty: float = Field(gt=0)
    unit_cost: float = Field(0, ge=0)


class CloseIn(BaseModel):
    done: list[Annotated[str, Field(max_length=200)]] = Field(default_factory=list, max_length=50)
    parts: list[PartIn] = Field(default_factory=list, max_length=100)
    labour_minutes: float = Field(0, ge=0)
    hourly_rate: float = Field(0, ge=0)
    note: str | None = Field(None, max_length=2000)


class MouldIn(BaseModel):
    code: Code
    name: str = Field("", max_length=200)
    cavities: int = Field(ge=1, le=512)
    life_shots: int | None = Field(None, ge=1)
    initial_shots: int = Field(0, ge=0)


class MountIn(BaseModel):
    machine: str = Field(min_length=1, max_length=64)


@router.get("/plans", responses=problem_responses(401), summary="Preventive plans, each with its due state")
def list_plans(
    _: Principal = Depends(require("view")), engine: Engine = Depends(get_engine), machine: str | None = None
) -> list[dict[str, Any]]:
    now = datetime.now(timezone.utc)
    with engine.connect() as conn:
        plant = current_plant(conn)
        return [
            {**p.to_dict(), "due": store.plan_due(conn, plant, p, now).to_dict()} for p in store.plans(conn, machine)
        ]


@router.post("/plans", status_code=201, responses=problem_responses(401, 403, 404, 409, 422),
             summary="A preventive plan of a machine or a mould")  # fmt: skip
def create_plan(
    body: PlanIn, principal: Principal = Depends(require("maintain")), engine: Engine = Depends(get_engine)
) -> dict[str, Any]:
    return mnt.create_maintenance_plan(engine, principal.actor, **body.model_dump())


@router.post("/plans/{code}/orders", status_code=201, responses=problem_responses(401, 403, 404, 409),
             summary="Open the maintenance order of a plan")  # fmt: skip
def open_order(
    code: str, principal: Principal = Depends(require("maintain")), engine: Engine = Depends(get_engine)
) -> dict[str, Any]:
    return mnt.open_preventive_order(engine, principal.actor, code)


@router.get("/orders", responses=problem_responses(401), summary="Maintenance orders, newest first")
def list_orders(
    _: Principal = Depends(require("view")),
    engine: Engine = Depends(get_engine),
    machine: str | None = None,
    mould: str | None = None,
    open_only: Annotated[bool, Query(alias="open")] = False,
) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return store.orders(conn, machine, mould, open_only)


@router.post("/breakdowns", status_code=201, responses=problem_responses(401, 403, 409, 422),
             summary="A breakdown request for a machine")  # fmt: skip
def breakdown(
    body: BreakdownIn,
    principal: Principal = Depends(require("request_maintenance")),
    engine: Engine = Depends(get_engine),
) -> dict[str, Any]:
    return mnt.raise_breakdown(engine, principal.actor, body.machine, description=body.description)


@router.post("/orders/{code}/acknowledge", responses=problem_responses(401, 403, 404, 409),
             summary="Maintenance staff take a request")  # fmt: skip
def acknowledge(
    code: str, principal: Principal = Depends(require("maintain")), engine: Engine = Depends(get_engine)
) -> dict[str, Any]:
    return mnt.acknowledge_maintenance(engine, principal.actor, code)


@router.post("/orders/{code}/start", responses=problem_responses(401, 403, 404, 409),
             summary="Work on an order begins (a preventive one: planned downtime)")  # fmt: skip
def start(
    code: str, principal: Principal = Depends(require("maintain")), engine: Engine = Depends(get_engine)
) -> dict[str, Any]:
    return mnt.start_maintenance(engine, principal.actor, code)


@router.post("/orders/{code}/close", responses=problem_responses(401, 403, 404, 409, 422),
             summary="Close an order with its checklist, parts and labour")  # fmt: skip
def close(
    code: str, body: CloseIn, principal: Principal = Depends(require("maintain")), engine: Engine = Depends(get_engine)
) -> dict[str, Any]:
    data = body.model_dump()
    return mnt.close_maintenance(engine, principal.actor, code, **data)


@router.get("/reliability", responses=problem_responses(401, 404, 422),
            summary="MTBF, MTTR (seconds) and maintenance cost of a machine or a mould over a window")  # fmt: skip
def reliability(
    start: AwareDatetime,
    end: AwareDatetime,
    _: Principal = Depends(require("view")),
    engine: Engine = Depends(get_engine),
    machine: str | None = None,
    mould: str | None = None,
) -> dict[str, Any]:
    if (machine is None) == (mould is None):
        raise MaintenancePlanSubject()
    with engine.connect() as conn:
        return store.reliability(conn, current_plant(conn), Interval(start, max(start, end)), machine, mould)


@moulds_router.get("", responses=problem_responses(401), summary="Moulds with their shots and where they are")
def list_moulds(_: Principal = Depends(require("view")), engine: Engine = Depends(get_engine)) -> list[dict[str, Any]]:
    now = datetime.now(timezone.utc)
    with engine.connect() as conn:
        plant = current_plant(conn)
        return [store.mould_dict(conn, plant, code, now) for code in store.mould_codes(conn)]


@moulds_router.post("", status_code=201, responses=problem_responses(401, 403, 409, 422), summary="A new mould")
def create_mould(
    body: MouldIn, principal: Principal = Depends(require("maintain")), engine: Engine = Depends(get_engine)
) -> dict[str, Any]:
    return mnt.create_mould(engine, principal.actor, **body.model_dump())


@moulds_router.get("/{code}/mounts", responses=problem_responses(401, 404), summary="Where a mould was mounted")
def mounts(code: str, _: Principal = Depends(require("view")), engine: Engine = Depends(get_engine)) -> list[dict]:
    with engine.connect() as conn:
        return store.mounts(conn, code)


@moulds_router.post("/{code}/mount", responses=problem_responses(401, 403, 404, 409, 422),
                    summary="Mount a mould on a machine")  # fmt: skip
def mount(
    code: str, body: MountIn, principal: Principal = Depends(require("maintain")), engine: Engine = Depends(get_engine)
) -> dict[str, Any]:
    return mnt.mount_mould(engine, principal.actor, code, machine=body.machine)


@moulds_router.post("/{code}/unmount", responses=problem_responses(401, 403, 404, 409),
                    summary="Take a mould off its machine")  # fmt: skip
def unmount(
    code: str, principal: Principal = Depends(require("maintain")), engine: Engine = Depends(get_engine)
) -> dict[str, Any]:
    return mnt.unmount_mould(engine, principal.actor, code)
