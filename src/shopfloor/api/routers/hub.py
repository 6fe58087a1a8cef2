"""The hub's REST API (mounted by ``shopfloor serve --hub``): organisations and factory keys, programs and their
funding rules, projects with their ledger and milestones, consents, withdrawals and signed outcome reports,
self-reported figures, and the views of each kind of organisation (dashboard, roll-up, Excel, best practices).
Every answer is limited to what the caller's organisation may see; anything else is not found.  Every body is
read only once the caller is known, and is at most ``BODY_LIMIT`` bytes."""

from __future__ import annotations

import base64
import binascii
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import Engine

from shopfloor.actions import hub as actions
from shopfloor.api.deps import Principal, get_engine, require
from shopfloor.api.errors import problem_responses
from shopfloor.api.limited_route import limited_route
from shopfloor.errors import KpiUnknown, NotReadable, PublicKeyInvalid, ReportLanguage
from shopfloor.i18n import LANGUAGES, Translator, accepted_language, default_language
from shopfloor.model.funding import PartyLimit, Rule
from shopfloor.reports.best_practices import best_practices_pdf as render_best_practices
from shopfloor.reports.hub_workbook import rollup_xlsx
from shopfloor.store import hub as store

# A hub request is small (a report is a dozen figures, a project a few hundred bytes of text).
BODY_LIMIT = store.REPORT_BODY_LIMIT
router = APIRouter(prefix="/api/v1/hub", tags=["hub"], route_class=limited_route(BODY_LIMIT))
CODE = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
PARTY = r"^[a-z][a-z0-9_]{0,31}$"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
Strict = ConfigDict(extra="forbid")


def viewer(principal: Principal) -> store.Viewer:
    return store.Viewer(principal.user.role, principal.user.organisation_id)


def _read(engine: Engine, fn):
    with engine.connect() as conn:
        return fn(conn)


class OrganisationIn(BaseModel):
    model_config = Strict
    code: str = Field(min_length=1, max_length=64, pattern=CODE)
    name: str = Field(min_length=1, max_length=200)
    kind: Literal["office", "sponsor", "factory"]
    public_key: str | None = Field(None, max_length=64, description="A factory's Ed25519 public key, base64")
    timezone: str = Field("Asia/Seoul", max_length=64, description="IANA zone its people read times in")


class KeyIn(BaseModel):
    model_config = Strict
    public_key: str = Field(max_length=64, description="The factory's new Ed25519 public key, base64")


class RevokeIn(BaseModel):
    model_config = Strict
    reason: str = Field(min_length=1, max_length=500)


class ProgramIn(BaseModel):
    model_config = Strict
    code: str = Field(min_length=1, max_length=64, pattern=CODE)
    name: str = Field(min_length=1, max_length=200)
    kpis: list[str] | None = Field(None, max_length=32, description="KPIs the program follows (default: the six)")


class PartyLimitIn(BaseModel):
    model_config = Strict
    min_pct: Decimal | None = Field(None, ge=0, le=100, max_digits=7, decimal_places=4)
    max_pct: Decimal | None = Field(None, ge=0, le=100, max_digits=7, decimal_places=4)
    cap: int | None = Field(None, ge=0, le=10**15, description="At most this many won")


class RuleIn(BaseModel):
    model_config = Strict
    type: str = Field(min_length=1, max_length=32, description="The project type (basic, co-operative, ...)")
    year: int = Field(ge=2000, le=2100)
    effective_from: date
    effective_to: date | None = None
    total_min: int | None = Field(None, ge=0, le=10**15)
    total_max: int | None = Field(None, ge=0, le=10**15)
    parties: dict[str, PartyLimitIn] = Field(max_length=16, description="Per party (state, sponsor, sme, local)")
    note: str | None = Field(None, max_length=1000)


