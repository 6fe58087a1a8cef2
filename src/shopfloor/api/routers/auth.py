"""Signing in and out: password, operator PIN or badge, and who am I."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import Engine

from shopfloor.api.deps import SESSION_COOKIE, Principal, current_principal, get_engine, optional_principal
from shopfloor.api.errors import Problem, problem_responses
from shopfloor.store import accounts, audit

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


def _client_key(request: Request) -> str:
    return f"ip:{request.client.host if request.client else 'unknown'}"


def _start_session(request: Request, response: Response, engine: Engine, user: accounts.User) -> Me:
    with engine.begin() as conn:
        old = request.cookies.get(SESSION_COOKIE)
        if old:
            # A new session token on every sign-in: a token planted before sign-in is worthless (fixation).
            accounts.end_session(conn, old)
        session = accounts.create_session(conn, user)
        audit.record(conn, f"user:{user.username}", "auth.login", f"user:{user.username}", {})
    response.set_cookie(
        SESSION_COOKIE,
        session.token,
        httponly=True,
        samesite="lax",
        secure=request.app.state.settings.secure_cookies,
        max_age=int(accounts.SESSION_LIFETIME.total_seconds()),
        path="/",
    )
    return _me(Principal(user, session))


def _login(request: Request, response: Response, engine: Engine, name: str, check) -> Me:
    keys = [f"user:{name}", _client_key(request)]
    with engine.begin() as conn:
        wait = accounts.throttled_for(conn, keys)
        if wait:
            raise Problem(
                429,
                "Too many attempts",
                f"too many failed sign-ins; try again in {wait} s",
                headers={"Retry-After": str(wait)},
            )
        user = check(conn)
        accounts.record_attempt(conn, keys, success=user is not None)
    if user is None:
        raise Problem(401, "Not signed in", "wrong name or secret")
    return _start_session(request, response, engine, user)


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
        with engine.begin() as conn:
            accounts.end_session(conn, principal.session.token)
            audit.record(conn, principal.actor, "auth.logout", principal.actor, {})
    out = Response(status_code=204)
    out.delete_cookie(SESSION_COOKIE, path="/")
    return out


@router.get("/me", response_model=Me, responses=problem_responses(401), summary="The signed-in user")
def me(principal: Principal = Depends(current_principal)) -> Me:
    return _me(principal)


__all__ = ["router", "optional_principal"]
