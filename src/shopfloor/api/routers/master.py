"""Master data: read it, export it as an Excel workbook or CSV files, import a file (refused whole with every
problem by sheet, row and column), and explode an item's bill of materials."""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Literal

from fastapi import APIRouter, Depends, File, Query, Request, UploadFile
from fastapi.responses import Response
from sqlalchemy import Engine

from shopfloor.actions.master_data import (
    export_csv_zip,
    export_xlsx,
    import_master,
    master_document,
)
from shopfloor.api.body_guard import UPLOAD
from shopfloor.api.deps import Principal, get_engine, require
from shopfloor.api.errors import problem_responses
from shopfloor.errors import ItemNotFound, PayloadTooLarge, QuantityInvalid
from shopfloor.model.master import explode, summarise
from shopfloor.store.master import item as find_item
from shopfloor.store.master import load_master

router = APIRouter(prefix="/api/v1", tags=["master data"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get("/master", responses=problem_responses(401), summary="All master data")
def get_master(_: Principal = Depends(require("view")), engine: Engine = Depends(get_engine)) -> dict[str, Any]:
    with engine.connect() as conn:
        return master_document(load_master(conn))


@router.get(
    "/master/export",
    response_class=Response,
    responses={**problem_responses(401), 200: {"content": {XLSX: {}, "application/zip": {}}}},
    summary="Master data as an Excel workbook (one sheet per table) or a zip of UTF-8 CSV files",
)
def export_master(
    format: Literal["xlsx", "zip"] = "xlsx",
    _: Principal = Depends(require("view")),
    engine: Engine = Depends(get_engine),
) -> Response:
    with engine.connect() as conn:
        data = load_master(conn)
    body, media = (export_xlsx(data), XLSX) if format == "xlsx" else (export_csv_zip(data), "application/zip")
    return Response(
        body, media_type=media, headers={"Content-Disposition": f'attachment; filename="master-data.{format}"'}
    )


@router.post(
    "/master/import",
    responses=problem_responses(401, 403, 409, 413, 422),
    summary="Replace master data from a workbook, a zip of CSV files or one CSV file; refused whole on any problem",
    description="A 422 answer lists every problem as {sheet, row, column, message} in `problems`. "
    "Sheets that a CSV upload leaves out keep their stored rows.",
    openapi_extra=UPLOAD,
)
def import_master_file(
    request: Request,
    file: UploadFile = File(..., description=".xlsx, .zip of CSV files, or one CSV named after its sheet"),
    principal: Principal = Depends(require("manage_master_data")),
    engine: Engine = Depends(get_engine),
) -> dict[str, Any]:
    served = request.app.state.settings
    limit = served.max_upload_mb * 2**20
    content = file.file.read(limit + 1)
    if len(content) > limit:
        raise PayloadTooLarge(limit=f"{served.max_upload_mb} MiB")
    return import_master(engine, principal.actor, content, file.filename or "upload.xlsx",
                         max_unpacked=served.max_unpacked_mb * 2**20, max_rows=served.max_import_rows)  # fmt: skip


@router.get(
    "/items/{code}/requirements",
    responses=problem_responses(401, 404, 422),
    summary="Multi-level BOM explosion: gross requirements with scrap allowance, per path and per component",
)
def requirements(
    code: str,
    qty: float = Query(1.0, gt=0, description="Quantity of the item to make"),
    _: Principal = Depends(require("view")),
    engine: Engine = Depends(get_engine),
) -> dict[str, Any]:
    if not math.isfinite(qty):
        raise QuantityInvalid(quantity=repr(qty))
    with engine.connect() as conn:
        if find_item(conn, code) is None:
            raise ItemNotFound(item=code)
        data = load_master(conn)
    rows = explode(data.bom_lines, code, qty)
    return {
        "item": code,
        "qty": qty,
        "lines": [dataclasses.asdict(r) for r in rows],
        "totals": summarise(rows),
    }
