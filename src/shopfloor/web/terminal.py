"""The operator terminal's page: sign-in by badge and PIN elsewhere; here the machine, its dispatch list, the
buttons, the stop reason asked for after a few minutes, and the inspections due.  Entries go to the API."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import Engine

from shopfloor.actions.board import machine_tiles
from shopfloor.api.deps import Principal, get_engine
from shopfloor.store import documents as document_store
from shopfloor.store import inspections as insp
from shopfloor.store import work_orders
from shopfloor.web.pages import page_context, page_user, plant_of, render

router = APIRouter(include_in_schema=False)
STOP_QUESTION_AFTER = timedelta(minutes=3)


def _terminal_documents(conn, plant, machine: str, dispatch, actor: str, now: datetime) -> list[dict[str, Any]]:
    """Per order of the dispatch list, the documents in force to read and confirm before it starts."""
    out = []
    for wo in dispatch:
        done = document_store.confirmed_ids(conn, wo.code, actor)
        found = document_store.applicable(conn, plant, wo.product, machine, now)
        if found:
            out.append({"order": wo.code, "status": wo.status.value,
                        "documents": [{**d, "confirmed": d["revision"]["id"] in done} for d in found]})  # fmt: skip
    return out


def _terminal_inspections(conn, machine: str, tile: dict[str, Any], now: datetime) -> list[dict[str, Any]]:
    """Characteristics to inspect at the machine for the product it makes, each with whether a sample is due."""
    product = tile.get("product")
    if not product:
        return []
    out = []
    for char in insp.characteristics(conn, product=product, machine=machine):
        if char.from_process:
            continue
        out.append({"char": char, **insp.due(conn, char, machine, now)})
    return out


@router.get("/terminal")
def terminal(
    request: Request,
    machine: str | None = None,
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
) -> HTMLResponse:
    plant = plant_of(engine)
    chosen = next((m for m in plant.machines if m.code == machine), None)
    tile, ask, minutes, dispatch, inspections, documents = None, False, 0, [], [], []
    if chosen is not None:
        now = datetime.now(timezone.utc)
        with engine.connect() as conn:
            tile = machine_tiles(conn, plant, now, [chosen.code])[0]
            dispatch = work_orders.dispatch_list(conn, chosen.code)
            inspections = _terminal_inspections(conn, chosen.code, tile, now)
            documents = _terminal_documents(conn, plant, chosen.code, dispatch, principal.actor, now)
        stopped_for = tile["in_state_s"] or 0
        ask = (
            tile["state"] in ("idle", "down")
            and not tile["reason"]
            and stopped_for >= STOP_QUESTION_AFTER.total_seconds()
        )
        minutes = int(stopped_for // 60)
    ctx = page_context(
        request,
        principal,
        plant,
        machines=plant.machines,
        machine=chosen,
        tile=tile,
        ask_reason=ask,
        stop_minutes=minutes,
        dispatch=dispatch,
        inspections=inspections,
        documents=documents,
        defect_codes=plant.defect_codes or ("DEFECT",),
        downtime_reasons=plant.downtime_reasons or ("OTHER",),
    )
    return render(request, "terminal.html", ctx)
