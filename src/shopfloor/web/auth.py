"""Sign-in pages (password, or an operator's badge and PIN), signing out, and the language switch."""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Engine

from shopfloor.actions.accounts import set_language as save_language
from shopfloor.actions.accounts import sign_in, sign_out
from shopfloor.api.deps import (
    SESSION_COOKIE,
    Principal,
    client_address,
    get_engine,
    optional_principal,
    set_session_cookie,
)
from shopfloor.errors import CrossSiteSignIn, LanguageUnknown, SignInThrottled, WrongSecret
from shopfloor.i18n import TERMINAL_LANGUAGES
from shopfloor.store import accounts
from shopfloor.store.schema import HUB_ROLES
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
        raise CrossSiteSignIn()


def _sign_in(request: Request, engine: Engine, name: str, check, target: str) -> Response:
    """Sign in and go to ``target``; raises ``WrongSecret`` or ``SignInThrottled``."""
    replaces = request.cookies.get(SESSION_COOKIE)
    session = sign_in(engine, name, client_address(request), check, via="page", replaces=replaces)
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(request, response, session)
    return response


def _refused(request: Request, engine: Engine, page: str, error: Exception, wrong: str, **extra) -> HTMLResponse:
    """The sign-in page again, saying why (in the page's own words, which the operator reads on the keypad)."""
    ctx = page_context(request, None, plant_or_none(engine), **extra)
    throttled = isinstance(error, SignInThrottled)
    ctx["error"] = ctx["t"].gettext("Too many attempts; wait a few minutes." if throttled else wrong)
    return render(request, page, ctx, status=429 if throttled else 401)


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
    try:
        check = lambda c: accounts.check_password(c, username, password)  # noqa: E731
        return _sign_in(request, engine, username, check, safe_next(next))
    except (WrongSecret, SignInThrottled) as exc:
        return _refused(request, engine, "login.html", exc, "Wrong username or password.", next=safe_next(next))


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
    try:
        return _sign_in(request, engine, who, lambda c: accounts.check_pin(c, who, pin), "/terminal")
    except (WrongSecret, SignInThrottled) as exc:
        # The badge stays in its field: only the PIN is typed again.
        return _refused(request, engine, "pin_login.html", exc, "Wrong badge or PIN.", who=who)


@router.post("/logout")
def logout(
    request: Request,
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
    csrf_token: str = Form(""),
) -> Response:
    require_csrf(principal, csrf_token)
    sign_out(engine, principal.session)
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
    if lang not in TERMINAL_LANGUAGES:  # a terminal language shows on the terminal; other pages keep theirs
        raise LanguageUnknown(language=lang, languages=list(TERMINAL_LANGUAGES))
    if principal is not None and principal.session is not None:
        require_csrf(principal, csrf_token)
        save_language(engine, principal.actor, principal.user, lang)
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(LANG_COOKIE, lang, samesite="lax", max_age=365 * 86400, path="/")
    return response


@router.get("/")
def home(principal: Principal = Depends(page_user)) -> Response:
    if principal.user.role in HUB_ROLES:  # the program office, sponsors and factories work on the hub
        return RedirectResponse("/hub", status_code=303)
    return RedirectResponse("/terminal" if principal.user.role == "operator" else "/board", status_code=303)
