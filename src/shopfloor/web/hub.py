"""The hub's page: what the signed-in organisation may see (the office: every project, its funding and outcomes;
a sponsor: its partners' shared figures and improvement; a factory: its projects, consents and what the hub last
received), and a factory's consent withdrawn with one form."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Engine, select

from shopfloor.actions.hub import withdraw_consent
from shopfloor.api.deps import Principal, allowed, get_engine
from shopfloor.errors import HubOnly
from shopfloor.store import hub as store
from shopfloor.store.schema import organisations, programs
from shopfloor.web.pages import page_context, page_user, render, require_csrf

router = APIRouter(include_in_schema=False)


def _hub_user(principal: Principal) -> store.Viewer:
    if not allowed(principal, "hub_view"):
        raise HubOnly()
    return store.Viewer(principal.user.role, principal.user.organisation_id)


@router.get("/hub")
def hub_page(request: Request, principal: Principal = Depends(page_user), engine: Engine = Depends(get_engine)):
    v = _hub_user(principal)
    with engine.connect() as conn:
        org = conn.execute(select(organisations).where(organisations.c.id == v.org_id)).first()
        program_codes = [r[0] for r in conn.execute(select(programs.c.code).order_by(programs.c.code))]
        ctx = page_context(
            request,
            principal,
            None,
            viewer=v,
            org=org,
            projects=store.project_list(conn, v),
            improvements=store.improvements(conn, v),
            outcomes=store.outcomes(conn, v)[-200:],
            consents=store.consents_of(conn, v),
            totals=[store.totals(conn, v, code) for code in program_codes] if v.kind != "factory" else [],
        )
    return render(request, "hub.html", ctx)


@router.post("/hub/consents/{cid}/withdraw")
def withdraw_form(
    cid: int,
    request: Request,
    csrf_token: str = Form(""),
    principal: Principal = Depends(page_user),
    engine: Engine = Depends(get_engine),
) -> Response:
    require_csrf(principal, csrf_token)
    v = _hub_user(principal)
    withdraw_consent(engine, principal.actor, v, cid)
    return RedirectResponse("/hub", status_code=303)
