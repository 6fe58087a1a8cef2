"""The hub: organisations and factory keys, programs and their funding rules, projects with their ledger and
milestones, the consents and withdrawals of factories, the signed outcome reports they send and the figures they
report themselves.  Every write is scoped by the store to what the asking organisation may touch
(``store.hub``).  Live events: ``("hub.<kind>", code)``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from shopfloor.actions.core import change
from shopfloor.errors import (
    KeyExists,
    LedgerEntryReversed,
    OrganisationExists,
    ProgramExists,
    ProjectExists,
    ReportReplayed,
)
from shopfloor.model.funding import Rule
from shopfloor.store import hub as store
from shopfloor.store.hub import Viewer


def add_organisation(
    engine: Engine,
    actor: str,
    *,
    code: str,
    name: str,
    kind: str,
    public_key: bytes | None = None,
    timezone: str = "Asia/Seoul",
) -> dict[str, Any]:
    """Register an office, a sponsor or a factory (with the first public key its reports are verified with)."""
    with change(engine, actor) as c:
        c.duplicate_means(OrganisationExists(organisation=code))
        doc = store.add_organisation(c.conn, code, name, kind, public_key, timezone, actor)
        c.audit("hub.organisation", f"organisation:{code}", doc)
        c.publish("hub.organisation", code)
    return doc


def add_key(engine: Engine, actor: str, factory: str, *, public_key: bytes) -> dict[str, Any]:
    """The program office registers a factory's key (a first one, or one replacing a lost key)."""
    with change(engine, actor) as c:
        c.duplicate_means(KeyExists())
        doc = store.add_key(c.conn, factory, public_key, actor)
        c.audit("hub.key", f"organisation:{factory}", doc)
        c.publish("hub.organisation", factory)
    return doc


def rotate_key(engine: Engine, actor: str, viewer: Viewer, envelope: Any) -> dict[str, Any]:
    """A factory replaces its key, with a request signed by the key in use."""
    with change(engine, actor) as c:
        c.duplicate_means(KeyExists())
        doc = store.rotate_key(c.conn, viewer, envelope, actor)
        c.audit("hub.key_rotate", f"organisation:{doc['factory']}", doc)
        c.publish("hub.organisation", doc["factory"])
    return doc


def revoke_key(engine: Engine, actor: str, viewer: Viewer, factory: str, *, key: str, reason: str) -> dict[str, Any]:
    """A key that must sign nothing more (lost or stolen)."""
    with change(engine, actor) as c:
        doc = store.revoke_key(c.conn, viewer, factory, key, reason)
        c.audit("hub.key_revoke", f"organisation:{factory}", doc, reason=reason)
        c.publish("hub.organisation", factory)
    return doc


def add_program(engine: Engine, actor: str, *, code: str, name: str, kpis: list[str] | None = None) -> dict[str, Any]:
    with change(engine, actor) as c:
        c.duplicate_means(ProgramExists(program=code))
        doc = store.add_program(c.conn, code, name, kpis)
        c.audit("hub.program", f"program:{code}", doc)
        c.publish("hub.program", code)
    return doc


def set_funding_rule(engine: Engine, actor: str, rule: Rule) -> dict[str, Any]:
    """The funding rule of a program's project type and year from the day it takes effect."""
    with change(engine, actor) as c:
        doc = store.set_rule(c.conn, rule)
        c.audit("hub.rule", f"program:{rule.program}", doc)
        c.publish("hub.program", rule.program)
    return doc


def add_project(engine: Engine, actor: str, spec: dict[str, Any]) -> dict[str, Any]:
    """A project of a program type and year; its shares are checked against the rule in force on its agreement
    day."""
    with change(engine, actor) as c:
        c.duplicate_means(ProjectExists(project=spec["code"]))
        doc = store.add_project(c.conn, spec)
        c.audit("hub.project", f"project:{spec['code']}", doc)
        c.publish("hub.project", spec["code"])
    return doc


def update_project(engine: Engine, actor: str, code: str, changes: dict[str, Any]) -> dict[str, Any]:
    """Edit a project (checked again against its rule and its ledger)."""
    with change(engine, actor) as c:
        doc = store.update_project(c.conn, code, changes)
        c.audit("hub.project_edit", f"project:{code}", {k: v for k, v in changes.items() if v is not None})
        c.publish("hub.project", code)
    return doc


