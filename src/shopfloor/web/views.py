"""Pages: sign-in (password or operator PIN), the live board, a machine's page and the operator terminal.

Every page needs a signed-in user (the sign-in pages excepted); forms carry the session's CSRF token.
Text is in the user's language (Korean, English or Vietnamese).
"""

from __future__ import annotations

import asyncio
import hmac
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine

from shopfloor.actions.board import current_window, machine_tiles
from shopfloor.analytics.kpi import KpiElements, kpis
from shopfloor.analytics.pareto import downtime_by_reason, state_segments
from shopfloor.api.deps import (
    SESSION_COOKIE,
    Principal,
    allowed,
    attempt_sign_in,
    ensure,
    get_engine,
    optional_principal,
    start_session,
)
from shopfloor.api.errors import Problem
from shopfloor.live import broker
from shopfloor.model.intervals import Interval
from shopfloor.model.plant import Plant
from shopfloor.store import accounts, audit, work_orders
from shopfloor.store import kpi as kpi_store
from shopfloor.store.events import history
from shopfloor.store.plant import StoreError, current_plant
from shopfloor.web.i18n import LANGUAGES, Translator, pick_language

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
LANG_COOKIE = "sf_lang"
STOP_QUESTION_AFTER = timedelta(minutes=3)
HEARTBEAT_S = 15.0


class LoginRequired(Exception):
    def __init__(self, next_path: str, terminal: bool = False):
        self.next_path = next_path
        self.terminal = terminal


def _plant(engine: Engine) -> Plant | None:
    with engine.connect() as conn:
        try:
            return current_plant(conn)
        except StoreError:
            return None


def _context(request: Request, principal: Principal | None, plant: Plant | None, **extra: Any) -> dict[str, Any]:
    tz_name = plant.site.timezone if plant else "UTC"
    lang = pick_language(principal.user.language if principal else None, request.cookies.get(LANG_COOKIE), tz_name)
    t = Translator(lang, plant.site.tz if plant else timezone.utc)
    return {
        "request": request,
        "t": t,
        "_": t.gettext,
        "user": principal.user if principal else None,
        "csrf_token": principal.session.csrf_token if principal and principal.session else None,
        "languages": LANGUAGES,
        "site_name": plant.site.name if plant else "shopfloor",
        **extra,
    }


def _page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context, status_code=status)


def page_user(request: Request, principal: Principal | None = Depends(optional_principal)) -> Principal:
    if principal is None or principal.session is None:
        raise LoginRequired(
            request.url.path + (f"?{request.url.query}" if request.url.query else ""),
            terminal=request.url.path.startswith("/terminal"),
        )
    return principal


def _safe_next(path: str | None) -> str:
    # Only paths on this site: an absolute URL here would make the sign-in page an open redirect.
    if not path or not path.startswith("/") or path.startswith("//") or urlsplit(path).netloc:
        return "/"
    return path


