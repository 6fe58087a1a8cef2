"""Work order pages: the list (by status, in dispatch order, moved up and down), a new order, an order's page
(corrected: product, quantity, machine, operator, priority and due date; released, started, completed, closed or
cancelled; the operations of its routing and its history), and orders imported from an ERP's Excel or CSV file (a
preview with the problems of each row, then created all together).  Every change goes through
``actions.work_orders`` or ``actions.order_import``, as the API's do."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime, time

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Engine, select

from shopfloor.actions.order_import import import_orders, preview_orders
from shopfloor.actions.work_orders import (
    assign_work_order,
    create_work_order,
    edit_work_order,
    order_with_progress,
    reorder_work_orders,
    transition_work_order,
)
from shopfloor.api.deps import Principal, allowed, ensure, get_engine
from shopfloor.errors import (
    DomainError,
    InstantInvalid,
    NotOneOf,
    NotWholeNumber,
    OrderFileUnreadable,
    PayloadTooLarge,
    WorkOrderQuantity,
)
from shopfloor.model.inputs import whole_number
from shopfloor.model.work_orders import TRANSITIONS, Status
from shopfloor.store import work_orders as store
from shopfloor.store.schema import work_order_events, work_orders
from shopfloor.web.pages import new_form_key, page_context, page_user, plant_of, render, require_csrf, show_refusal

router = APIRouter(include_in_schema=False)
MAX_FILE = 2 * 2**20
OPEN = (Status.PLANNED, Status.RELEASED, Status.IN_PROGRESS)


def _due(text: str, tz) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.combine(datetime.strptime(text, "%Y-%m-%d").date(), time(23, 59), tzinfo=tz)
    except ValueError:
        raise InstantInvalid(option="due", value=text) from None


def _list_page(request: Request, principal: Principal, engine: Engine, status: str = "open", *,
               refusal: DomainError | None = None, typed: dict | None = None, preview: dict | None = None,
               upload: dict | None = None, done: str | None = None) -> HTMLResponse:  # fmt: skip
    plant = plant_of(engine)
    with engine.connect() as conn:
        orders = [
            order_with_progress(conn, o)
            for o in store.list_orders(conn, None if status in ("open", "all") else status)
            if status != "open" or o.status in OPEN
        ]
    rank = {s: i for i, s in enumerate(Status)}
    orders.sort(key=lambda o: (rank[Status(o["status"])], -o["priority"], o["due"] or "9999", o["code"]))
    ctx = page_context(
        request, principal, plant, orders=orders, status=status, statuses=["open", *Status, "all"],
        machines=[m.code for m in plant.machines], products=[p.code for p in plant.products],
        can_plan=allowed(principal, "plan_production"), typed=typed or {}, preview=preview, upload=upload,
        done=done, form_key=new_form_key(),
    )  # fmt: skip
    code = show_refusal(ctx, refusal) if refusal is not None else 200
    return render(request, "work_orders.html", ctx, code)


@router.get("/work-orders")
def work_orders_page(
    request: Request,
    status: str = "open",
    done: str = "",
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
) -> HTMLResponse:
    if status not in ("open", "all", *Status):
        status = "open"
    return _list_page(request, principal, engine, status, done=done[:200] or None)


@router.post("/work-orders")
async def work_order_create(
    request: Request, principal: Principal = Depends(page_user), engine: Engine = Depends(get_engine)
) -> Response:
    form = await request.form()
    require_csrf(principal, str(form.get("csrf_token", "")))
    ensure(principal, "plan_production")
    typed = {k: str(v).strip() for k, v in form.items() if k != "csrf_token"}
    try:
        plant = plant_of(engine)
        try:
            quantity = int(typed.get("quantity", ""))
        except ValueError:
            raise WorkOrderQuantity(quantity=typed.get("quantity", "")) from None
        create_work_order(
            engine,
            principal.actor,
            code=typed.get("code", ""),
            product=typed.get("product", ""),
            quantity=quantity,
            machine=typed.get("machine") or None,
            priority=int(typed.get("priority") or 0) if typed.get("priority", "").lstrip("-").isdigit() else 0,
            due=_due(typed.get("due", ""), plant.site.tz),
        )
    except DomainError as exc:
        return _list_page(request, principal, engine, refusal=exc, typed=typed)
    return RedirectResponse(f"/work-orders/{typed['code']}", status_code=303)


@router.post("/work-orders/reorder")
def work_order_move(
    request: Request,
    code: str = Form(...),
    direction: str = Form(...),
    status: str = Form("open"),
    csrf_token: str = Form(""),
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
) -> Response:
    """Move an order up or down among the orders of its status (and machine): they are numbered again."""
    require_csrf(principal, csrf_token)
    ensure(principal, "plan_production")
    with engine.connect() as conn:
        order = store.get(conn, code)
        peers = [o for o in store.list_orders(conn, order.status.value) if o.machine == order.machine]
    peers.sort(key=lambda o: (-o.priority, o.due.isoformat() if o.due else "9999", o.code))
    codes = [o.code for o in peers]
    i = codes.index(code)
    j = i - 1 if direction == "up" else i + 1
    if 0 <= j < len(codes):
        codes[i], codes[j] = codes[j], codes[i]
        try:
            reorder_work_orders(engine, principal.actor, codes)
        except DomainError as exc:
            return _list_page(request, principal, engine, status, refusal=exc)
    return RedirectResponse(f"/work-orders?status={status}#wo-{code}", status_code=303)


@router.post("/work-orders/import")
def work_orders_import(
    request: Request,
    file: UploadFile | None = File(None),
    content: str = Form(""),
    filename: str = Form(""),
    commit: str = Form(""),
    csrf_token: str = Form(""),
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
) -> Response:
    """A file's orders shown first, each row with its problems; ``commit`` (the preview's button, which sends the
    same file back) creates them."""
    require_csrf(principal, csrf_token)
    ensure(principal, "plan_production")
    try:
        if file is not None and file.filename:
            data, filename = file.file.read(MAX_FILE + 1), file.filename
        else:
            try:
                data = base64.b64decode(content, validate=True)
            except binascii.Error:
                raise OrderFileUnreadable(file=filename, reason="damaged") from None
        if len(data) > MAX_FILE:
            raise PayloadTooLarge(limit=f"{MAX_FILE // 2**20} MiB")
        upload = {"content": base64.b64encode(data).decode(), "filename": filename}
        if commit:
            summary = import_orders(engine, principal.actor, data, filename)
            return RedirectResponse(f"/work-orders?done={summary['created']}", status_code=303)
        preview = preview_orders(engine, data, filename)
    except DomainError as exc:
        return _list_page(request, principal, engine, refusal=exc)
    rows: dict[int, list] = {}
    t = page_context(request, principal, plant_of(engine))["t"]
    for p in preview["problems"]:
        rows.setdefault(p.row or 0, []).append({"column": p.column, "message": t.error(p.error)})
    preview["by_row"] = rows
    return _list_page(request, principal, engine, preview=preview, upload=upload)


def _order_page(request: Request, principal: Principal, engine: Engine, code: str,
                refusal: DomainError | None = None, typed: dict[str, str] | None = None,
                saved: bool = False) -> HTMLResponse:  # fmt: skip
    plant = plant_of(engine)
    with engine.connect() as conn:
        order = store.get(conn, code)
        ev = work_order_events.c
        history = conn.execute(
            select(ev.ts, ev.from_status, ev.to_status, ev.actor, ev.reason)
            .join(work_orders, work_orders.c.id == ev.work_order_id)
            .where(work_orders.c.code == code)
            .order_by(ev.ts, ev.id)
        ).all()
        ctx = page_context(
            request, principal, plant, order=order_with_progress(conn, order),
            operations=store.operations_of(conn, order, plant), history=history,
            next_steps=[s.value for s in TRANSITIONS[order.status]], machines=[m.code for m in plant.machines],
            can_plan=allowed(principal, "plan_production"),
            due_day=order.due.astimezone(plant.site.tz).date().isoformat() if order.due else "",
            products=[p.code for p in plant.products], saved=saved,
        )  # fmt: skip
    shown = {"product": order.product, "quantity": order.quantity, "machine": order.machine or "",
             "operator": order.operator or "", "priority": order.priority, "due": ctx["due_day"]}  # fmt: skip
    ctx["edit"] = shown | (typed or {})  # a refused correction is shown again as it was typed
    ctx["history"] = [{**h._mapping, "reason": _shown_reason(h.reason, ctx["t"])} for h in history]
    status = show_refusal(ctx, refusal) if refusal is not None else 200
    return render(request, "work_order.html", ctx, status)


FIELD_LABELS = {"product": "Product", "quantity": "Quantity", "due": "Due", "priority": "Priority",
                "machine": "Machine", "operator": "Operator"}  # fmt: skip
_FIELD = "|".join(FIELD_LABELS)
_CHANGED = re.compile(rf"({_FIELD}) (.*?) → (.*?)(?=, (?:{_FIELD}) |$)")


def _shown_reason(reason: str | None, t) -> str | None:
    """A correction as the history records it (``changed quantity 120 → 150, due - → 2026-12-10T14:59:00+00:00``)
    in the page's language; any other reason as it was given."""
    if not reason or not reason.startswith("changed "):
        return reason
    parts = []
    for field, old, new in _CHANGED.findall(reason.removeprefix("changed ")):
        if field == "due":
            old, new = (t.datetime(datetime.fromisoformat(v)) if v != "-" else v for v in (old, new))
        parts.append(f"{t.gettext(FIELD_LABELS[field])} {old} → {new}")
    return f"{t.gettext('Changed')}: {', '.join(parts)}" if parts else reason


