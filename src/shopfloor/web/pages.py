"""What every page module shares: the templates, the signed-in user of a page, the page context in the user's
language, the CSRF check of a form, a fresh key for a form that must be done once, and refusals shown in the
user's language (on the page that was asked for, or on a page of their own).

Every page needs a signed-in user (the sign-in pages excepted); forms carry the session's CSRF token.  Pages
write only through actions (``shopfloor.actions``).
"""

from __future__ import annotations

import asyncio
import hmac
import uuid
from collections.abc import Callable
from datetime import timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine

from shopfloor.analytics.kpi import OVER_100_CAUSE
from shopfloor.api.deps import SESSION_COOKIE, Principal, ensure, optional_principal
from shopfloor.api.errors import status_of
from shopfloor.errors import CrossSiteSignIn, CsrfTokenWrong, DomainError, PlantNotImported, Problems
from shopfloor.i18n import LANGUAGES, TERMINAL_LANGUAGES, Translator, error_translation, pick_language
from shopfloor.model.plant import Plant
from shopfloor.store import accounts
from shopfloor.store.plant import current_plant

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
# what every template may show beside a performance above 100 % (the likely cause)
templates.env.globals["over_100_cause"] = OVER_100_CAUSE
LANG_COOKIE = "sf_lang"


class LoginRequired(Exception):
    """A page asked for without a session: the application answers with the sign-in page."""

    def __init__(self, next_path: str, terminal: bool = False):
        self.next_path = next_path
        self.terminal = terminal


def plant_or_none(engine: Engine) -> Plant | None:
    """The plant of the store, or None before one is imported (pages then say so)."""
    with engine.connect() as conn:
        try:
            return current_plant(conn)
        except PlantNotImported:
            return None


def plant_of(engine: Engine) -> Plant:
    """The plant of the store; a page that needs one is refused before a plant is imported."""
    with engine.connect() as conn:
        return current_plant(conn)


def page_context(
    request: Request, principal: Principal | None, plant: Plant | None, *, zone: str | None = None, **extra: Any
) -> dict[str, Any]:
    """What every template gets: the translator of the user's language, the user, the CSRF token, the site.
    Without a plant (the hub), ``zone`` is the reader's organisation's time zone: it sets the default language
    and the zone times are shown in."""
    tz_name = plant.site.timezone if plant else (zone or "UTC")
    terminal = is_terminal(request)
    lang = pick_language(
        principal.user.language if principal else None, request.cookies.get(LANG_COOKIE), tz_name, terminal
    )
    t = Translator(lang, plant.site.tz if plant else ZoneInfo(zone) if zone else timezone.utc)
    return {
        "request": request,
        "t": t,
        "_": t.gettext,
        "user": principal.user if principal else None,
        "csrf_token": principal.session.csrf_token if principal and principal.session else None,
        "languages": TERMINAL_LANGUAGES if terminal else LANGUAGES,
        "site_name": plant.site.name if plant else "shopfloor",
        # A reason or defect code as people read it: its name in the page's language (else the code).
        "code_name": (lambda code: plant.reason_name(code, lang)) if plant else (lambda code: code or ""),
        **extra,
    }


def is_terminal(request: Request) -> bool:
    """A page of the operator terminal (it speaks the terminal languages)."""
    return request.url.path.startswith("/terminal")


def render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context, status_code=status)


def page_user(request: Request, principal: Principal | None = Depends(optional_principal)) -> Principal:
    """The dependency of every page: the user signed in with a session, else the sign-in page."""
    if principal is None or principal.session is None:
        raise LoginRequired(
            request.url.path + (f"?{request.url.query}" if request.url.query else ""),
            terminal=request.url.path.startswith("/terminal"),
        )
    return principal


def require_csrf(principal: Principal, sent: str) -> None:
    """A form of a signed-in user carries the session's CSRF token (a cross-site form cannot read it)."""
    if not sent or not hmac.compare_digest(sent, principal.session.csrf_token):
        raise CsrfTokenWrong()


def form_action(
    principal: Principal,
    csrf: str,
    permission: str,
    work: Callable[[], Any],
    done: str,
    refused: Callable[[DomainError], Response],
) -> Response:
    """A page's form: CSRF and role checked, the action done, then back to ``done``; a refusal is shown on the page
    (``refused``) in the reader's language, with nothing written."""
    require_csrf(principal, csrf)
    ensure(principal, permission)
    try:
        work()
    except DomainError as exc:
        return refused(exc)
    return RedirectResponse(done, status_code=303)


def safe_next(path: str | None) -> str:
    # Only paths on this site: an absolute URL here would make the sign-in page an open redirect.
    if not path or not path.startswith("/") or path.startswith("//") or urlsplit(path).netloc:
        return "/"
    return path


def same_origin(request: Request) -> None:
    """A form posted before anyone can sign in (no session, so no CSRF token) must come from this site."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if origin and urlsplit(origin).netloc != request.url.netloc:
        raise CrossSiteSignIn()


def new_form_key() -> str:
    """A request key for one form: posting the same form twice does the action once."""
    return uuid.uuid4().hex


def show_refusal(ctx: dict[str, Any], error: DomainError) -> int:
    """Put a refusal on the page shown again: its message in the page's language (``error``), each of several
    problems (``problems``); returns the refusal's HTTP status."""
    t = ctx["t"]
    if isinstance(error, Problems):
        translation = error_translation(t.lang)
        ctx["error"] = error.translated(translation)
        ctx["problems"] = [{**p.to_dict(), "message": p.translated(translation)} for p in error.problems]
    else:
        ctx["error"] = t.error(error)
    ctx["code"] = error.code
    return status_of(error)


def _asker(request: Request) -> Principal | None:
    """The signed-in user of a page being refused (the page's own dependency may not have run)."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    with request.app.state.engine.connect() as conn:
        session = accounts.session_for(conn, token)
    return Principal(session.user, session) if session is not None else None


async def refusal_page(request: Request, error: DomainError, status: int) -> Response | None:
    """A refusal met by a page (not the API): a page of its own, in the user's language.  None for the API and
    the operations routes, which answer with a problem document."""
    path = request.url.path
    machine_paths = (
        path.startswith("/api/") or path in ("/healthz", "/readyz", "/metrics") or path.startswith("/static/")
    )
    if machine_paths and not _browser_navigation(request):
        return None
    if request.headers.get("hx-request"):  # a fragment polled by htmx: the problem document, not a page
        return None
    if isinstance(error, PlantNotImported):  # a new store: the guided set-up instead of a refusal
        return RedirectResponse("/setup", status_code=303)
    # The store is read in a worker thread, as in the pages themselves: never on the loop serving the boards.
    return await asyncio.to_thread(_refusal_page, request, error, status)


def _browser_navigation(request: Request) -> bool:
    """A person's browser opening the address (a link to a label, a typed URL): it asks for HTML first.  Scripts
    (fetch, htmx) and API clients do not, and get the problem document."""
    accept = request.headers.get("accept", "")
    return accept.startswith("text/html") or request.headers.get("sec-fetch-mode") == "navigate"


# The heading of an error page by its status (the message says the rest).
ERROR_HEADINGS = {403: "Not allowed", 404: "Not found", 500: "Server error"}


def _refusal_page(request: Request, error: DomainError, status: int) -> Response:
    ctx = page_context(request, _asker(request), plant_or_none(request.app.state.engine))
    show_refusal(ctx, error)
    ctx["heading"] = ctx["_"](ERROR_HEADINGS.get(status, "Refused"))
    return render(request, "error.html", ctx, status)