class ProjectIn(BaseModel):
    model_config = Strict
    code: str = Field(min_length=1, max_length=64, pattern=CODE)
    name: str | None = Field(None, max_length=200)
    program: str = Field(max_length=64)
    type: str = Field(max_length=32)
    year: int = Field(ge=2000, le=2100)
    agreed_on: date | None = Field(None, description="The agreement's day (default today): its rule applies")
    factory: str = Field(max_length=64)
    sponsor: str = Field(max_length=64)
    budget: int = Field(ge=1, le=10**15, description="The project total in won")
    shares: dict[str, int] = Field(max_length=16, description="Won per party: state, sponsor, sme, local, ...")
    baseline: dict[str, float] = Field(default_factory=dict, max_length=32, description="KPI values before")
    target: dict[str, float] = Field(default_factory=dict, max_length=32)
    description: str | None = Field(None, max_length=4000)


class ProjectChange(BaseModel):
    model_config = Strict
    name: str | None = Field(None, max_length=200)
    agreed_on: date | None = None
    budget: int | None = Field(None, ge=1, le=10**15)
    shares: dict[str, int] | None = Field(None, max_length=16)
    baseline: dict[str, float] | None = Field(None, max_length=32)
    target: dict[str, float] | None = Field(None, max_length=32)
    description: str | None = Field(None, max_length=4000)


class LedgerIn(BaseModel):
    model_config = Strict
    party: str = Field(max_length=32, pattern=PARTY)
    kind: Literal["contribution", "payment"]
    amount: int = Field(gt=0, le=10**15)
    note: str | None = Field(None, max_length=500)
    ts: AwareDatetime | None = None


class ReverseIn(BaseModel):
    model_config = Strict
    reason: str = Field(min_length=1, max_length=500)


class MilestoneIn(BaseModel):
    model_config = Strict
    name: str = Field(min_length=1, max_length=200)
    due: AwareDatetime


class DoneIn(BaseModel):
    model_config = Strict
    done_at: AwareDatetime | None = None


class ConsentIn(BaseModel):
    model_config = Strict
    sponsor: str = Field(max_length=64)
    kpis: list[str] = Field(min_length=1, max_length=32)
    granularity: Literal["month"] = "month"
    text_version: str = Field(max_length=16, description="The version of the consent text agreed to")


class WithdrawalIn(BaseModel):
    model_config = Strict
    period: str | None = Field(None, max_length=7, description="A month, YYYY-MM")
    kpi: str | None = Field(None, max_length=40)


class SelfReportedIn(BaseModel):
    model_config = Strict
    year: int
    figures: dict[str, int] = Field(max_length=8, description="sales and manufacturing_cost in won, employees")


def _filters(
    program: str | None = Query(None, max_length=64),
    year: int | None = Query(None, ge=2000, le=2100),
    sponsor: str | None = Query(None, max_length=64),
    type: str | None = Query(None, max_length=32),
    q: str | None = Query(None, max_length=100, description="Part of a factory's code or name, or a project's"),
) -> dict[str, Any]:
    return {"program": program, "year": year, "sponsor": sponsor, "type": type, "q": q}


@router.get("/me", responses=problem_responses(401, 403), summary="The caller's organisation")
def me(principal: Principal = Depends(require("hub_view")), engine: Engine = Depends(get_engine)) -> dict:
    doc = _read(engine, lambda c: store.organisation_of(c, viewer(principal)))
    return doc or {"kind": principal.user.role}


@router.get("/organisations", responses=problem_responses(401, 403), summary="Organisations the caller may see")
def list_organisations(principal: Principal = Depends(require("hub_view")), engine: Engine = Depends(get_engine)):
    return _read(engine, lambda c: store.organisations_seen(c, viewer(principal)))


def _key(text: str | None) -> bytes | None:
    if not text:
        return None
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise PublicKeyInvalid() from None


@router.post(
    "/organisations",
    status_code=201,
    responses=problem_responses(401, 403, 409, 413, 422),
    summary="Register an organisation (program office)",
)
def add_organisation(
    body: OrganisationIn, principal: Principal = Depends(require("hub_manage")), engine: Engine = Depends(get_engine)
) -> dict:
    return actions.add_organisation(
        engine,
        principal.actor,
        code=body.code,
        name=body.name,
        kind=body.kind,
        public_key=_key(body.public_key),
        timezone=body.timezone,
    )


