"""Who works at which machine: sign-in and sign-out by badge (the terminal's "clock in" for a system beside it,
a turnstile or a badge reader), and who is signed in at a machine now."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy import Engine

from shopfloor.actions.attendance import sign_in, sign_out
from shopfloor.api.deps import Principal, get_engine, require
from shopfloor.api.errors import problem_responses
from shopfloor.errors import MachineUnknown
from shopfloor.store import attendance
from shopfloor.store.plant import current_plant

router = APIRouter(prefix="/api/v1/attendance", tags=["terminal"])


class SignInIn(BaseModel):
    badge: str = Field(min_length=1, max_length=64, description="The badge of the person signing in")
    machine: str = Field(min_length=1, max_length=64)
    ts: AwareDatetime | None = Field(None, description="When the badge was read (default: now)")


class SignOutIn(BaseModel):
    badge: str = Field(min_length=1, max_length=64, description="The badge of the person signing out")
    ts: AwareDatetime | None = Field(None, description="When the badge was read (default: now)")


class SignedIn(BaseModel):
    username: str
    machine: str
    signed_in: str
    signed_out: str | None = None


class Present(BaseModel):
    username: str
    signed_in: str


@router.post(
    "/sign-in",
    status_code=201,
    response_model=SignedIn,
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="A person starts working at a machine, by badge (refused while signed in anywhere)",
)
def post_sign_in(
    body: SignInIn, principal: Principal = Depends(require("report_production")), engine: Engine = Depends(get_engine)
) -> dict[str, Any]:
    return sign_in(engine, principal.actor, body.badge.strip(), machine=body.machine, at=body.ts)


@router.post(
    "/sign-out",
    response_model=SignedIn,
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="A person stops working, by badge (at the machine they signed in at)",
)
def post_sign_out(
    body: SignOutIn, principal: Principal = Depends(require("report_production")), engine: Engine = Depends(get_engine)
) -> dict[str, Any]:
    return sign_out(engine, principal.actor, body.badge.strip(), at=body.ts)


@router.get(
    "",
    response_model=list[Present],
    responses=problem_responses(401, 403, 422),
    summary="Who is signed in at a machine now",
)
def get_present(
    machine: str = Query(min_length=1, max_length=64),
    principal: Principal = Depends(require("view")),
    engine: Engine = Depends(get_engine),
) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        if machine not in {m.code for m in current_plant(conn).machines}:
            raise MachineUnknown(machine=machine)
        return [{"username": r["username"], "signed_in": r["signed_in"].isoformat()}
                for r in attendance.signed_in_at(conn, machine)]  # fmt: skip
