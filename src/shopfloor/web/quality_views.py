"""Quality pages: a characteristic's control charts with sample entry, and nonconformance reports (open, decide).
Forms post here (session + CSRF token) and use the same store functions and permissions as the API."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Engine

from shopfloor.api.deps import Principal, allowed, ensure, get_engine
from shopfloor.api.errors import Problem
from shopfloor.model.lots import LotError
from shopfloor.store import audit
from shopfloor.store import inspections as insp
from shopfloor.store import ncr as ncr_store
from shopfloor.store.db import writing
from shopfloor.web.lots_views import _new_key
from shopfloor.web.views import _context, _page, _plant, _require_csrf, page_user

router = APIRouter(include_in_schema=False)


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
        "new_key": _new_key,
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
    ctx = _context(request, principal, _plant(engine), char=char, doc=doc, error=error, new_key=_new_key)
    t = ctx["t"]
    from datetime import datetime

    ctx["labels"] = [t.datetime(datetime.fromisoformat(ts)) for ts in doc.get("ts", [])]
    ctx["can_record"] = allowed(principal, "record_inspections")
    ctx["can_manage"] = allowed(principal, "manage_quality")
    with engine.connect() as conn:
        ctx["recent"] = list(reversed(insp.samples(conn, char, limit=30)))
    ctx["options"] = char.options or {}
    return _page(request, "characteristic.html", ctx, code)


def _number(text: str, what: str) -> float | None:
    text = text.strip().replace(",", ".")
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise insp.InspectionError(f"{what} {text!r} is not a number") from None


@router.post("/quality/characteristics/{cid}/settings")
def settings_form(
    cid: int,
    request: Request,
    rules: str = Form(""),
    nsigmas: str = Form(""),
    centre: str = Form(""),
    sigma: str = Form(""),
    lam: str = Form("", alias="lambda"),
    ewma_limits: str = Form(""),
    k: str = Form(""),
    h: str = Form(""),
    capability_on: str = Form(""),
    capability_method: str = Form(""),
    valid_min: str = Form(""),
    valid_max: str = Form(""),
    csrf_token: str = Form(""),
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
) -> Response:
    """The chart options of the characteristic, as ``shopfloor spc`` takes them."""
    _require_csrf(principal, csrf_token)
    ensure(principal, "manage_quality")
    try:
        with writing(engine) as conn:
            char = insp.get(conn, cid)
            options = {
                "nsigmas": _number(nsigmas, "nsigmas"),
                "centre": _number(centre, "centre"),
                "sigma": _number(sigma, "sigma"),
                "lambda": _number(lam, "lambda"),
                "ewma_limits": ewma_limits or None,
                "k": _number(k, "k"),
                "h": _number(h, "h"),
                "capability_on": capability_on or None,
                "capability_method": capability_method or None,
            }
            spec = {key: value for key, value in char.to_dict().items() if key != "id"}
            spec |= {
                "rules": rules.strip() or None,
                "options": {key: value for key, value in options.items() if value is not None} or None,
                "valid_min": _number(valid_min, "valid_min"),
                "valid_max": _number(valid_max, "valid_max"),
            }
            saved = insp.save_characteristic(conn, _plant(engine), spec)
            audit.record(conn, principal.actor, "quality.characteristic", f"characteristic:{cid}", saved.to_dict())
    except insp.InspectionError as exc:
        if "no characteristic" in str(exc):
            raise Problem(404, "Not found", str(exc)) from None
        return _char_page(request, principal, engine, cid, str(exc), 422)
    return RedirectResponse(f"/quality/characteristics/{cid}", status_code=303)


def _sample_change(
    request: Request, principal: Principal, engine: Engine, cid: int, csrf_token: str, change
) -> Response:
    """Run ``change(conn, char)`` (a void or an exclusion, with its audit entry) for quality staff, then show the
    characteristic again; a refusal is shown on its page."""
    _require_csrf(principal, csrf_token)
    ensure(principal, "manage_quality")
    try:
        with writing(engine) as conn:
            change(conn, insp.get(conn, cid))
    except insp.InspectionError as exc:
        if exc.code == "inspection.no_sample" or "no characteristic" in str(exc):
            raise Problem(404, "Not found", str(exc)) from None
        return _char_page(request, principal, engine, cid, str(exc), 422)
    return RedirectResponse(f"/quality/characteristics/{cid}", status_code=303)


@router.post("/quality/characteristics/{cid}/samples/{sid}/void")
def void_form(
    cid: int,
    sid: int,
    request: Request,
    reason: str = Form(""),
    csrf_token: str = Form(""),
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
) -> Response:
    def void(conn, char) -> None:
        insp.void_sample(conn, char, sid, principal.actor, reason)
        audit.record(conn, principal.actor, "quality.sample_void", f"sample:{sid}", {"reason": reason})

    return _sample_change(request, principal, engine, cid, csrf_token, void)


@router.post("/quality/characteristics/{cid}/samples/{sid}/exclude")
def exclude_form(
    cid: int,
    sid: int,
    request: Request,
    reason: str = Form(""),
    csrf_token: str = Form(""),
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
) -> Response:
    """Exclude with a reason; an empty reason takes the sample back into the limits."""
    why = reason.strip() or None

    def exclude(conn, char) -> None:
        insp.exclude_sample(conn, char, sid, why)
        audit.record(conn, principal.actor, "quality.sample_exclude", f"sample:{sid}", {"reason": why})

    return _sample_change(request, principal, engine, cid, csrf_token, exclude)


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
    _require_csrf(principal, csrf_token)
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
    _require_csrf(principal, csrf_token)
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
    _require_csrf(principal, csrf_token)
    ensure(principal, "manage_quality", "decide nonconformances")
    try:
        with writing(engine) as conn:
            doc = ncr_store.dispose(conn, code, disposition, note, principal.actor)
            audit.record(conn, principal.actor, "quality.ncr_disposition", f"ncr:{code}", doc)
    except (ncr_store.NcrError, LotError) as exc:
        return _quality_error(request, principal, engine, str(exc))
    return RedirectResponse("/quality#ncrs", status_code=303)


def _quality_error(request: Request, principal: Principal, engine: Engine, message: str) -> HTMLResponse:
    from shopfloor.web.views import quality_page

    response = quality_page(request, principal, engine, error=message)
    response.status_code = 422
    return response
