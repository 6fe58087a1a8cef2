"""Master data: read it, export it as an Excel workbook or CSV files, import a file (refused whole with every
problem by sheet, row and column), and explode an item's bill of materials."""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Literal

from fastapi import APIRouter, Depends, File, Query, UploadFile
from fastapi.responses import Response
from sqlalchemy import Engine

from shopfloor.api.deps import Principal, get_engine, require
from shopfloor.api.errors import Problem, problem_responses
from shopfloor.model.master import MasterDataError, explode, summarise
from shopfloor.store.db import writing
from shopfloor.store.master import item as find_item
from shopfloor.store.master import load_master
from shopfloor.store.plant import StoreError

router = APIRouter(prefix="/api/v1", tags=["master data"])
MAX_UPLOAD = 20 * 1024 * 1024
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def as_dict(data) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(data):
        if f.name == "source_rows":
            continue
        value = getattr(data, f.name)
        out[f.name] = [dataclasses.asdict(v) if dataclasses.is_dataclass(v) else v for v in value]
    return out


@router.get("/master", responses=problem_responses(401), summary="All master data")
def get_master(_: Principal = Depends(require("view")), engine: Engine = Depends(get_engine)) -> dict[str, Any]:
    with engine.connect() as conn:
        return as_dict(load_master(conn))


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
    from shopfloor.actions.master_data import export_csv_zip, export_xlsx

    with engine.connect() as conn:
        data = load_master(conn)
    body, media = (export_xlsx(data), XLSX) if format == "xlsx" else (export_csv_zip(data), "application/zip")
    return Response(
        body, media_type=media, headers={"Content-Disposition": f'attachment; filename="master-data.{format}"'}
    )


@router.post(
    "/master/import",
    responses=problem_responses(401, 403, 413, 422),
    summary="Replace master data from a workbook, a zip of CSV files or one CSV file; refused whole on any problem",
    description="A 422 answer lists every problem as {sheet, row, column, message} in `problems`. "
    "Sheets that a CSV upload leaves out keep their stored rows.",
)
def import_master_file(
    file: UploadFile = File(..., description=".xlsx, .zip of CSV files, or one CSV named after its sheet"),
    principal: Principal = Depends(require("manage_master_data")),
    engine: Engine = Depends(get_engine),
) -> dict[str, Any]:
    from shopfloor.actions.master_data import import_master

    content = file.file.read(MAX_UPLOAD + 1)
    if len(content) > MAX_UPLOAD:
        raise Problem(413, "Payload too large", f"a master data file may hold at most {MAX_UPLOAD // 2**20} MiB")
    name = file.filename or "upload.xlsx"
    try:
        with writing(engine) as conn:
            summary = import_master(conn, content, name, principal.actor)
    except MasterDataError as exc:
        raise Problem(
            422,
            "Invalid master data",
            str(exc).splitlines()[0],
            problems=[dataclasses.asdict(p) for p in exc.problems],
        ) from None
    except StoreError as exc:
        raise Problem(422, "Invalid master data", str(exc)) from None
    return summary


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
        raise Problem(422, "Invalid request", "qty must be a finite number")
    with engine.connect() as conn:
        if find_item(conn, code) is None:
            raise Problem(404, "Not found", f"no item {code!r}")
        data = load_master(conn)
    try:
        rows = explode(data.bom_lines, code, qty)
    except ValueError as exc:
        raise Problem(422, "Invalid request", str(exc)) from None
    return {
        "item": code,
        "qty": qty,
        "lines": [dataclasses.asdict(r) for r in rows],
        "totals": summarise(rows),
    }
