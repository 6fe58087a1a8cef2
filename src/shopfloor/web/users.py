"""The administrators' users page: every user with role, language, badge, whether active and open sessions; a new
user; changes of role, language and badge; deactivation (sessions end, API tokens are revoked); a new password or
PIN; signing someone out everywhere; and a printable badge with its Code 128 barcode for the terminal's scanner.

Every change goes through ``shopfloor.actions.accounts`` (audited); refusals are shown on the page in the
administrator's language.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from sqlalchemy import Engine

from shopfloor.actions import accounts as actions
from shopfloor.api.deps import Principal, ensure, get_engine
from shopfloor.errors import DomainError, SecretMissing
from shopfloor.reports.barcode import BarcodeError, code128_svg
from shopfloor.store import accounts
from shopfloor.store.schema import ROLES
from shopfloor.web.pages import page_context, page_user, plant_or_none, render, require_csrf, show_refusal

router = APIRouter(include_in_schema=False)
PAGE = "/admin/users"


def _page(request: Request, principal: Principal, engine: Engine, refusal: DomainError | None = None,
          done: str | None = None) -> HTMLResponse:  # fmt: skip
    ensure(principal, "manage_users")
    with engine.connect() as conn:
        users, open_sessions = accounts.list_users(conn), accounts.active_sessions(conn)
    ctx = page_context(
        request, principal, plant_or_none(engine), users=users, open_sessions=open_sessions, roles=ROLES, done=done
    )
    status = show_refusal(ctx, refusal) if refusal is not None else 200
    return render(request, "users.html", ctx, status)


def _do(request: Request, principal: Principal, engine: Engine, csrf_token: str, work, done: str) -> Response:
    """Run one administrator's change; the page again with the refusal, or back to the list saying what was done."""
    require_csrf(principal, csrf_token)
    ensure(principal, "manage_users")
    try:
        work()
    except DomainError as exc:
        return _page(request, principal, engine, exc)
    return RedirectResponse(f"{PAGE}?done={done}", status_code=303)


@router.get(PAGE)
def users_page(
    request: Request, done: str | None = None, principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
) -> HTMLResponse:  # fmt: skip
    return _page(request, principal, engine, done=done if done in DONE else None)


DONE = {"created", "changed", "deactivated", "activated", "secret", "signed_out"}


@router.post(PAGE)
def users_add(
    request: Request,
    username: str = Form(..., max_length=64),
    role: str = Form("operator"),
    display_name: str = Form("", max_length=200),
    badge: str = Form("", max_length=64),
    language: str = Form(""),
    secret: str = Form(..., max_length=1024),
    csrf_token: str = Form(""),
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
) -> Response:
    pin = role == "operator" and secret.isascii() and secret.isdigit()

    def work():
        actions.create_user(engine, principal.actor, username=username.strip(), role=role,
                            password=None if pin else secret, pin=secret if pin else None,
                            display_name=display_name or None, badge=badge.strip() or None,
                            language=language or None)  # fmt: skip

    return _do(request, principal, engine, csrf_token, work, "created")


@router.post(PAGE + "/{username}")
def users_change(
    request: Request,
    username: str,
    role: str = Form(...),
    language: str = Form(""),
    badge: str = Form("", max_length=64),
    csrf_token: str = Form(""),
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
) -> Response:
    def work():
        actions.update_user(engine, principal.actor, username, role=role, language=language or None,
                            badge=badge.strip())  # fmt: skip

    return _do(request, principal, engine, csrf_token, work, "changed")


@router.post(PAGE + "/{username}/deactivate")
def users_deactivate(
    request: Request,
    username: str,
    reason: str = Form("", max_length=500),
    csrf_token: str = Form(""),
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
) -> Response:
    work = lambda: actions.deactivate_user(engine, principal.actor, username, reason=reason or None)  # noqa: E731
    return _do(request, principal, engine, csrf_token, work, "deactivated")


@router.post(PAGE + "/{username}/activate")
def users_activate(
    request: Request, username: str, csrf_token: str = Form(""), principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
) -> Response:  # fmt: skip
    return _do(request, principal, engine, csrf_token,
               lambda: actions.activate_user(engine, principal.actor, username), "activated")  # fmt: skip


@router.post(PAGE + "/{username}/secret")
def users_secret(
    request: Request,
    username: str,
    password: str = Form("", max_length=1024),
    pin: str = Form("", max_length=8),
    csrf_token: str = Form(""),
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
) -> Response:
    def work():
        if not password and not pin:
            raise SecretMissing()
        if password:
            actions.reset_password(engine, principal.actor, username, password=password)
        if pin:
            actions.reset_pin(engine, principal.actor, username, pin=pin)

    return _do(request, principal, engine, csrf_token, work, "secret")


@router.post(PAGE + "/{username}/sign-out")
def users_sign_out(
    request: Request, username: str, csrf_token: str = Form(""), principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
) -> Response:  # fmt: skip
    return _do(request, principal, engine, csrf_token,
               lambda: actions.end_sessions(engine, principal.actor, username), "signed_out")  # fmt: skip


@router.get(PAGE + "/{username}/badge")
def users_badge(
    request: Request, username: str, principal: Principal = Depends(page_user), engine: Engine = Depends(get_engine)
) -> HTMLResponse:
    """A badge to print: name, role and the badge number as a Code 128 barcode the terminal's scanner reads."""
    ensure(principal, "manage_users")
    with engine.connect() as conn:
        user = accounts.by_username(conn, username)
    try:
        barcode = Markup(code128_svg(user.badge, module_px=2, height_px=56)) if user.badge else None  # noqa: S704
    except BarcodeError:  # a badge number outside Code 128's characters: printed as text only
        barcode = None
    ctx = page_context(request, principal, plant_or_none(engine), person=user, barcode=barcode)
    return render(request, "badge.html", ctx)
