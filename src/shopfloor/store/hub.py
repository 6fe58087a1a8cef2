"""The hub's records, every read and write scoped to the organisation asking.

A ``Viewer`` is the organisation of the signed-in user: the program office sees everything; a sponsor sees its own
projects and the figures its partner factories chose to share with it (while consent stands); a factory sees its
own projects, consents and reports.  A record outside the viewer's scope is reported as not found, whatever its
identifier, so nothing can be learnt by guessing.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Connection, and_, func, insert, select, update

from shopfloor.errors import (
    AmountInvalid,
    ChooseKpis,
    ConsentDoesNotCover,
    ConsentNotFound,
    ConsentWithdrawn,
    ContributionTooLarge,
    DomainError,
    FactoryNotFound,
    FunderUnknown,
    KpiUnknown,
    LedgerKind,
    MonthInvalid,
    MonthlyOnly,
    NoConsent,
    NoFundingRule,
    OnlyFactoryShares,
    OnlyFactoryWithdraws,
    OrganisationExists,
    OrganisationIncomplete,
    OrganisationKind,
    OrganisationNotFound,
    ProgramExists,
    ProgramNotFound,
    ProjectExists,
    ProjectNotFound,
    ProjectRefused,
    PublicKeyInvalid,
    ReportKpisShape,
    ReportLacks,
    ReportNeedsFactoryToken,
    ReportOtherFactory,
    ReportReplayed,
    ReportShape,
    ReportStale,
    SharedKpiUnknown,
    SignatureRefused,
    SignedAtInvalid,
    SponsorNotFound,
    refuse,
)
from shopfloor.model.funding import Rule, check_rule, check_shares
from shopfloor.model.signing import SignatureError, verify
from shopfloor.store.schema import (
    consents,
    funding_rules,
    ledger,
    milestones,
    organisations,
    outcome_reports,
    programs,
    projects,
)

KINDS = ("office", "sponsor", "factory")
SHAREABLE = ("output_per_hour", "ppm", "first_pass_yield", "scrap_ratio", "on_time_delivery", "operating_rate")
FRESH_FOR = timedelta(minutes=15)
LOWER_IS_BETTER = ("ppm", "scrap_ratio")


@dataclass(frozen=True)
class Viewer:
    kind: str  # office, sponsor, factory
    org_id: int | None

    @property
    def office(self) -> bool:
        return self.kind == "office"


# -- organisations ------------------------------------------------------------------------------------------
def add_organisation(conn: Connection, code: str, name: str, kind: str, public_key: bytes | None = None) -> dict:
    if kind not in KINDS:
        raise OrganisationKind(kind=kind)
    if not code or not name:
        raise OrganisationIncomplete()
    if public_key is not None and (kind != "factory" or len(public_key) != 32):
        raise PublicKeyInvalid()
    if conn.execute(select(organisations.c.id).where(organisations.c.code == code)).first():
        raise OrganisationExists(organisation=code)
    conn.execute(insert(organisations).values(code=code, name=name, kind=kind, public_key=public_key))
    return organisation(conn, code)


def organisation(conn: Connection, code: str) -> dict[str, Any]:
    row = conn.execute(select(organisations).where(organisations.c.code == code)).first()
    if row is None:
        raise OrganisationNotFound(organisation=code)
    return {"id": row.id, "code": row.code, "name": row.name, "kind": row.kind, "has_key": row.public_key is not None}


def _org_id(conn: Connection, code: str, kind: str) -> int:
    row = conn.execute(select(organisations.c.id, organisations.c.kind).where(organisations.c.code == code)).first()
    if row is None or row.kind != kind:
        raise SponsorNotFound(sponsor=code) if kind == "sponsor" else FactoryNotFound(factory=code)
    return int(row.id)


def organisations_seen(conn: Connection, viewer: Viewer) -> list[dict[str, Any]]:
    """The office sees every organisation; others see themselves and their partners."""
    o = organisations.c
    if viewer.office:
        rows = conn.execute(select(organisations).order_by(o.code)).all()
    else:
        partner = projects.c.factory_id if viewer.kind == "sponsor" else projects.c.sponsor_id
        own = projects.c.sponsor_id if viewer.kind == "sponsor" else projects.c.factory_id
        ids = {viewer.org_id} | {r[0] for r in conn.execute(select(partner).where(own == viewer.org_id))}
        rows = conn.execute(select(organisations).where(o.id.in_(ids)).order_by(o.code)).all()
    return [{"code": r.code, "name": r.name, "kind": r.kind} for r in rows]


# -- programs, rules, projects, ledger ----------------------------------------------------------------------
def add_program(conn: Connection, code: str, name: str) -> dict[str, Any]:
    if conn.execute(select(programs.c.id).where(programs.c.code == code)).first():
        raise ProgramExists(program=code)
    conn.execute(insert(programs).values(code=code, name=name))
    return {"code": code, "name": name}


def _program_id(conn: Connection, code: str) -> int:
    pid = conn.execute(select(programs.c.id).where(programs.c.code == code)).scalar()
    if pid is None:
        raise ProgramNotFound(program=code)
    return int(pid)


def set_rule(conn: Connection, program: str, rule: Rule) -> dict[str, Any]:
    refuse(check_rule(rule))
    pid = _program_id(conn, program)
    fr = funding_rules.c
    values = {
        "state_max_pct": rule.state_max_pct,
        "sponsor_min_pct": rule.sponsor_min_pct,
        "state_cap": rule.state_cap,
    }
    where = and_(fr.program_id == pid, fr.year == rule.year, fr.level == rule.level)
    if conn.execute(select(fr.id).where(where)).first():
        conn.execute(update(funding_rules).where(where).values(**values))
    else:
        conn.execute(insert(funding_rules).values(program_id=pid, year=rule.year, level=rule.level, **values))
    return {"program": program, "year": rule.year, "level": rule.level, **values}


def _rule(conn: Connection, program_id: int, year: int, level: str) -> Rule:
    fr = funding_rules.c
    row = conn.execute(
        select(funding_rules).where(fr.program_id == program_id, fr.year == year, fr.level == level)
    ).first()
    if row is None:
        raise NoFundingRule(year=year, level=level)
    return Rule(row.year, row.level, row.state_max_pct, row.sponsor_min_pct, int(row.state_cap))


def add_project(conn: Connection, spec: dict[str, Any]) -> dict[str, Any]:
    """A project of a program year and level, its shares checked against that year's rule."""
    pid = _program_id(conn, spec["program"])
    factory_id = _org_id(conn, spec["factory"], "factory")
    sponsor_id = _org_id(conn, spec["sponsor"], "sponsor")
    rule = _rule(conn, pid, int(spec["year"]), spec["level"])
    budget, state, sponsor, factory = (int(spec[k]) for k in ("budget", "state", "sponsor_share", "factory_share"))
    problems: list[DomainError] = check_shares(budget, state, sponsor, factory, rule)
    for key in ("baseline", "target"):
        unknown = sorted(set(spec.get(key) or {}) - set(SHAREABLE))
        if unknown:
            problems.append(KpiUnknown(field=key, kpis=unknown, known=SHAREABLE))
    if conn.execute(select(projects.c.id).where(projects.c.code == spec["code"])).first():
        problems.append(ProjectExists(project=spec["code"]))
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise ProjectRefused(problems)
    conn.execute(
        insert(projects).values(
            code=spec["code"],
            program_id=pid,
            year=int(spec["year"]),
            level=spec["level"],
            factory_id=factory_id,
            sponsor_id=sponsor_id,
            budget=budget,
            state_amount=state,
            sponsor_amount=sponsor,
            factory_amount=factory,
            baseline=spec.get("baseline") or {},
            target=spec.get("target") or {},
            description=spec.get("description"),
        )
    )
    return project(conn, Viewer("office", None), spec["code"])