def _check_origin(request: Request) -> None:
    """Sign-in forms have no session yet, so no CSRF token: refuse posts that come from another site."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if origin and urlsplit(origin).netloc != request.url.netloc:
        raise Problem(403, "Forbidden", "cross-site sign-in refused")


def _sign_in(request: Request, engine: Engine, user: accounts.User, target: str) -> Response:
    response = RedirectResponse(target, status_code=303)
    start_session(request, response, engine, user, "page")
    return response


def _attempt(request: Request, engine: Engine, name: str, check) -> tuple[accounts.User | None, str | None]:
    user, wait = attempt_sign_in(request, engine, name, check)
    if wait:
        return None, "throttled"
    return user, None if user else "wrong"


@router.get("/login")
def login_page(request: Request, next: str = "/", engine: Engine = Depends(get_engine)) -> HTMLResponse:
    return _page(request, "login.html", _context(request, None, _plant(engine), next=_safe_next(next), error=None))


@router.post("/login")
def login_form(
    request: Request,
    username: str = Form(..., max_length=64),
    password: str = Form(..., max_length=1024),
    next: str = Form("/"),
    engine: Engine = Depends(get_engine),
) -> Response:
    _check_origin(request)
    user, problem = _attempt(request, engine, username, lambda c: accounts.check_password(c, username, password))
    if user is None:
        ctx = _context(request, None, _plant(engine), next=_safe_next(next))
        t = ctx["t"]
        ctx["error"] = (
            t.gettext("Too many attempts; wait a few minutes.")
            if problem == "throttled"
            else t.gettext("Wrong username or password.")
        )
        return _page(request, "login.html", ctx, status=429 if problem == "throttled" else 401)
    return _sign_in(request, engine, user, _safe_next(next))


@router.get("/terminal/login")
def pin_page(request: Request, engine: Engine = Depends(get_engine)) -> HTMLResponse:
    return _page(request, "pin_login.html", _context(request, None, _plant(engine), error=None))


@router.post("/terminal/login")
def pin_form(
    request: Request,
    who: str = Form(..., max_length=64),
    pin: str = Form(..., max_length=8),
    engine: Engine = Depends(get_engine),
) -> Response:
    _check_origin(request)
    user, problem = _attempt(request, engine, who, lambda c: accounts.check_pin(c, who, pin))
    if user is None:
        ctx = _context(request, None, _plant(engine))
        t = ctx["t"]
        ctx["error"] = (
            t.gettext("Too many attempts; wait a few minutes.")
            if problem == "throttled"
            else t.gettext("Wrong badge or PIN.")
        )
        return _page(request, "pin_login.html", ctx, status=429 if problem == "throttled" else 401)
    return _sign_in(request, engine, user, "/terminal")


@router.post("/logout")
async def logout(
    request: Request,
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
    csrf_token: str = Form(""),
) -> Response:
    _require_csrf(principal, csrf_token)
    with engine.begin() as conn:
        accounts.end_session(conn, principal.session.token)
    target = "/terminal/login" if principal.user.role == "operator" else "/login"
    response = RedirectResponse(target, status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _require_csrf(principal: Principal, sent: str) -> None:
    if not sent or not hmac.compare_digest(sent, principal.session.csrf_token):
        raise Problem(403, "Forbidden", "missing or wrong CSRF token")


@router.post("/lang")
def set_language(
    request: Request,
    lang: str = Form(...),
    next: str = Form("/"),
    csrf_token: str = Form(""),
    principal: Principal | None = Depends(optional_principal),
    engine: Engine = Depends(get_engine),
) -> Response:
    """Switch the language in one tap: for the signed-in user (kept), or for this browser before sign-in."""
    if lang not in LANGUAGES:
        raise Problem(422, "Invalid request", f"language {lang!r} must be one of {', '.join(LANGUAGES)}")
    if principal is not None and principal.session is not None:
        _require_csrf(principal, csrf_token)
        with engine.begin() as conn:
            accounts.set_language(conn, principal.user.id, lang)
            audit.record(conn, principal.actor, "user.language", principal.actor, {"language": lang})
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(LANG_COOKIE, lang, samesite="lax", max_age=365 * 86400, path="/")
    return response


@router.get("/")
def home(principal: Principal = Depends(page_user)) -> Response:
    return RedirectResponse("/terminal" if principal.user.role == "operator" else "/board", status_code=303)


def _board_context(engine: Engine, plant: Plant, now: datetime) -> dict[str, Any]:
    with engine.connect() as conn:
        tiles = machine_tiles(conn, plant, now)
    lines = []
    for line in plant.lines:
        line_tiles = [tile for tile in tiles if tile["line"] == line.code]
        lines.append({"code": line.code, "name": line.name, "tiles": line_tiles})
    _, window = current_window(plant, now)
    with engine.connect() as conn:
        per_line = {
            ln["code"]: kpi_store.elements(conn, plant, [t["code"] for t in ln["tiles"]], window, now) for ln in lines
        }
    for ln in lines:
        ln["oee"] = kpis(per_line[ln["code"]])["oee"]
    site = KpiElements.sum(per_line.values())
    return {"lines": lines, "site": {**kpis(site), "gq": site.gq, "sq": site.sq}, "now": now}


@router.get("/board")
def board(request: Request, principal: Principal = Depends(page_user), engine: Engine = Depends(get_engine)):
    plant = _plant(engine)
    if plant is None:
        raise Problem(404, "Not found", "no plant in this store yet")
    now = datetime.now(timezone.utc)
    return _page(request, "board.html", _context(request, principal, plant, **_board_context(engine, plant, now)))


def _sse(event: str, html: str) -> str:
    data = "\n".join(f"data: {line}" for line in html.splitlines() or [""])
    return f"event: {event}\n{data}\n\n"


@router.get("/board/stream")
async def board_stream(
    request: Request, principal: Principal = Depends(page_user), engine: Engine = Depends(get_engine)
) -> StreamingResponse:
    """Server-sent events: a new tile each time a machine's data changes (no polling)."""
    plant = _plant(engine)
    ctx = _context(request, principal, plant)
    queue = broker.subscribe()

    async def events():
        try:
            yield ": connected\n\n"
            while True:
                try:
                    version, code = await asyncio.wait_for(queue.get(), timeout=HEARTBEAT_S)
                except TimeoutError:
                    yield ": heartbeat\n\n"
                    continue
                changed = {code: version}
                while not queue.empty():
                    v, c = queue.get_nowait()
                    changed[c] = max(v, changed.get(c, 0))
                for changed_code, changed_version in sorted(changed.items()):
                    tile = await _shared_tile(engine, plant, changed_code, changed_version)
                    html = templates.get_template("_tile.html").render({**ctx, "m": tile})
                    yield _sse(f"tile-{tile['code']}", html)
        finally:
            broker.unsubscribe(queue)

    return StreamingResponse(
        events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )


