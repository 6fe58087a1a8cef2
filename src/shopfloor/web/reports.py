"""The reports page: the production report of a day or shift, for a line or the plant, with its PDF and Excel."""

from __future__ import annotations

from datetime import date, datetime
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Engine

from shopfloor.actions.demo import last_working_day
from shopfloor.api.deps import Principal, ensure, get_engine
from shopfloor.api.errors import Problem
from shopfloor.store.plant import StoreError
from shopfloor.web.jobs import jobs
from shopfloor.web.pages import page_context, page_user, plant_or_none, render, require_csrf

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

    plant = plant_or_none(engine)
    if plant is None:
        raise Problem(404, "Not found", "no plant in this store yet")
    ctx = page_context(request, principal, plant)
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
    return render(request, "reports.html", ctx, status)


# -- the improvement report: computed in the background, the page shows its progress ------------------------
@router.get("/reports/improvement")
def improvement_form(
    request: Request, principal: Principal = Depends(page_user), engine: Engine = Depends(get_engine)
) -> HTMLResponse:
    plant = plant_or_none(engine)
    if plant is None:
        raise Problem(404, "Not found", "no plant in this store yet")
    ctx = page_context(request, principal, plant, lines=plant.lines, job=None)
    return render(request, "improvement.html", ctx)


@router.post("/reports/improvement")
def improvement_start(
    request: Request,
    baseline: str = Form(...),
    after: str = Form(...),
    line: str = Form(""),
    csrf_token: str = Form(""),
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
) -> Response:
    from shopfloor.actions.improvement_report import ImprovementError, improvement_report, period

    require_csrf(principal, csrf_token)
    plant = plant_or_none(engine)
    if plant is None:
        raise Problem(404, "Not found", "no plant in this store yet")
    try:
        b, a = period(plant, baseline.strip()), period(plant, after.strip())
    except ImprovementError as exc:
        ctx = page_context(request, principal, plant, lines=plant.lines, job=None, error=str(exc))
        return render(request, "improvement.html", ctx, 422)

    def work(progress):
        with engine.connect() as conn:
            return improvement_report(conn, plant, b, a, line=line or None, progress=progress)

    job = jobs.start(principal.user.id, "improvement", {"baseline": baseline, "after": after, "line": line}, work)
    return RedirectResponse(f"/reports/jobs/{job.id}", status_code=303)


def _job_or_404(job_id: str, principal: Principal):
    job = jobs.get(job_id, principal.user.id)
    if job is None:
        raise Problem(404, "Not found", "no such report run (it may have expired)")
    return job


def _job_context(request: Request, principal: Principal, engine: Engine, job) -> dict:
    from shopfloor.actions.improvement_report import daily_svg, fmt

    plant = plant_or_none(engine)
    ctx = page_context(request, principal, plant, job=job, lines=plant.lines if plant else [], fmt=fmt)
    if job.finished and job.result is not None:
        from markupsafe import Markup

        ctx["charts"] = [(r, Markup(daily_svg(r))) for r in job.result["kpis"]]
    return ctx


@router.get("/reports/jobs/{job_id}")
def job_page(
    job_id: str, request: Request, principal: Principal = Depends(page_user), engine: Engine = Depends(get_engine)
) -> HTMLResponse:
    job = _job_or_404(job_id, principal)
    return render(request, "improvement.html", _job_context(request, principal, engine, job))


@router.get("/reports/jobs/{job_id}/progress")
def job_progress(
    job_id: str, request: Request, principal: Principal = Depends(page_user), engine: Engine = Depends(get_engine)
) -> Response:
    """The progress fragment the page polls; when the run has ended it tells htmx to load the whole page."""
    job = _job_or_404(job_id, principal)
    if job.finished:
        return Response(status_code=200, headers={"HX-Redirect": f"/reports/jobs/{job.id}"})
    ctx = _job_context(request, principal, engine, job)
    return render(request, "_progress.html", ctx)


@router.get("/reports/jobs/{job_id}/file.{fmt_}")
def job_file(
    job_id: str,
    fmt_: str,
    request: Request,
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
) -> Response:
    from shopfloor.actions.improvement_report import improvement_pdf, improvement_xlsx

    job = _job_or_404(job_id, principal)
    if not job.finished or job.result is None:
        raise Problem(409, "Conflict", "the report is not ready")
    t = page_context(request, principal, plant_or_none(engine))["t"]
    if fmt_ == "pdf":
        return Response(improvement_pdf(job.result, t.gettext), media_type="application/pdf")
    if fmt_ == "xlsx":
        return Response(
            improvement_xlsx(job.result, t.gettext),
            media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            headers={"Content-Disposition": 'attachment; filename="improvement.xlsx"'},
        )
    raise Problem(404, "Not found", f"no {fmt_!r} version")


# -- scheduled reports: status and new schedules (managers and admins) --------------------------------------
def _schedules_page(request: Request, principal: Principal, engine: Engine, error: str | None = None, code: int = 200):
    from shopfloor.actions.scheduled_reports import listing

    ensure(principal, "manage_reports")
    plant = plant_or_none(engine)
    with engine.connect() as conn:
        rows = listing(conn)
    ctx = page_context(request, principal, plant, schedules=rows, lines=plant.lines if plant else [], error=error)
    return render(request, "schedules.html", ctx, code)


@router.get("/admin/reports")
def schedules_page(
    request: Request, principal: Principal = Depends(page_user), engine: Engine = Depends(get_engine)
) -> HTMLResponse:
    return _schedules_page(request, principal, engine)


@router.post("/admin/reports")
def schedules_add(
    request: Request,
    name: str = Form(...),
    period: str = Form("day"),
    delivery: str = Form("folder"),
    target: str = Form(...),
    line: str = Form(""),
    formats: str = Form("pdf"),
    lang: str = Form("en"),
    csrf_token: str = Form(""),
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
) -> Response:
    from shopfloor.actions.scheduled_reports import ScheduleError, add_schedule
    from shopfloor.store import audit
    from shopfloor.store.db import writing

    require_csrf(principal, csrf_token)
    ensure(principal, "manage_reports")
    plant = plant_or_none(engine)
    if plant is None:
        raise Problem(404, "Not found", "no plant in this store yet")
    try:
        with writing(engine) as conn:
            doc = add_schedule(conn, plant, name=name, period=period, delivery=delivery, target=target,
                               line=line or None, formats=formats, lang=lang)  # fmt: skip
            audit.record(conn, principal.actor, "report.schedule", f"schedule:{doc['name']}", doc)
    except ScheduleError as exc:
        return _schedules_page(request, principal, engine, str(exc), 422)
    return RedirectResponse("/admin/reports", status_code=303)
