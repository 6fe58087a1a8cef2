"""Sign-in pages (password, or an operator's badge and PIN), signing out, and the language switch."""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Engine

from shopfloor.api.deps import SESSION_COOKIE, Principal, attempt_sign_in, get_engine, optional_principal, start_session
from shopfloor.api.errors import Problem
from shopfloor.i18n import LANGUAGES
from shopfloor.store import accounts, audit
from shopfloor.web.pages import (
    LANG_COOKIE,
    page_context,
    page_user,
    plant_or_none,
    render,
    require_csrf,
    safe_next,
)

router = APIRouter(include_in_schema=False)


def _check_origin(request: Request) -> None:
    """Sign-in forms have no session yet, so no CSRF token: refuse posts that come from another site."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if origin and urlsplit(origin).netloc != request.url.netloc:
        raise Problem(403, "Forbidden", "cross-site sign-in refused")


def _sign_in(request: Request, engine: Engine, user: accounts.User, target: str) -> Response:
    response = RedirectResponse(target, status_code=303)
    start_session(request, response, engine, user, "page")
    return response


def _attempt(request: Request, engine: Engine, name: str, check) -> tuple[accounts.User | None, str | None]:
    user, wait = attempt_sign_in(request, engine, name, check)
    if wait:
        return None, "throttled"
    return user, None if user else "wrong"


@router.get("/login")
def login_page(request: Request, next: str = "/", engine: Engine = Depends(get_engine)) -> HTMLResponse:
    return render(
        request, "login.html", page_context(request, None, plant_or_none(engine), next=safe_next(next), error=None)
    )


@router.post("/login")
def login_form(
    request: Request,
    username: str = Form(..., max_length=64),
    password: str = Form(..., max_length=1024),
    next: str = Form("/"),
    engine: Engine = Depends(get_engine),
) -> Response:
    _check_origin(request)
    user, problem = _attempt(request, engine, username, lambda c: accounts.check_password(c, username, password))
    if user is None:
        ctx = page_context(request, None, plant_or_none(engine), next=safe_next(next))
        t = ctx["t"]
        ctx["error"] = (
            t.gettext("Too many attempts; wait a few minutes.")
            if problem == "throttled"
            else t.gettext("Wrong username or password.")
        )
        return render(request, "login.html", ctx, status=429 if problem == "throttled" else 401)
    return _sign_in(request, engine, user, safe_next(next))


@router.get("/terminal/login")
def pin_page(request: Request, engine: Engine = Depends(get_engine)) -> HTMLResponse:
    return render(request, "pin_login.html", page_context(request, None, plant_or_none(engine), error=None))


@router.post("/terminal/login")
def pin_form(
    request: Request,
    who: str = Form(..., max_length=64),
    pin: str = Form(..., max_length=8),
    engine: Engine = Depends(get_engine),
) -> Response:
    _check_origin(request)
    user, problem = _attempt(request, engine, who, lambda c: accounts.check_pin(c, who, pin))
    if user is None:
        ctx = page_context(request, None, plant_or_none(engine))
        t = ctx["t"]
        ctx["error"] = (
            t.gettext("Too many attempts; wait a few minutes.")
            if problem == "throttled"
            else t.gettext("Wrong badge or PIN.")
        )
        return render(request, "pin_login.html", ctx, status=429 if problem == "throttled" else 401)
    return _sign_in(request, engine, user, "/terminal")


@router.post("/logout")
async def logout(
    request: Request,
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
    csrf_token: str = Form(""),
) -> Response:
    require_csrf(principal, csrf_token)
    with engine.begin() as conn:
        accounts.end_session(conn, principal.session.token)
    target = "/terminal/login" if principal.user.role == "operator" else "/login"
    response = RedirectResponse(target, status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.post("/lang")
def set_language(
    request: Request,
    lang: str = Form(...),
    next: str = Form("/"),
    csrf_token: str = Form(""),
    principal: Principal | None = Depends(optional_principal),
    engine: Engine = Depends(get_engine),
) -> Response:
    """Switch the language in one tap: for the signed-in user (kept), or for this browser before sign-in."""
    if lang not in LANGUAGES:
        raise Problem(422, "Invalid request", f"language {lang!r} must be one of {', '.join(LANGUAGES)}")
    if principal is not None and principal.session is not None:
        require_csrf(principal, csrf_token)
        with engine.begin() as conn:
            accounts.set_language(conn, principal.user.id, lang)
            audit.record(conn, principal.actor, "user.language", principal.actor, {"language": lang})
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(LANG_COOKIE, lang, samesite="lax", max_age=365 * 86400, path="/")
    return response


@router.get("/")
def home(principal: Principal = Depends(page_user)) -> Response:
    return RedirectResponse("/terminal" if principal.user.role == "operator" else "/board", status_code=303)
