"""Pages for lots: the list with inventory and receiving, and a lot's page with its actions, movements and
genealogy both ways.  Forms post here (session + CSRF token) with the same permissions as the API; a refused
action shows its reason on the page."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Engine, select

from shopfloor.api.deps import Principal, allowed, ensure, get_engine
from shopfloor.api.errors import Problem
from shopfloor.model.lots import ALLOWED, Action, LotError, LotNotFound
from shopfloor.store import audit
from shopfloor.store import lots as store
from shopfloor.store import trace as trace_store
from shopfloor.store.db import writing
from shopfloor.store.schema import customers, items, locations, suppliers
from shopfloor.web.pages import new_form_key, page_context, page_user, plant_or_none, render, require_csrf

router = APIRouter(include_in_schema=False)
ACTIONS = {
    "hold": "hold_lots",
    "release": "hold_lots",
    "move": "handle_lots",
    "split": "handle_lots",
    "ship": "handle_lots",
    "scrap": "handle_lots",
    "count": "handle_lots",
}


def _choices(conn) -> dict[str, Any]:
    return {
        "items": conn.execute(select(items.c.code, items.c.name, items.c.unit).order_by(items.c.code)).all(),
        "suppliers": conn.execute(select(suppliers.c.code, suppliers.c.name).order_by(suppliers.c.code)).all(),
        "locations": conn.execute(select(locations.c.code, locations.c.name).order_by(locations.c.code)).all(),
        "customers": conn.execute(select(customers.c.code, customers.c.name).order_by(customers.c.code)).all(),
    }


def _list_page(
    request: Request, principal: Principal, engine: Engine, error: str | None = None, code: int = 200, **filters
) -> HTMLResponse:
    with engine.connect() as conn:
        found = store.search(
            conn, filters.get("item"), filters.get("status"), filters.get("location"), filters.get("q"), 200
        )
        stock = store.inventory(conn)
        choices = _choices(conn)
    ctx = page_context(
        request,
        principal,
        plant_or_none(engine),
        lots=found,
        stock=stock,
        filters=filters,
        error=error,
        can_receive=allowed(principal, "handle_lots"),
        statuses=("active", "hold", "consumed", "shipped", "scrapped", "returned"),
        new_key=new_form_key,
        **choices,
    )
    return render(request, "lots.html", ctx, code)


@router.get("/lots")
def lots_page(
    request: Request,
    q: str | None = None,
    item: str | None = None,
    status: str | None = None,
    location: str | None = None,
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
) -> HTMLResponse:
    return _list_page(request, principal, engine, q=q, item=item or None, status=status or None, location=location)


@router.post("/lots/receive")
def receive_form(
    request: Request,
    item: str = Form(...),
    qty: str = Form(...),
    supplier: str = Form(""),
    supplier_lot: str = Form(""),
    location: str = Form(""),
    certificate: str = Form(""),
    key: str = Form(""),
    csrf_token: str = Form(""),
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
) -> Response:
    require_csrf(principal, csrf_token)
    ensure(principal, "handle_lots")
    try:
        with writing(engine) as conn:
            lot = store.receive(
                conn,
                item,
                qty,
                principal.actor,
                supplier=supplier or None,
                supplier_lot=supplier_lot or None,
                location=location or None,
                certificate={"certificate": certificate.strip()} if certificate.strip() else None,
                key=key or None,
            )
            audit.record(conn, principal.actor, "lot.receive", f"lot:{lot.code}", lot.to_dict())
    except LotError as exc:
        return _list_page(request, principal, engine, str(exc), 422)
    return RedirectResponse(f"/lots/{lot.code}", status_code=303)


def _lot_page(
    request: Request, principal: Principal, engine: Engine, code: str, error: str | None = None, status: int = 200
) -> HTMLResponse:
    with engine.connect() as conn:
        try:
            lot = store.get(conn, code)
        except LotNotFound:
            raise Problem(404, "Not found", f"no lot {code!r}") from None
        moves = store.movements(conn, code)
        backward = trace_store.trace(conn, code, trace_store.BACKWARD, with_context=False)
        forward = trace_store.trace(conn, code, trace_store.FORWARD, with_context=False)
        choices = _choices(conn)
    ctx = page_context(
        request,
        principal,
        plant_or_none(engine),
        lot=lot,
        moves=moves,
        backward=backward,
        forward=forward,
        error=error,
        new_key=new_form_key,
        can=[a for a, perm in ACTIONS.items() if allowed(principal, perm) and a in _possible(lot)],
        **choices,
    )
    ctx["when"] = ctx["t"].datetime_iso
    return render(request, "lot.html", ctx, status)


def _possible(lot: store.Lot) -> set[str]:
    allowed = {a.value for a in ALLOWED[lot.status]}
    out = {a for a in ACTIONS if a in allowed}
    if Action.ADJUST.value in allowed:
        out.add("count")
    return out


@router.get("/lots/{code}")
def lot_page(
    code: str, request: Request, principal: Principal = Depends(page_user), engine: Engine = Depends(get_engine)
) -> HTMLResponse:
    return _lot_page(request, principal, engine, code)


@router.post("/lots/{code}/action")
def lot_action(
    code: str,
    request: Request,
    action: str = Form(...),
    qty: str = Form(""),
    reason: str = Form(""),
    location: str = Form(""),
    customer: str = Form(""),
    shipment: str = Form(""),
    key: str = Form(""),
    csrf_token: str = Form(""),
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
) -> Response:
    require_csrf(principal, csrf_token)
    if action not in ACTIONS:
        raise Problem(422, "Invalid request", f"unknown action {action!r}")
    ensure(principal, ACTIONS[action], f"{action} lots")
    actor, k = principal.actor, key or None
    qty_or_all = qty.strip() or None
    calls = {
        "hold": lambda c: store.hold(c, code, reason, actor, key=k),
        "release": lambda c: store.release(c, code, reason, actor, key=k),
        "move": lambda c: store.move(c, code, location, actor, key=k),
        "split": lambda c: store.split(c, code, [q for q in qty.replace(";", " ").split() if q], actor, key=k),
        "ship": lambda c: store.ship(c, code, qty_or_all, customer, actor, shipment=shipment or None, key=k),
        "scrap": lambda c: store.scrap(c, code, qty_or_all, actor, defect=reason or None, key=k),
        "count": lambda c: store.adjust(c, code, qty, reason, actor, key=k),
    }
    try:
        with writing(engine) as conn:
            calls[action](conn)
            detail = {"qty": qty, "reason": reason, "location": location, "customer": customer, "shipment": shipment}
            audit.record(conn, actor, f"lot.{action}", f"lot:{code}", {k_: v for k_, v in detail.items() if v})
    except LotNotFound:
        raise Problem(404, "Not found", f"no lot {code!r}") from None
    except LotError as exc:
        return _lot_page(request, principal, engine, code, str(exc), 409)
    return RedirectResponse(f"/lots/{code}", status_code=303)
