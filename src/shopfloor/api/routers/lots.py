"""Lots: receive, issue to a work order, report output, split, merge, hold and release, move, ship, scrap,
count; inventory; genealogy trace; labels and the recall report.

Every change takes an optional ``Idempotency-Key`` header: the same request sent again with the same key
(a double tap, a retry after a lost answer) returns the first result and changes nothing.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, Literal

from fastapi import APIRouter, Depends, Header, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy import Engine

from shopfloor.actions import lots as actions
from shopfloor.actions.recall import recall_labels, recall_pdf, recall_report, recall_xlsx
from shopfloor.api.deps import Principal, get_engine, require
from shopfloor.api.errors import problem_responses
from shopfloor.errors import ReportLanguage
from shopfloor.i18n import LANGUAGES, Translator
from shopfloor.reports.labels import lot_label_pdf
from shopfloor.store import lots as store
from shopfloor.store import trace as trace_store
from shopfloor.store.plant import current_plant

router = APIRouter(prefix="/api/v1", tags=["lots"])

Qty = Decimal | str
CODE = r"^[A-Za-z0-9][A-Za-z0-9._/-]*$"
KeyHeader = Header(
    None,
    alias="Idempotency-Key",
    max_length=100,
    description="Repeat a request with the same key and it is done once",
)


def _disposition(kind: str, filename: str) -> dict[str, str]:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", filename)
    return {"Content-Disposition": f'{kind}; filename="{safe}"'}


class ReceiveIn(BaseModel):
    item: str = Field(min_length=1, max_length=64)
    qty: Qty = Field(description="Quantity in the item's unit, up to three decimals")
    code: str | None = Field(None, max_length=64, pattern=CODE, description="Lot code; numbered when omitted")
    location: str | None = Field(None, max_length=64)
    supplier: str | None = Field(None, max_length=64)
    supplier_lot: str | None = Field(None, max_length=64)
    certificate: dict[str, str] | None = Field(None, description="Certificate fields, e.g. heat number, test values")


class IssueIn(BaseModel):
    work_order: str = Field(min_length=1, max_length=64)
    qty: Qty | None = Field(None, description="Omitted: all that is left")
    machine: str | None = Field(None, max_length=64)


class OutputIn(BaseModel):
    qty: Qty
    code: str | None = Field(None, max_length=64, pattern=CODE)
    item: str | None = Field(None, max_length=64, description="Default: the order's product")
    location: str | None = Field(None, max_length=64)
    machine: str | None = Field(None, max_length=64)


class SplitIn(BaseModel):
    quantities: list[Qty] = Field(min_length=1, max_length=100)
    codes: list[str] | None = Field(None, max_length=100)
    location: str | None = Field(None, max_length=64)


class MergeIn(BaseModel):
    lots: list[str] = Field(min_length=2, max_length=100)
    code: str | None = Field(None, max_length=64, pattern=CODE)
    location: str | None = Field(None, max_length=64)


class ReasonIn(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


class MoveIn(BaseModel):
    location: str = Field(min_length=1, max_length=64)


class ShipIn(BaseModel):
    customer: str = Field(min_length=1, max_length=64)
    qty: Qty | None = Field(None, description="Omitted: all that is left")
    shipment: str | None = Field(None, max_length=64, description="Delivery note number")


class ScrapIn(BaseModel):
    qty: Qty | None = None
    defect: str | None = Field(None, max_length=64)


class CountIn(BaseModel):
    counted: Qty
    reason: str = Field(min_length=1, max_length=500)


@router.get("/lots", responses=problem_responses(401, 422), summary="Lots, newest first, with filters")
def list_lots(
    _: Principal = Depends(require("view")),
    engine: Engine = Depends(get_engine),
    item: str | None = None,
    status: Literal["active", "hold", "consumed", "shipped", "scrapped", "returned"] | None = None,
    location: str | None = None,
    q: str | None = Query(None, max_length=64, description="Part of the lot or supplier lot number"),
    limit: int = Query(200, ge=1, le=1000),
) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [lot.to_dict() for lot in store.search(conn, item, status, location, q, limit)]


@router.post("/lots", status_code=201, responses=problem_responses(401, 403, 409, 422), summary="Receive a lot")
def receive(
    body: ReceiveIn,
    principal: Principal = Depends(require("handle_lots")),
    engine: Engine = Depends(get_engine),
    key: str | None = KeyHeader,
) -> dict[str, Any]:
    return actions.receive_lot(engine, principal.actor, key=key, **body.model_dump())


@router.get("/lots/{code}", responses=problem_responses(401, 404), summary="A lot and its movements")
def get_lot(code: str, _: Principal = Depends(require("view")), engine: Engine = Depends(get_engine)) -> dict:
    with engine.connect() as conn:
        return {**store.get(conn, code).to_dict(), "movements": store.movements(conn, code)}


@router.post(
    "/lots/{code}/issue", responses=problem_responses(401, 403, 404, 409, 422), summary="Issue to a work order"
)
def issue(
    code: str,
    body: IssueIn,
    principal: Principal = Depends(require("handle_lots")),
    engine: Engine = Depends(get_engine),
    key: str | None = KeyHeader,
) -> dict[str, Any]:
    return actions.issue_lot(engine, principal.actor, code, key=key, **body.model_dump())


@router.post(
    "/work-orders/{code}/output",
    status_code=201,
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Report an output lot of a work order; it is linked to every lot issued to the order",
)
def output(
    code: str,
    body: OutputIn,
    principal: Principal = Depends(require("handle_lots")),
    engine: Engine = Depends(get_engine),
    key: str | None = KeyHeader,
) -> dict[str, Any]:
    return actions.report_output(engine, principal.actor, code, key=key, **body.model_dump())


@router.post(
    "/lots/{code}/split",
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Split quantities off a lot into new lots; returns the lot and the new lots",
)
def split(
    code: str,
    body: SplitIn,
    principal: Principal = Depends(require("handle_lots")),
    engine: Engine = Depends(get_engine),
    key: str | None = KeyHeader,
) -> list[dict[str, Any]]:
    return actions.split_lot(engine, principal.actor, code, key=key, **body.model_dump())


@router.post(
    "/lots/merge",
    status_code=201,
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Merge lots of one item into a new lot",
)
def merge(
    body: MergeIn,
    principal: Principal = Depends(require("handle_lots")),
    engine: Engine = Depends(get_engine),
    key: str | None = KeyHeader,
) -> dict[str, Any]:
    return actions.merge_lots(engine, principal.actor, key=key, **body.model_dump())


@router.post("/lots/{code}/hold", responses=problem_responses(401, 403, 404, 409, 422), summary="Put a lot on hold")
def hold(
    code: str,
    body: ReasonIn,
    principal: Principal = Depends(require("hold_lots")),
    engine: Engine = Depends(get_engine),
    key: str | None = KeyHeader,
) -> dict[str, Any]:
    return actions.hold_lot(engine, principal.actor, code, reason=body.reason, key=key)


@router.post("/lots/{code}/release", responses=problem_responses(401, 403, 404, 409, 422), summary="Release a hold")
def release(
    code: str,
    body: ReasonIn,
    principal: Principal = Depends(require("hold_lots")),
    engine: Engine = Depends(get_engine),
    key: str | None = KeyHeader,
) -> dict[str, Any]:
    return actions.release_lot(engine, principal.actor, code, reason=body.reason, key=key)


@router.post("/lots/{code}/move", responses=problem_responses(401, 403, 404, 409, 422), summary="Move a lot")
def move(
    code: str,
    body: MoveIn,
    principal: Principal = Depends(require("handle_lots")),
    engine: Engine = Depends(get_engine),
    key: str | None = KeyHeader,
) -> dict[str, Any]:
    return actions.move_lot(engine, principal.actor, code, location=body.location, key=key)


@router.post("/lots/{code}/ship", responses=problem_responses(401, 403, 404, 409, 422), summary="Ship to a customer")
def ship(
    code: str,
    body: ShipIn,
    principal: Principal = Depends(require("handle_lots")),
    engine: Engine = Depends(get_engine),
    key: str | None = KeyHeader,
) -> dict[str, Any]:
    return actions.ship_lot(engine, principal.actor, code, key=key, **body.model_dump())


@router.post("/lots/{code}/scrap", responses=problem_responses(401, 403, 404, 409, 422), summary="Scrap from a lot")
def scrap(
    code: str,
    body: ScrapIn,
    principal: Principal = Depends(require("handle_lots")),
    engine: Engine = Depends(get_engine),
    key: str | None = KeyHeader,
) -> dict[str, Any]:
    return actions.scrap_lot(engine, principal.actor, code, key=key, **body.model_dump())


@router.post(
    "/lots/{code}/count",
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Record a physical count; the difference is kept with the reason",
)
def count(
    code: str,
    body: CountIn,
    principal: Principal = Depends(require("handle_lots")),
    engine: Engine = Depends(get_engine),
    key: str | None = KeyHeader,
) -> dict[str, Any]:
    return actions.count_lot(engine, principal.actor, code, counted=body.counted, reason=body.reason, key=key)


@router.get("/inventory", responses=problem_responses(401), summary="Stock on hand and on hold")
def inventory(
    _: Principal = Depends(require("view")),
    engine: Engine = Depends(get_engine),
    by: Literal["location", "item"] = "location",
) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return store.inventory(conn, by)


@router.get(
    "/lots/{code}/trace",
    responses=problem_responses(401, 404),
    summary="Genealogy: nodes (lots, shipments), edges and the work orders on the path",
)
def trace(
    code: str,
    direction: Literal["backward", "forward"] = "backward",
    _: Principal = Depends(require("view")),
    engine: Engine = Depends(get_engine),
) -> dict[str, Any]:
    with engine.connect() as conn:
        return trace_store.trace(conn, code, direction).to_dict()


@router.get(
    "/lots/{code}/label.pdf",
    responses={**problem_responses(401, 404), 200: {"content": {"application/pdf": {}}}},
    response_class=Response,
    summary="The lot's label (100 x 60 mm) with a Code 128 or QR barcode",
)
def label(
    code: str,
    barcode: Literal["code128", "qr"] = "code128",
    _: Principal = Depends(require("view")),
    engine: Engine = Depends(get_engine),
) -> Response:
    with engine.connect() as conn:
        lot = store.get(conn, code).to_dict()
    if barcode == "code128" and not code.isascii():
        barcode = "qr"
    pdf = lot_label_pdf(lot, barcode=barcode)
    return Response(pdf, media_type="application/pdf", headers=_disposition("inline", f"{code}.pdf"))


@router.get(
    "/lots/{code}/recall",
    responses={
        **problem_responses(401, 404),
        200: {
            "content": {
                "application/json": {},
                "application/pdf": {},
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {},
            }
        },
    },
    summary="Recall report of a suspect lot: origin, affected lots and where they are, shipments (json, pdf, xlsx)",
)
def recall(
    code: str,
    format: Literal["json", "pdf", "xlsx"] = "json",
    lang: str = Query("en", description="Language of the PDF: en, ko or vi"),
    _: Principal = Depends(require("view")),
    engine: Engine = Depends(get_engine),
) -> Any:
    if lang not in LANGUAGES:
        raise ReportLanguage(languages=list(LANGUAGES), lang=lang)
    with engine.connect() as conn:
        report = recall_report(conn, code)
        t = Translator(lang, current_plant(conn).site.tz)
    if format == "json":
        return report
    if format == "xlsx":
        media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        return Response(
            recall_xlsx(report),
            media_type=media,
            headers=_disposition("attachment", f"recall-{code}.xlsx"),
        )
    return Response(
        recall_pdf(report, recall_labels(t.gettext), t.datetime_iso),
        media_type="application/pdf",
        headers=_disposition("inline", f"recall-{code}.pdf"),
    )
