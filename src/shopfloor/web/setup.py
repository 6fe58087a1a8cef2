"""The guided set-up of a new store (site and time zone, a first line and machine, the shifts, the first
administrator), shown instead of any page while the store has no plant.

The page needs no sign-in only while the store has no user at all (nobody could sign in yet); once a user
exists it is a page of administrators (``manage_plant``).  It writes through ``actions.setup.set_up_plant``,
which checks again, under a lock, that there is still no plant and no user.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import available_timezones

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Engine

from shopfloor.actions.accounts import sign_in
from shopfloor.actions.plant import checked_plant
from shopfloor.actions.setup import set_up_plant
from shopfloor.api.deps import Principal, client_address, ensure, get_engine, optional_principal, set_session_cookie
from shopfloor.errors import DomainError, PasswordsDiffer, SetupDone
from shopfloor.model.calendar import WEEKDAYS
from shopfloor.store import accounts
from shopfloor.store.first_run import has_plant, has_users
from shopfloor.web.pages import LoginRequired, page_context, render, require_csrf, same_origin, show_refusal

router = APIRouter(include_in_schema=False)
ZONES = sorted(z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/")))
SHIFT_ROWS = 3
DEFAULTS: dict[str, Any] = {
    "site_code": "",
    "site_name": "",
    "timezone": "Asia/Seoul",
    "area_code": "A1",
    "area_name": "",
    "line_code": "",
    "line_name": "",
    "machine_code": "",
    "machine_name": "",
    "shifts": [
        {"name": "Day", "start": "08:00", "end": "17:00", "days": list(WEEKDAYS[:5]),
         "break_start": "12:00", "break_end": "13:00"},
        {"name": "", "start": "", "end": "", "days": list(WEEKDAYS[:5]), "break_start": "", "break_end": ""},
        {"name": "", "start": "", "end": "", "days": list(WEEKDAYS[:5]), "break_start": "", "break_end": ""},
    ],
    "username": "admin",
    "display_name": "",
    "language": "",
}  # fmt: skip


def _state(engine: Engine) -> tuple[str | None, bool]:
    with engine.connect() as conn:
        return has_plant(conn), has_users(conn)


def _asker(request: Request, engine: Engine, principal: Principal | None, users_exist: bool) -> Principal | None:
    """Nobody needs to sign in while the store has no user; afterwards only an administrator sets up."""
    if not users_exist:
        return principal
    if principal is None or principal.session is None:
        raise LoginRequired(request.url.path)
    ensure(principal, "manage_plant")
    return principal


def _form(request: Request, principal: Principal | None, users_exist: bool, values: dict[str, Any],
          error: DomainError | None = None) -> HTMLResponse:  # fmt: skip
    ctx = page_context(request, principal, None, form=values, zones=ZONES, weekdays=WEEKDAYS,
                       needs_admin=not users_exist)  # fmt: skip
    status = show_refusal(ctx, error) if error is not None else 200
    return render(request, "setup.html", ctx, status)


@router.get("/setup")
def setup_page(
    request: Request,
    engine: Engine = Depends(get_engine),
    principal: Principal | None = Depends(optional_principal),
) -> Response:
    site, users_exist = _state(engine)
    if site is not None:
        return RedirectResponse("/admin/plant" if principal is not None else "/", status_code=303)
    principal = _asker(request, engine, principal, users_exist)
    return _form(request, principal, users_exist, DEFAULTS)


def _values(form) -> dict[str, Any]:
    v: dict[str, Any] = {k: str(form.get(k, "")).strip() for k in DEFAULTS if k != "shifts"}
    v["shifts"] = [
        {
            "name": str(form.get(f"shift{i}_name", "")).strip(),
            "start": str(form.get(f"shift{i}_start", "")).strip(),
            "end": str(form.get(f"shift{i}_end", "")).strip(),
            "days": [d for d in WEEKDAYS if form.get(f"shift{i}_{d}")],
            "break_start": str(form.get(f"shift{i}_break_start", "")).strip(),
            "break_end": str(form.get(f"shift{i}_break_end", "")).strip(),
        }
        for i in range(SHIFT_ROWS)
    ]
    return v


def plant_document(v: dict[str, Any]) -> dict[str, Any]:
    """The plant document of the set-up form, in the shape the YAML import reads (and checked by the same code)."""
    shifts = []
    for s in v["shifts"]:
        if not (s["name"] or s["start"] or s["end"]):
            continue  # an empty row
        shift: dict[str, Any] = {"name": s["name"], "start": s["start"], "end": s["end"], "days": s["days"]}
        if s["break_start"] or s["break_end"]:
            shift["breaks"] = [{"start": s["break_start"], "end": s["break_end"]}]
        shifts.append(shift)
    return {
        "site": {"code": v["site_code"], "name": v["site_name"] or v["site_code"], "timezone": v["timezone"]},
        "areas": [
            {
                "code": v["area_code"],
                "name": v["area_name"] or v["area_code"],
                "lines": [
                    {
                        "code": v["line_code"],
                        "name": v["line_name"] or v["line_code"],
                        "machines": [{"code": v["machine_code"], "name": v["machine_name"] or v["machine_code"]}],
                    }
                ],
            }
        ],
        "products": [],
        "calendar": {"shifts": shifts, "holidays": []},
    }


@router.post("/setup")
async def setup_form(
    request: Request,
    engine: Engine = Depends(get_engine),
    principal: Principal | None = Depends(optional_principal),
) -> Response:
    form = await request.form()
    values = _values(form)
    site, users_exist = _state(engine)
    if site is not None:
        raise SetupDone(site=site)
    principal = _asker(request, engine, principal, users_exist)
    if principal is not None:
        require_csrf(principal, str(form.get("csrf_token", "")))
    else:
        same_origin(request)  # no session yet, so no CSRF token: a form posted from another site is refused
    try:
        plant = checked_plant(plant_document(values))
        admin = None
        if not users_exist:
            password = str(form.get("password", ""))
            if password != str(form.get("password2", "")):
                raise PasswordsDiffer()
            admin = {"username": values["username"], "password": password,
                     "display_name": values["display_name"], "language": values["language"] or None}  # fmt: skip
        actor = principal.actor if principal is not None else f"user:{values['username']}"
        set_up_plant(engine, actor, plant, admin=admin)
    except DomainError as exc:
        return _form(request, principal, users_exist, values, exc)
    response = RedirectResponse("/admin/plant", status_code=303)
    if principal is None:  # the new administrator is signed in at once
        password = str(form.get("password", ""))
        check = lambda c: accounts.check_password(c, values["username"], password)  # noqa: E731
        session = sign_in(engine, values["username"], client_address(request), check, via="page")
        set_session_cookie(request, response, session)
    return response