@router.post(
    "/organisations/{code}/keys",
    status_code=201,
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Register a factory's key (a first one, or one replacing a lost key); the key in use retires",
)
def add_key(
    code: str, body: KeyIn, principal: Principal = Depends(require("hub_manage")), engine: Engine = Depends(get_engine)
) -> dict:
    return actions.add_key(engine, principal.actor, code, public_key=_key(body.public_key) or b"")


@router.get(
    "/organisations/{code}/keys",
    responses=problem_responses(401, 403, 404),
    summary="A factory's keys, with the months each one signed",
)
def list_keys(code: str, principal: Principal = Depends(require("hub_view")), engine: Engine = Depends(get_engine)):
    return _read(engine, lambda c: store.keys_of(c, viewer(principal), code))


@router.post(
    "/organisations/{code}/keys/{key}/revoke",
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Revoke a factory's key: it signs nothing more (the office, or the factory itself)",
)
def revoke_key(
    code: str,
    key: str,
    body: RevokeIn,
    principal: Principal = Depends(require("hub_view")),
    engine: Engine = Depends(get_engine),
) -> dict:
    return actions.revoke_key(engine, principal.actor, viewer(principal), code, key=key, reason=body.reason)


@router.get(
    "/organisations/{code}/signatures",
    responses=problem_responses(401, 403, 404),
    summary="Each current month of a factory verified again against the key that signed it",
)
def list_signatures(
    code: str, principal: Principal = Depends(require("hub_view")), engine: Engine = Depends(get_engine)
):
    return _read(engine, lambda c: store.signatures(c, viewer(principal), code))


@router.post(
    "/keys/rotate",
    responses=problem_responses(401, 403, 409, 422),
    summary="A factory replaces its key: the new public key, signed with the key in use",
)
async def rotate_key(
    request: Request, principal: Principal = Depends(require("hub_share")), engine: Engine = Depends(get_engine)
) -> dict:
    envelope = await _json(request)
    return await run_in_threadpool(actions.rotate_key, engine, principal.actor, viewer(principal), envelope)


@router.get("/programs", responses=problem_responses(401, 403), summary="Programs and the KPIs each follows")
def list_programs(principal: Principal = Depends(require("hub_view")), engine: Engine = Depends(get_engine)):
    return _read(engine, store.program_list)


@router.post("/programs", status_code=201, responses=problem_responses(401, 403, 409, 422), summary="A program")
def add_program(
    body: ProgramIn, principal: Principal = Depends(require("hub_manage")), engine: Engine = Depends(get_engine)
) -> dict:
    return actions.add_program(engine, principal.actor, code=body.code, name=body.name, kpis=body.kpis)


@router.get("/programs/{code}", responses=problem_responses(401, 403, 404), summary="A program and its rules")
def get_program(code: str, principal: Principal = Depends(require("hub_view")), engine: Engine = Depends(get_engine)):
    return _read(engine, lambda c: store.program(c, code))


@router.get("/programs/{code}/rules", responses=problem_responses(401, 403, 404), summary="A program's rules")
def list_rules(code: str, principal: Principal = Depends(require("hub_view")), engine: Engine = Depends(get_engine)):
    return _read(engine, lambda c: store.program(c, code)["rules"])


@router.post(
    "/programs/{code}/rules",
    responses=problem_responses(401, 403, 404, 422),
    summary="Set the rule of a project type and year from the day it takes effect",
)
def set_rule(
    code: str, body: RuleIn, principal: Principal = Depends(require("hub_manage")), engine: Engine = Depends(get_engine)
) -> dict:
    parties = tuple(PartyLimit(p, v.min_pct, v.max_pct, v.cap) for p, v in body.parties.items())
    rule = Rule(
        code,
        body.type,
        body.year,
        body.effective_from,
        parties,
        body.effective_to,
        body.total_min,
        body.total_max,
        body.note,
    )
    return actions.set_funding_rule(engine, principal.actor, rule)