def _tiles(engine: Engine, plant: Plant, now: datetime, codes: list[str]) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return machine_tiles(conn, plant, now, codes)


_tile_futures: dict[tuple[str, int], asyncio.Future] = {}


async def _shared_tile(engine: Engine, plant: Plant, code: str, version: int) -> dict[str, Any]:
    """A machine's tile after change ``version``, read from the store once for all open boards."""
    key = (code, version)
    fut = _tile_futures.get(key)
    if fut is None:
        fut = asyncio.get_running_loop().create_future()
        _tile_futures[key] = fut
        try:
            tiles = await asyncio.to_thread(_tiles, engine, plant, datetime.now(timezone.utc), [code])
            fut.set_result(tiles[0])
        except Exception as exc:  # noqa: BLE001 - every board waiting for this tile gets the error
            fut.set_exception(exc)
        finally:
            # Boards ask for a version right after it is published; older ones are not asked for again.
            for old in [k for k in _tile_futures if k[1] < version - 1000]:
                _tile_futures.pop(old, None)
    return await asyncio.shield(fut)


@router.get("/machines/{code}")
def machine_page(
    code: str, request: Request, principal: Principal = Depends(page_user), engine: Engine = Depends(get_engine)
) -> HTMLResponse:
    plant = _plant(engine)
    try:
        machine = plant.machine(code) if plant else None
    except KeyError:
        machine = None
    if machine is None:
        raise Problem(404, "Not found", f"no machine {code!r}")
    ctx = _context(request, principal, plant)
    t = ctx["t"]
    now = datetime.now(timezone.utc)
    _, window = current_window(plant, now)
    day = Interval(window.start - timedelta(hours=16), now) if window.seconds < 8 * 3600 else window
    with engine.connect() as conn:
        states, _counts = history(conn, code, day)
        hourly = kpi_store.bucketed(conn, plant, [code], day, "hour", now)
    planned = lambda iv: plant.calendar.planned(plant.site.tz, iv)  # noqa: E731
    segments = [
        {"start": span.start.isoformat(), "end": span.end.isoformat(), "state": ev.state.value, "reason": ev.reason}
        for span, ev in state_segments(states, day)
    ]
    pareto = [
        {"reason": r.category, "seconds": r.value, "count": r.count, "cumulative_pct": round(r.cumulative_pct, 1)}
        for r in downtime_by_reason(states, day, planned, t.gettext("(no reason)"))
    ]
    # The target is the ideal output of the product the machine is making now (its order, else its last count).
    with engine.connect() as conn:
        product = machine_tiles(conn, plant, now, [code])[0]["product"]
    cycle = plant.ideal_cycle(product, code)
    target = int(3600 / cycle) if cycle else 0
    ctx.update(
        machine=machine,
        now=now,
        window_start=day.start,
        pareto=pareto,
        target_per_hour=target,
        timeline_json=json.dumps(segments),
        pareto_json=json.dumps(pareto),
        hourly_json=json.dumps([{"hour": label[11:16], "gq": el.gq} for label, _, el in hourly]),
        state_labels_json=json.dumps(
            {s: t.gettext(s) for s in ("running", "idle", "setup", "down", "planned_stop", "no_order")},
            ensure_ascii=False,
        ),
        chart_labels_json=json.dumps(
            {"good": t.gettext("Good"), "target": t.gettext("target"), "minutes": t.gettext("min")}, ensure_ascii=False
        ),
    )
    return _page(request, "machine.html", ctx)


def _terminal_inspections(conn, machine: str, tile: dict[str, Any], now: datetime) -> list[dict[str, Any]]:
    """Characteristics to inspect at the machine for the product it makes, each with whether a sample is due."""
    from shopfloor.store import inspections as insp

    product = tile.get("product")
    if not product:
        return []
    out = []
    for char in insp.characteristics(conn, product=product, machine=machine):
        if char.from_process:
            continue
        out.append({"char": char, **insp.due(conn, char, machine, now)})
    return out


