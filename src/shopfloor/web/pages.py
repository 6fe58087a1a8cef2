"""What every page module shares: the templates, the signed-in user of a page, the page context in the user's
language, the CSRF check of a form, and a fresh key for a form that must be done once.

Every page needs a signed-in user (the sign-in pages excepted); forms carry the session's CSRF token.
"""

from __future__ import annotations

import hmac
import uuid
from datetime import timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine

from shopfloor.api.deps import Principal, optional_principal
from shopfloor.api.errors import Problem
from shopfloor.i18n import LANGUAGES, Translator, pick_language
from shopfloor.model.plant import Plant
from shopfloor.store.plant import StoreError, current_plant

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
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
        except StoreError:
            return None


def page_context(request: Request, principal: Principal | None, plant: Plant | None, **extra: Any) -> dict[str, Any]:
    """What every template gets: the translator of the user's language, the user, the CSRF token, the site."""
    tz_name = plant.site.timezone if plant else "UTC"
    lang = pick_language(principal.user.language if principal else None, request.cookies.get(LANG_COOKIE), tz_name)
    t = Translator(lang, plant.site.tz if plant else timezone.utc)
    return {
        "request": request,
        "t": t,
        "_": t.gettext,
        "user": principal.user if principal else None,
        "csrf_token": principal.session.csrf_token if principal and principal.session else None,
        "languages": LANGUAGES,
        "site_name": plant.site.name if plant else "shopfloor",
        **extra,
    }


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
        raise Problem(403, "Forbidden", "missing or wrong CSRF token")


def safe_next(path: str | None) -> str:
    # Only paths on this site: an absolute URL here would make the sign-in page an open redirect.
    if not path or not path.startswith("/") or path.startswith("//") or urlsplit(path).netloc:
        return "/"
    return path


def new_form_key() -> str:
    """A request key for one form: posting the same form twice does the action once."""
    return uuid.uuid4().hex
