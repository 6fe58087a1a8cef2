"""The operator terminal's entries over the API (used by the terminal page, its offline queue included)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, File, Form, Response, UploadFile
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from shopfloor.actions.floor import PHOTO_MAX_BYTES, attach_defect_photo, write_handover_note
from shopfloor.actions.terminal import PopEntry, record_terminal_entry_async
from shopfloor.api.deps import Principal, get_engine, require
from shopfloor.api.errors import problem_responses
from shopfloor.store import floor

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
async def post_entry(
    body: EntryIn, principal: Principal = Depends(require("report_production")), engine: Engine = Depends(get_engine)
) -> dict[str, Any]:
    # On the event loop: the tap waits for the commit of the tap writer's batch without holding a thread.
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
    return await record_terminal_entry_async(engine, principal.user.username, entry)


# -- the floor: handover notes and defect photos --------------------------------------------------------------------
class HandoverIn(BaseModel):
    machine: str = Field(min_length=1, max_length=64)
    text: str = Field(min_length=1, max_length=2000, description="What the next shift should know")


@router.post(
    "/handover",
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="The shift's handover note of a machine for the next shift (written again, it replaces it)",
)
def post_handover(
    body: HandoverIn, principal: Principal = Depends(require("report_production")), engine: Engine = Depends(get_engine)
) -> dict[str, Any]:
    return write_handover_note(engine, principal.actor, body.machine, body.text)


@router.post(
    "/photos",
    status_code=201,
    responses=problem_responses(401, 403, 404, 409, 413, 415, 422),
    summary="A photo of a defect (JPEG, PNG or WebP, at most 4 MB) attached to a scrap entry by its key; the same "
    "photo sent again is answered with the one stored",
)
async def post_photo(
    machine: str = Form(..., min_length=1, max_length=64),
    key: str = Form(..., min_length=8, max_length=64, description="The scrap entry's key"),
    defect: str | None = Form(None, max_length=64),
    photo: UploadFile = File(..., description="The picture"),
    principal: Principal = Depends(require("report_production")),
    engine: Engine = Depends(get_engine),
) -> dict[str, Any]:
    data = await photo.read(PHOTO_MAX_BYTES + 1)
    return await run_in_threadpool(
        attach_defect_photo, engine, principal.actor, machine, key, data, defect=defect,
        claimed_type=photo.content_type,
    )  # fmt: skip


@router.get("/photos/{photo_id}", responses=problem_responses(401, 403, 404), summary="A defect photo")
def get_photo(photo_id: int, _: Principal = Depends(require("view")), engine: Engine = Depends(get_engine)) -> Response:
    with engine.connect() as conn:
        kind, data = floor.photo(conn, photo_id)
    return Response(data, media_type=kind, headers={"Cache-Control": "private, max-age=86400"})
