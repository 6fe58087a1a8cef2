"""Users, API tokens and the audit log (administrators; the audit log also for managers)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import Engine

from shopfloor.actions import accounts as actions
from shopfloor.api.deps import Principal, get_engine, require
from shopfloor.api.errors import problem_responses
from shopfloor.errors import SecretMissing
from shopfloor.store import accounts, audit

router = APIRouter(prefix="/api/v1", tags=["admin"])


class UserIn(BaseModel):
    username: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._@-]+$")
    role: Literal["operator", "supervisor", "quality", "manager", "admin"]
    display_name: str | None = Field(None, max_length=200)
    password: str | None = Field(None, min_length=10, max_length=1024)
    pin: str | None = Field(None, pattern=r"^[0-9]{4,8}$")
    badge: str | None = Field(None, max_length=64)
    language: Literal["ko", "en", "vi"] | None = None


class UserOut(BaseModel):
    id: int
    username: str
    display_name: str
    role: str
    language: str | None
    active: bool
    badge: str | None


class TokenIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=100, description="What the token is for, e.g. 'WELD line gateway'")


class TokenOut(BaseModel):
    token: str = Field(description="Shown once; store it now")


class AuditEntry(BaseModel):
    id: int
    ts: datetime
    actor: str
    action: str
    target: str
    detail: dict[str, Any]
    reason: str | None


def _out(u: accounts.User) -> UserOut:
    return UserOut(**actions.user_doc(u))


@router.get("/users", response_model=list[UserOut], responses=problem_responses(401, 403), summary="All users")
def list_users(_: Principal = Depends(require("manage_users")), engine: Engine = Depends(get_engine)) -> list[UserOut]:
    with engine.connect() as conn:
        return [_out(u) for u in accounts.list_users(conn)]


@router.post(
    "/users",
    response_model=UserOut,
    status_code=201,
    responses=problem_responses(401, 403, 409, 422),
    summary="Create a user (a password, or a PIN for an operator)",
)
def create_user(
    body: UserIn, principal: Principal = Depends(require("manage_users")), engine: Engine = Depends(get_engine)
) -> UserOut:
    return UserOut(**actions.create_user(engine, principal.actor, **body.model_dump()))


class UserChange(BaseModel):
    role: Literal["operator", "supervisor", "quality", "manager", "admin"] | None = None
    language: Literal["ko", "en", "vi"] | None = None
    badge: str | None = Field(None, max_length=64, description="A new badge number; an empty string removes it")
    display_name: str | None = Field(None, min_length=1, max_length=200)


class Deactivation(BaseModel):
    reason: str | None = Field(None, max_length=500, description="Why (kept in the audit log)")


class NewSecret(BaseModel):
    password: str | None = Field(None, min_length=10, max_length=1024)
    pin: str | None = Field(None, pattern=r"^[0-9]{4,8}$")


class SessionsEnded(BaseModel):
    ended: int = Field(description="How many sessions ended")


@router.patch(
    "/users/{username}",
    response_model=UserOut,
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Change a user's role, language, badge or display name",
)
def change_user(
    username: str,
    body: UserChange,
    principal: Principal = Depends(require("manage_users")),
    engine: Engine = Depends(get_engine),
) -> UserOut:
    return UserOut(**actions.update_user(engine, principal.actor, username, **body.model_dump()))


@router.post(
    "/users/{username}/deactivate",
    response_model=UserOut,
    responses=problem_responses(401, 403, 404, 409),
    summary="Deactivate a user: sessions end and API tokens are revoked at once",
)
def deactivate_user(
    username: str,
    body: Deactivation,
    principal: Principal = Depends(require("manage_users")),
    engine: Engine = Depends(get_engine),
) -> UserOut:
    return UserOut(**actions.deactivate_user(engine, principal.actor, username, reason=body.reason))


@router.post(
    "/users/{username}/activate",
    response_model=UserOut,
    responses=problem_responses(401, 403, 404),
    summary="Let a deactivated user sign in again (old API tokens stay revoked)",
)
def activate_user(
    username: str, principal: Principal = Depends(require("manage_users")), engine: Engine = Depends(get_engine)
) -> UserOut:
    return UserOut(**actions.activate_user(engine, principal.actor, username))


@router.post(
    "/users/{username}/secret",
    response_model=UserOut,
    responses=problem_responses(401, 403, 404, 422),
    summary="Give a user a new password, or an operator a new PIN; the user's sessions end",
)
def reset_secret(
    username: str,
    body: NewSecret,
    principal: Principal = Depends(require("manage_users")),
    engine: Engine = Depends(get_engine),
) -> UserOut:
    doc = None
    if body.password is not None:
        doc = actions.reset_password(engine, principal.actor, username, password=body.password)
    if body.pin is not None:
        doc = actions.reset_pin(engine, principal.actor, username, pin=body.pin)
    if doc is None:
        raise SecretMissing()
    return UserOut(**doc)


@router.delete(
    "/users/{username}/sessions",
    response_model=SessionsEnded,
    responses=problem_responses(401, 403, 404),
    summary="Sign a user out everywhere",
)
def end_sessions(
    username: str, principal: Principal = Depends(require("manage_users")), engine: Engine = Depends(get_engine)
) -> SessionsEnded:
    return SessionsEnded(ended=actions.end_sessions(engine, principal.actor, username))


@router.post(
    "/tokens",
    response_model=TokenOut,
    status_code=201,
    responses=problem_responses(401, 403, 404, 422),
    summary="Create an API token that acts with a user's role",
)
def create_token(
    body: TokenIn, principal: Principal = Depends(require("manage_users")), engine: Engine = Depends(get_engine)
) -> TokenOut:
    return TokenOut(token=actions.create_api_token(engine, principal.actor, username=body.username, name=body.name))


class TokenInfo(BaseModel):
    id: int
    name: str
    username: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@router.get(
    "/tokens",
    response_model=list[TokenInfo],
    responses=problem_responses(401, 403),
    summary="API tokens (never their secret)",
)
def list_tokens(_: Principal = Depends(require("manage_users")), engine: Engine = Depends(get_engine)) -> list:
    with engine.connect() as conn:
        return [TokenInfo(**t) for t in accounts.list_api_tokens(conn)]


@router.delete(
    "/tokens/{token_id}",
    status_code=204,
    responses=problem_responses(401, 403, 404),
    summary="Revoke an API token; it stops working at once",
)
def revoke_token(
    token_id: int, principal: Principal = Depends(require("manage_users")), engine: Engine = Depends(get_engine)
) -> None:
    actions.revoke_api_token(engine, principal.actor, token_id)


@router.get(
    "/audit",
    response_model=list[AuditEntry],
    responses=problem_responses(401, 403),
    summary="The audit log, newest first: who changed what, when and why",
)
def audit_log(
    _: Principal = Depends(require("view_audit")),
    engine: Engine = Depends(get_engine),
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditEntry]:
    with engine.connect() as conn:
        return [AuditEntry(**e) for e in audit.entries(conn, limit)]
