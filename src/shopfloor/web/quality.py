"""Quality pages: the quality overview (process alarms acknowledged with a comment, the charts of watched process
values, characteristics and NCRs), a characteristic's control charts with sample entry, and nonconformance reports
(open, decide).  Forms post here (session + CSRF token) with the same permissions as the API."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Engine, select

from shopfloor.analytics import spc
from shopfloor.analytics.run_rules import evaluate
from shopfloor.api.deps import Principal, allowed, ensure, get_engine
from shopfloor.api.errors import Problem
from shopfloor.model.lots import LotError
from shopfloor.store import audit, spc_monitor
from shopfloor.store import inspections as insp
from shopfloor.store import ncr as ncr_store
from shopfloor.store.db import writing
from shopfloor.store.schema import alarms, machines, measurements, spc_limits
from shopfloor.web.pages import new_form_key, page_context, page_user, plant_or_none, render, require_csrf

router = APIRouter(include_in_schema=False)


@router.get("/quality")
def quality_page(
    request: Request,
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
    error: str | None = None,
):
    """Open process alarms (acknowledged here with a comment), the individuals chart of each watched value, the
    inspection characteristics with their state, and nonconformance reports."""
    plant = plant_or_none(engine)
    if plant is None:
        raise Problem(404, "Not found", "no plant in this store yet")
    a, m, ms, lim = alarms.c, machines.c, measurements.c, spc_limits.c
    charts = []
    with engine.connect() as conn:
        open_alarms = conn.execute(
            select(alarms, m.code.label("machine"))
            .join(machines, m.id == a.machine_id)
            .where(a.ack_at.is_(None))
            .order_by(a.id.desc())
            .limit(200)
        ).all()
        config = spc_monitor.watched(plant)
        ids = {row.code: row.id for row in conn.execute(select(m.code, m.id))}
        for (machine, name), (_, rules) in sorted(config.items()):
            limits = conn.execute(select(spc_limits).where(lim.machine_id == ids[machine], lim.name == name)).first()
            rows = conn.execute(
                select(ms.ts, ms.value)
                .where(ms.machine_id == ids[machine], ms.name == name)
                .order_by(ms.ts.desc())
                .limit(100)
            ).all()[::-1]
            if limits is None or len(rows) < 2:
                continue
            chart, _ = spc.imr([r.value for r in rows], centre=limits.centre, sigma=limits.sigma)
            t = page_context(request, principal, plant)["t"]
            doc = {
                "ts": [t.time(r.ts) for r in rows],
                "values": [r.value for r in rows],
                "centre": limits.centre,
                "ucl": float(chart.ucl[0]),
                "lcl": float(chart.lcl[0]),
                "violations": sorted({v.index for v in evaluate(chart, rules)}),
            }
            charts.append({"machine": machine, "name": name, "json": json.dumps(doc)})
        extras = quality_extras(conn, principal)
    ctx = page_context(
        request,
        principal,
        plant,
        open_alarms=open_alarms,
        charts=charts,
        can_ack=allowed(principal, "acknowledge_alarms"),
        error=error,
        **extras,
    )
    ctx["when"] = ctx["t"].datetime_iso
    return render(request, "quality.html", ctx)


@router.post("/quality/alarms/{alarm_id}/ack")
def quality_ack(
    alarm_id: int,
    request: Request,
    comment: str = Form(..., min_length=1, max_length=2000),
    csrf_token: str = Form(""),
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
) -> Response:
    from shopfloor.api.routers.alarms import AckIn, acknowledge

    require_csrf(principal, csrf_token)
    ensure(principal, "acknowledge_alarms")
    acknowledge(alarm_id, AckIn(comment=comment), principal, engine)
    return RedirectResponse("/quality", status_code=303)


def quality_extras(conn, principal: Principal) -> dict[str, Any]:
    """What the quality page shows besides the process alarms: characteristics with their latest state, NCRs."""
    rows = []
    for char in insp.characteristics(conn):
        doc = insp.chart(conn, char, limit=30)
        first = doc["charts"][0] if doc.get("charts") else None
        last = len(first["values"]) - 1 if first else -1
        rows.append(
            {
                "char": char,
                "limits": doc.get("limits"),
                "violations": sum(len(c["violations"]) for c in doc.get("charts", [])),
                "last_bad": bool(first and any(v["index"] == last for v in first["violations"])),
                "cpk": (doc.get("capability") or {}).get("cpk"),
            }
        )
    return {
        "characteristics": rows,
        "ncrs": ncr_store.listing(conn, limit=50),
        "can_report": allowed(principal, "report_nonconformance"),
        "can_dispose": allowed(principal, "manage_quality"),
        "dispositions": ncr_store.DISPOSITIONS,
        "new_key": new_form_key,
    }


def _char_page(
    request: Request, principal: Principal, engine: Engine, cid: int, error: str | None = None, code: int = 200
) -> HTMLResponse:
    with engine.connect() as conn:
        try:
            char = insp.get(conn, cid)
        except insp.InspectionError:
            raise Problem(404, "Not found", f"no characteristic {cid}") from None
        doc = insp.chart(conn, char, limit=100)
    ctx = page_context(request, principal, plant_or_none(engine), char=char, doc=doc, error=error, new_key=new_form_key)
    t = ctx["t"]
    ctx["labels"] = [t.datetime(datetime.fromisoformat(ts)) for ts in doc.get("ts", [])]
    ctx["can_record"] = allowed(principal, "record_inspections")
    return render(request, "characteristic.html", ctx, code)


@router.get("/quality/characteristics/{cid}")
def characteristic_page(
    cid: int, request: Request, principal: Principal = Depends(page_user), engine: Engine = Depends(get_engine)
) -> HTMLResponse:
    return _char_page(request, principal, engine, cid)


@router.post("/quality/characteristics/{cid}/samples")
def sample_form(
    cid: int,
    request: Request,
    values: str = Form(""),
    inspected: str = Form(""),
    nonconforming: str = Form(""),
    lot: str = Form(""),
    key: str = Form(""),
    csrf_token: str = Form(""),
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
) -> Response:
    require_csrf(principal, csrf_token)
    ensure(principal, "record_inspections")

    def whole(text: str, what: str) -> int | None:
        text = text.strip()
        if not text:
            return None
        if not text.isdigit():
            raise insp.InspectionError(f"{what} {text!r} is not a whole number")
        return int(text)

    try:
        with writing(engine) as conn:
            char = insp.get(conn, cid)
            insp.record(
                conn,
                char,
                principal.actor,
                measurements_=values.replace(";", " ").split() if char.kind == "variable" else None,
                inspected=whole(inspected, "inspected"),
                nonconforming=whole(nonconforming, "nonconforming"),
                lot=lot.strip() or None,
                source="terminal",
                key=key or None,
            )
    except insp.InspectionError as exc:
        if "no characteristic" in str(exc):
            raise Problem(404, "Not found", str(exc)) from None
        return _char_page(request, principal, engine, cid, str(exc), 422)
    return RedirectResponse(f"/quality/characteristics/{cid}", status_code=303)


@router.post("/quality/ncrs")
def ncr_form(
    request: Request,
    description: str = Form(...),
    lot: str = Form(""),
    qty: str = Form(""),
    defect: str = Form(""),
    key: str = Form(""),
    csrf_token: str = Form(""),
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
) -> Response:
    require_csrf(principal, csrf_token)
    ensure(principal, "report_nonconformance", "report nonconformances")
    try:
        with writing(engine) as conn:
            doc = ncr_store.open_ncr(
                conn,
                description,
                principal.actor,
                lot=lot.strip() or None,
                qty=qty.strip() or None,
                defect=defect.strip() or None,
                key=key or None,
            )
            audit.record(conn, principal.actor, "quality.ncr_open", f"ncr:{doc['code']}", doc)
    except (ncr_store.NcrError, LotError) as exc:
        return _quality_error(request, principal, engine, str(exc))
    return RedirectResponse("/quality#ncrs", status_code=303)


@router.post("/quality/ncrs/{code}/disposition")
def disposition_form(
    code: str,
    request: Request,
    disposition: str = Form(...),
    note: str = Form(""),
    csrf_token: str = Form(""),
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
) -> Response:
    require_csrf(principal, csrf_token)
    ensure(principal, "manage_quality", "decide nonconformances")
    try:
        with writing(engine) as conn:
            doc = ncr_store.dispose(conn, code, disposition, note, principal.actor)
            audit.record(conn, principal.actor, "quality.ncr_disposition", f"ncr:{code}", doc)
    except (ncr_store.NcrError, LotError) as exc:
        return _quality_error(request, principal, engine, str(exc))
    return RedirectResponse("/quality#ncrs", status_code=303)


def _quality_error(request: Request, principal: Principal, engine: Engine, message: str) -> HTMLResponse:
    response = quality_page(request, principal, engine, error=message)
    response.status_code = 422
    return response
