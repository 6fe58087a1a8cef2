"""The plant: site, areas, lines, machines, products, calendar (read by everyone, changed by admins)."""

from __future__ import annotations

from typing import Any

import yaml
from fastapi import APIRouter, Depends, Request
from sqlalchemy import Engine

from shopfloor.api.deps import Principal, get_engine, require
from shopfloor.api.errors import Problem, problem_responses
from shopfloor.model.plant import Plant, PlantError
from shopfloor.store import rollups
from shopfloor.store.plant import StoreError, current_plant, load_plant, save_plant

router = APIRouter(prefix="/api/v1", tags=["plant"])
MAX_PLANT_BYTES = 2 * 1024 * 1024


def plant_or_404(engine: Engine) -> Plant:
    with engine.connect() as conn:
        try:
            return current_plant(conn)
        except StoreError as exc:
            raise Problem(404, "Not found", str(exc)) from None


@router.get("/plant", responses=problem_responses(401, 404), summary="The plant document (same shape as the YAML file)")
def get_plant(_: Principal = Depends(require("view")), engine: Engine = Depends(get_engine)) -> dict[str, Any]:
    return plant_or_404(engine).to_dict()


@router.put(
    "/plant",
    responses=problem_responses(400, 401, 403, 413, 415, 422),
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
        raise Problem(413, "Payload too large", f"a plant document is limited to {MAX_PLANT_BYTES} bytes")
    ctype = request.headers.get("content-type", "").split(";")[0].strip()
    if ctype not in ("application/yaml", "application/x-yaml", "text/yaml", "application/json"):
        raise Problem(415, "Unsupported media type", "send application/yaml or application/json")
    try:
        doc = yaml.safe_load(body.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise Problem(400, "Bad request", f"not a YAML/JSON document: {exc}") from None
    try:
        plant = Plant.from_dict(doc)
    except PlantError as exc:
        raise Problem(422, "Invalid request", "invalid plant document", problems=exc.problems) from None
    with engine.begin() as conn:
        try:
            summary = save_plant(conn, plant, principal.actor)
        except StoreError as exc:
            raise Problem(409, "Conflict", str(exc)) from None
        rollups.refresh(conn, load_plant(conn, plant.site.code))
    return summary


@router.get("/machines", responses=problem_responses(401, 404), summary="Machines with their line and area")
def machines(_: Principal = Depends(require("view")), engine: Engine = Depends(get_engine)) -> list[dict[str, Any]]:
    plant = plant_or_404(engine)
    return [
        {"code": m.code, "name": m.name, "line": m.line, "area": m.area, "connector": (m.connector or {}).get("name")}
        for m in plant.machines
    ]