def _project_scope(viewer: Viewer):
    p = projects.c
    if viewer.office:
        return True
    return (p.sponsor_id == viewer.org_id) if viewer.kind == "sponsor" else (p.factory_id == viewer.org_id)


def _project_doc(row: Any) -> dict[str, Any]:
    return {
        "code": row.code,
        "program": row.program,
        "year": row.year,
        "level": row.level,
        "factory": row.factory,
        "sponsor": row.sponsor,
        "budget": int(row.budget),
        "shares": {"state": int(row.state_amount), "sponsor": int(row.sponsor_amount),
                   "factory": int(row.factory_amount)},
        "baseline": row.baseline,
        "target": row.target,
        "description": row.description,
    }  # fmt: skip


def _projects_query(viewer: Viewer):
    f, s = organisations.alias("f"), organisations.alias("s")
    return (
        select(projects, programs.c.code.label("program"), f.c.code.label("factory"), s.c.code.label("sponsor"))
        .join(programs, programs.c.id == projects.c.program_id)
        .join(f, f.c.id == projects.c.factory_id)
        .join(s, s.c.id == projects.c.sponsor_id)
        .where(_project_scope(viewer))
    )


def project(conn: Connection, viewer: Viewer, code: str) -> dict[str, Any]:
    row = conn.execute(_projects_query(viewer).where(projects.c.code == code)).first()
    if row is None:
        raise ProjectNotFound(project=code)
    doc = _project_doc(row)
    ms = milestones.c
    doc["milestones"] = [
        {"name": m.name, "due": m.due.isoformat(), "done_at": m.done_at.isoformat() if m.done_at else None}
        for m in conn.execute(select(milestones).where(ms.project_id == row.id).order_by(ms.due))
    ]
    lg = ledger.c
    doc["ledger"] = [
        {"ts": e.ts.isoformat(), "funder": e.funder, "kind": e.kind, "amount": int(e.amount), "note": e.note}
        for e in conn.execute(select(ledger).where(lg.project_id == row.id).order_by(lg.ts, lg.id))
    ]
    return doc


