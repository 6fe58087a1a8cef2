"""The hub: organisations, programs and their funding rules, projects with their ledger and milestones, the
consents of factories and the signed outcome reports they send.  Every write is scoped by the store to what the
asking organisation may touch (``store.hub``).  Live events: ``("hub.<kind>", code)``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from shopfloor.actions.core import change
from shopfloor.errors import OrganisationExists, ProgramExists, ProjectExists, ReportReplayed
from shopfloor.model.funding import Rule
from shopfloor.store import hub as store
from shopfloor.store.hub import Viewer


def add_organisation(
    engine: Engine, actor: str, *, code: str, name: str, kind: str, public_key: bytes | None = None
) -> dict[str, Any]:
    """Register an office, a sponsor or a factory (with the public key its reports are verified with)."""
    with change(engine, actor) as c:
        c.duplicate_means(OrganisationExists(organisation=code))
        doc = store.add_organisation(c.conn, code, name, kind, public_key)
        c.audit("hub.organisation", f"organisation:{code}", doc)
        c.publish("hub.organisation", code)
    return doc


def add_program(engine: Engine, actor: str, *, code: str, name: str) -> dict[str, Any]:
    with change(engine, actor) as c:
        c.duplicate_means(ProgramExists(program=code))
        doc = store.add_program(c.conn, code, name)
        c.audit("hub.program", f"program:{code}", doc)
        c.publish("hub.program", code)
    return doc


def set_funding_rule(engine: Engine, actor: str, program: str, rule: Rule) -> dict[str, Any]:
    """The funding rule of a program year and project level (replacing the one there was)."""
    with change(engine, actor) as c:
        doc = store.set_rule(c.conn, program, rule)
        c.audit("hub.rule", f"program:{program}", doc)
        c.publish("hub.program", program)
    return doc


def add_project(engine: Engine, actor: str, spec: dict[str, Any]) -> dict[str, Any]:
    """A project of a program year and level; its shares are checked against that year's funding rule."""
    with change(engine, actor) as c:
        c.duplicate_means(ProjectExists(project=spec["code"]))
        doc = store.add_project(c.conn, spec)
        c.audit("hub.project", f"project:{spec['code']}", doc)
        c.publish("hub.project", spec["code"])
    return doc


def add_ledger_entry(
    engine: Engine,
    actor: str,
    project: str,
    *,
    funder: str,
    kind: str,
    amount: int,
    note: str | None = None,
    ts: datetime | None = None,
) -> dict[str, Any]:
    """A contribution or payment of a funder (a contribution never beyond the funder's share)."""
    with change(engine, actor) as c:
        doc = store.add_ledger_entry(c.conn, project, funder, kind, amount, note, ts)
        c.audit("hub.ledger", f"project:{project}", doc)
        c.publish("hub.project", project)
    return doc


def add_milestone(engine: Engine, actor: str, project: str, *, name: str, due: datetime) -> dict[str, Any]:
    doc = {"name": name, "due": due.isoformat()}
    with change(engine, actor) as c:
        store.add_milestone(c.conn, project, name, due)
        c.audit("hub.milestone", f"project:{project}", doc)
        c.publish("hub.project", project)
    return doc


def grant_consent(
    engine: Engine, actor: str, viewer: Viewer, *, sponsor: str, kpis: list[str], granularity: str = "month"
) -> dict[str, Any]:
    """A factory agrees to share monthly KPIs with a sponsor."""
    with change(engine, actor) as c:
        doc = store.grant_consent(c.conn, viewer, sponsor, kpis, granularity)
        c.audit("hub.consent", f"sponsor:{sponsor}", doc)
        c.publish("hub.consent", str(doc["id"]))
    return doc


def withdraw_consent(engine: Engine, actor: str, viewer: Viewer, consent: int) -> dict[str, Any]:
    """What was shared under the consent is no longer shown."""
    with change(engine, actor) as c:
        doc = store.withdraw_consent(c.conn, viewer, consent)
        c.audit("hub.withdraw", f"consent:{consent}", doc)
        c.publish("hub.consent", str(consent))
    return doc


def receive_report(engine: Engine, actor: str, viewer: Viewer, envelope: Any) -> dict[str, Any]:
    """A factory's signed monthly outcome report, verified (signature, freshness, consent) and kept once."""
    with change(engine, actor) as c:
        if isinstance(envelope, dict) and isinstance(envelope.get("payload"), dict):
            c.duplicate_means(ReportReplayed(nonce=str(envelope["payload"].get("nonce"))))
        doc = store.receive_report(c.conn, viewer, envelope)
        c.audit("hub.report", "outcomes", doc)
        c.publish("hub.report", f"{doc['factory']}/{doc['period']}")
    return doc
