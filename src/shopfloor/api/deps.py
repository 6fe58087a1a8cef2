"""Who is asking, and may they: the authentication and authorisation dependencies of every route.

A request is authenticated by an API token (``Authorization: Bearer sf_...``) or by a session cookie.
Cookie-authenticated requests that change something must carry the session's CSRF token in the
``X-CSRF-Token`` header (or a ``csrf_token`` form field): a cross-site form cannot read it.
Permissions are given to roles in one table, here.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from fastapi import Depends, Request, Response
from sqlalchemy import Engine

from shopfloor.api.errors import Problem
from shopfloor.store import accounts, audit
from shopfloor.store.accounts import Session, User

SESSION_COOKIE = "sf_session"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}

PERMISSIONS: dict[str, frozenset[str]] = {
    "view": frozenset({"operator", "supervisor", "quality", "manager", "admin"}),
    "report_production": frozenset({"operator", "supervisor", "admin"}),
    "import_events": frozenset({"supervisor", "manager", "admin"}),
    "plan_production": frozenset({"supervisor", "manager", "admin"}),
    "acknowledge_alarms": frozenset({"quality", "supervisor", "admin"}),
    "handle_lots": frozenset({"operator", "supervisor", "quality", "admin"}),
    "hold_lots": frozenset({"quality", "supervisor", "admin"}),
    "manage_master_data": frozenset({"manager", "admin"}),
    "record_inspections": frozenset({"operator", "supervisor", "quality", "admin"}),
    "report_nonconformance": frozenset({"operator", "supervisor", "quality", "admin"}),
    "manage_quality": frozenset({"quality", "admin"}),
    "manage_reports": frozenset({"manager", "admin"}),
    # hub mode: the program office runs the hub; sponsors and factories see what concerns them
    "hub_view": frozenset({"office", "sponsor", "factory"}),
    "hub_manage": frozenset({"office"}),
    "hub_share": frozenset({"factory"}),
    "manage_plant": frozenset({"admin"}),
    "manage_users": frozenset({"admin"}),
    "view_audit": frozenset({"manager", "admin"}),
}


@dataclass(frozen=True)
class Principal:
    user: User
    session: Session | None  # None when authenticated by an API token

    @property
    def actor(self) -> str:
        return f"user:{self.user.username}"


def get_engine(request: Request) -> Engine:
    return request.app.state.engine


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def optional_principal(request: Request, engine: Engine = Depends(get_engine)) -> Principal | None:
    # A plain function: FastAPI runs it in its thread pool, so the store lookup never blocks the event loop
    # that carries every open board's stream.
    token = _bearer(request)
    if token:
        with engine.begin() as conn:
            user = accounts.user_for_api_token(conn, token)
        if user is None:
            raise Problem(
                401, "Not signed in", "the API token is unknown or revoked", headers={"WWW-Authenticate": "Bearer"}
            )
        return Principal(user, None)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        with engine.connect() as conn:
            session = accounts.session_for(conn, cookie)
        if session is not None:
            return Principal(session.user, session)
    return None


async def current_principal(request: Request, principal: Principal | None = Depends(optional_principal)) -> Principal:
    if principal is None:
        raise Problem(
            401,
            "Not signed in",
            "sign in, or send an API token as 'Authorization: Bearer ...'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if principal.session is not None and request.method not in SAFE_METHODS:
        sent = request.headers.get("x-csrf-token")
        if sent is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")
        ):
            sent = (await request.form()).get("csrf_token")
        if not sent or not hmac.compare_digest(str(sent), principal.session.csrf_token):
            raise Problem(403, "Forbidden", "missing or wrong CSRF token (send the X-CSRF-Token header)")
    return principal


def allowed(principal: Principal, permission: str) -> bool:
    """Whether the principal's role holds ``permission`` (a key of :data:`PERMISSIONS`)."""
    return principal.user.role in PERMISSIONS[permission]


def ensure(principal: Principal, permission: str, doing: str | None = None) -> None:
    """Raise 403 unless the principal's role holds ``permission``.

    The message reads "role 'x' may not <doing>"; ``doing`` defaults to the permission's own words.
    """
    if not allowed(principal, permission):
        raise Problem(403, "Forbidden", f"role {principal.user.role!r} may not {doing or permission.replace('_', ' ')}")


def require(permission: str):
    """A dependency that lets the request through only for roles holding ``permission``."""
    PERMISSIONS[permission]  # an unknown permission fails when the route is declared, not when it is called

    async def check(principal: Principal = Depends(current_principal)) -> Principal:
        ensure(principal, permission)
        return principal

    check.permission = permission  # type: ignore[attr-defined]  # read by the route audit test
    return check


def attempt_sign_in(request: Request, engine: Engine, name: str, check) -> tuple[User | None, int]:
    """Run ``check(conn)`` unless ``name`` or the client's address is throttled.

    Returns the user (None when the secret was wrong or throttled) and the seconds to wait (0 if not throttled).
    Every attempt is recorded, so five failures in the window throttle the name and the address.
    """
    keys = [f"user:{name}", f"ip:{request.client.host if request.client else 'unknown'}"]
    with engine.begin() as conn:
        wait = accounts.throttled_for(conn, keys)
        if wait:
            return None, wait
        user = check(conn)
        accounts.record_attempt(conn, keys, success=user is not None)
    return user, 0


def start_session(request: Request, response: Response, engine: Engine, user: User, via: str) -> Session:
    """A new session for ``user`` with its cookie set on ``response``.

    A sign-in always gets a new token and ends the one the browser had: a token planted before sign-in is
    worthless (session fixation).
    """
    with engine.begin() as conn:
        old = request.cookies.get(SESSION_COOKIE)
        if old:
            accounts.end_session(conn, old)
        session = accounts.create_session(conn, user)
        audit.record(conn, f"user:{user.username}", "auth.login", f"user:{user.username}", {"via": via})
    response.set_cookie(
        SESSION_COOKIE,
        session.token,
        httponly=True,
        samesite="lax",
        secure=request.app.state.settings.secure,
        max_age=int(accounts.SESSION_LIFETIME.total_seconds()),
        path="/",
    )
    return session
