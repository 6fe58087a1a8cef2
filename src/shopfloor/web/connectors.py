"""Connecting a machine from the browser: choose the protocol and enter the endpoint; the page shows what is
there (the OPC UA address space as a tree, a Modbus register range decoded as every type and word order side by
side, an MTConnect agent's data items); pick sources and map them to the state, the counters, the alarm code and
process values; "test" reads them now and shows what the mapping makes of them; "save" stores the connection in
the plant (``actions.connect.connect_machine``), where the running ingest picks it up.  The status page shows each
connector's state, last value, rate, errors and buffered values, and the history of its disconnections."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Engine

from shopfloor.actions.connect import (
    DEFAULT_STATE_MAP,
    PROTOCOLS,
    ROLES,
    connect_machine,
    connector_status,
    discover,
    endpoint_of,
    mapping,
    try_mapping,
)
from shopfloor.api.deps import Principal, ensure, get_engine
from shopfloor.errors import DomainError, MachineNotFound
from shopfloor.web.pages import page_context, page_user, plant_of, render, require_csrf, show_refusal

router = APIRouter(include_in_schema=False)
FIELDS = (
    "machine",
    "protocol",
    "name",
    "url",
    "host",
    "port",
    "unit",
    "table",
    "start",
    "count",
    "state_map",
    "product",
)


@router.get("/admin/connectors")
def connectors_page(
    request: Request, done: str = "", principal: Principal = Depends(page_user), engine: Engine = Depends(get_engine)
) -> HTMLResponse:
    ensure(principal, "manage_plant")
    plant = plant_of(engine)
    status = connector_status(engine)
    by_name = {c["name"]: c for c in (status or {}).get("connectors", [])}
    rows = [
        {"spec": spec, "machines": [m.code for m in plant.machines_of(spec.name)], "status": by_name.get(spec.name)}
        for spec in plant.connectors
    ]
    ctx = page_context(request, principal, plant, rows=rows, status=status, done=done[:100] or None,
                       unconnected=[m.code for m in plant.machines if not m.connector])  # fmt: skip
    return render(request, "connectors.html", ctx)


def _flat(tree: list[dict[str, Any]], depth: int = 0) -> list[dict[str, Any]]:
    out = []
    for node in tree:
        out.append({**node, "depth": depth})
        out += _flat(node.get("children") or [], depth + 1)
    return out


def _picks(form: dict[str, str]) -> list[dict[str, Any]]:
    picks = []
    i = 0
    while f"src_{i}" in form:
        role = form.get(f"role_{i}", "")
        picks.append({"source": form[f"src_{i}"], "name": form.get(f"name_{i}", ""), "role": role,
                      "as": form.get(f"as_{i}", ""), "device": form.get(f"dev_{i}", "")})  # fmt: skip
        i += 1
    return picks


def _connect_page(request: Request, principal: Principal, engine: Engine, form: dict[str, str],
                  refusal: DomainError | None = None, results: list | None = None) -> HTMLResponse:  # fmt: skip
    plant = plant_of(engine)
    protocol = form.get("protocol", "opcua")
    found: dict[str, Any] = {}
    if form.get("machine") and (form.get("url") or form.get("host")) and refusal is None:
        try:
            found = discover(protocol, endpoint_of(protocol, form))
        except DomainError as exc:
            refusal = exc
    picks = {p["source"]: p for p in _picks(form)}
    nodes = [n for n in _flat(found.get("tree", [])) if n.get("variable") or n.get("children")]
    items = [{**i, "device": dv["device"]} for dv in found.get("devices", []) for i in dv["items"]]
    items += [
        {"id": m["name"], "name": m["name"], "type": m["type"], "value": m["value"], "category": "",
         "device": f"{e['group']}/{e['edge']}/{e['device']}".rstrip("/")}
        for e in found.get("sparkplug", []) for m in e["metrics"]
    ]  # fmt: skip
    heard_only = [e for e in found.get("sparkplug", []) if not e["birth"]]
    ctx = page_context(
        request, principal, plant, form={"state_map": DEFAULT_STATE_MAP, **form}, protocols=PROTOCOLS, roles=ROLES,
        machines=[m.code for m in plant.machines], products=[p.code for p in plant.products], found=found,
        nodes=nodes, items=items, picks=picks,
        results=results, heard_only=heard_only,
    )  # fmt: skip
    status = show_refusal(ctx, refusal) if refusal is not None else 200
    return render(request, "connect.html", ctx, status)


@router.get("/admin/connectors/new")
def connect_page(
    request: Request, principal: Principal = Depends(page_user), engine: Engine = Depends(get_engine)
) -> HTMLResponse:
    ensure(principal, "manage_plant")
    form = {k: str(v) for k, v in request.query_params.items() if k in FIELDS}
    return _connect_page(request, principal, engine, form)


@router.post("/admin/connectors/new")
async def connect_form(
    request: Request, principal: Principal = Depends(page_user), engine: Engine = Depends(get_engine)
) -> Response:
    raw = await request.form()
    form = {k: str(v).strip() for k, v in raw.items()}
    require_csrf(principal, form.get("csrf_token", ""))
    ensure(principal, "manage_plant")
    # Discovery and the test talk to the machine with their own short event loop: off the server's loop.
    return await asyncio.to_thread(_test_or_save, request, principal, engine, form)


def _test_or_save(request: Request, principal: Principal, engine: Engine, form: dict[str, str]) -> Response:
    protocol, machine = form.get("protocol", ""), form.get("machine", "")
    try:
        plant = plant_of(engine)
        if machine not in {m.code for m in plant.machines}:
            raise MachineNotFound(machine=machine)
        endpoint = endpoint_of(protocol, form)
        picks = _picks(form)
        endpoint["device"] = next((p["device"] for p in picks if p.get("role") and p["device"]), "")
        if form.get("do") == "test":
            products = {p.code for p in plant.products}
            results = try_mapping(protocol, endpoint, picks, form.get("state_map", ""), machine, products)
            return _connect_page(request, principal, engine, form, results=results)
        name = form.get("name") or f"{machine}-{protocol}".lower()
        spec, source, tags = mapping(
            protocol, name, endpoint, picks, form.get("state_map", ""), form.get("product", "")
        )
        if protocol == "modbus":
            spec = {k: v for k, v in spec.items() if k not in ("table", "start", "count")}
        connect_machine(engine, principal.actor, machine, connector=spec, source=source, tags=tags)
    except DomainError as exc:
        return _connect_page(request, principal, engine, form, refusal=exc)
    return RedirectResponse(f"/admin/connectors?done={machine}", status_code=303)
