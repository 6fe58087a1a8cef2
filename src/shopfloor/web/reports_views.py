"""The reports page: the production report of a day or shift, for a line or the plant, with its PDF and Excel."""

from __future__ import annotations

from datetime import date, datetime
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import Engine

from shopfloor.actions.demo import last_working_day
from shopfloor.api.deps import Principal, get_engine
from shopfloor.api.errors import Problem
from shopfloor.store.plant import StoreError
from shopfloor.web.views import _context, _page, _plant, page_user

router = APIRouter(include_in_schema=False)


@router.get("/reports")
def reports_page(
    request: Request,
    day: str | None = None,
    shift: str | None = None,
    line: str | None = None,
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
) -> HTMLResponse:
    from shopfloor.actions.production_report import ReportError, production_report, report_window

    plant = _plant(engine)
    if plant is None:
        raise Problem(404, "Not found", "no plant in this store yet")
    ctx = _context(request, principal, plant)
    t = ctx["t"]
    try:
        chosen = date.fromisoformat(day) if day else last_working_day(plant, datetime.now(plant.site.tz).date())
    except ValueError:
        chosen, ctx["error"] = last_working_day(plant, datetime.now(plant.site.tz).date()), f"{day!r} is not a date"
    doc, status = None, 200
    try:
        window = report_window(plant, chosen, shift or None)
        with engine.connect() as conn:
            doc = production_report(conn, plant, window, line=line or None, no_reason=t.gettext("(no reason)"))
    except (ReportError, StoreError) as exc:
        ctx["error"], status = str(exc), 422
    query = (
        {"day": chosen.isoformat(), "lang": t.lang}
        | ({"shift": shift} if shift else {})
        | ({"line": line} if line else {})
    )
    ctx.update(
        doc=doc,
        day=chosen.isoformat(),
        shift=shift,
        line=line,
        shifts=sorted({s.name for s in plant.calendar.shifts}),
        lines=plant.lines,
        api="/api/v1/reports/production?" + urlencode(query),
    )
    return _page(request, "reports.html", ctx, status)
