"""Master data pages: every table shown, and a workbook or CSV file imported (refused whole, each problem shown
with its sheet, row and column)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse
from sqlalchemy import Engine

from shopfloor.actions.master_data import import_master
from shopfloor.api.deps import Principal, allowed, ensure, get_engine
from shopfloor.api.routers.master import MAX_UPLOAD, as_dict
from shopfloor.model.master import MasterDataError
from shopfloor.store.db import writing
from shopfloor.store.master import load_master
from shopfloor.store.plant import StoreError
from shopfloor.web.pages import page_context, page_user, plant_or_none, render, require_csrf

router = APIRouter(include_in_schema=False)


def _master_page(request: Request, principal: Principal, engine: Engine, code: int = 200, **extra) -> HTMLResponse:
    with engine.connect() as conn:
        data = as_dict(load_master(conn))
    ctx = page_context(
        request, principal, plant_or_none(engine), can_import=allowed(principal, "manage_master_data"), **extra
    )
    _ = ctx["_"]
    sheets = [
        (_("Items"), "items", ("code", "name", "kind", "unit", "description")),
        (_("Bills of materials"), "bom_lines", ("parent", "component", "quantity", "scrap_pct")),
        (_("Routings"), "operations", ("item", "seq", "code", "name", "work_centre", "ideal_cycle_s", "setup_s")),
        (_("Suppliers"), "suppliers", ("code", "name", "country", "contact")),
        (_("Customers"), "customers", ("code", "name", "country", "contact")),
        (_("Locations"), "locations", ("code", "name", "kind")),
    ]
    ctx["tables"] = [(title, data[key], cols) for title, key, cols in sheets]
    return render(request, "master.html", ctx, code)


@router.get("/master")
def master_page(
    request: Request, principal: Principal = Depends(page_user), engine: Engine = Depends(get_engine)
) -> HTMLResponse:
    return _master_page(request, principal, engine)


@router.post("/master/import")
def master_import_form(
    request: Request,
    file: UploadFile = File(...),
    csrf_token: str = Form(""),
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
) -> HTMLResponse:
    require_csrf(principal, csrf_token)
    ensure(principal, "manage_master_data")
    content = file.file.read(MAX_UPLOAD + 1)
    if len(content) > MAX_UPLOAD:
        return _master_page(request, principal, engine, 413, error=f"at most {MAX_UPLOAD // 2**20} MiB")
    name = file.filename or "upload.xlsx"
    try:
        with writing(engine) as conn:
            summary = import_master(conn, content, name, principal.actor)
    except MasterDataError as exc:
        return _master_page(request, principal, engine, 422, error=str(exc).splitlines()[0], problems=exc.problems)
    except StoreError as exc:
        return _master_page(request, principal, engine, 422, error=str(exc))
    counts = ", ".join(f"{k} {v}" for k, v in summary.items() if isinstance(v, int))
    return _master_page(request, principal, engine, imported=f"{name}: {counts}")
