"""Work orders: list, create, correct, change status; a machine's dispatch list; progress from the counts."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import Engine, select

from shopfloor.actions.work_orders import (
    assign_work_order,
    create_work_order,
    edit_work_order,
    order_with_progress,
    transition_work_order,
)
from shopfloor.api.deps import Principal, get_engine, require
from shopfloor.api.errors import problem_responses
from shopfloor.store import work_orders as store
from shopfloor.store.plant import current_plant
from shopfloor.store.schema import work_order_events, work_orders

router = APIRouter(prefix="/api/v1", tags=["work orders"])
StatusName = Literal["planned", "released", "in_progress", "completed", "closed", "cancelled"]


class WorkOrderIn(BaseModel):
    code: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")
    product: str = Field(min_length=1, max_length=64)
    quantity: int = Field(ge=1, le=10_000_000)
    machine: str | None = Field(None, max_length=64)
    priority: int = Field(0, ge=-1000, le=1000, description="Higher first in the dispatch list")
    due: AwareDatetime | None = None
    operator: str | None = Field(None, max_length=200, description="Username of the operator assigned")


class AssignIn(BaseModel):
    machine: str | None = Field(None, max_length=64)
    operator: str | None = Field(None, max_length=200)
    priority: int | None = Field(None, ge=-1000, le=1000)
    due: AwareDatetime | None = None
    clear: list[Literal["machine", "operator", "due"]] = Field(default_factory=list, description="Fields to empty")


def _left_out_to_keep(schema: dict[str, Any]) -> None:
    schema.pop("default", None)  # sent with a value or left out, never null: there is no default to show


class WorkOrderEdit(BaseModel):
    """The fields to change, each left out to keep it; null empties due, machine or operator."""

    model_config = ConfigDict(extra="forbid")
    # Not nullable: None is only what a field left out reads as (pydantic does not check a default).
    product: str = Field(
        None, min_length=1, max_length=64, description="Only while planned or released",
        json_schema_extra=_left_out_to_keep,
    )  # fmt: skip
    quantity: int = Field(
        None, ge=1, le=10_000_000, description="Never below the good units already counted for the order",
        json_schema_extra=_left_out_to_keep,
    )  # fmt: skip
    due: AwareDatetime | None = None
    priority: int = Field(
        None, ge=-1000, le=1000, description="Higher first in the dispatch list", json_schema_extra=_left_out_to_keep
    )
    machine: str | None = Field(None, max_length=64, description="Only while planned or released")
    operator: str | None = Field(None, max_length=200, description="Only while planned or released")


class TransitionIn(BaseModel):
    to: StatusName
    machine: str | None = Field(None, max_length=64, description="Where it starts (for in_progress)")
    reason: str | None = Field(None, max_length=500)


@router.get("/work-orders", responses=problem_responses(401, 422), summary="Work orders, by status and machine")
def list_orders(
    _: Principal = Depends(require("view")),
    engine: Engine = Depends(get_engine),
    status: StatusName | None = None,
    machine: str | None = None,
) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [order_with_progress(conn, wo) for wo in store.list_orders(conn, status, machine)]


@router.post(
    "/work-orders",
    status_code=201,
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Create a work order (status planned)",
)
def create_order(
    body: WorkOrderIn, principal: Principal = Depends(require("plan_production")), engine: Engine = Depends(get_engine)
) -> dict[str, Any]:
    return create_work_order(engine, principal.actor, **body.model_dump())


@router.get(
    "/work-orders/{code}",
    responses=problem_responses(401, 404),
    summary="A work order with its progress, its operations from the routing and its status history",
)
def get_order(code: str, _: Principal = Depends(require("view")), engine: Engine = Depends(get_engine)) -> dict:
    with engine.connect() as conn:
        plant = current_plant(conn)
        wo = store.get(conn, code)
        ev = work_order_events.c
        history = conn.execute(
            select(ev.ts, ev.from_status, ev.to_status, ev.actor, ev.reason)
            .join(work_orders, work_orders.c.id == ev.work_order_id)
            .where(work_orders.c.code == code)
            .order_by(ev.ts, ev.id)
        ).all()
        return {
            **order_with_progress(conn, wo),
            "operations": store.operations_of(conn, wo, plant),
            "history": [
                {"ts": h.ts.isoformat(), "from": h.from_status, "to": h.to_status, "actor": h.actor, "reason": h.reason}
                for h in history
            ],
        }


@router.post(
    "/work-orders/{code}/assign",
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Assign a machine or operator, or change priority or due date, before the order starts",
)
def assign(
    code: str,
    body: AssignIn,
    principal: Principal = Depends(require("plan_production")),
    engine: Engine = Depends(get_engine),
) -> dict[str, Any]:
    fields = body.model_dump()
    return assign_work_order(engine, principal.actor, code, **{**fields, "clear": tuple(fields["clear"])})


@router.patch(
    "/work-orders/{code}",
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Correct a work order: product, quantity, due date, priority, machine or operator",
    description=(
        "Only the fields sent change. Completed, closed and cancelled orders are refused; the product, machine "
        "and operator change only while the order is planned or released; the quantity never goes below the good "
        "units already counted for it. Fields sent with the value the order has already change nothing."
    ),
)
def edit_order(
    code: str,
    body: WorkOrderEdit,
    principal: Principal = Depends(require("plan_production")),
    engine: Engine = Depends(get_engine),
) -> dict[str, Any]:
    return edit_work_order(engine, principal.actor, code, **body.model_dump(exclude_unset=True))


@router.post(
    "/work-orders/{code}/transition",
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Change a work order's status; illegal transitions are refused with the allowed ones",
)
def change_status(
    code: str,
    body: TransitionIn,
    principal: Principal = Depends(require("report_production")),
    engine: Engine = Depends(get_engine),
) -> dict[str, Any]:
    return transition_work_order(engine, principal.actor, code, body.to, machine=body.machine, reason=body.reason)


@router.get(
    "/machines/{code}/dispatch",
    responses=problem_responses(401),
    summary="A machine's dispatch list: released and running orders by priority, then due date",
)
def dispatch(code: str, _: Principal = Depends(require("view")), engine: Engine = Depends(get_engine)) -> list[dict]:
    with engine.connect() as conn:
        return [order_with_progress(conn, wo) for wo in store.dispatch_list(conn, code)]
