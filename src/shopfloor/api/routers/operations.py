"""Operations: liveness and readiness for the load balancer, Prometheus metrics, the running version."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from sqlalchemy import Engine, text

from shopfloor import __version__
from shopfloor.api import metrics
from shopfloor.api.deps import Principal, current_principal, get_engine, require
from shopfloor.errors import PlantNotImported
from shopfloor.ingest.service import load_status
from shopfloor.store.db import schema_current
from shopfloor.store.plant import current_plant

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="Liveness and store reachability (no sign-in needed)")
def healthz(engine: Engine = Depends(get_engine)) -> dict[str, str]:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    return {"status": "ok", "version": __version__}


@router.get(
    "/readyz",
    summary="Ready to serve: the store answers, its schema is the current one and a plant is imported",
    responses={503: {"description": "Not ready; the reason is given"}},
)
def readyz(engine: Engine = Depends(get_engine)) -> Response:
    try:
        with engine.connect() as conn:
            if not schema_current(conn):
                return JSONResponse({"status": "not ready", "reason": "the schema is not migrated"}, status_code=503)
            try:
                current_plant(conn)
            except PlantNotImported:
                return JSONResponse({"status": "not ready", "reason": "no plant imported"}, status_code=503)
    except Exception as exc:  # noqa: BLE001 - any store failure means not ready
        return JSONResponse({"status": "not ready", "reason": f"store: {type(exc).__name__}"}, status_code=503)
    return JSONResponse({"status": "ready", "version": __version__})


@router.get("/metrics", summary="Prometheus metrics (send an API token as Bearer)", response_class=PlainTextResponse)
def prometheus(
    request: Request, _: Principal = Depends(require("view")), engine: Engine = Depends(get_engine)
) -> PlainTextResponse:
    state = request.app.state
    body = metrics.render(state.latency, getattr(state, "writer", None), load_status(engine))
    return PlainTextResponse(body, media_type="text/plain; version=0.0.4")


@router.get("/api/v1/version", summary="Version of the running server")
def version(_: Principal = Depends(current_principal)) -> dict[str, str]:
    return {"version": __version__}