def add_milestone(engine: Engine, actor: str, project: str, *, name: str, due: datetime) -> dict[str, Any]:
    with change(engine, actor) as c:
        doc = store.add_milestone(c.conn, project, name, due)
        c.audit("hub.milestone", f"project:{project}", doc)
        c.publish("hub.project", project)
    return doc


def complete_milestone(
    engine: Engine, actor: str, project: str, milestone: int, *, done_at: datetime | None = None
) -> dict[str, Any]:
    with change(engine, actor) as c:
        doc = store.complete_milestone(c.conn, project, milestone, actor, done_at)
        c.audit("hub.milestone_done", f"project:{project}", doc)
        c.publish("hub.project", project)
    return doc


def add_ledger_entry(
    engine: Engine,
    actor: str,
    project: str,
    *,
    party: str,
    kind: str,
    amount: int,
    note: str | None = None,
    ts: datetime | None = None,
) -> dict[str, Any]:
    """A contribution or payment of a party, never beyond what it committed."""
    with change(engine, actor) as c:
        doc = store.add_ledger_entry(c.conn, project, party, kind, amount, note, ts, actor)
        c.audit("hub.ledger", f"project:{project}", doc)
        c.publish("hub.project", project)
    return doc


def reverse_ledger_entry(engine: Engine, actor: str, project: str, entry: int, *, reason: str) -> dict[str, Any]:
    """Correct a ledger entry by a reversing entry, with its reason."""
    with change(engine, actor) as c:
        c.duplicate_means(LedgerEntryReversed(entry=entry))
        doc = store.reverse_ledger_entry(c.conn, project, entry, reason, actor)
        c.audit("hub.ledger_reverse", f"project:{project}", doc, reason=reason)
        c.publish("hub.project", project)
    return doc


def grant_consent(
    engine: Engine,
    actor: str,
    viewer: Viewer,
    *,
    sponsor: str,
    kpis: list[str],
    granularity: str = "month",
    text_version: str | None = store.CONSENT_TEXT_VERSION,
) -> dict[str, Any]:
    """A factory agrees to share monthly KPIs with one of its projects' sponsors."""
    with change(engine, actor) as c:
        doc = store.grant_consent(c.conn, viewer, sponsor, kpis, granularity, text_version)
        c.audit("hub.consent", f"sponsor:{sponsor}", doc)
        c.publish("hub.consent", str(doc["id"]))
    return doc


def withdraw_consent(engine: Engine, actor: str, viewer: Viewer, consent: int) -> dict[str, Any]:
    """The sponsor no longer sees what was shared under the consent."""
    with change(engine, actor) as c:
        doc = store.withdraw_consent(c.conn, viewer, consent)
        c.audit("hub.withdraw", f"consent:{consent}", doc)
        c.publish("hub.consent", str(consent))
    return doc


def withdraw_figures(
    engine: Engine, actor: str, viewer: Viewer, *, period: str | None = None, kpi: str | None = None
) -> dict[str, Any]:
    """A factory takes back a month, a KPI or a KPI of a month from every per-factory view."""
    with change(engine, actor) as c:
        doc = store.withdraw(c.conn, viewer, period, kpi)
        c.audit("hub.withdraw_figures", f"organisation:{viewer.org_id}", doc)
        c.publish("hub.report", str(viewer.org_id))
    return doc


def receive_report(engine: Engine, actor: str, viewer: Viewer, envelope: Any) -> dict[str, Any]:
    """A factory's signed monthly outcome report, verified (shape, key, signature, freshness, month, consent) and
    kept once; a month sent again replaces the one before."""
    with change(engine, actor) as c:
        if isinstance(envelope, dict) and isinstance(envelope.get("payload"), dict):
            c.duplicate_means(ReportReplayed(nonce=str(envelope["payload"].get("nonce"))[:64]))
        doc = store.receive_report(c.conn, viewer, envelope)
        c.audit("hub.report", "outcomes", doc)
        c.publish("hub.report", f"{doc['factory']}/{doc['period']}")
    return doc


def enter_self_reported(
    engine: Engine, actor: str, viewer: Viewer, *, year: int, figures: dict[str, Any]
) -> dict[str, Any]:
    """Sales, employees and cost of a year, as the factory states them."""
    with change(engine, actor) as c:
        doc = store.enter_self_reported(c.conn, viewer, year, figures, actor)
        c.audit("hub.self_reported", f"organisation:{viewer.org_id}", doc)
        c.publish("hub.report", str(viewer.org_id))
    return doc
