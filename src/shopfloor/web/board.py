"""The live board (every machine as a tile, updated over server-sent events) and a machine's page."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, StreamingResponse
from markupsafe import Markup
from sqlalchemy import Engine

from shopfloor.actions.board import current_window, machine_tiles
from shopfloor.analytics.kpi import KpiElements, kpis, over_100
from shopfloor.analytics.pareto import downtime_by_reason, state_segments
from shopfloor.api.deps import Principal, get_engine
from shopfloor.errors import MachineNotFound
from shopfloor.live import broker
from shopfloor.model.intervals import Interval
from shopfloor.model.plant import Plant
from shopfloor.reports.charts import hourly_svg, pareto_svg, timeline_svg
from shopfloor.store import kpi as kpi_store
from shopfloor.store.events import history
from shopfloor.web.pages import page_context, page_user, plant_of, plant_or_none, render, templates

router = APIRouter(include_in_schema=False)
HEARTBEAT_S = 15.0
# The plant's and lines' totals follow a changed tile within this many seconds (read once for all open boards).
SUMMARY_EVERY_S = 1.0


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
        figures = kpis(per_line[ln["code"]])
        ln["oee"], ln["over_100"] = figures["oee"], bool(over_100(figures))
    site = KpiElements.sum(per_line.values())
    site_figures = kpis(site)
    return {"lines": lines, "site": {**site_figures, "gq": site.gq, "sq": site.sq,
                                     "over_100": bool(over_100(site_figures))}, "now": now}  # fmt: skip


@router.get("/board")
def board(
    request: Request,
    tv: bool = False,
    rotate: int = Query(0, ge=0, le=3600, description="TV mode: seconds each line is shown; 0 shows all at once"),
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
):
    """The live board; ``tv=1`` is the kiosk mode for a screen on the wall: no menu, dark, every machine on one
    screen in a grid fitted to it, or one line after another every ``rotate`` seconds."""
    plant = plant_of(engine)
    now = datetime.now(timezone.utc)
    ctx = page_context(request, principal, plant, tv=tv, rotate=rotate, **_board_context(engine, plant, now))
    return render(request, "board.html", ctx)


def _sse(event: str, html: str) -> str:
    data = "\n".join(f"data: {line}" for line in html.splitlines() or [""])
    return f"event: {event}\n{data}\n\n"


@router.get("/board/stream")
async def board_stream(
    request: Request, principal: Principal = Depends(page_user), engine: Engine = Depends(get_engine)
) -> StreamingResponse:
    """Server-sent events: a new tile each time a machine's data changes (no polling)."""
    plant = plant_or_none(engine)
    ctx = page_context(request, principal, plant)
    queue = broker.subscribe()

    async def summary() -> str:
        board_ctx = await _shared_summary(engine, plant)
        return _sse("summary", templates.get_template("_summary.html").render({**ctx, **board_ctx}))

    async def events():
        loop = asyncio.get_running_loop()
        last_summary, dirty = loop.time(), False
        try:
            yield ": connected\n\n"
            while True:
                # Totals after a change as soon as SUMMARY_EVERY_S allows, and at each heartbeat anyway (the
                # shift's OEE moves with time even when no machine reports).
                due = SUMMARY_EVERY_S if dirty else HEARTBEAT_S
                try:
                    wait = max(due - (loop.time() - last_summary), 0.05)
                    version, code = await asyncio.wait_for(queue.get(), timeout=wait)
                except TimeoutError:
                    if plant is not None:
                        yield await summary()
                    else:
                        yield ": heartbeat\n\n"
                    last_summary, dirty = loop.time(), False
                    continue
                dirty = True
                changed = {code: version}
                while not queue.empty():
                    v, c = queue.get_nowait()
                    changed[c] = max(v, changed.get(c, 0))
                for changed_code, changed_version in sorted(changed.items()):
                    tile = await _shared_tile(engine, plant, changed_code, changed_version)
                    html = templates.get_template("_tile.html").render({**ctx, "m": tile})
                    yield _sse(f"tile-{tile['code']}", html)
                if plant is not None and loop.time() - last_summary >= SUMMARY_EVERY_S:  # changes without a pause
                    yield await summary()
                    last_summary, dirty = loop.time(), False
        finally:
            broker.unsubscribe(queue)

    return StreamingResponse(
        events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )


_summary_cache: dict[str, Any] = {"at": 0.0, "future": None}


