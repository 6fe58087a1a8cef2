"""The plant pages: site, areas, lines, machines (type, photo), products with their ideal cycle times, the shift
calendar with its breaks, holidays and extra shifts.  Each form is one change through ``actions.plant.edit_plant``
(checked by the YAML import's reader, audited); a refusal is shown on the page in the user's language, with
what was typed."""

from __future__ import annotations

from typing import Any

import yaml
from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Engine

from shopfloor.actions.plant import MAX_PHOTO_BYTES, edit_plant, set_machine_photo
from shopfloor.api.deps import Principal, allowed, ensure, get_engine
from shopfloor.errors import DomainError, MachineNotFound, PlantEntityUnknown
from shopfloor.model.calendar import WEEKDAYS
from shopfloor.model.plant_edit import KINDS
from shopfloor.store.plant import photo, photographed
from shopfloor.web.pages import page_context, page_user, plant_of, render, require_csrf, show_refusal
from shopfloor.web.setup import ZONES

router = APIRouter(include_in_schema=False)


def breaks_text(breaks: list[dict[str, Any]]) -> str:
    return ", ".join(f"{b['start']}-{b['end']}" for b in breaks)


def _breaks(text: str) -> list[Any]:
    """ "10:00-10:15, 12:00-12:45" as the document's breaks; a piece that is not start-end is left for the
    reader to refuse with its place."""
    out: list[Any] = []
    for piece in (p.strip() for p in text.split(",")):
        if not piece:
            continue
        start, sep, end = piece.partition("-")
        out.append({"start": start.strip(), "end": end.strip()} if sep else piece)
    return out


def _number(text: str) -> Any:
    """A number typed in a form; anything else is passed on as typed, for the reader to refuse."""
    text = text.strip().replace(",", ".")
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        return text


def _cycles(text: str) -> dict[str, Any]:
    """ "WLD-01=42, WLD-02=45" as ``cycle_by_machine``."""
    out: dict[str, Any] = {}
    for piece in (p.strip() for p in text.split(",")):
        if piece:
            machine, _, secs = piece.partition("=")
            out[machine.strip()] = _number(secs)
    return out


def form_values(kind: str, form: Any) -> tuple[str, dict[str, Any]]:
    """The key and the document values of one plant form."""
    get = lambda name: str(form.get(name, "")).strip()  # noqa: E731
    if kind == "site":
        return "site", {"name": get("name"), "timezone": get("timezone")}
    if kind == "area":
        return get("code"), {"name": get("name") or get("code")}
    if kind == "line":
        return get("code"), {"name": get("name") or get("code"), "area": get("area")}
    if kind == "machine":
        return get("code"), {"name": get("name") or get("code"), "type": get("type"), "line": get("line")}
    if kind == "product":
        values: dict[str, Any] = {"name": get("name") or get("code"), "ideal_cycle_s": _number(get("ideal_cycle_s"))}
        values["cycle_by_machine"] = _cycles(get("cycle_by_machine"))
        return get("code"), values
    if kind == "shift":
        days = [d for d in WEEKDAYS if form.get(d)]
        return get("name"), {"start": get("start"), "end": get("end"), "days": days, "breaks": _breaks(get("breaks"))}
    if kind == "holiday":
        return get("date"), {}
    if kind == "extra_shift":
        values = {"date": get("date"), "name": get("name"), "start": get("start"), "end": get("end"),
                  "breaks": _breaks(get("breaks"))}  # fmt: skip
        return f"{get('date')}/{get('name')}", values
    raise PlantEntityUnknown(kind=kind, code=get("code"))


def _page(
    request: Request, principal: Principal, engine: Engine, *, refusal: DomainError | None = None,
    failed: str | None = None, typed: dict[str, Any] | None = None, done: str | None = None,
) -> HTMLResponse:  # fmt: skip
    plant = plant_of(engine)
    with engine.connect() as conn:
        photos = photographed(conn)
    doc = plant.to_dict()
    ctx = page_context(
        request,
        principal,
        plant,
        the_plant=plant,
        doc=doc,
        zones=ZONES,
        weekdays=WEEKDAYS,
        photos=photos,
        can_edit=allowed(principal, "manage_plant"),
        failed=failed,
        typed=typed or {},
        done=done,
        breaks_text=breaks_text,
        max_photo_mib=MAX_PHOTO_BYTES // 2**20,
    )
    status = show_refusal(ctx, refusal) if refusal is not None else 200
    return render(request, "plant.html", ctx, status)


@router.get("/admin/plant")
def plant_page(
    request: Request, done: str = "", principal: Principal = Depends(page_user), engine: Engine = Depends(get_engine)
) -> HTMLResponse:
    return _page(request, principal, engine, done=done[:200] or None)


@router.post("/admin/plant/{kind}")
async def plant_form(
    kind: str, request: Request, principal: Principal = Depends(page_user), engine: Engine = Depends(get_engine)
) -> Response:
    form = await request.form()
    require_csrf(principal, str(form.get("csrf_token", "")))
    ensure(principal, "manage_plant")
    typed = {k: str(v) for k, v in form.items() if k != "csrf_token"}
    remove = form.get("op") == "remove"
    try:
        if kind not in KINDS:
            raise PlantEntityUnknown(kind=kind, code="")
        key, values = form_values(kind, form)
        edit_plant(engine, principal.actor, kind, key, None if remove else values, new=form.get("op") == "add")
    except DomainError as exc:
        return _page(request, principal, engine, refusal=exc, failed=kind, typed=typed)
    return RedirectResponse(f"/admin/plant?done={kind}:{key}#{kind}", status_code=303)


@router.get("/admin/plant/plant.yaml")
def plant_file(_: Principal = Depends(page_user), engine: Engine = Depends(get_engine)) -> Response:
    """The plant as a file ``shopfloor import plant`` reads again (the same document as ``GET /api/v1/plant``)."""
    text = yaml.safe_dump(plant_of(engine).to_dict(), allow_unicode=True, sort_keys=False)
    return Response(
        text, media_type="application/yaml", headers={"Content-Disposition": 'attachment; filename="plant.yaml"'}
    )


@router.post("/admin/plant/machine/{code}/photo")
def machine_photo_form(
    code: str,
    request: Request,
    file: UploadFile = File(...),
    csrf_token: str = Form(""),
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
) -> Response:
    require_csrf(principal, csrf_token)
    ensure(principal, "manage_plant")
    try:
        set_machine_photo(engine, principal.actor, code, file.file.read(MAX_PHOTO_BYTES + 1))
    except DomainError as exc:
        return _page(request, principal, engine, refusal=exc, failed="photo")
    return RedirectResponse(f"/admin/plant?done=photo:{code}#machine", status_code=303)


@router.get("/admin/plant/machine/{code}/photo")
def machine_photo(code: str, _: Principal = Depends(page_user), engine: Engine = Depends(get_engine)) -> Response:
    with engine.connect() as conn:
        found = photo(conn, code)
    if found is None:
        raise MachineNotFound(machine=code)
    return Response(found[1], media_type=found[0], headers={"Cache-Control": "private, max-age=60"})