@router.get(
    "/programs/{code}/totals",
    responses=problem_responses(401, 403, 404),
    summary="A program's budgets and money per party, sponsor and year, for the projects the caller sees",
)
def totals(code: str, principal: Principal = Depends(require("hub_view")), engine: Engine = Depends(get_engine)):
    return _read(engine, lambda c: store.totals(c, viewer(principal), code))


@router.get(
    "/funding",
    responses=problem_responses(401, 403),
    summary="Money per program, year, sponsor and party: committed, contributed, paid",
)
def funding(
    filters: dict = Depends(_filters),
    principal: Principal = Depends(require("hub_view")),
    engine: Engine = Depends(get_engine),
):
    return _read(engine, lambda c: store.funding(c, viewer(principal), filters))


@router.post(
    "/projects",
    status_code=201,
    responses=problem_responses(401, 403, 404, 409, 413, 422),
    summary="A project; its shares are checked against the rule in force on its agreement day",
)
def add_project(
    body: ProjectIn, principal: Principal = Depends(require("hub_manage")), engine: Engine = Depends(get_engine)
) -> dict:
    return actions.add_project(engine, principal.actor, body.model_dump())


@router.get("/projects", responses=problem_responses(401, 403), summary="Projects the caller may see")
def list_projects(
    filters: dict = Depends(_filters),
    principal: Principal = Depends(require("hub_view")),
    engine: Engine = Depends(get_engine),
):
    return _read(engine, lambda c: store.project_list(c, viewer(principal), filters))


@router.get(
    "/projects/{code}",
    responses=problem_responses(401, 403, 404),
    summary="A project, its rule, shares, money per party, milestones and ledger",
)
def get_project(code: str, principal: Principal = Depends(require("hub_view")), engine: Engine = Depends(get_engine)):
    return _read(engine, lambda c: store.project(c, viewer(principal), code))


@router.patch(
    "/projects/{code}",
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Edit a project (checked again against its rule and its ledger)",
)
def edit_project(
    code: str,
    body: ProjectChange,
    principal: Principal = Depends(require("hub_manage")),
    engine: Engine = Depends(get_engine),
) -> dict:
    return actions.update_project(engine, principal.actor, code, body.model_dump(exclude_unset=True))


@router.get(
    "/projects/{code}/months",
    responses=problem_responses(401, 403, 404),
    summary="A project month by month: per KPI baseline, target, value, attainment; partial months marked",
)
def project_months(
    code: str, principal: Principal = Depends(require("hub_view")), engine: Engine = Depends(get_engine)
):
    return _read(engine, lambda c: store.project_months(c, viewer(principal), code))


@router.post(
    "/projects/{code}/ledger",
    status_code=201,
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="A contribution or payment of a party, never beyond its commitment",
)
def add_ledger(
    code: str,
    body: LedgerIn,
    principal: Principal = Depends(require("hub_manage")),
    engine: Engine = Depends(get_engine),
) -> dict:
    return actions.add_ledger_entry(engine, principal.actor, code, **body.model_dump())


@router.post(
    "/projects/{code}/ledger/{entry}/reverse",
    status_code=201,
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Correct a ledger entry by a reversing entry, with the reason",
)
def reverse_ledger(
    code: str,
    entry: int,
    body: ReverseIn,
    principal: Principal = Depends(require("hub_manage")),
    engine: Engine = Depends(get_engine),
) -> dict:
    return actions.reverse_ledger_entry(engine, principal.actor, code, entry, reason=body.reason)


@router.post(
    "/projects/{code}/milestones",
    status_code=201,
    responses=problem_responses(401, 403, 404, 422),
    summary="A milestone of a project",
)
def add_milestone(
    code: str,
    body: MilestoneIn,
    principal: Principal = Depends(require("hub_manage")),
    engine: Engine = Depends(get_engine),
) -> dict:
    return actions.add_milestone(engine, principal.actor, code, name=body.name, due=body.due)


