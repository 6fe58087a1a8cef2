"""The web application: REST API (OpenAPI at /api/docs), security headers, problem+json errors."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Depends, FastAPI, Request
from sqlalchemy import Engine, text

from shopfloor import __version__
from shopfloor.api import errors
from shopfloor.api.deps import Principal, current_principal
from shopfloor.api.routers import admin, auth, events, kpi, plant
from shopfloor.store.db import open_store

# Routes anyone may call without signing in.  Everything else must depend on current_principal/require;
# tests/api/test_route_auth.py fails on any route missing from both.
PUBLIC_ROUTES = {
    ("GET", "/healthz"),
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
    errors.install(app)

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
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

    @app.get("/api/v1/version", tags=["operations"], summary="Version of the running server")
    def version(_: Principal = Depends(current_principal)) -> dict[str, str]:
        return {"version": __version__}

    for router in (auth.router, plant.router, events.router, kpi.router, admin.router):
        app.include_router(router)
    return app
