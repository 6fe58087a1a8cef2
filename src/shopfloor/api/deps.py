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
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine

from shopfloor.actions.accounts import remembered_session, session_of, user_of_token
from shopfloor.errors import CsrfTokenWrong, RoleForbidden, SignInRequired, TokenUnknown
from shopfloor.store import accounts
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
    # maintenance: anyone on the floor raises a breakdown request; supervisors (maintenance staff), managers and
    # admins plan, acknowledge and close the work
    "request_maintenance": frozenset({"operator", "supervisor", "quality", "manager", "admin"}),
    "maintain": frozenset({"supervisor", "manager", "admin"}),
    # documents: engineering (managers), quality and admins write and approve; NC programs are sent by them too
    "manage_documents": frozenset({"quality", "manager", "admin"}),
    "manage_skills": frozenset({"supervisor", "manager", "admin"}),
}


@dataclass(frozen=True)
class Principal:
    user: User
    session: Session | None  # None when authenticated by an API token

    @property
    def actor(self) -> str:
        return f"user:{self.user.username}"


async def get_engine(request: Request) -> Engine:
    # A coroutine: FastAPI would run a plain function in its thread pool, a thread hop for every request.
    return request.app.state.engine


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def lookup_principal(request: Request, engine: Engine) -> Principal | None:
    """The caller of ``request`` from the store (an API token, or the session of the cookie); it may block."""
    token = _bearer(request)
    if token:
        user = user_of_token(engine, token)
        if user is None:
            raise TokenUnknown()
        return Principal(user, None)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        session = session_of(engine, cookie)
        if session is not None:
            return Principal(session.user, session)
    return None


_UNKNOWN = object()


async def principal_of(request: Request, engine: Engine) -> Principal | None:
    """The caller of ``request``, found once per request (the body guard and the route's dependencies share it): a
    remembered session is answered on the event loop, anything that reads the store in the thread pool, so the
    loop that carries every open board's stream never waits on it."""
    found = request.scope.get("state", {}).get("principal", _UNKNOWN)
    if found is not _UNKNOWN:
        return found  # type: ignore[return-value]
    cookie = None if _bearer(request) else request.cookies.get(SESSION_COOKIE)
    session = remembered_session(engine, cookie) if cookie else None
    if session is not None:
        principal: Principal | None = Principal(session.user, session)
    else:
        principal = await run_in_threadpool(lookup_principal, request, engine)
    request.scope.setdefault("state", {})["principal"] = principal
    return principal


async def optional_principal(request: Request, engine: Engine = Depends(get_engine)) -> Principal | None:
    return await principal_of(request, engine)


async def current_principal(request: Request) -> Principal:
    # principal_of itself rather than a dependency on optional_principal: FastAPI spends some 40 us on each
    # dependency it resolves, and this one runs for every request of a signed-in user.
    principal = await principal_of(request, request.app.state.engine)
    if principal is None:
        raise SignInRequired()
    if principal.session is not None and request.method not in SAFE_METHODS:
        sent = request.headers.get("x-csrf-token")
        if sent is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")
        ):
            sent = (await request.form()).get("csrf_token")
        if not sent or not hmac.compare_digest(str(sent), principal.session.csrf_token):
            raise CsrfTokenWrong()
    return principal


def allowed(principal: Principal, permission: str) -> bool:
    """Whether the principal's role holds ``permission`` (a key of :data:`PERMISSIONS`)."""
    return principal.user.role in PERMISSIONS[permission]


def ensure(principal: Principal, permission: str, doing: str | None = None) -> None:
    """Refuse (403) unless the principal's role holds ``permission``.

    The message reads "role x may not <doing>"; ``doing`` defaults to the permission's own words.
    """
    if not allowed(principal, permission):
        raise RoleForbidden(role=principal.user.role, doing=doing or permission.replace("_", " "))


def require(permission: str):
    """A dependency that lets the request through only for roles holding ``permission``."""
    PERMISSIONS[permission]  # an unknown permission fails when the route is declared, not when it is called

    async def check(principal: Principal = Depends(current_principal)) -> Principal:
        ensure(principal, permission)
        return principal

    check.permission = permission  # type: ignore[attr-defined]  # read by the route audit test
    return check


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def set_session_cookie(request: Request, response: Response, session: Session) -> None:
    """The session's cookie: HTTP only, same-site lax, Secure behind HTTPS, for the session's lifetime."""
    response.set_cookie(
        SESSION_COOKIE,
        session.token,
        httponly=True,
        samesite="lax",
        secure=request.app.state.settings.secure,
        max_age=int(accounts.SESSION_LIFETIME.total_seconds()),
        path="/",
    )
