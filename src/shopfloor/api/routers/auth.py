"""Signing in and out: password, operator PIN or badge, and who am I."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import Engine

from shopfloor.actions.accounts import sign_in, sign_out
from shopfloor.api.deps import (
    SESSION_COOKIE,
    Principal,
    client_address,
    current_principal,
    get_engine,
    optional_principal,
    set_session_cookie,
)
from shopfloor.api.errors import problem_responses
from shopfloor.store import accounts

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


class PasswordLogin(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class PinLogin(BaseModel):
    who: str = Field(min_length=1, max_length=64, description="Badge number or username")
    pin: str = Field(min_length=4, max_length=8, pattern=r"^[0-9]+$")


class Me(BaseModel):
    username: str
    display_name: str
    role: str
    language: str | None
    csrf_token: str | None = Field(None, description="Send as X-CSRF-Token with every change made with this session")


def _me(principal: Principal) -> Me:
    u = principal.user
    return Me(
        username=u.username,
        display_name=u.display_name,
        role=u.role,
        language=u.language,
        csrf_token=principal.session.csrf_token if principal.session else None,
    )


def _login(request: Request, response: Response, engine: Engine, name: str, check) -> Me:
    replaces = request.cookies.get(SESSION_COOKIE)
    session = sign_in(engine, name, client_address(request), check, via="api", replaces=replaces)
    set_session_cookie(request, response, session)
    return _me(Principal(session.user, session))


@router.post(
    "/login",
    response_model=Me,
    responses=problem_responses(401, 422, 429),
    summary="Sign in with username and password; sets the session cookie",
)
def login(body: PasswordLogin, request: Request, response: Response, engine: Engine = Depends(get_engine)) -> Me:
    return _login(
        request,
        response,
        engine,
        body.username,
        lambda conn: accounts.check_password(conn, body.username, body.password),
    )


@router.post(
    "/pin",
    response_model=Me,
    responses=problem_responses(401, 422, 429),
    summary="Operator sign-in on a shared terminal with badge (or username) and PIN",
)
def pin_login(body: PinLogin, request: Request, response: Response, engine: Engine = Depends(get_engine)) -> Me:
    return _login(request, response, engine, body.who, lambda conn: accounts.check_pin(conn, body.who, body.pin))


@router.post("/logout", status_code=204, responses=problem_responses(401, 403), summary="End the current session")
def logout(
    request: Request,
    response: Response,
    principal: Principal = Depends(current_principal),
    engine: Engine = Depends(get_engine),
) -> Response:
    if principal.session is not None:
        sign_out(engine, principal.session)
    out = Response(status_code=204)
    out.delete_cookie(SESSION_COOKIE, path="/")
    return out


@router.get("/me", response_model=Me, responses=problem_responses(401), summary="The signed-in user")
def me(principal: Principal = Depends(current_principal)) -> Me:
    return _me(principal)


__all__ = ["router", "optional_principal"]