@router.post(
    "/projects/{code}/milestones/{milestone}/complete",
    responses=problem_responses(401, 403, 404, 409),
    summary="Mark a milestone done",
)
def complete_milestone(
    code: str,
    milestone: int,
    body: DoneIn,
    principal: Principal = Depends(require("hub_manage")),
    engine: Engine = Depends(get_engine),
) -> dict:
    return actions.complete_milestone(engine, principal.actor, code, milestone, done_at=body.done_at)


@router.get(
    "/consent-text",
    responses=problem_responses(401, 403),
    summary="The consent text a factory agrees to, with its version, in the caller's language",
)
def get_consent_text(
    request: Request, principal: Principal = Depends(require("hub_view")), engine: Engine = Depends(get_engine)
) -> dict:
    t = _translator(request, principal, engine, None)
    return {
        "version": store.CONSENT_TEXT_VERSION,
        "lang": t.lang,
        "text": [t.gettext(p, min_group=store.MIN_GROUP) for p in store.CONSENT_TEXT],
    }


@router.get("/consents", responses=problem_responses(401, 403), summary="Consents of the caller")
def list_consents(principal: Principal = Depends(require("hub_view")), engine: Engine = Depends(get_engine)):
    return _read(engine, lambda c: store.consents_of(c, viewer(principal)))


@router.post(
    "/consents",
    status_code=201,
    responses=problem_responses(401, 403, 404, 422),
    summary="A factory agrees to share monthly KPIs with one of its projects' sponsors",
)
def grant(
    body: ConsentIn, principal: Principal = Depends(require("hub_share")), engine: Engine = Depends(get_engine)
) -> dict:
    return actions.grant_consent(engine, principal.actor, viewer(principal), **body.model_dump())


@router.post(
    "/consents/{cid}/withdraw",
    responses=problem_responses(401, 403, 404, 409),
    summary="Withdraw a consent: the sponsor no longer sees what was shared under it",
)
def withdraw(cid: int, principal: Principal = Depends(require("hub_share")), engine: Engine = Depends(get_engine)):
    return actions.withdraw_consent(engine, principal.actor, viewer(principal), cid)


@router.get("/withdrawals", responses=problem_responses(401, 403), summary="The months and KPIs the caller withdrew")
def list_withdrawals(principal: Principal = Depends(require("hub_share")), engine: Engine = Depends(get_engine)):
    return _read(engine, lambda c: store.withdrawals_of(c, viewer(principal)))


@router.post(
    "/withdrawals",
    status_code=201,
    responses=problem_responses(401, 403, 422),
    summary="Take back a month, a KPI or a KPI of a month from the sponsors' and the office's view",
)
def withdraw_figures(
    body: WithdrawalIn, principal: Principal = Depends(require("hub_share")), engine: Engine = Depends(get_engine)
) -> dict:
    return actions.withdraw_figures(engine, principal.actor, viewer(principal), period=body.period, kpi=body.kpi)


async def _json(request: Request) -> Any:
    try:
        return await request.json()
    except ValueError as exc:
        raise NotReadable(expected="JSON", reason=str(exc)[:200]) from None


@router.post(
    "/reports",
    status_code=201,
    responses=problem_responses(401, 403, 409, 413, 422),
    summary="A factory's signed monthly outcome report (Ed25519 over canonical JSON)",
)
async def receive(
    request: Request, principal: Principal = Depends(require("hub_share")), engine: Engine = Depends(get_engine)
) -> dict:
    envelope = await _json(request)
    return await run_in_threadpool(actions.receive_report, engine, principal.actor, viewer(principal), envelope)


@router.get(
    "/outcomes",
    responses=problem_responses(401, 403),
    summary="Current monthly figures the caller may see, partial months marked",
)
def list_outcomes(
    factory: str | None = Query(None, max_length=64),
    principal: Principal = Depends(require("hub_view")),
    engine: Engine = Depends(get_engine),
):
    return _read(engine, lambda c: store.outcomes(c, viewer(principal), factory))