def project_list(conn: Connection, viewer: Viewer) -> list[dict[str, Any]]:
    return [_project_doc(r) for r in conn.execute(_projects_query(viewer).order_by(projects.c.code))]


def add_milestone(conn: Connection, code: str, name: str, due: datetime) -> None:
    pid = conn.execute(select(projects.c.id).where(projects.c.code == code)).scalar()
    if pid is None:
        raise ProjectNotFound(project=code)
    conn.execute(insert(milestones).values(project_id=pid, name=name, due=due))


def add_ledger_entry(conn: Connection, code: str, funder: str, kind: str, amount: int, note: str | None = None,
                     ts: datetime | None = None) -> dict[str, Any]:  # fmt: skip
    if funder not in ("state", "sponsor", "factory"):
        raise FunderUnknown(funder=funder)
    if kind not in ("contribution", "payment"):
        raise LedgerKind(kind=kind)
    if not isinstance(amount, int) or amount <= 0:
        raise AmountInvalid()
    # The project's row is locked: two contributions at the same moment are checked against the share in turn.
    row = conn.execute(select(projects).where(projects.c.code == code).with_for_update()).first()
    if row is None:
        raise ProjectNotFound(project=code)
    committed = {"state": row.state_amount, "sponsor": row.sponsor_amount, "factory": row.factory_amount}[funder]
    lg = ledger.c
    so_far = conn.execute(
        select(func.coalesce(func.sum(lg.amount), 0)).where(
            lg.project_id == row.id, lg.funder == funder, lg.kind == kind
        )
    ).scalar_one()
    if kind == "contribution" and int(so_far) + amount > committed:
        raise ContributionTooLarge(funder=funder, total=f"{int(so_far) + amount:,}", share=f"{committed:,}")
    conn.execute(
        insert(ledger).values(
            project_id=row.id, ts=ts or datetime.now(timezone.utc), funder=funder, kind=kind, amount=amount, note=note
        )  # fmt: skip
    )
    return {"project": code, "funder": funder, "kind": kind, "amount": amount}


