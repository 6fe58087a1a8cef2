"""The maintenance page: preventive plans with their due state, open and recent orders (acknowledge, start, close
with checklist, parts and labour), breakdown requests, moulds and where they are mounted, and MTBF / MTTR / cost
per machine and mould over the last 30 days.  Every form calls an action and shows its refusal translated."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Engine

from shopfloor.actions import maintenance as mnt
from shopfloor.api.deps import Principal, allowed, get_engine
from shopfloor.errors import DomainError, MaintenancePartInvalid
from shopfloor.model.intervals import Interval
from shopfloor.model.maintenance import Trigger
from shopfloor.store import maintenance as store
from shopfloor.web.pages import form_action, page_context, page_user, plant_of, render, show_refusal

router = APIRouter(include_in_schema=False)
RELIABILITY_DAYS = 30


def _page(request: Request, principal: Principal, engine: Engine, refusal: DomainError | None = None) -> HTMLResponse:
    plant = plant_of(engine)
    now = datetime.now(timezone.utc)
    window = Interval(now - timedelta(days=RELIABILITY_DAYS), now)
    with engine.connect() as conn:
        plans = [
            {
                **p.to_dict(),
                "due": store.plan_due(conn, plant, p, now).to_dict(),
                "order": store.open_for_plan(conn, p.id),
            }
            for p in store.plans(conn)
        ]
        orders = store.orders(conn, limit=100)
        moulds = [
            {**store.mould_dict(conn, plant, code, now), "mounts": store.mounts(conn, code)[-5:]}
            for code in store.mould_codes(conn)
        ]
        reliability = [store.reliability(conn, plant, window, m.code, None, now) for m in plant.machines]
        reliability += [store.reliability(conn, plant, window, None, m["code"], now) for m in moulds]
    ctx = page_context(
        request,
        principal,
        plant,
        plans=plans,
        open_orders=[o for o in orders if o["status"] != "closed"],
        closed_orders=[o for o in orders if o["status"] == "closed"][:20],
        moulds=moulds,
        reliability=reliability,
        machines=plant.machines,
        triggers=[t.value for t in Trigger],
        can_maintain=allowed(principal, "maintain"),
        days=RELIABILITY_DAYS,
    )
    status = show_refusal(ctx, refusal) if refusal is not None else 200
    return render(request, "maintenance.html", ctx, status)


@router.get("/maintenance")
def maintenance_page(
    request: Request, principal: Principal = Depends(page_user), engine: Engine = Depends(get_engine)
) -> HTMLResponse:
    return _page(request, principal, engine)


def _do(request: Request, principal: Principal, engine: Engine, csrf: str, permission: str, work) -> Response:
    return form_action(
        principal, csrf, permission, work, "/maintenance", lambda exc: _page(request, principal, engine, exc)
    )


def _number(text: str, default: float = 0.0) -> float | str:
    text = (text or "").strip().replace(",", ".")
    return default if not text else text  # the action checks it and refuses it in the user's language


@router.post("/maintenance/plans")
def new_plan(
    request: Request,
    code: str = Form(..., min_length=1, max_length=64),
    name: str = Form("", max_length=200),
    subject: str = Form(..., min_length=1, max_length=70),
    trigger: str = Form(..., max_length=16),
    interval: str = Form(..., max_length=20),
    warn_before: str = Form("", max_length=20),
    planned_minutes: str = Form("", max_length=20),
    checklist: str = Form("", max_length=4000),
    csrf_token: str = Form(""),
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
) -> Response:
    kind, _, target = subject.partition(":")
    return _do(request, principal, engine, csrf_token, "maintain", lambda: mnt.create_maintenance_plan(
        engine, principal.actor, code=code.strip(), name=name.strip(), trigger=trigger,
        interval=_number(interval), warn_before=_number(warn_before), planned_minutes=_number(planned_minutes, 60),
        machine=target if kind == "machine" else None, mould=target if kind == "mould" else None,
        checklist=[line for line in checklist.splitlines() if line.strip()],
    ))  # fmt: skip


@router.post("/maintenance/plans/{code}/order")
def plan_order(
    code: str,
    request: Request,
    csrf_token: str = Form(""),
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
) -> Response:
    return _do(request, principal, engine, csrf_token, "maintain",
               lambda: mnt.open_preventive_order(engine, principal.actor, code))  # fmt: skip


@router.post("/maintenance/breakdowns")
def breakdown(
    request: Request,
    machine: str = Form(..., min_length=1, max_length=64),
    description: str = Form("", max_length=2000),
    csrf_token: str = Form(""),
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
) -> Response:
    return _do(request, principal, engine, csrf_token, "request_maintenance", lambda: mnt.raise_breakdown(
        engine, principal.actor, machine, description=description.strip() or None, source="page"))  # fmt: skip


@router.post("/maintenance/orders/{code}/acknowledge")
def acknowledge(
    code: str,
    request: Request,
    csrf_token: str = Form(""),
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
) -> Response:
    return _do(request, principal, engine, csrf_token, "maintain",
               lambda: mnt.acknowledge_maintenance(engine, principal.actor, code))  # fmt: skip


@router.post("/maintenance/orders/{code}/start")
def start(
    code: str,
    request: Request,
    csrf_token: str = Form(""),
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
) -> Response:
    return _do(request, principal, engine, csrf_token, "maintain",
               lambda: mnt.start_maintenance(engine, principal.actor, code))  # fmt: skip


def _parts(text: str) -> list[dict[str, Any]]:
    """One part a line: ``part; quantity; unit cost``."""
    out = []
    for i, line in enumerate((ln for ln in text.splitlines() if ln.strip()), 1):
        fields = [f.strip() for f in line.split(";")]
        if len(fields) not in (2, 3):
            raise MaintenancePartInvalid(line=i)
        out.append({"part": fields[0], "qty": fields[1].replace(",", "."),
                    "unit_cost": (fields[2] if len(fields) == 3 else "0").replace(",", ".")})  # fmt: skip
    return out


@router.post("/maintenance/orders/{code}/close")
async def close(
    code: str,
    request: Request,
    parts: str = Form("", max_length=4000),
    labour_minutes: str = Form("", max_length=20),
    hourly_rate: str = Form("", max_length=20),
    note: str = Form("", max_length=2000),
    csrf_token: str = Form(""),
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
) -> Response:
    done = [str(v) for v in (await request.form()).getlist("done")][:50]
    return _do(request, principal, engine, csrf_token, "maintain", lambda: mnt.close_maintenance(
        engine, principal.actor, code, done=done, parts=_parts(parts), labour_minutes=_number(labour_minutes),
        hourly_rate=_number(hourly_rate), note=note.strip() or None))  # fmt: skip


@router.post("/maintenance/moulds")
def new_mould(
    request: Request,
    code: str = Form(..., min_length=1, max_length=64),
    name: str = Form("", max_length=200),
    cavities: str = Form(..., max_length=6),
    life_shots: str = Form("", max_length=12),
    initial_shots: str = Form("", max_length=12),
    csrf_token: str = Form(""),
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
) -> Response:
    return _do(request, principal, engine, csrf_token, "maintain", lambda: mnt.create_mould(
        engine, principal.actor, code=code.strip(), name=name.strip(), cavities=_number(cavities),
        life_shots=life_shots.strip() or None, initial_shots=_number(initial_shots)))  # fmt: skip


@router.post("/maintenance/moulds/{code}/mount")
def mount(
    code: str,
    request: Request,
    machine: str = Form(..., min_length=1, max_length=64),
    csrf_token: str = Form(""),
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
) -> Response:
    return _do(request, principal, engine, csrf_token, "maintain",
               lambda: mnt.mount_mould(engine, principal.actor, code, machine=machine))  # fmt: skip


@router.post("/maintenance/moulds/{code}/unmount")
def unmount(
    code: str,
    request: Request,
    csrf_token: str = Form(""),
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
) -> Response:
    return _do(request, principal, engine, csrf_token, "maintain",
               lambda: mnt.unmount_mould(engine, principal.actor, code))  # fmt: skip