@router.get("/terminal")
def terminal(
    request: Request,
    machine: str | None = None,
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
) -> HTMLResponse:
    plant = _plant(engine)
    if plant is None:
        raise Problem(404, "Not found", "no plant in this store yet")
    chosen = next((m for m in plant.machines if m.code == machine), None)
    tile, ask, minutes, dispatch, inspections = None, False, 0, [], []
    if chosen is not None:
        now = datetime.now(timezone.utc)
        with engine.connect() as conn:
            tile = machine_tiles(conn, plant, now, [chosen.code])[0]
            dispatch = work_orders.dispatch_list(conn, chosen.code)
            inspections = _terminal_inspections(conn, chosen.code, tile, now)
        stopped_for = tile["in_state_s"] or 0
        ask = (
            tile["state"] in ("idle", "down")
            and not tile["reason"]
            and stopped_for >= STOP_QUESTION_AFTER.total_seconds()
        )
        minutes = int(stopped_for // 60)
    ctx = _context(
        request,
        principal,
        plant,
        machines=plant.machines,
        machine=chosen,
        tile=tile,
        ask_reason=ask,
        stop_minutes=minutes,
        dispatch=dispatch,
        inspections=inspections,
        defect_codes=plant.defect_codes or ("DEFECT",),
        downtime_reasons=plant.downtime_reasons or ("OTHER",),
    )
    return _page(request, "terminal.html", ctx)


@router.get("/quality")
def quality_page(
    request: Request,
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
    error: str | None = None,
):
    """Open process alarms (acknowledged here with a comment), the individuals chart of each watched value, the
    inspection characteristics with their state, and nonconformance reports."""
    from sqlalchemy import select

    from shopfloor.analytics import spc
    from shopfloor.analytics.run_rules import evaluate
    from shopfloor.store import spc_monitor
    from shopfloor.store.schema import alarms, machines, measurements, spc_limits

    plant = _plant(engine)
    if plant is None:
        raise Problem(404, "Not found", "no plant in this store yet")
    a, m, ms, lim = alarms.c, machines.c, measurements.c, spc_limits.c
    charts = []
    with engine.connect() as conn:
        open_alarms = conn.execute(
            select(alarms, m.code.label("machine"))
            .join(machines, m.id == a.machine_id)
            .where(a.ack_at.is_(None))
            .order_by(a.id.desc())
            .limit(200)
        ).all()
        config = spc_monitor.watched(plant)
        ids = {row.code: row.id for row in conn.execute(select(m.code, m.id))}
        for (machine, name), (_, rules) in sorted(config.items()):
            limits = conn.execute(select(spc_limits).where(lim.machine_id == ids[machine], lim.name == name)).first()
            rows = conn.execute(
                select(ms.ts, ms.value)
                .where(ms.machine_id == ids[machine], ms.name == name)
                .order_by(ms.ts.desc())
                .limit(100)
            ).all()[::-1]
            if limits is None or len(rows) < 2:
                continue
            chart, _ = spc.imr([r.value for r in rows], centre=limits.centre, sigma=limits.sigma)
            t = _context(request, principal, plant)["t"]
            doc = {
                "ts": [t.time(r.ts) for r in rows],
                "values": [r.value for r in rows],
                "centre": limits.centre,
                "ucl": float(chart.ucl[0]),
                "lcl": float(chart.lcl[0]),
                "violations": sorted({v.index for v in evaluate(chart, rules)}),
            }
            charts.append({"machine": machine, "name": name, "json": json.dumps(doc)})
        from shopfloor.web.quality_views import quality_extras

        extras = quality_extras(conn, principal)
    ctx = _context(
        request,
        principal,
        plant,
        open_alarms=open_alarms,
        charts=charts,
        can_ack=allowed(principal, "acknowledge_alarms"),
        error=error,
        **extras,
    )
    ctx["when"] = ctx["t"].datetime_iso
    return _page(request, "quality.html", ctx)


@router.post("/quality/alarms/{alarm_id}/ack")
def quality_ack(
    alarm_id: int,
    request: Request,
    comment: str = Form(..., min_length=1, max_length=2000),
    csrf_token: str = Form(""),
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
) -> Response:
    from shopfloor.api.routers.alarms import AckIn, acknowledge

    _require_csrf(principal, csrf_token)
    ensure(principal, "acknowledge_alarms")
    acknowledge(alarm_id, AckIn(comment=comment), principal, engine)
    return RedirectResponse("/quality", status_code=303)