def totals(conn: Connection, viewer: Viewer, program: str) -> dict[str, Any]:
    """Budgets and shares per program, sponsor and year (from the projects), and the ledger's contributions and
    payments (from the ledger), for the projects in the viewer's scope."""
    pid = _program_id(conn, program)
    p, lg = projects.c, ledger.c
    s = organisations.alias("s")
    scope = and_(p.program_id == pid, _project_scope(viewer))
    by = {}
    for key, col in (("sponsor", s.c.code), ("year", p.year)):
        rows = conn.execute(
            select(col, func.count(), func.sum(p.budget), func.sum(p.state_amount), func.sum(p.sponsor_amount),
                   func.sum(p.factory_amount))
            .join(s, s.c.id == p.sponsor_id)
            .where(scope)
            .group_by(col)
            .order_by(col)
        ).all()  # fmt: skip
        by[key] = [
            {
                key: r[0],
                "projects": int(r[1]),
                "budget": int(r[2]),
                "shares": {"state": int(r[3]), "sponsor": int(r[4]), "factory": int(r[5])},
            }
            for r in rows
        ]
    moved = conn.execute(
        select(lg.funder, lg.kind, func.sum(lg.amount))
        .join(projects, projects.c.id == lg.project_id)
        .where(scope)
        .group_by(lg.funder, lg.kind)
    ).all()
    ledger_sums: dict[str, dict[str, int]] = {}
    for funder, kind, amount in moved:
        ledger_sums.setdefault(kind, {})[funder] = int(amount)
    overall = conn.execute(
        select(func.count(), func.coalesce(func.sum(p.budget), 0), func.coalesce(func.sum(p.state_amount), 0),
               func.coalesce(func.sum(p.sponsor_amount), 0), func.coalesce(func.sum(p.factory_amount), 0))
        .where(scope)
    ).one()  # fmt: skip
    return {
        "program": program,
        "projects": int(overall[0]),
        "budget": int(overall[1]),
        "shares": {"state": int(overall[2]), "sponsor": int(overall[3]), "factory": int(overall[4])},
        "by_sponsor": by["sponsor"],
        "by_year": by["year"],
        "ledger": ledger_sums,
    }


# -- consents and signed outcome reports --------------------------------------------------------------------
def grant_consent(conn: Connection, viewer: Viewer, sponsor: str, kpis: list[str], granularity: str = "month"):
    if viewer.kind != "factory":
        raise OnlyFactoryShares()
    unknown = sorted(set(kpis) - set(SHAREABLE))
    if unknown or not kpis:
        raise SharedKpiUnknown(kpis=unknown, known=SHAREABLE) if unknown else ChooseKpis(known=SHAREABLE)
    if granularity != "month":
        raise MonthlyOnly()
    sponsor_id = _org_id(conn, sponsor, "sponsor")
    cid = conn.execute(
        insert(consents).values(
            factory_id=viewer.org_id,
            sponsor_id=sponsor_id,
            kpis=sorted(set(kpis)),
            granularity=granularity,
            granted_at=datetime.now(timezone.utc),
        )  # fmt: skip
    ).inserted_primary_key[0]
    return consent(conn, viewer, int(cid))


def consent(conn: Connection, viewer: Viewer, cid: int) -> dict[str, Any]:
    c = consents.c
    s = organisations.alias("s")
    query = select(consents, s.c.code.label("sponsor")).join(s, s.c.id == c.sponsor_id).where(c.id == cid)
    if not viewer.office:
        query = query.where(
            c.factory_id == viewer.org_id if viewer.kind == "factory" else c.sponsor_id == viewer.org_id
        )
    row = conn.execute(query).first()
    if row is None:
        raise ConsentNotFound(consent=cid)
    return {
        "id": row.id,
        "sponsor": row.sponsor,
        "kpis": row.kpis,
        "granularity": row.granularity,
        "granted_at": row.granted_at.isoformat(),
        "withdrawn_at": row.withdrawn_at.isoformat() if row.withdrawn_at else None,
    }


def consents_of(conn: Connection, viewer: Viewer) -> list[dict[str, Any]]:
    c = consents.c
    query = select(c.id)
    if not viewer.office:
        query = query.where(
            c.factory_id == viewer.org_id if viewer.kind == "factory" else c.sponsor_id == viewer.org_id
        )
    return [consent(conn, viewer, int(r[0])) for r in conn.execute(query.order_by(c.id))]


