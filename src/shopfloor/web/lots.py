"""Pages for lots: the list with inventory and receiving, and a lot's page with its actions, movements and
genealogy both ways.  Forms post here (session + CSRF token) with the same permissions as the API; a refused
action shows its reason on the page."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Engine, select

from shopfloor.actions import lots as actions
from shopfloor.api.deps import Principal, allowed, ensure, get_engine
from shopfloor.errors import DomainError, LotActionUnknown, LotNotFound
from shopfloor.model.lots import ALLOWED, Action
from shopfloor.store import lots as store
from shopfloor.store import trace as trace_store
from shopfloor.store.schema import customers, items, locations, suppliers
from shopfloor.web.pages import (
    new_form_key,
    page_context,
    page_user,
    plant_or_none,
    render,
    require_csrf,
    show_refusal,
)

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
    request: Request, principal: Principal, engine: Engine, refusal: DomainError | None = None, **filters
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
        can_receive=allowed(principal, "handle_lots"),
        statuses=("active", "hold", "consumed", "shipped", "scrapped", "returned"),
        new_key=new_form_key,
        **choices,
    )
    status = show_refusal(ctx, refusal) if refusal is not None else 200
    return render(request, "lots.html", ctx, status)


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
    ensure(principal, "handle_lots", "receive lots")
    try:
        lot = actions.receive_lot(
            engine,
            principal.actor,
            item=item,
            qty=qty,
            supplier=supplier or None,
            supplier_lot=supplier_lot or None,
            location=location or None,
            certificate={"certificate": certificate.strip()} if certificate.strip() else None,
            key=key or None,
        )
    except DomainError as exc:
        return _list_page(request, principal, engine, exc)
    return RedirectResponse(f"/lots/{lot['code']}", status_code=303)


def _lot_page(
    request: Request, principal: Principal, engine: Engine, code: str, refusal: DomainError | None = None
) -> HTMLResponse:
    with engine.connect() as conn:
        lot = store.get(conn, code)
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
        new_key=new_form_key,
        can=[a for a, perm in ACTIONS.items() if allowed(principal, perm) and a in _possible(lot)],
        **choices,
    )
    ctx["when"] = ctx["t"].datetime_iso
    status = show_refusal(ctx, refusal) if refusal is not None else 200
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
        raise LotActionUnknown(action=action)
    ensure(principal, ACTIONS[action], f"{action} lots")
    actor, k = principal.actor, key or None
    qty_or_all = qty.strip() or None
    do = {
        "hold": lambda: actions.hold_lot(engine, actor, code, reason=reason, key=k),
        "release": lambda: actions.release_lot(engine, actor, code, reason=reason, key=k),
        "move": lambda: actions.move_lot(engine, actor, code, location=location, key=k),
        "split": lambda: actions.split_lot(
            engine, actor, code, quantities=[q for q in qty.replace(";", " ").split() if q], key=k
        ),
        "ship": lambda: actions.ship_lot(
            engine, actor, code, customer=customer, qty=qty_or_all, shipment=shipment or None, key=k
        ),
        "scrap": lambda: actions.scrap_lot(engine, actor, code, qty=qty_or_all, defect=reason or None, key=k),
        "count": lambda: actions.count_lot(engine, actor, code, counted=qty, reason=reason, key=k),
    }
    try:
        do[action]()
    except LotNotFound:
        raise
    except DomainError as exc:
        return _lot_page(request, principal, engine, code, exc)
    return RedirectResponse(f"/lots/{code}", status_code=303)
