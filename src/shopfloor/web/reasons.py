"""``/admin/reasons``: the plant's downtime reasons and defect codes, with their names in every terminal
language, group, icon, colour and the machines or lines they apply to.  Managers and admins change them (through
``shopfloor.actions.reasons``, audited); a refusal is shown on the page in the user's language."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Engine

from shopfloor.actions.reasons import delete_reason, save_reason
from shopfloor.api.deps import Principal, ensure, get_engine
from shopfloor.errors import DomainError
from shopfloor.model.reasons import KINDS, NAME_LANGUAGES
from shopfloor.web.pages import page_context, page_user, plant_of, render, require_csrf, show_refusal

router = APIRouter(include_in_schema=False)


def _page(request: Request, principal: Principal, engine: Engine, refusal: DomainError | None = None,
          form: dict | None = None) -> HTMLResponse:  # fmt: skip
    ensure(principal, "manage_master_data")
    plant = plant_of(engine)
    kinds = [(kind, plant.reasons_for(kind)) for kind in KINDS]
    ctx = page_context(request, principal, plant, kinds=kinds, name_languages=NAME_LANGUAGES, form=form or {})
    status = show_refusal(ctx, refusal) if refusal is not None else 200
    return render(request, "admin_reasons.html", ctx, status)


@router.get("/admin/reasons")
def reasons_page(
    request: Request, principal: Principal = Depends(page_user), engine: Engine = Depends(get_engine)
) -> HTMLResponse:
    return _page(request, principal, engine)


@router.post("/admin/reasons")
async def reasons_save(
    request: Request,
    kind: str = Form(...),
    code: str = Form(..., max_length=64),
    group: str = Form("", max_length=200),
    icon: str = Form("", max_length=8),
    colour: str = Form("", max_length=7),
    machines: str = Form("", max_length=2000),
    new: str = Form(""),
    csrf_token: str = Form(""),
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
) -> Response:
    require_csrf(principal, csrf_token)
    ensure(principal, "manage_master_data")
    form = await request.form()
    names = {lang: str(form.get(f"name_{lang}", ""))[:200] for lang in NAME_LANGUAGES}
    try:
        save_reason(engine, principal.actor, kind, code, names=names, group=group, icon=icon, colour=colour,
                    machines=machines.replace(",", " ").split(), new=bool(new))  # fmt: skip
    except DomainError as exc:
        entered = {"kind": kind, "code": code, "group": group, "icon": icon, "colour": colour, "machines": machines,
                   "names": names}  # fmt: skip
        return _page(request, principal, engine, exc, entered)
    return RedirectResponse("/admin/reasons", status_code=303)


@router.post("/admin/reasons/delete")
def reasons_delete(
    request: Request,
    kind: str = Form(...),
    code: str = Form(..., max_length=64),
    csrf_token: str = Form(""),
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
) -> Response:
    require_csrf(principal, csrf_token)
    ensure(principal, "manage_master_data")
    try:
        delete_reason(engine, principal.actor, kind, code)
    except DomainError as exc:
        return _page(request, principal, engine, exc)
    return RedirectResponse("/admin/reasons", status_code=303)