def withdraw_consent(conn: Connection, viewer: Viewer, cid: int) -> dict[str, Any]:
    if viewer.kind != "factory":
        raise OnlyFactoryWithdraws()
    consent(conn, viewer, cid)
    # Withdrawn only if it stands: of two withdrawals at the same moment, the second is refused.
    done = conn.execute(
        update(consents)
        .where(consents.c.id == cid, consents.c.withdrawn_at.is_(None))
        .values(withdrawn_at=datetime.now(timezone.utc))
    ).rowcount
    if not done:
        raise ConsentWithdrawn(consent=cid)
    return consent(conn, viewer, cid)


def receive_report(conn: Connection, viewer: Viewer, envelope: Any, now: datetime | None = None) -> dict[str, Any]:
    """Check and keep a factory's signed monthly outcome report: the sender is that factory, the signature
    verifies with its key, it was signed within the last 15 minutes, it was not received before, a consent to
    that sponsor stands and covers every KPI in it."""
    now = now or datetime.now(timezone.utc)
    if viewer.kind != "factory":
        raise ReportNeedsFactoryToken()
    if not isinstance(envelope, dict) or not isinstance(envelope.get("payload"), dict):
        raise ReportShape()
    payload = envelope["payload"]
    missing = sorted({"factory", "sponsor", "period", "kpis", "signed_at", "nonce"} - set(payload))
    if missing:
        raise ReportLacks(fields=missing)
    org = conn.execute(select(organisations).where(organisations.c.id == viewer.org_id)).one()
    if payload["factory"] != org.code:
        raise ReportOtherFactory(own=org.code, factory=str(payload["factory"]))
    try:
        data = verify(org.public_key or b"", payload, str(envelope.get("signature", "")))
    except SignatureError as exc:
        raise SignatureRefused(reason=str(exc)) from None
    try:
        signed_at = datetime.fromisoformat(str(payload["signed_at"]))
        if signed_at.tzinfo is None:
            raise ValueError
    except ValueError:
        raise SignedAtInvalid() from None
    if abs(now - signed_at) > FRESH_FOR:
        raise ReportStale(signed_at=signed_at.isoformat())
    if conn.execute(select(outcome_reports.c.id).where(outcome_reports.c.nonce == str(payload["nonce"]))).first():
        raise ReportReplayed(nonce=str(payload["nonce"]))
    period = str(payload["period"])
    if (
        len(period) != 7
        or period[4] != "-"
        or not (period[:4] + period[5:]).isdigit()
        or not 1 <= int(period[5:]) <= 12
    ):
        raise MonthInvalid(period=period)
    kpis = payload["kpis"]
    if not isinstance(kpis, dict) or not all(isinstance(v, (int, float)) or v is None for v in kpis.values()):
        raise ReportKpisShape()
    sponsor_id = _org_id(conn, str(payload["sponsor"]), "sponsor")
    c = consents.c
    live = conn.execute(
        select(consents).where(c.factory_id == org.id, c.sponsor_id == sponsor_id, c.withdrawn_at.is_(None))
        .order_by(c.id.desc())
    ).first()  # fmt: skip
    if live is None:
        raise NoConsent(factory=org.code, sponsor=str(payload["sponsor"]))
    beyond = sorted(set(kpis) - set(live.kpis))
    if beyond:
        raise ConsentDoesNotCover(sponsor=str(payload["sponsor"]), kpis=beyond)
    conn.execute(
        insert(outcome_reports).values(
            factory_id=org.id, sponsor_id=sponsor_id, consent_id=live.id, period=period, kpis=kpis,
            payload=data.decode(), signature=base64.b64decode(envelope["signature"]),
            nonce=str(payload["nonce"]), signed_at=signed_at, received_at=now,
        )
    )  # fmt: skip
    return {"factory": org.code, "sponsor": payload["sponsor"], "period": period, "received_at": now.isoformat()}


