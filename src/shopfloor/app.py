"""The composition root: the web application assembled from its parts (the REST API's routers, the pages, the hub
when asked for), with the security headers, the request latency histogram and the error answers.

Nothing else imports both ``api`` and ``web``: the API knows nothing of the pages, and the pages share only the
API's authentication dependencies (``api.deps``) and error answers (``api.errors``).
"""

from __future__ import annotations

import gc
import time

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shopfloor import __version__
from shopfloor.api import errors, metrics
from shopfloor.api.body_guard import BodyGuard
from shopfloor.api.routers import (
    admin,
    alarms,
    attendance,
    auth,
    connectors,
    documents,
    events,
    hub,
    inspections,
    kpi,
    lots,
    maintenance,
    master,
    operations,
    plant,
    pop,
    quality,
    reports,
    work_orders,
)
from shopfloor.live import broker
from shopfloor.settings import Settings
from shopfloor.store.accounts import dummy_hash
from shopfloor.store.db import open_store
from shopfloor.store.first_run import has_users
from shopfloor.web import assets, board, terminal
from shopfloor.web import auth as sign_in_pages
from shopfloor.web import connectors as connector_pages
from shopfloor.web import documents as document_pages
from shopfloor.web import hub as hub_pages
from shopfloor.web import lots as lot_pages
from shopfloor.web import maintenance as maintenance_pages
from shopfloor.web import master as master_pages
from shopfloor.web import plant as plant_pages
from shopfloor.web import quality as quality_pages
from shopfloor.web import reasons as reason_pages
from shopfloor.web import reports as report_pages
from shopfloor.web import setup as setup_pages
from shopfloor.web import skills as skill_pages
from shopfloor.web import users as user_pages
from shopfloor.web import work_orders as work_order_pages
from shopfloor.web.pages import LoginRequired, refusal_page

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
    ("GET", "/setup"),  # without sign-in only while the store has no user (web/setup.py), else admins only
    ("POST", "/setup"),
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

API_ROUTERS = (
    pop.router,  # first: the terminals' taps are most of the requests, and routes are matched in this order
    operations.router,
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
    attendance.router,
    connectors.router,
    admin.router,
    maintenance.router,
    maintenance.moulds_router,
    documents.router,
)
PAGE_ROUTERS = (
    assets.router,
    lot_pages.router,
    master_pages.router,
    quality_pages.router,
    maintenance_pages.router,
    skill_pages.router,
    document_pages.router,
    report_pages.router,
    user_pages.router,
    sign_in_pages.router,
    setup_pages.router,
    plant_pages.router,
    work_order_pages.router,
    connector_pages.router,
    board.router,
    terminal.router,
    reason_pages.router,
)


def _sign_in_page(engine: Engine, next_path: str, terminal: bool) -> RedirectResponse:
    """Where a request without a signed-in user goes: the sign-in page, or the guided set-up while nobody can sign
    in yet (it names the first administrator)."""
    target = "/terminal/login" if terminal else f"/login?next={next_path}"
    with engine.connect() as conn:
        if not has_users(conn):
            target = "/setup"
    return RedirectResponse(target, status_code=303)


class AnswerHeaders:
    """The security headers on every answer (where the route set none of its own), and each request's time to
    the start of its answer in the latency histogram.  A plain ASGI middleware: Starlette's ``BaseHTTPMiddleware``
    spent a task group and a memory stream on every request."""

    def __init__(self, app: ASGIApp, *, headers: dict[str, str], latency: metrics.LatencyHistogram) -> None:
        self.app = app
        self.headers = headers
        self.latency = latency

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                route = getattr(scope.get("route"), "path", "(unmatched)")
                self.latency.observe(scope["method"], route, time.perf_counter() - started)
                answer = MutableHeaders(scope=message)
                for key, value in self.headers.items():
                    answer.setdefault(key, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(settings: Settings, engine: Engine | None = None) -> FastAPI:
    """The application on ``engine`` (by default the store ``settings.db`` names, migrated)."""
    dummy_hash()  # made now, so that the first sign-in with an unknown name takes as long as any other
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
    app.state.engine = engine or open_store(settings.db)
    broker.share_through(app.state.engine)
    errors.install(app, page_answer=refusal_page)

    latency = metrics.LatencyHistogram()
    app.state.latency = latency

    headers = {**SECURITY_HEADERS, "Content-Security-Policy": CSP}
    if settings.secure:
        headers["Strict-Transport-Security"] = "max-age=31536000"
    app.add_middleware(AnswerHeaders, headers=headers, latency=latency)

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, exc: LoginRequired):
        return _sign_in_page(app.state.engine, exc.next_path, exc.terminal)

    # Outermost: a request's body is read only once its sender is known, and no more of it than its route takes.
    app.add_middleware(
        BodyGuard,
        routes=lambda: app.routes,
        public=PUBLIC_ROUTES,
        body_limit=settings.max_body_kb * 1024,
        upload_limit=settings.max_upload_mb * 2**20,
        page_login=lambda request: _sign_in_page(
            app.state.engine, request.url.path, request.url.path.startswith("/terminal")
        ),
        headers={**SECURITY_HEADERS, "Content-Security-Policy": CSP},
    )

    hub_routers = (hub.router, hub_pages.router) if settings.hub else ()
    for router in (*API_ROUTERS, *PAGE_ROUTERS, *hub_routers):
        app.include_router(router)
    # After the routes: the mount would otherwise answer for /static/vendor/... too.
    app.mount("/static", StaticFiles(directory=assets.STATIC), name="static")
    errors.problem_openapi(app)
    return app


def app_from_env() -> FastAPI:
    """The application for ``uvicorn --factory shopfloor.app:app_from_env``: every setting from SHOPFLOOR_*."""
    app = create_app(Settings())
    # What start-up made (modules, routes, schemas, the store's metadata) lives as long as the process: out of the
    # collector's sight, so that a full collection walks only what requests made (with it, one took 100-165 ms
    # every second or so under a hundred terminals, the slowest taps' wait).
    gc.freeze()
    return app
