"""The web application: REST API (OpenAPI at /api/docs), security headers, problem+json errors."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine, text

from shopfloor import __version__
from shopfloor.api import errors, metrics
from shopfloor.api.deps import Principal, current_principal, require
from shopfloor.api.errors import Problem
from shopfloor.api.routers import (
    admin,
    alarms,
    auth,
    connectors,
    events,
    inspections,
    kpi,
    lots,
    master,
    plant,
    pop,
    quality,
    reports,
    work_orders,
)
from shopfloor.store.db import open_store
from shopfloor.web import lots_views, quality_views, reports_views, views

STATIC = Path(__file__).resolve().parent.parent / "web" / "static"
# Browser libraries installed from the npm registry by ./run (web-assets/package-lock.json).
VENDOR_FILES = {
    "htmx.min.js": "htmx.org/dist/htmx.min.js",
    "sse.js": "htmx-ext-sse/dist/sse.min.js",
    "echarts.min.js": "echarts/dist/echarts.min.js",
}


def vendor_root() -> Path:
    configured = os.environ.get("SHOPFLOOR_ASSETS")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[3] / "web-assets" / "node_modules"


# Routes anyone may call without signing in.  Everything else must depend on current_principal/require;
# tests/api/test_route_auth.py fails on any route missing from both.
PUBLIC_ROUTES = {
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/login"),
    ("POST", "/login"),
    ("GET", "/terminal/login"),
    ("POST", "/terminal/login"),
    ("POST", "/lang"),  # a language choice; for a signed-in user it needs the CSRF token
    ("GET", "/static/vendor/{name}"),
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/pin"),
    ("GET", "/api/openapi.json"),
    ("HEAD", "/api/openapi.json"),
}

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(self), microphone=(), geolocation=()",
}
# Pages load scripts, styles and data only from this server: nothing leaves the plant's network.
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; "
    "frame-ancestors 'none'"
)


@dataclass
class Settings:
    db_url: str | None = None
    secure_cookies: bool = False
    hub: bool = False  # serve the hub's API and pages as well


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    settings = settings or Settings()
    app = FastAPI(
        title="shopfloor",
        version=__version__,
        description="MES, machine data, SPC and ISO 22400 KPIs for small factories. Errors are "
        "application/problem+json. Sign in with /api/v1/auth/login (session cookie + X-CSRF-Token for changes) "
        "or send an API token as 'Authorization: Bearer ...'.",
        openapi_url="/api/openapi.json",
        # The interactive docs page would load its scripts from a CDN; the OpenAPI document is served instead.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine or open_store(settings.db_url)
    from shopfloor.runtime import share_live_updates

    share_live_updates(app.state.engine)
    errors.install(app)

    latency = metrics.LatencyHistogram()
    app.state.latency = latency

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        latency.observe(request.method, getattr(route, "path", "(unmatched)"), time.perf_counter() - started)
        for key, value in SECURITY_HEADERS.items():
            response.headers.setdefault(key, value)
        response.headers.setdefault("Content-Security-Policy", CSP)
        if settings.secure_cookies:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response

    @app.get("/healthz", tags=["operations"], summary="Liveness and store reachability (no sign-in needed)")
    def healthz() -> dict[str, str]:
        with app.state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return {"status": "ok", "version": __version__}

    @app.get(
        "/readyz",
        tags=["operations"],
        summary="Ready to serve: the store answers, its schema is the current one and a plant is imported",
        responses={503: {"description": "Not ready; the reason is given"}},
    )
    def readyz() -> Response:
        from shopfloor.store.db import schema_current
        from shopfloor.store.plant import StoreError, current_plant

        try:
            with app.state.engine.connect() as conn:
                if not schema_current(conn):
                    return JSONResponse(
                        {"status": "not ready", "reason": "the schema is not migrated"}, status_code=503
                    )
                try:
                    current_plant(conn)
                except StoreError:
                    return JSONResponse({"status": "not ready", "reason": "no plant imported"}, status_code=503)
        except Exception as exc:  # noqa: BLE001 - any store failure means not ready
            return JSONResponse({"status": "not ready", "reason": f"store: {type(exc).__name__}"}, status_code=503)
        return JSONResponse({"status": "ready", "version": __version__})

    @app.get(
        "/metrics",
        tags=["operations"],
        summary="Prometheus metrics (send an API token as Bearer)",
        response_class=PlainTextResponse,
    )
    def prometheus(_: Principal = Depends(require("view"))) -> PlainTextResponse:
        from shopfloor.ingest.service import load_status

        body = metrics.render(latency, getattr(app.state, "writer", None), load_status(app.state.engine))
        return PlainTextResponse(body, media_type="text/plain; version=0.0.4")

    @app.get("/api/v1/version", tags=["operations"], summary="Version of the running server")
    def version(_: Principal = Depends(current_principal)) -> dict[str, str]:
        return {"version": __version__}

    @app.exception_handler(views.LoginRequired)
    async def _login_required(request: Request, exc: views.LoginRequired):
        target = "/terminal/login" if exc.terminal else f"/login?next={exc.next_path}"
        return RedirectResponse(target, status_code=303)

    @app.get("/static/vendor/{name}", include_in_schema=False)
    def vendor(name: str) -> FileResponse:
        if name not in VENDOR_FILES:
            raise Problem(404, "Not found", f"no asset {name!r}")
        path = vendor_root() / VENDOR_FILES[name]
        if not path.is_file():
            raise Problem(503, "Service unavailable", "browser libraries are not installed: run ./run setup")
        return FileResponse(path, media_type="text/javascript", headers={"Cache-Control": "public, max-age=86400"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for router in (
        auth.router,
        plant.router,
        events.router,
        work_orders.router,
        lots.router,
        master.router,
        kpi.router,
        quality.router,
        inspections.router,
        reports.router,
        alarms.router,
        pop.router,
        connectors.router,
        admin.router,
        lots_views.router,
        quality_views.router,
        reports_views.router,
        views.router,
    ):
        app.include_router(router)
    if settings.hub:
        from shopfloor.api.routers import hub as hub_api
        from shopfloor.web import hub as hub_views

        app.include_router(hub_api.router)
        app.include_router(hub_views.router)
    errors.problem_openapi(app)
    return app


def app_from_env() -> FastAPI:
    """The application for ``uvicorn --factory``: store from SHOPFLOOR_DB, HTTPS cookies if SHOPFLOOR_SECURE=1."""
    return create_app(
        Settings(db_url=os.environ.get("SHOPFLOOR_DB"), secure_cookies=os.environ.get("SHOPFLOOR_SECURE") == "1")
    )
