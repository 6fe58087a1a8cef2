"""Machine data sources: the status the running ingest last saved (same as `shopfloor connectors status`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from sqlalchemy import Engine

from shopfloor.api.deps import Principal, get_engine, require
from shopfloor.api.errors import problem_responses
from shopfloor.errors import ConnectorStatusMissing
from shopfloor.ingest.service import load_status

router = APIRouter(prefix="/api/v1", tags=["connectors"])


@router.get(
    "/connectors",
    responses=problem_responses(401, 404),
    summary="Per source: connected, last value time, messages/s, buffered, errors, quarantined",
)
def connectors_status(_: Principal = Depends(require("view")), engine: Engine = Depends(get_engine)) -> dict[str, Any]:
    status = load_status(engine)
    if status is None:
        raise ConnectorStatusMissing()
    return status
