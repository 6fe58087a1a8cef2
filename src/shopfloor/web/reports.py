"""The reports pages: the production report of a day or shift, for a line or the plant, with its PDF and Excel;
the improvement report, computed in the background with its progress shown; the scheduled reports."""

from __future__ import annotations

from datetime import date, datetime
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from sqlalchemy import Engine

from shopfloor.actions.demo import last_working_day
from shopfloor.actions.improvement_report import (
    daily_svg,
    effect,
    fmt,
    has_values,
    improvement_pdf,
    improvement_report,
    improvement_xlsx,
    over_100_note,
    period,
)
from shopfloor.actions.jobs import start_job
from shopfloor.actions.production_report import production_report, report_window
from shopfloor.actions.scheduled_reports import add_schedule
from shopfloor.api.deps import Principal, ensure, get_engine
from shopfloor.errors import DayInvalid, DomainError, JobNotFound, JobNotReady, ReportFormat, from_dict
from shopfloor.store import jobs
from shopfloor.store import schedules as schedule_store
from shopfloor.web.pages import (
    page_context,
    page_user,
    plant_of,
    plant_or_none,
    render,
    require_csrf,
    show_refusal,
)

router = APIRouter(include_in_schema=False)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get("/reports")
def reports_page(
    request: Request,
    day: str | None = None,
    shift: str | None = None,
    line: str | None = None,
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
) -> HTMLResponse:
    plant = plant_of(engine)
    ctx = page_context(request, principal, plant)
    t = ctx["t"]
    doc, status = None, 200
    chosen = last_working_day(plant, datetime.now(plant.site.tz).date())
    try:
        if day:
            try:
                chosen = date.fromisoformat(day)
            except ValueError:
                raise DayInvalid(value=day) from None
        window = report_window(plant, chosen, shift or None)
        with engine.connect() as conn:
            doc = production_report(conn, plant, window, line=line or None, no_reason=t.gettext("(no reason)"))
    except DomainError as exc:
        status = show_refusal(ctx, exc)
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
    plant = plant_of(engine)
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
    require_csrf(principal, csrf_token)
    plant = plant_of(engine)
    try:
        b, a = period(plant, baseline.strip()), period(plant, after.strip())
    except DomainError as exc:
        ctx = page_context(request, principal, plant, lines=plant.lines, job=None)
        return render(request, "improvement.html", ctx, show_refusal(ctx, exc))

    def work(progress):
        with engine.connect() as conn:
            return improvement_report(conn, plant, b, a, line=line or None, progress=progress)

    params = {"baseline": baseline, "after": after, "line": line}
    job = start_job(engine, principal.actor, principal.user.id, "improvement", params, work)
    return RedirectResponse(f"/reports/jobs/{job.id}", status_code=303)


def _job(engine: Engine, job_id: str, principal: Principal) -> jobs.Job:
    with engine.connect() as conn:
        job = jobs.get(conn, job_id, principal.user.id)
    if job is None:
        raise JobNotFound()
    return job


def _job_context(request: Request, principal: Principal, engine: Engine, job: jobs.Job) -> dict:
    plant = plant_or_none(engine)
    ctx = page_context(request, principal, plant, job=job, lines=plant.lines if plant else [], fmt=fmt,
                       effect=effect, over_100_note=over_100_note)  # fmt: skip
    if job.error:
        ctx["job_error"] = ctx["t"].error(from_dict(job.error))
    if job.finished and job.result is not None:
        t = ctx["t"].gettext
        ctx["charts"] = [(r, Markup(daily_svg(r, t)) if has_values(r) else None) for r in job.result["kpis"]]
    return ctx


@router.get("/reports/jobs/{job_id}")
def job_page(
    job_id: str, request: Request, principal: Principal = Depends(page_user), engine: Engine = Depends(get_engine)
) -> HTMLResponse:
    job = _job(engine, job_id, principal)
    return render(request, "improvement.html", _job_context(request, principal, engine, job))


@router.get("/reports/jobs/{job_id}/progress")
def job_progress(
    job_id: str, request: Request, principal: Principal = Depends(page_user), engine: Engine = Depends(get_engine)
) -> Response:
    """The progress fragment the page polls; when the run has ended it tells htmx to load the whole page."""
    job = _job(engine, job_id, principal)
    if job.finished:
        return Response(status_code=200, headers={"HX-Redirect": f"/reports/jobs/{job.id}"})
    return render(request, "_progress.html", _job_context(request, principal, engine, job))


@router.get("/reports/jobs/{job_id}/file.{fmt_}")
def job_file(
    job_id: str,
    fmt_: str,
    request: Request,
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
) -> Response:
    job = _job(engine, job_id, principal)
    if not job.finished or job.result is None:
        raise JobNotReady()
    t = page_context(request, principal, plant_or_none(engine))["t"]
    if fmt_ == "pdf":
        return Response(improvement_pdf(job.result, t.gettext, t.datetime_iso), media_type="application/pdf")
    if fmt_ == "xlsx":
        return Response(
            improvement_xlsx(job.result, t.gettext),
            media_type=XLSX,
            headers={"Content-Disposition": 'attachment; filename="improvement.xlsx"'},
        )
    raise ReportFormat(format=fmt_)


# -- scheduled reports: status and new schedules (managers and admins) --------------------------------------
def _schedules_page(
    request: Request, principal: Principal, engine: Engine, refusal: DomainError | None = None
) -> HTMLResponse:
    ensure(principal, "manage_reports")
    plant = plant_or_none(engine)
    with engine.connect() as conn:
        rows = schedule_store.listing(conn)
    ctx = page_context(request, principal, plant, schedules=rows, lines=plant.lines if plant else [])
    status = show_refusal(ctx, refusal) if refusal is not None else 200
    return render(request, "schedules.html", ctx, status)


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
    require_csrf(principal, csrf_token)
    ensure(principal, "manage_reports")
    try:
        add_schedule(engine, principal.actor, name=name, period=period, delivery=delivery, target=target,
                     line=line or None, formats=formats, lang=lang,
                     roots=request.app.state.settings.report_folders)  # fmt: skip
    except DomainError as exc:
        return _schedules_page(request, principal, engine, exc)
    return RedirectResponse("/admin/reports", status_code=303)
