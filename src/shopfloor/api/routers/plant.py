"""The plant: site, areas, lines, machines, products, calendar (read by everyone, changed by admins)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine

from shopfloor.actions.plant import import_plant, parse_plant_document
from shopfloor.api.deps import Principal, get_engine, require
from shopfloor.api.errors import problem_responses
from shopfloor.errors import FileNotText, MediaTypeUnsupported, PayloadTooLarge
from shopfloor.model.plant import Plant
from shopfloor.store.plant import current_plant

router = APIRouter(prefix="/api/v1", tags=["plant"])
MAX_PLANT_BYTES = 2 * 1024 * 1024


def stored_plant(engine: Engine) -> Plant:
    with engine.connect() as conn:
        return current_plant(conn)


@router.get("/plant", responses=problem_responses(401, 404), summary="The plant document (same shape as the YAML file)")
def get_plant(_: Principal = Depends(require("view")), engine: Engine = Depends(get_engine)) -> dict[str, Any]:
    return stored_plant(engine).to_dict()


@router.put(
    "/plant",
    responses=problem_responses(400, 401, 403, 409, 413, 415, 422),
    summary="Create or update the plant from a YAML or JSON document",
    openapi_extra={
        "requestBody": {
            "content": {
                "application/yaml": {"schema": {"type": "string"}},
                "application/json": {"schema": {"type": "object"}},
            },
            "required": True,
        }
    },
)
async def put_plant(
    request: Request, principal: Principal = Depends(require("manage_plant")), engine: Engine = Depends(get_engine)
) -> dict[str, Any]:
    body = await request.body()
    if len(body) > MAX_PLANT_BYTES:
        raise PayloadTooLarge(limit=f"{MAX_PLANT_BYTES} bytes")
    ctype = request.headers.get("content-type", "").split(";")[0].strip()
    if ctype not in ("application/yaml", "application/x-yaml", "text/yaml", "application/json"):
        raise MediaTypeUnsupported(expected="application/yaml or application/json")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise FileNotText(file="the plant document") from None
    plant = parse_plant_document(text, "the plant document")
    return await run_in_threadpool(import_plant, engine, principal.actor, plant)


@router.get("/machines", responses=problem_responses(401, 404), summary="Machines with their line and area")
def machines(_: Principal = Depends(require("view")), engine: Engine = Depends(get_engine)) -> list[dict[str, Any]]:
    plant = stored_plant(engine)
    return [
        {"code": m.code, "name": m.name, "line": m.line, "area": m.area, "connector": (m.connector or {}).get("name")}
        for m in plant.machines
    ]
