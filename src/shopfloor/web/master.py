"""Master data pages: every table shown, and a workbook or CSV file imported (refused whole, each problem shown
with its sheet, row and column, in the user's language)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse
from sqlalchemy import Engine

from shopfloor.actions.master_data import import_master, master_document
from shopfloor.api.body_guard import UPLOAD
from shopfloor.api.deps import Principal, allowed, ensure, get_engine
from shopfloor.errors import DomainError, PayloadTooLarge
from shopfloor.store.master import load_master
from shopfloor.web.pages import page_context, page_user, plant_or_none, render, require_csrf, show_refusal

router = APIRouter(include_in_schema=False)


def _master_page(
    request: Request, principal: Principal, engine: Engine, refusal: DomainError | None = None, **extra
) -> HTMLResponse:
    with engine.connect() as conn:
        data = master_document(load_master(conn))
    ctx = page_context(
        request, principal, plant_or_none(engine), can_import=allowed(principal, "manage_master_data"), **extra
    )
    status = show_refusal(ctx, refusal) if refusal is not None else 200
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
    return render(request, "master.html", ctx, status)


@router.get("/master")
def master_page(
    request: Request, principal: Principal = Depends(page_user), engine: Engine = Depends(get_engine)
) -> HTMLResponse:
    return _master_page(request, principal, engine)


@router.post("/master/import", openapi_extra=UPLOAD)
def master_import_form(
    request: Request,
    file: UploadFile = File(...),
    csrf_token: str = Form(""),
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
) -> HTMLResponse:
    require_csrf(principal, csrf_token)
    ensure(principal, "manage_master_data")
    served = request.app.state.settings
    limit = served.max_upload_mb * 2**20
    content = file.file.read(limit + 1)
    name = file.filename or "upload.xlsx"
    try:
        if len(content) > limit:
            raise PayloadTooLarge(limit=f"{served.max_upload_mb} MiB")
        summary = import_master(engine, principal.actor, content, name, max_unpacked=served.max_unpacked_mb * 2**20,
                                max_rows=served.max_import_rows)  # fmt: skip
    except DomainError as exc:
        return _master_page(request, principal, engine, exc)
    counts = ", ".join(f"{k} {v}" for k, v in summary.items() if isinstance(v, int))
    return _master_page(request, principal, engine, imported=f"{name}: {counts}")
