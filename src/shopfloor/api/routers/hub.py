"""The hub's REST API (mounted by ``shopfloor serve --hub``): organisations, programs and their funding rules,
projects with their ledger and milestones, consents and signed outcome reports, and the views of each kind of
organisation.  Every answer is limited to what the caller's organisation may see; anything else is not found."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy import Engine, select

from shopfloor.actions import hub as actions
from shopfloor.api.deps import Principal, get_engine, require
from shopfloor.api.errors import problem_responses
from shopfloor.errors import KpiUnknown, NotReadable, PublicKeyInvalid
from shopfloor.model.funding import Rule
from shopfloor.reports.best_practices import best_practices_pdf as render_best_practices
from shopfloor.store import hub as store
from shopfloor.store.schema import organisations

router = APIRouter(prefix="/api/v1/hub", tags=["hub"])
CODE = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"


def viewer(principal: Principal) -> store.Viewer:
    return store.Viewer(principal.user.role, principal.user.organisation_id)


def _read(engine: Engine, fn):
    with engine.connect() as conn:
        return fn(conn)


class OrganisationIn(BaseModel):
    code: str = Field(min_length=1, max_length=64, pattern=CODE)
    name: str = Field(min_length=1, max_length=200)
    kind: Literal["office", "sponsor", "factory"]
    public_key: str | None = Field(None, description="A factory's Ed25519 public key, 32 bytes in base64")


class ProgramIn(BaseModel):
    code: str = Field(min_length=1, max_length=64, pattern=CODE)
    name: str = Field(min_length=1, max_length=200)


class RuleIn(BaseModel):
    year: int = Field(ge=2000, le=2100)
    level: str = Field(min_length=1, max_length=32)
    state_max_pct: float = Field(ge=0, le=100)
    sponsor_min_pct: float = Field(ge=0, le=100)
    state_cap: int = Field(ge=0, le=10**15)


class ProjectIn(BaseModel):
    code: str = Field(min_length=1, max_length=64, pattern=CODE)
    program: str
    year: int = Field(ge=2000, le=2100)
    level: str
    factory: str
    sponsor: str
    budget: int = Field(ge=1, le=10**15)
    state: int = Field(ge=0, le=10**15, description="The state's share of the budget")
    sponsor_share: int = Field(ge=0, le=10**15)
    factory_share: int = Field(ge=0, le=10**15)
    baseline: dict[str, float] = Field(default_factory=dict, description="KPI values before the build")
    target: dict[str, float] = Field(default_factory=dict)
    description: str | None = Field(None, max_length=4000)


class LedgerIn(BaseModel):
    funder: Literal["state", "sponsor", "factory"]
    kind: Literal["contribution", "payment"]
    amount: int = Field(gt=0, le=10**15)
    note: str | None = Field(None, max_length=500)
    ts: AwareDatetime | None = None


class MilestoneIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    due: AwareDatetime


class ConsentIn(BaseModel):
    sponsor: str
    kpis: list[str] = Field(min_length=1)
    granularity: Literal["month"] = "month"


@router.get("/me", responses=problem_responses(401, 403), summary="The caller's organisation")
def me(principal: Principal = Depends(require("hub_view")), engine: Engine = Depends(get_engine)) -> dict:
    with engine.connect() as conn:
        code = conn.execute(
            select(organisations.c.code).where(organisations.c.id == principal.user.organisation_id)
        ).scalar()
        return _read(engine, lambda c: store.organisation(c, code)) if code else {"kind": principal.user.role}


@router.get("/organisations", responses=problem_responses(401, 403), summary="Organisations the caller may see")
def list_organisations(principal: Principal = Depends(require("hub_view")), engine: Engine = Depends(get_engine)):
    return _read(engine, lambda c: store.organisations_seen(c, viewer(principal)))


@router.post(
    "/organisations",
    status_code=201,
    responses=problem_responses(401, 403, 409, 422),
    summary="Register an organisation (program office)",
)
def add_organisation(
    body: OrganisationIn, principal: Principal = Depends(require("hub_manage")), engine: Engine = Depends(get_engine)
) -> dict:
    key = None
    if body.public_key:
        try:
            key = base64.b64decode(body.public_key, validate=True)
        except (binascii.Error, ValueError):
            raise PublicKeyInvalid() from None
    return actions.add_organisation(
        engine, principal.actor, code=body.code, name=body.name, kind=body.kind, public_key=key
    )


@router.post("/programs", status_code=201, responses=problem_responses(401, 403, 409), summary="A program")
def add_program(
    body: ProgramIn, principal: Principal = Depends(require("hub_manage")), engine: Engine = Depends(get_engine)
) -> dict:
    return actions.add_program(engine, principal.actor, code=body.code, name=body.name)


@router.post(
    "/programs/{code}/rules",
    responses=problem_responses(401, 403, 404, 422),
    summary="Set the funding rule of a program year and project level",
)
def set_rule(
    code: str, body: RuleIn, principal: Principal = Depends(require("hub_manage")), engine: Engine = Depends(get_engine)
) -> dict:
    rule = Rule(body.year, body.level, body.state_max_pct, body.sponsor_min_pct, body.state_cap)
    return actions.set_funding_rule(engine, principal.actor, code, rule)


@router.get(
    "/programs/{code}/totals",
    responses=problem_responses(401, 403, 404),
    summary="Budgets and shares per sponsor and year, and the ledger, for the projects the caller sees",
)
def totals(code: str, principal: Principal = Depends(require("hub_view")), engine: Engine = Depends(get_engine)):
    return _read(engine, lambda c: store.totals(c, viewer(principal), code))


@router.post(
    "/projects",
    status_code=201,
    responses=problem_responses(401, 403, 404, 422),
    summary="A project; its shares are checked against the program year's funding rule",
)
def add_project(
    body: ProjectIn, principal: Principal = Depends(require("hub_manage")), engine: Engine = Depends(get_engine)
) -> dict:
    return actions.add_project(engine, principal.actor, body.model_dump())


@router.get("/projects", responses=problem_responses(401, 403), summary="Projects the caller may see")
def list_projects(principal: Principal = Depends(require("hub_view")), engine: Engine = Depends(get_engine)):
    return _read(engine, lambda c: store.project_list(c, viewer(principal)))


@router.get("/projects/{code}", responses=problem_responses(401, 403, 404), summary="A project, milestones, ledger")
def get_project(code: str, principal: Principal = Depends(require("hub_view")), engine: Engine = Depends(get_engine)):
    return _read(engine, lambda c: store.project(c, viewer(principal), code))


@router.post(
    "/projects/{code}/ledger",
    status_code=201,
    responses=problem_responses(401, 403, 404, 422),
    summary="A contribution or payment of a funder",
)
def add_ledger(
    code: str,
    body: LedgerIn,
    principal: Principal = Depends(require("hub_manage")),
    engine: Engine = Depends(get_engine),
) -> dict:
    return actions.add_ledger_entry(engine, principal.actor, code, **body.model_dump())


@router.post(
    "/projects/{code}/milestones",
    status_code=201,
    responses=problem_responses(401, 403, 404),
    summary="A milestone of a project",
)
def add_milestone(
    code: str,
    body: MilestoneIn,
    principal: Principal = Depends(require("hub_manage")),
    engine: Engine = Depends(get_engine),
) -> dict:
    return actions.add_milestone(engine, principal.actor, code, name=body.name, due=body.due)


@router.get("/consents", responses=problem_responses(401, 403), summary="Consents of the caller")
def list_consents(principal: Principal = Depends(require("hub_view")), engine: Engine = Depends(get_engine)):
    return _read(engine, lambda c: store.consents_of(c, viewer(principal)))


@router.post(
    "/consents",
    status_code=201,
    responses=problem_responses(401, 403, 404, 422),
    summary="A factory agrees to share monthly KPIs with a sponsor",
)
def grant(
    body: ConsentIn, principal: Principal = Depends(require("hub_share")), engine: Engine = Depends(get_engine)
) -> dict:
    return actions.grant_consent(engine, principal.actor, viewer(principal), **body.model_dump())


@router.post(
    "/consents/{cid}/withdraw",
    responses=problem_responses(401, 403, 404, 409),
    summary="Withdraw a consent: what was shared under it is no longer shown",
)
def withdraw(cid: int, principal: Principal = Depends(require("hub_share")), engine: Engine = Depends(get_engine)):
    return actions.withdraw_consent(engine, principal.actor, viewer(principal), cid)


@router.post(
    "/reports",
    status_code=201,
    responses=problem_responses(401, 403, 409, 422),
    summary="A factory's signed monthly outcome report (Ed25519 over canonical JSON)",
)
async def receive(
    request: Request, principal: Principal = Depends(require("hub_share")), engine: Engine = Depends(get_engine)
) -> dict:
    try:
        envelope = await request.json()
    except ValueError as exc:
        raise NotReadable(expected="JSON", reason=str(exc)) from None
    return await run_in_threadpool(actions.receive_report, engine, principal.actor, viewer(principal), envelope)


@router.get(
    "/outcomes", responses=problem_responses(401, 403), summary="Latest shared monthly figures the caller may see"
)
def list_outcomes(
    sponsor: str | None = None,
    principal: Principal = Depends(require("hub_view")),
    engine: Engine = Depends(get_engine),
):
    return _read(engine, lambda c: store.outcomes(c, viewer(principal), sponsor))


@router.get(
    "/improvements",
    responses=problem_responses(401, 403),
    summary="Per project: baseline, latest shared figures, improvement since the baseline",
)
def list_improvements(principal: Principal = Depends(require("hub_view")), engine: Engine = Depends(get_engine)):
    return _read(engine, lambda c: store.improvements(c, viewer(principal)))


@router.get(
    "/best-practices.pdf",
    response_class=Response,
    responses={**problem_responses(401, 403), 200: {"content": {"application/pdf": {}}}},
    summary="Best practices collection: projects with the largest verified improvements",
)
def best_practices_pdf(
    kpi: str = "ppm", principal: Principal = Depends(require("hub_view")), engine: Engine = Depends(get_engine)
) -> Response:
    if kpi not in store.SHAREABLE:
        raise KpiUnknown(field="kpi", kpis=kpi, known=store.SHAREABLE)
    ranked = _read(engine, lambda c: store.best_practices(c, viewer(principal), kpi))
    return Response(render_best_practices(ranked, kpi, datetime.now().astimezone()), media_type="application/pdf")
