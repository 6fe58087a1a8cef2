"""The hub's REST API (mounted by ``shopfloor serve --hub``): organisations, programs and their funding rules,
projects with their ledger and milestones, consents and signed outcome reports, and the views of each kind of
organisation.  Every answer is limited to what the caller's organisation may see; anything else is not found."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy import Engine

from shopfloor.api.deps import Principal, get_engine, require
from shopfloor.api.errors import Problem, problem_responses
from shopfloor.model.funding import Rule
from shopfloor.store import audit
from shopfloor.store import hub as store
from shopfloor.store.db import writing

router = APIRouter(prefix="/api/v1/hub", tags=["hub"])
CODE = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"


def viewer(principal: Principal) -> store.Viewer:
    return store.Viewer(principal.user.role, principal.user.organisation_id)


def _problem(exc: store.HubError) -> Problem:
    if isinstance(exc, store.NotFound):
        return Problem(404, "Not found", str(exc))
    if isinstance(exc, store.Conflict):
        return Problem(409, "Conflict", str(exc))
    return Problem(422, "Refused", str(exc))


def _write(engine: Engine, principal: Principal, action: str, target: str, fn, detail: Any = None):
    with writing(engine) as conn:
        try:
            result = fn(conn)
        except store.HubError as exc:
            raise _problem(exc) from None
        audit.record(conn, principal.actor, f"hub.{action}", target, detail if detail is not None else result)
        return result


def _read(engine: Engine, fn):
    with engine.connect() as conn:
        try:
            return fn(conn)
        except store.HubError as exc:
            raise _problem(exc) from None


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
    from sqlalchemy import select

    from shopfloor.store.schema import organisations

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
            raise Problem(422, "Refused", "public_key must be base64") from None
    return _write(
        engine,
        principal,
        "organisation",
        f"organisation:{body.code}",
        lambda c: store.add_organisation(c, body.code, body.name, body.kind, key),
    )


@router.post("/programs", status_code=201, responses=problem_responses(401, 403, 409), summary="A program")
def add_program(
    body: ProgramIn, principal: Principal = Depends(require("hub_manage")), engine: Engine = Depends(get_engine)
) -> dict:
    return _write(
        engine, principal, "program", f"program:{body.code}", lambda c: store.add_program(c, body.code, body.name)
    )


@router.post(
    "/programs/{code}/rules",
    responses=problem_responses(401, 403, 404, 422),
    summary="Set the funding rule of a program year and project level",
)
def set_rule(
    code: str, body: RuleIn, principal: Principal = Depends(require("hub_manage")), engine: Engine = Depends(get_engine)
) -> dict:
    rule = Rule(body.year, body.level, body.state_max_pct, body.sponsor_min_pct, body.state_cap)
    return _write(engine, principal, "rule", f"program:{code}", lambda c: store.set_rule(c, code, rule))


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
    return _write(
        engine, principal, "project", f"project:{body.code}", lambda c: store.add_project(c, body.model_dump())
    )


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
    return _write(
        engine,
        principal,
        "ledger",
        f"project:{code}",
        lambda c: store.add_ledger_entry(c, code, body.funder, body.kind, body.amount, body.note, body.ts),
    )


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
    _write(
        engine,
        principal,
        "milestone",
        f"project:{code}",
        lambda c: store.add_milestone(c, code, body.name, body.due),
        body.model_dump(mode="json"),
    )
    return body.model_dump(mode="json")


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
    return _write(
        engine,
        principal,
        "consent",
        f"sponsor:{body.sponsor}",
        lambda c: store.grant_consent(c, viewer(principal), body.sponsor, body.kpis, body.granularity),
    )


@router.post(
    "/consents/{cid}/withdraw",
    responses=problem_responses(401, 403, 404, 409),
    summary="Withdraw a consent: what was shared under it is no longer shown",
)
def withdraw(cid: int, principal: Principal = Depends(require("hub_share")), engine: Engine = Depends(get_engine)):
    return _write(
        engine, principal, "withdraw", f"consent:{cid}", lambda c: store.withdraw_consent(c, viewer(principal), cid)
    )


@router.post(
    "/reports",
    status_code=201,
    responses=problem_responses(401, 403, 409, 422),
    summary="A factory's signed monthly outcome report (Ed25519 over canonical JSON)",
)
async def receive(
    request: Request, principal: Principal = Depends(require("hub_share")), engine: Engine = Depends(get_engine)
) -> dict:
    import asyncio

    try:
        envelope = await request.json()
    except ValueError:
        raise Problem(422, "Refused", "the body is not JSON") from None
    return await asyncio.to_thread(
        _write, engine, principal, "report", "outcomes", lambda c: store.receive_report(c, viewer(principal), envelope)
    )


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
    from shopfloor.reports.best_practices import best_practices_pdf as render

    if kpi not in store.SHAREABLE:
        raise Problem(422, "Refused", f"kpi must be one of {', '.join(store.SHAREABLE)}")
    ranked = _read(engine, lambda c: store.best_practices(c, viewer(principal), kpi))
    return Response(render(ranked, kpi, datetime.now().astimezone()), media_type="application/pdf")
