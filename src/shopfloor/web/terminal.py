"""The operator terminal's page: sign-in by badge and PIN elsewhere; here the machine, its dispatch list, the
buttons, the stop reason asked for after a few minutes, the inspections due, and the people signed in at the
machine (sign-in and sign-out by badge, the worker-hours of labour productivity).  Entries go to the API."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Engine

from shopfloor.actions.attendance import sign_in, sign_out
from shopfloor.actions.board import machine_tiles
from shopfloor.api.deps import Principal, ensure, get_engine
from shopfloor.errors import DomainError
from shopfloor.store import attendance, work_orders
from shopfloor.store import inspections as insp
from shopfloor.web.pages import page_context, page_user, plant_of, render, require_csrf, show_refusal

router = APIRouter(include_in_schema=False)
STOP_QUESTION_AFTER = timedelta(minutes=3)


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
    return _terminal_page(request, principal, engine, machine)


@router.post("/terminal/attendance")
def terminal_attendance(
    request: Request,
    machine: str = Form(...),
    badge: str = Form(...),
    action: str = Form(...),
    csrf_token: str = Form(""),
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
) -> Response:
    """Sign a person in at the machine, or out, by their badge; a refusal is shown on the terminal."""
    require_csrf(principal, csrf_token)
    ensure(principal, "report_production")
    try:
        if action == "in":
            sign_in(engine, principal.actor, badge.strip(), machine=machine)
        else:
            sign_out(engine, principal.actor, badge.strip())
    except DomainError as exc:
        return _terminal_page(request, principal, engine, machine, exc)
    return RedirectResponse(f"/terminal?{urlencode({'machine': machine})}", status_code=303)


def _terminal_page(
    request: Request, principal: Principal, engine: Engine, machine: str | None, refusal: DomainError | None = None
) -> HTMLResponse:
    plant = plant_of(engine)
    signed_in: list[dict[str, Any]] = []
    chosen = next((m for m in plant.machines if m.code == machine), None)
    tile, ask, minutes, dispatch, inspections = None, False, 0, [], []
    if chosen is not None:
        now = datetime.now(timezone.utc)
        with engine.connect() as conn:
            tile = machine_tiles(conn, plant, now, [chosen.code])[0]
            dispatch = work_orders.dispatch_list(conn, chosen.code)
            inspections = _terminal_inspections(conn, chosen.code, tile, now)
            signed_in = attendance.signed_in_at(conn, chosen.code)
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
        defect_codes=plant.defect_codes or ("DEFECT",),
        downtime_reasons=plant.downtime_reasons or ("OTHER",),
        signed_in=signed_in,
    )
    status = 200
    if refusal is not None:
        status = show_refusal(ctx, refusal)
        ctx["attendance_error"] = ctx["t"].error(refusal)
    return render(request, "terminal.html", ctx, status)
