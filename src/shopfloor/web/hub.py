"""The hub's pages: each organisation lands on its own view of ``/hub`` (the office: every project of the
program with its latest month and the roll-ups per program, year and sponsor; a sponsor: its partners' shared
figures; a factory: its projects, what it shares with whom, its keys and the figures it reports itself), a
project's page month by month, and the forms a factory and the office use (consent, withdrawals, self-reported
figures, milestones, ledger corrections).  Times are shown in the organisation's zone, amounts in won, KPIs with
their units; the page speaks Korean to an organisation in Korea unless its user chose another language."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Engine

from shopfloor.actions import hub as actions
from shopfloor.api.deps import Principal, allowed, ensure, get_engine
from shopfloor.api.limited_route import limited_route
from shopfloor.errors import DomainError, HubOnly
from shopfloor.model.outcomes import SELF_REPORTED_LABELS, kpi_label, party_label, spec_of
from shopfloor.reports.best_practices import kpi_text
from shopfloor.store import hub as store
from shopfloor.web.pages import page_context, page_user, render, require_csrf, show_refusal

# Forms of the hub are a few fields each.
router = APIRouter(include_in_schema=False, route_class=limited_route(16 * 1024))


def _hub_user(principal: Principal) -> store.Viewer:
    if not allowed(principal, "hub_view"):
        raise HubOnly()
    return store.Viewer(principal.user.role, principal.user.organisation_id)


def _context(request: Request, principal: Principal, conn, v: store.Viewer, **extra: Any) -> dict[str, Any]:
    org = store.organisation_of(conn, v)
    ctx = page_context(request, principal, None, zone=(org or {}).get("timezone"), org=org, viewer=v, **extra)
    t = ctx["t"]
    ctx.update(
        kpi_label=lambda k: t.gettext(kpi_label(k)),
        party_label=lambda p: t.gettext(party_label(p)),
        kv=lambda k, value: kpi_text(t, k, value),
        unit=lambda k: t.gettext(spec_of(k).unit) if spec_of(k).unit not in ("", "%") else "",
        self_label=lambda item: t.gettext(SELF_REPORTED_LABELS.get(item, item)),
        when=lambda iso: t.datetime_iso(iso) if iso else "–",
        site_name=t.gettext("Smart factory hub"),
    )
    return ctx


def _filters(request: Request) -> dict[str, Any]:
    q = request.query_params
    year = q.get("year", "")
    return {"program": q.get("program") or None, "sponsor": q.get("sponsor") or None, "q": q.get("q") or None,
            "year": int(year) if year.isdigit() and len(year) == 4 else None}  # fmt: skip


def _hub_page(request: Request, principal: Principal, engine: Engine, refusal: DomainError | None = None):
    v = _hub_user(principal)
    filters = _filters(request)
    with engine.connect() as conn:
        ctx = _context(
            request, principal, conn, v,
            filters=filters,
            programs=store.program_list(conn),
            rows=store.dashboard(conn, v, filters),
            groups=store.rollup(conn, v, filters) if v.kind != "factory" else [],
            sponsors=[o for o in store.organisations_seen(conn, v) if o["kind"] == "sponsor"],
            consents=store.consents_of(conn, v) if v.kind == "factory" else [],
            withdrawn=store.withdrawals_of(conn, v) if v.kind == "factory" else [],
            self_reported=store.self_reported_of(conn, v),
            self_items=list(store.SELF_REPORTED),
            shareable=store.SHAREABLE,
            consent_version=store.CONSENT_TEXT_VERSION,
            min_group=store.MIN_GROUP,
            consent_text=store.CONSENT_TEXT,
        )  # fmt: skip
        if v.kind == "factory" and ctx["org"]:
            ctx["keys"] = store.keys_of(conn, v, ctx["org"]["code"])
            ctx["months"] = store.outcomes(conn, v)
    status = show_refusal(ctx, refusal) if refusal else 200
    return render(request, "hub.html", ctx, status)


@router.get("/hub")
def hub_page(request: Request, principal: Principal = Depends(page_user), engine: Engine = Depends(get_engine)):
    return _hub_page(request, principal, engine)


@router.get("/hub/projects/{code}")
def project_page(
    code: str, request: Request, principal: Principal = Depends(page_user), engine: Engine = Depends(get_engine)
):
    v = _hub_user(principal)
    with engine.connect() as conn:
        doc = store.project(conn, v, code)
        ctx = _context(request, principal, conn, v, project=doc, months=store.project_months(conn, v, code))
    return render(request, "hub_project.html", ctx)


async def _form_change(request: Request, principal: Principal, engine: Engine, csrf_token: str, do, back: str):
    """Run a form's action; on a refusal show the hub page again with it (in the reader's language)."""
    require_csrf(principal, csrf_token)
    v = _hub_user(principal)
    try:
        await run_in_threadpool(do, v)
    except DomainError as refusal:
        if back != "/hub":
            raise
        return await run_in_threadpool(_hub_page, request, principal, engine, refusal)
    return RedirectResponse(back, status_code=303)


@router.post("/hub/consents")
async def grant_form(
    request: Request,
    csrf_token: str = Form(""),
    sponsor: str = Form("", max_length=64),
    text_version: str = Form("", max_length=16),
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
) -> Response:
    kpis = [str(k)[:40] for k in (await request.form()).getlist("kpis")][:32]

    def do(v):
        actions.grant_consent(engine, principal.actor, v, sponsor=sponsor, kpis=kpis, text_version=text_version or None)

    return await _form_change(request, principal, engine, csrf_token, do, "/hub")


@router.post("/hub/consents/{cid}/withdraw")
async def withdraw_form(
    cid: int,
    request: Request,
    csrf_token: str = Form(""),
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
) -> Response:
    return await _form_change(request, principal, engine, csrf_token,
                              lambda v: actions.withdraw_consent(engine, principal.actor, v, cid), "/hub")  # fmt: skip


@router.post("/hub/withdrawals")
async def withdraw_figures_form(
    request: Request,
    csrf_token: str = Form(""),
    period: str = Form("", max_length=7),
    kpi: str = Form("", max_length=40),
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
) -> Response:
    def do(v):
        actions.withdraw_figures(engine, principal.actor, v, period=period or None, kpi=kpi or None)

    return await _form_change(request, principal, engine, csrf_token, do, "/hub")


@router.post("/hub/self-reported")
async def self_reported_form(
    request: Request,
    csrf_token: str = Form(""),
    year: str = Form("", max_length=4),
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
) -> Response:
    form = await request.form()
    figures: dict[str, Any] = {}
    for item in store.SELF_REPORTED:
        raw = str(form.get(item, "")).replace(",", "").strip()[:20]
        if raw:
            figures[item] = int(raw) if raw.isdigit() else raw

    def do(v):
        actions.enter_self_reported(engine, principal.actor, v, year=int(year) if year.isdigit() else -1,
                                    figures=figures)  # fmt: skip

    return await _form_change(request, principal, engine, csrf_token, do, "/hub")


@router.post("/hub/projects/{code}/milestones/{milestone}/complete")
async def complete_milestone_form(
    code: str,
    milestone: int,
    request: Request,
    csrf_token: str = Form(""),
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
) -> Response:
    def do(v):
        ensure(principal, "hub_manage")
        actions.complete_milestone(engine, principal.actor, code, milestone)

    return await _form_change(request, principal, engine, csrf_token, do, f"/hub/projects/{code}")


@router.post("/hub/projects/{code}/ledger/{entry}/reverse")
async def reverse_form(
    code: str,
    entry: int,
    request: Request,
    csrf_token: str = Form(""),
    reason: str = Form("", max_length=500),
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
) -> Response:
    def do(v):
        ensure(principal, "hub_manage")
        actions.reverse_ledger_entry(engine, principal.actor, code, entry, reason=reason)

    return await _form_change(request, principal, engine, csrf_token, do, f"/hub/projects/{code}")
