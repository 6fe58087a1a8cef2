"""The skills matrix: operators by skills with each certification's expiry (valid, expiring within 30 days,
expired), the skills operations need, and the forms to add a skill, require it for an operation and certify
someone.  Every form calls an action and shows its refusal translated."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Engine

from shopfloor.actions import skills as actions
from shopfloor.api.deps import Principal, allowed, get_engine
from shopfloor.errors import DomainError, SkillExpiryInvalid
from shopfloor.store import skills as store
from shopfloor.web.pages import form_action, page_context, page_user, plant_of, render, show_refusal

router = APIRouter(include_in_schema=False)
SOON = timedelta(days=30)


def _page(request: Request, principal: Principal, engine: Engine, refusal: DomainError | None = None) -> HTMLResponse:
    plant = plant_of(engine)
    now = datetime.now(timezone.utc)
    with engine.connect() as conn:
        m = store.matrix(conn)
    for cells in m["cells"].values():
        for cell in cells.values():
            exp = cell["expires_at"]
            cell["state"] = "valid" if exp is None or exp - now > SOON else ("expiring" if exp > now else "expired")
    ctx = page_context(request, principal, plant, matrix=m, can_manage=allowed(principal, "manage_skills"))
    status = show_refusal(ctx, refusal) if refusal is not None else 200
    return render(request, "skills.html", ctx, status)


@router.get("/skills")
def skills_page(
    request: Request, principal: Principal = Depends(page_user), engine: Engine = Depends(get_engine)
) -> HTMLResponse:
    return _page(request, principal, engine)


def _do(request: Request, principal: Principal, engine: Engine, csrf: str, work) -> Response:
    return form_action(
        principal, csrf, "manage_skills", work, "/skills", lambda exc: _page(request, principal, engine, exc)
    )


@router.post("/skills")
def new_skill(
    request: Request,
    code: str = Form(..., min_length=1, max_length=64),
    name: str = Form("", max_length=200),
    csrf_token: str = Form(""),
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
) -> Response:
    return _do(request, principal, engine, csrf_token,
               lambda: actions.create_skill(engine, principal.actor, code=code.strip(), name=name.strip()))  # fmt: skip


@router.post("/skills/require")
def require(
    request: Request,
    item: str = Form(..., min_length=1, max_length=64),
    seq: int = Form(..., ge=1),
    skill: str = Form(..., min_length=1, max_length=64),
    csrf_token: str = Form(""),
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
) -> Response:
    return _do(request, principal, engine, csrf_token, lambda: actions.require_skill(
        engine, principal.actor, item=item.strip(), seq=seq, skill=skill))  # fmt: skip


@router.post("/skills/certify")
def certify(
    request: Request,
    username: str = Form(..., min_length=1, max_length=64),
    skill: str = Form(..., min_length=1, max_length=64),
    expires: str = Form("", max_length=10),
    csrf_token: str = Form(""),
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
) -> Response:
    def work():
        until = None
        if expires.strip():
            try:
                day = datetime.strptime(expires.strip(), "%Y-%m-%d").date()
            except ValueError:
                raise SkillExpiryInvalid(value=expires.strip()) from None
            tz = plant_of(engine).site.tz
            until = datetime.combine(day + timedelta(days=1), time(), tz).astimezone(timezone.utc)  # end of that day
        actions.certify_operator(engine, principal.actor, username, skill=skill, expires_at=until)

    return _do(request, principal, engine, csrf_token, work)
