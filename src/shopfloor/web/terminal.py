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
from shopfloor.actions.board import current_window, machine_tiles
from shopfloor.api.deps import Principal, ensure, get_engine
from shopfloor.errors import DomainError, TerminalQuantity
from shopfloor.model.intervals import Interval
from shopfloor.model.plant import Plant
from shopfloor.model.reasons import ReasonCode
from shopfloor.store import attendance, floor, work_orders
from shopfloor.store import documents as document_store
from shopfloor.store import inspections as insp
from shopfloor.web.pages import page_context, page_user, plant_of, render, require_csrf, show_refusal

router = APIRouter(include_in_schema=False)
STOP_QUESTION_AFTER = timedelta(minutes=3)
# The name of each terminal action in a confirmation ("Stored: Good 5"), as on its button or figure.
ACTION_NAMES = {
    "start": "Start",
    "pause": "Pause",
    "setup": "Setup",
    "finish": "Finish",
    "good": "Good",
    "scrap": "Scrap",
    "reason": "Reason for the stop",
}


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


def stop_question(plant: Plant, tile: dict[str, Any], now: datetime) -> tuple[bool, int, datetime | None]:
    """Whether to ask why the machine stopped, for how many minutes of planned time it has stood, and when the
    question becomes due if not yet.  Only an unexplained idle or down state is asked about, and only in planned
    time: the stop counts only its planned minutes (a break or the time between shifts is not a stop to
    explain), and nothing is asked while a break or no shift is on."""
    since = tile.get("since")
    if tile.get("state") not in ("idle", "down") or tile.get("reason") or since is None:
        return False, 0, None
    tz, calendar = plant.site.tz, plant.calendar
    stood = sum(iv.seconds for iv in calendar.planned(tz, Interval(since, now))) if since < now else 0.0
    minutes = int(stood // 60)
    needed = STOP_QUESTION_AFTER.total_seconds()
    in_planned_time = bool(calendar.planned(tz, Interval(now, now + timedelta(seconds=1))))
    if stood >= needed and in_planned_time:
        return True, minutes, None
    # Not yet: the moment the planned time stood reaches the threshold (the page asks again then), within a day.
    left = max(needed - stood, 0.0)
    for iv in calendar.planned(tz, Interval(now, now + timedelta(days=1))):
        if iv.seconds >= left:
            return False, minutes, iv.start + timedelta(seconds=left)
        left -= iv.seconds
    return False, minutes, None


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
    tile, ask, minutes, ask_at, dispatch, inspections, documents = None, False, 0, None, [], [], []
    handover, own_note, shift = None, None, None
    now = datetime.now(timezone.utc)
    with engine.connect() as conn:
        chooser = machine_tiles(conn, plant, now)  # each machine's name, state and order, to choose from
    if chosen is not None:
        with engine.connect() as conn:
            tile = next(m for m in chooser if m["code"] == chosen.code)
            shift, window = current_window(plant, now)
            # What the previous shift left (shown at sign-in), and this shift's own note so far.
            handover = floor.handover_for(conn, chosen.code, window.start if shift else now)
            own_note = floor.own_handover(conn, chosen.code, f"{window.start.isoformat()}/{shift}") if shift else None
            dispatch = work_orders.dispatch_list(conn, chosen.code)
            inspections = _terminal_inspections(conn, chosen.code, tile, now)
            signed_in = attendance.signed_in_at(conn, chosen.code)
            documents = _terminal_documents(conn, plant, chosen.code, dispatch, principal.actor, now)
        ask, minutes, ask_at = stop_question(plant, tile, now)
    ctx = page_context(
        request,
        principal,
        plant,
        machines=plant.machines,
        chooser=chooser,
        handover=handover,
        own_note=own_note,
        shift_on=shift,
        machine=chosen,
        tile=tile,
        ask_reason=ask,
        stop_minutes=minutes,
        ask_at=ask_at.isoformat() if ask_at else "",
        dispatch=dispatch,
        inspections=inspections,
        documents=documents,
        defect_codes=(plant.reasons_for("defects", chosen.code) if chosen else []) or [ReasonCode("DEFECT")],
        downtime_reasons=(plant.reasons_for("downtime", chosen.code) if chosen else []) or [ReasonCode("OTHER")],
        signed_in=signed_in,
    )
    _ = ctx["_"]
    ctx["action_names"] = {action: _(name) for action, name in ACTION_NAMES.items()}
    lang = ctx["t"].lang
    ctx["code_names"] = {r.code: r.name(lang) for r in (*ctx["defect_codes"], *ctx["downtime_reasons"])}
    ctx["quantity_refusal"] = TerminalQuantity()
    status = 200
    if refusal is not None:
        status = show_refusal(ctx, refusal)
        ctx["attendance_error"] = ctx["t"].error(refusal)
    return render(request, "terminal.html", ctx, status)
