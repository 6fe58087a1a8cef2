"""The operator terminal's entries over the API (used by the terminal page, its offline queue included)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Literal

from fastapi import APIRouter, Depends
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy import Engine

from shopfloor.actions.board import shift_counts
from shopfloor.actions.terminal import PopEntry, record_terminal_entry
from shopfloor.api.deps import Principal, get_engine, require
from shopfloor.api.errors import problem_responses
from shopfloor.store.plant import current_plant

router = APIRouter(prefix="/api/v1/pop", tags=["terminal"])


class EntryIn(BaseModel):
    key: str = Field(min_length=8, max_length=64, description="Unique per tap, kept when the entry is resent")
    ts: AwareDatetime = Field(description="Time of the tap on the terminal")
    machine: str = Field(min_length=1, max_length=64)
    action: Literal["start", "pause", "setup", "finish", "good", "scrap", "reason"]
    quantity: int | None = Field(None, ge=1, le=100_000)
    defect: str | None = Field(None, max_length=64)
    reason: str | None = Field(None, max_length=64)
    product: str | None = Field(None, max_length=64)
    work_order: str | None = Field(None, max_length=64, description="The order chosen on the terminal")
    confirmed: bool = Field(False, description="The operator confirms a count the ideal cycle time cannot explain")
    approver: str | None = Field(None, max_length=64, description="Badge or username of the approving supervisor")
    approver_pin: str | None = Field(None, max_length=32, description="That supervisor's PIN")


class EntryOut(BaseModel):
    stored: bool
    duplicate: bool = Field(description="True when this entry had been stored already (a resend)")
    key: str
    action: str
    state_kept: bool = Field(
        False,
        description="True when a finish left a machine that is down as it was (only the machine or a reason "
        "given with the entry ends a breakdown)",
    )
    correction: bool = Field(
        False, description="True when the machine counts its own units: the typed count is stored as a correction"
    )
    approved_by: str | None = Field(None, description="The supervisor who approved an implausible count")
    gq: int | None = Field(None, description="Good units of the machine in the current shift")
    sq: int | None = Field(None, description="Scrap units of the machine in the current shift")


@router.post(
    "/entries",
    response_model=EntryOut,
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Record one terminal entry; confirmed only once it is stored; a resend is stored once",
)
def post_entry(
    body: EntryIn, principal: Principal = Depends(require("report_production")), engine: Engine = Depends(get_engine)
) -> dict[str, Any]:
    entry = PopEntry(
        body.key,
        body.ts,
        body.machine,
        body.action,
        body.quantity,
        body.defect,
        body.reason,
        body.product,
        body.work_order,
        body.confirmed,
        body.approver,
        body.approver_pin,
    )
    result = record_terminal_entry(engine, principal.user.username, entry)
    with engine.connect() as conn:
        counts = shift_counts(conn, current_plant(conn), body.machine, datetime.now(timezone.utc))
    return {**result, "gq": counts["gq"], "sq": counts["sq"]}