@router.get(
    "/dashboard",
    responses=problem_responses(401, 403),
    summary="Every project in scope with its latest month: per KPI baseline, target, value, attainment",
)
def dashboard(
    filters: dict = Depends(_filters),
    principal: Principal = Depends(require("hub_view")),
    engine: Engine = Depends(get_engine),
):
    return _read(engine, lambda c: store.dashboard(c, viewer(principal), filters))


@router.get(
    "/rollup",
    responses=problem_responses(401, 403),
    summary="Per program, year and sponsor: projects, money per party, reporting, mean attainment per KPI",
)
def rollup(
    filters: dict = Depends(_filters),
    principal: Principal = Depends(require("hub_view")),
    engine: Engine = Depends(get_engine),
):
    return _read(engine, lambda c: store.rollup(c, viewer(principal), filters))


def _translator(request: Request, principal: Principal, engine: Engine, lang: str | None) -> Translator:
    """The caller's language (asked for, the user's own, the request's, else Korean for an office in Korea) and
    the time zone of the caller's organisation."""
    org = _read(engine, lambda c: store.organisation_of(c, viewer(principal))) or {}
    zone = org.get("timezone") or "Asia/Seoul"
    if lang is not None and lang not in LANGUAGES:
        raise ReportLanguage(languages=list(LANGUAGES), lang=lang)
    chosen = lang or principal.user.language or accepted_language(request.headers.get("accept-language"))
    return Translator(chosen or default_language(zone), ZoneInfo(zone))


@router.get(
    "/rollup.xlsx",
    response_class=Response,
    responses={**problem_responses(401, 403, 422), 200: {"content": {XLSX: {}}}},
    summary="The roll-up and every project's latest month as an Excel workbook",
)
def rollup_workbook(
    request: Request,
    filters: dict = Depends(_filters),
    lang: str | None = Query(None, max_length=5),
    principal: Principal = Depends(require("hub_view")),
    engine: Engine = Depends(get_engine),
) -> Response:
    t = _translator(request, principal, engine, lang)
    v = viewer(principal)
    groups, rows = _read(engine, lambda c: (store.rollup(c, v, filters), store.dashboard(c, v, filters)))
    return Response(
        rollup_xlsx(groups, rows, t),
        media_type=XLSX,
        headers={"Content-Disposition": 'attachment; filename="hub-rollup.xlsx"'},
    )


@router.get(
    "/best-practices.pdf",
    response_class=Response,
    responses={**problem_responses(401, 403, 422), 200: {"content": {"application/pdf": {}}}},
    summary="Best practices: projects with the largest verified improvements on a whole month",
)
def best_practices_pdf(
    request: Request,
    kpi: str = "ppm",
    lang: str | None = Query(None, max_length=5),
    principal: Principal = Depends(require("hub_view")),
    engine: Engine = Depends(get_engine),
) -> Response:
    if kpi not in store.SHAREABLE:
        raise KpiUnknown(field="kpi", kpis=kpi[:40], known=store.SHAREABLE)
    t = _translator(request, principal, engine, lang)
    ranked = _read(engine, lambda c: store.best_practices(c, viewer(principal), kpi))
    return Response(render_best_practices(ranked, kpi, datetime.now(t.tz), t), media_type="application/pdf")


@router.get(
    "/self-reported",
    responses=problem_responses(401, 403),
    summary="Self-reported figures (sales, employees, cost): the office sees all, a factory its own",
)
def list_self_reported(
    factory: str | None = Query(None, max_length=64),
    principal: Principal = Depends(require("hub_view")),
    engine: Engine = Depends(get_engine),
):
    return _read(engine, lambda c: store.self_reported_of(c, viewer(principal), factory))


@router.post(
    "/self-reported",
    status_code=201,
    responses=problem_responses(401, 403, 422),
    summary="A factory states its sales, employees and cost of a year (shown as self-reported)",
)
def enter_self_reported(
    body: SelfReportedIn, principal: Principal = Depends(require("hub_share")), engine: Engine = Depends(get_engine)
) -> dict:
    return actions.enter_self_reported(engine, principal.actor, viewer(principal), year=body.year, figures=body.figures)