def _visible_latest(viewer: Viewer, per_period: bool):
    """Ids of the reports the viewer may see: per factory, sponsor and month the newest one received (a month
    sent again replaces it); without ``per_period``, only the latest month per factory and sponsor.  Reports
    under a withdrawn consent are left out."""
    r, c = outcome_reports.c, consents.c

    def scoped(query):
        query = query.join(consents, c.id == r.consent_id).where(c.withdrawn_at.is_(None))
        if viewer.kind == "sponsor":
            return query.where(r.sponsor_id == viewer.org_id)
        if viewer.kind == "factory":
            return query.where(r.factory_id == viewer.org_id)
        return query

    if per_period:
        return scoped(select(func.max(r.id))).group_by(r.factory_id, r.sponsor_id, r.period)
    newest = (
        scoped(select(r.factory_id, r.sponsor_id, func.max(r.period).label("period")))
        .group_by(r.factory_id, r.sponsor_id)
        .subquery()
    )
    return scoped(
        select(func.max(r.id)).join(
            newest,
            and_(newest.c.factory_id == r.factory_id, newest.c.sponsor_id == r.sponsor_id, newest.c.period == r.period),
        )
    ).group_by(r.factory_id, r.sponsor_id)


def _outcome_rows(conn: Connection, ids, sponsor: str | None = None) -> list[dict[str, Any]]:
    r = outcome_reports.c
    f, s = organisations.alias("f"), organisations.alias("s")
    query = (
        select(r.period, r.kpis, r.received_at, r.signed_at, f.c.code.label("factory"), s.c.code.label("sponsor"))
        .join(f, f.c.id == r.factory_id)
        .join(s, s.c.id == r.sponsor_id)
        .where(r.id.in_(ids))
        .order_by(f.c.code, r.period)
    )
    if sponsor:
        query = query.where(s.c.code == sponsor)
    return [
        {
            "factory": row.factory,
            "sponsor": row.sponsor,
            "period": row.period,
            "kpis": row.kpis,
            "signed_at": row.signed_at.isoformat(),
            "received_at": row.received_at.isoformat(),
        }
        for row in conn.execute(query)
    ]


def outcomes(conn: Connection, viewer: Viewer, sponsor: str | None = None) -> list[dict[str, Any]]:
    """The latest figures per factory, sponsor and month that the viewer may see: a sponsor its partners' shared
    figures, a factory its own, the office all; a withdrawn consent hides what was shared under it."""
    return _outcome_rows(conn, _visible_latest(viewer, per_period=True), sponsor)


def latest_outcomes(conn: Connection, viewer: Viewer) -> list[dict[str, Any]]:
    """The newest shared month per factory and sponsor that the viewer may see."""
    return _outcome_rows(conn, _visible_latest(viewer, per_period=False))


def improvements(conn: Connection, viewer: Viewer) -> list[dict[str, Any]]:
    """Per project in scope: its baseline, its latest shared figures, and the change since the baseline (in % of
    the baseline; positive is better, whichever way the KPI improves)."""
    latest = {(o["factory"], o["sponsor"]): o for o in latest_outcomes(conn, viewer)}
    out = []
    for p in project_list(conn, viewer):
        last = latest.get((p["factory"], p["sponsor"]))
        changes = {}
        for kpi, before in (p["baseline"] or {}).items():
            now_v = (last or {}).get("kpis", {}).get(kpi)
            if before in (None, 0) or now_v is None:
                continue
            change = (now_v - before) / abs(before) * 100
            changes[kpi] = -change if kpi in LOWER_IS_BETTER else change
        out.append(
            {
                "project": p["code"],
                "factory": p["factory"],
                "sponsor": p["sponsor"],
                "baseline": p["baseline"],
                "target": p["target"],
                "latest": last,
                "improvement_pct": changes,
            }
        )
    return out


def best_practices(conn: Connection, viewer: Viewer, kpi: str = "ppm", top: int = 10) -> list[dict[str, Any]]:
    """Projects ranked by verified improvement of ``kpi`` since their baseline (shared, signed figures only)."""
    ranked = [i for i in improvements(conn, viewer) if kpi in i["improvement_pct"]]
    ranked.sort(key=lambda i: -i["improvement_pct"][kpi])
    return ranked[:top]


def dumps(doc: Any) -> str:
    return json.dumps(doc, ensure_ascii=False, default=str)