@router.get("/work-orders/{code}")
def work_order_page(
    code: str,
    request: Request,
    saved: str = "",
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
) -> HTMLResponse:
    return _order_page(request, principal, engine, code, saved=bool(saved))


EDIT_FIELDS = ("product", "quantity", "machine", "operator", "priority", "due")


@router.post("/work-orders/{code}/edit")
async def work_order_edit(
    code: str, request: Request, principal: Principal = Depends(page_user), engine: Engine = Depends(get_engine)
) -> Response:
    """Correct an order: the fields the form sends (those of a started order it cannot change are disabled and
    not sent); an empty machine, operator or due date empties it."""
    form = await request.form()
    require_csrf(principal, str(form.get("csrf_token", "")))
    ensure(principal, "plan_production")
    typed = {k: str(form[k]).strip() for k in EDIT_FIELDS if k in form}
    try:
        fields: dict = {k: typed[k] or None for k in ("product", "machine", "operator") if k in typed}
        if "product" in fields and fields["product"] is None:
            fields["product"] = ""
        if "quantity" in typed:
            fields["quantity"] = whole_number(typed["quantity"])
            if fields["quantity"] is None:
                raise WorkOrderQuantity(quantity=typed["quantity"])
        if "priority" in typed:
            fields["priority"] = whole_number(typed["priority"] or "0")
            if fields["priority"] is None:
                raise NotWholeNumber(value=typed["priority"])
        if "due" in typed:
            fields["due"] = _due(typed["due"], plant_of(engine).site.tz)
        edit_work_order(engine, principal.actor, code, **fields)
    except DomainError as exc:
        return _order_page(request, principal, engine, code, exc, typed)
    return RedirectResponse(f"/work-orders/{code}?saved=1", status_code=303)