async def _shared_summary(engine: Engine, plant: Plant) -> dict[str, Any]:
    """The plant's and lines' totals, read from the store at most once per SUMMARY_EVERY_S for all open boards."""
    loop = asyncio.get_running_loop()
    fut = _summary_cache["future"]
    if fut is None or loop.time() - _summary_cache["at"] >= SUMMARY_EVERY_S * 0.9 or fut.get_loop() is not loop:
        fut = loop.create_future()
        _summary_cache.update(at=loop.time(), future=fut)
        try:
            fut.set_result(await asyncio.to_thread(_board_context, engine, plant, datetime.now(timezone.utc)))
        except Exception as exc:  # noqa: BLE001 - every board waiting for it gets the error
            fut.set_exception(exc)
    return await asyncio.shield(fut)


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


def _machine(engine: Engine, code: str):
    plant = plant_or_none(engine)
    try:
        machine = plant.machine(code) if plant else None
    except KeyError:
        machine = None
    if machine is None:
        raise MachineNotFound(machine=code)
    return plant, machine


def _machine_charts(engine: Engine, plant: Plant, code: str, ctx: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The machine page's charts as inline SVG (``shopfloor.reports.charts``): the state timeline of the shift (at
    least the last 8 hours) in the site's zone, good output per hour against the target of the product being made,
    downtime by reason."""
    t = ctx["t"]
    empty = t.gettext("No data to plot")
    _, window = current_window(plant, now)
    day = Interval(window.start - timedelta(hours=16), now) if window.seconds < 8 * 3600 else window
    with engine.connect() as conn:
        states, _counts = history(conn, code, day)
        hourly = kpi_store.bucketed(conn, plant, [code], day, "hour", now)
        # The target is the ideal output of the product the machine is making now (its order, else its last count).
        tile = machine_tiles(conn, plant, now, [code])[0]
    planned = lambda iv: plant.calendar.planned(plant.site.tz, iv)  # noqa: E731
    segments = [
        (span.start, span.end, ev.state.value, f"{t.gettext(ev.state.value)} {ev.reason or ''}\n"
         f"{t.datetime(span.start)} – {t.time(span.end)}".replace(" \n", "\n"))
        for span, ev in state_segments(states, day)
    ]  # fmt: skip
    pareto = [
        {"reason": ctx["code_name"](r.category), "seconds": r.value, "count": r.count,
         "cumulative_pct": round(r.cumulative_pct, 1)}
        for r in downtime_by_reason(states, day, planned, t.gettext("(no reason)"))
    ]  # fmt: skip
    cycle = plant.ideal_cycle(tile["product"], code)
    target = int(3600 / cycle) if cycle else 0
    hours = [(label[11:16], el.gq) for label, _, el in hourly]
    charts = {
        "m": tile,
        "now": now,
        "window_start": day.start,
        "pareto": pareto,
        "target_per_hour": target,
        "timeline_svg": timeline_svg(segments, day.start, now, plant.site.tz, empty=empty),
        "hourly_svg": hourly_svg(hours, target, good=t.gettext("Good"), target_label=t.gettext("target"), empty=empty),
        "pareto_svg": pareto_svg(
            [(r["reason"], r["seconds"] / 60, r["cumulative_pct"]) for r in pareto],
            minutes=t.gettext("min"),
            empty=empty,
        ),
    }
    for key in ("timeline_svg", "hourly_svg", "pareto_svg"):
        charts[key] = Markup(charts[key])  # noqa: S704 - SVG with its text escaped
    return charts


def _machine_page(request: Request, principal: Principal, engine: Engine, code: str, template: str) -> HTMLResponse:
    plant, machine = _machine(engine, code)
    ctx = page_context(request, principal, plant)
    ctx.update(machine=machine, site_zone=plant.site.timezone)
    ctx.update(_machine_charts(engine, plant, code, ctx, datetime.now(timezone.utc)))
    return render(request, template, ctx)


@router.get("/machines/{code}")
def machine_page(
    code: str, request: Request, principal: Principal = Depends(page_user), engine: Engine = Depends(get_engine)
) -> HTMLResponse:
    return _machine_page(request, principal, engine, code, "machine.html")


@router.get("/machines/{code}/charts")
def machine_charts(
    code: str, request: Request, principal: Principal = Depends(page_user), engine: Engine = Depends(get_engine)
) -> HTMLResponse:
    """The machine page's charts alone: the page fetches them again when the machine's tile changes."""
    return _machine_page(request, principal, engine, code, "_machine_charts.html")