@router.post("/work-orders/{code}/assign")
def work_order_assign(
    code: str,
    request: Request,
    machine: str = Form(""),
    operator: str = Form(""),
    priority: str = Form(""),
    due: str = Form(""),
    csrf_token: str = Form(""),
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
) -> Response:
    require_csrf(principal, csrf_token)
    ensure(principal, "plan_production")
    try:
        plant = plant_of(engine)
        clear = tuple(k for k, v in (("machine", machine), ("operator", operator), ("due", due)) if not v.strip())
        assign_work_order(
            engine,
            principal.actor,
            code,
            machine=machine.strip() or None,
            operator=operator.strip() or None,
            priority=int(priority) if priority.strip().lstrip("-").isdigit() else None,
            due=_due(due.strip(), plant.site.tz),
            clear=clear,
        )
    except DomainError as exc:
        return _order_page(request, principal, engine, code, exc)
    return RedirectResponse(f"/work-orders/{code}", status_code=303)


@router.post("/work-orders/{code}/transition")
def work_order_transition(
    code: str,
    request: Request,
    to: str = Form(...),
    reason: str = Form(""),
    csrf_token: str = Form(""),
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
) -> Response:
    require_csrf(principal, csrf_token)
    ensure(principal, "plan_production")
    try:
        if to not in {s.value for s in Status}:
            raise NotOneOf(value=to, allowed=[s.value for s in Status])
        transition_work_order(engine, principal.actor, code, to, reason=reason.strip() or None)
    except DomainError as exc:
        return _order_page(request, principal, engine, code, exc)
    return RedirectResponse(f"/work-orders/{code}", status_code=303)
