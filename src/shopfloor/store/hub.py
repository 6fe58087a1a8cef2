"""The hub's records, every read and write scoped to the organisation asking.

A ``Viewer`` is the organisation of the signed-in user: the program office sees everything; a sponsor sees its own
projects and the figures its partner factories chose to share with it (while consent stands); a factory sees its
own projects, consents, keys and reports.  A record outside the viewer's scope is reported as not found, whatever
its identifier, so nothing can be learnt by guessing.

What each party sees of the monthly figures (the README's "what each party sees", and the consent text):

- the factory: everything it sent, with the key that signed each month;
- a sponsor: the current figures of its partner factories, only the KPIs of a consent the factory gave it and has
  not withdrawn, without the months and KPIs the factory withdrew;
- the program office: every factory's current figures, without what the factory withdrew; a withdrawn figure still
  counts in the program's roll-ups, which show outcome averages only over at least ``MIN_GROUP`` factories once a
  group holds a withdrawn figure.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection, and_, case, func, insert, or_, select, update

from shopfloor.errors import (
    AmountInvalid,
    ChooseKpis,
    CommitmentBelowLedger,
    ConsentDoesNotCover,
    ConsentNotFound,
    ConsentTextNotAgreed,
    ConsentWithdrawn,
    CorrectionNeedsReason,
    DomainError,
    FactoryNotFound,
    KeyExists,
    KeyNotFound,
    KeyRetired,
    KeyRevoked,
    KeyRevokedAlready,
    KpiUnknown,
    LedgerAboveCommitment,
    LedgerEntryNotFound,
    LedgerEntryReversed,
    LedgerKind,
    MilestoneDone,
    MilestoneNotFound,
    MonthlyOnly,
    NoActiveKey,
    NoConsent,
    NoFundingRule,
    OnlyFactoryShares,
    OnlyFactoryWithdraws,
    OrganisationExists,
    OrganisationIncomplete,
    OrganisationKind,
    OrganisationNotFound,
    PartyCode,
    PartyWithoutShare,
    ProgramExists,
    ProgramNotFound,
    ProjectExists,
    ProjectNotFound,
    ProjectRefused,
    PublicKeyInvalid,
    ReportExtraFields,
    ReportFieldInvalid,
    ReportKpisShape,
    ReportLacks,
    ReportNeedsFactoryToken,
    ReportOtherFactory,
    ReportReplayed,
    ReportShape,
    ReportStale,
    ReversalOfReversal,
    RuleRefused,
    SelfReportedUnknown,
    SelfReportedValue,
    SharedKpiUnknown,
    SignatureRefused,
    SignedAtInvalid,
    SponsorNotFound,
    TimezoneUnknown,
    WithdrawalScope,
    YearInvalid,
    refuse,
)
from shopfloor.model.funding import PARTY_PATTERN, PartyLimit, Rule, check_rule, check_shares, rule_in_force
from shopfloor.model.outcomes import (
    attainment,
    check_kpi_value,
    check_reportable,
    improvement_pct,
    month_start,
    program_kpis,
    target_met,
)
from shopfloor.model.signing import SignatureError, verify
from shopfloor.store.schema import (
    consents,
    factory_keys,
    funding_rule_parties,
    funding_rules,
    ledger,
    milestones,
    organisations,
    outcome_reports,
    programs,
    project_shares,
    projects,
    self_reported,
    withdrawals,
)

KINDS = ("office", "sponsor", "factory")
SHAREABLE = ("output_per_hour", "ppm", "first_pass_yield", "scrap_ratio", "on_time_delivery", "operating_rate")
FRESH_FOR = timedelta(minutes=15)
LEDGER_KINDS = ("contribution", "payment")
# Roll-ups that hold a figure a factory withdrew show outcome averages only over this many factories or more.
MIN_GROUP = 5
# What a factory may enter itself (shown as self-reported): won, persons, won.  Upper bounds catch typing errors.
SELF_REPORTED = {"sales": 10**15, "employees": 10**7, "manufacturing_cost": 10**15}
# The body of a report is small (a dozen figures); anything larger is refused before it is read.
REPORT_BODY_LIMIT = 64 * 1024
MAX_KPIS = 32
NONCE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
PAYLOAD_REQUIRED = frozenset({"factory", "period", "kpis", "signed_at", "nonce"})
PAYLOAD_OPTIONAL = frozenset({"sponsor", "partial", "coverage", "key"})
# The OEE of the KPI engine and the order lead time (hours from release to completion) are shared as well.
SHAREABLE = (*SHAREABLE, "oee", "lead_time_h")
# Labour productivity: good units per worker-hour signed in at the terminal.
SHAREABLE = (*SHAREABLE, "labour_productivity")

CONSENT_TEXT_VERSION = "2026-12"
CONSENT_TEXT = (
    "You share with this sponsor the monthly figures of the KPIs you choose, for the months you send; raw data "
    "stays in your factory.",
    "The program office sees every month you send, per factory, as the program's outcome reporting asks.",
    "You may withdraw this consent, a month or a KPI at any time. A withdrawn month or KPI is no longer shown to "
    "the sponsor nor to the program office for your factory.",
    "The program office keeps withdrawn figures in the program's roll-ups only (averages per program, sponsor and "
    "year), shown over at least {min_group} factories. An average of few factories can still reveal a figure to "
    "someone who knows the others.",
)


@dataclass(frozen=True)
class Viewer:
    kind: str  # office, sponsor, factory
    org_id: int | None

    @property
    def office(self) -> bool:
        return self.kind == "office"


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(timezone.utc)


# -- organisations and keys ---------------------------------------------------------------------------------
def fingerprint(public_key: bytes) -> str:
    """How a key is named: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(public_key).hexdigest()[:16]


def add_organisation(
    conn: Connection,
    code: str,
    name: str,
    kind: str,
    public_key: bytes | None = None,
    zone: str = "Asia/Seoul",
    actor: str = "hub",
) -> dict:
    if kind not in KINDS:
        raise OrganisationKind(kind=kind)
    if not code or not name:
        raise OrganisationIncomplete()
    if public_key is not None and kind != "factory":
        raise PublicKeyInvalid()
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise TimezoneUnknown(timezone=zone) from None
    if conn.execute(select(organisations.c.id).where(organisations.c.code == code)).first():
        raise OrganisationExists(organisation=code)
    conn.execute(insert(organisations).values(code=code, name=name, kind=kind, timezone=zone))
    if public_key is not None:
        add_key(conn, code, public_key, actor)
    return organisation(conn, code)


def organisation(conn: Connection, code: str) -> dict[str, Any]:
    row = conn.execute(select(organisations).where(organisations.c.code == code)).first()
    if row is None:
        raise OrganisationNotFound(organisation=code)
    doc = {"id": row.id, "code": row.code, "name": row.name, "kind": row.kind, "timezone": row.timezone}
    if row.kind == "factory":
        key = _key_in_use(conn, row.id)
        doc["key"] = key.fingerprint if key else None
    return doc


def organisation_of(conn: Connection, viewer: Viewer) -> dict[str, Any] | None:
    row = conn.execute(select(organisations).where(organisations.c.id == viewer.org_id)).first()
    return None if row is None else {"code": row.code, "name": row.name, "kind": row.kind, "timezone": row.timezone}


def _org_id(conn: Connection, code: str, kind: str) -> int:
    row = conn.execute(select(organisations.c.id, organisations.c.kind).where(organisations.c.code == code)).first()
    if row is None or row.kind != kind:
        raise SponsorNotFound(sponsor=code) if kind == "sponsor" else FactoryNotFound(factory=code)
    return int(row.id)


def _partners(conn: Connection, viewer: Viewer) -> set[int]:
    """Organisations that share a project with the viewer (a sponsor's factories, a factory's sponsors)."""
    p = projects.c
    if viewer.kind == "sponsor":
        return {r[0] for r in conn.execute(select(p.factory_id).where(p.sponsor_id == viewer.org_id))}
    if viewer.kind == "factory":
        return {r[0] for r in conn.execute(select(p.sponsor_id).where(p.factory_id == viewer.org_id))}
    return set()


def organisations_seen(conn: Connection, viewer: Viewer) -> list[dict[str, Any]]:
    """The office sees every organisation; others see themselves and their partners."""
    o = organisations.c
    query = select(organisations).order_by(o.code)
    if not viewer.office:
        query = query.where(o.id.in_({viewer.org_id} | _partners(conn, viewer)))
    return [{"code": r.code, "name": r.name, "kind": r.kind} for r in conn.execute(query)]


def _key_in_use(conn: Connection, factory_id: int):
    k = factory_keys.c
    return conn.execute(
        select(factory_keys).where(k.factory_id == factory_id, k.retired_at.is_(None), k.revoked_at.is_(None))
    ).first()


def add_key(conn: Connection, factory: str, public_key: bytes, actor: str, now: datetime | None = None) -> dict:
    """Register a factory's key; the key in use until now is retired (what it signed stays verified)."""
    now = _now(now)
    if len(public_key) != 32:
        raise PublicKeyInvalid()
    factory_id = _org_id(conn, factory, "factory")
    conn.execute(select(organisations.c.id).where(organisations.c.id == factory_id).with_for_update())
    if conn.execute(select(factory_keys.c.id).where(factory_keys.c.public_key == public_key)).first():
        raise KeyExists()
    k = factory_keys.c
    conn.execute(
        update(factory_keys)
        .where(k.factory_id == factory_id, k.retired_at.is_(None), k.revoked_at.is_(None))
        .values(retired_at=now)
    )
    conn.execute(
        insert(factory_keys).values(
            factory_id=factory_id,
            public_key=public_key,
            added_at=now,
            fingerprint=fingerprint(public_key),
            added_by=actor,
        )
    )
    return {"factory": factory, "key": fingerprint(public_key), "added_at": now.isoformat()}


def rotate_key(conn: Connection, viewer: Viewer, envelope: Any, actor: str, now: datetime | None = None) -> dict:
    """A factory replaces its key itself: the request names the new key and is signed with the key in use."""
    now = _now(now)
    if viewer.kind != "factory":
        raise ReportNeedsFactoryToken()
    if not isinstance(envelope, dict) or set(envelope) != {"payload", "signature"}:
        raise ReportShape()
    payload, signature = envelope["payload"], envelope["signature"]
    if not isinstance(payload, dict) or set(payload) != {"factory", "new_key", "signed_at", "nonce"}:
        raise ReportShape()
    org = conn.execute(select(organisations).where(organisations.c.id == viewer.org_id)).one()
    if payload["factory"] != org.code:
        raise ReportOtherFactory(own=org.code, factory=str(payload["factory"])[:64])
    key = _key_in_use(conn, org.id)
    if key is None:
        raise NoActiveKey(factory=org.code)
    try:
        verify(bytes(key.public_key), payload, _text(signature, "signature", 200))
    except SignatureError as exc:
        raise SignatureRefused(reason=str(exc)) from None
    _fresh(payload["signed_at"], now)
    try:
        new_key = base64.b64decode(_text(payload["new_key"], "new_key", 64), validate=True)
    except ValueError:
        raise PublicKeyInvalid() from None
    return add_key(conn, org.code, new_key, actor, now)


def revoke_key(conn: Connection, viewer: Viewer, factory: str, key: str, reason: str, now: datetime | None = None):
    """A key that must sign nothing more (lost, stolen); the factory or the office revokes it."""
    now = _now(now)
    factory_id = _org_id(conn, factory, "factory")
    if viewer.kind == "sponsor" or (viewer.kind == "factory" and viewer.org_id != factory_id):
        raise FactoryNotFound(factory=factory)
    if not reason.strip():
        raise CorrectionNeedsReason()
    k = factory_keys.c
    row = conn.execute(
        select(factory_keys).where(k.factory_id == factory_id, k.fingerprint == key).with_for_update()
    ).first()
    if row is None:
        raise KeyNotFound(key=key, factory=factory)
    if row.revoked_at is not None:
        raise KeyRevokedAlready(key=key)
    conn.execute(update(factory_keys).where(k.id == row.id).values(revoked_at=now, revoke_reason=reason))
    return {"factory": factory, "key": key, "revoked_at": now.isoformat(), "reason": reason}


def keys_of(conn: Connection, viewer: Viewer, factory: str) -> list[dict[str, Any]]:
    """A factory's keys, oldest first, with the months each signed (current reports)."""
    factory_id = _org_id(conn, factory, "factory")
    if viewer.kind == "sponsor" or (viewer.kind == "factory" and viewer.org_id != factory_id):
        raise FactoryNotFound(factory=factory)
    k, r = factory_keys.c, outcome_reports.c
    months: dict[int, list[str]] = defaultdict(list)
    for key_id, period in conn.execute(
        select(r.key_id, r.period).where(r.factory_id == factory_id, r.superseded.is_(False)).order_by(r.period)
    ):
        months[key_id].append(period)
    out = []
    for row in conn.execute(select(factory_keys).where(k.factory_id == factory_id).order_by(k.added_at, k.id)):
        state = "revoked" if row.revoked_at else "retired" if row.retired_at else "in use"
        out.append(
            {
                "key": row.fingerprint,
                "state": state,
                "added_at": row.added_at.isoformat(),
                "added_by": row.added_by,
                "retired_at": row.retired_at.isoformat() if row.retired_at else None,
                "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
                "revoke_reason": row.revoke_reason,
                "months": months.get(row.id, []),
            }
        )
    return out


def signatures(conn: Connection, viewer: Viewer, factory: str) -> list[dict[str, Any]]:
    """Each current month of a factory verified again, now, against the key recorded as its signer."""
    factory_id = _org_id(conn, factory, "factory")
    if viewer.kind == "sponsor" or (viewer.kind == "factory" and viewer.org_id != factory_id):
        raise FactoryNotFound(factory=factory)
    r, k = outcome_reports.c, factory_keys.c
    rows = conn.execute(
        select(r.period, r.payload, r.signature, k.public_key, k.fingerprint)
        .join(factory_keys, k.id == r.key_id, isouter=True)
        .where(r.factory_id == factory_id, r.superseded.is_(False))
        .order_by(r.period)
    ).all()
    out = []
    for row in rows:
        try:
            verify(bytes(row.public_key or b""), json.loads(row.payload), base64.b64encode(row.signature).decode())
            ok = True
        except SignatureError:
            ok = False
        out.append({"period": row.period, "key": row.fingerprint, "verified": ok})
    return out


# -- programs and rules ---------------------------------------------------------------------------------------
def _check_kpi_names(field: str, names: Iterable[str]) -> None:
    unknown = sorted(set(names) - set(SHAREABLE))
    if unknown:
        raise KpiUnknown(field=field, kpis=unknown, known=SHAREABLE)


def add_program(conn: Connection, code: str, name: str, kpis: list[str] | None = None) -> dict[str, Any]:
    if conn.execute(select(programs.c.id).where(programs.c.code == code)).first():
        raise ProgramExists(program=code)
    if kpis is not None:
        _check_kpi_names("kpis", kpis)
    conn.execute(insert(programs).values(code=code, name=name, kpis=kpis))
    return program(conn, code)


def _program_row(conn: Connection, code: str):
    row = conn.execute(select(programs).where(programs.c.code == code)).first()
    if row is None:
        raise ProgramNotFound(program=code)
    return row


def _kpis_of(row) -> list[str]:
    return list(row.kpis) if row.kpis else program_kpis(SHAREABLE)


def program(conn: Connection, code: str) -> dict[str, Any]:
    row = _program_row(conn, code)
    return {
        "code": row.code,
        "name": row.name,
        "kpis": _kpis_of(row),
        "rules": [r.to_dict() for r in rules_of(conn, code)],
    }


def program_list(conn: Connection) -> list[dict[str, Any]]:
    return [
        {"code": r.code, "name": r.name, "kpis": _kpis_of(r)}
        for r in conn.execute(select(programs).order_by(programs.c.code))
    ]


def set_rule(conn: Connection, rule: Rule) -> dict[str, Any]:
    """The rule of a program type and year from its first day in force (replacing one from the same day)."""
    refuse_all(check_rule(rule), RuleRefused)
    pid = _program_row(conn, rule.program).id
    fr, rp = funding_rules.c, funding_rule_parties.c
    values = {
        "effective_to": rule.effective_to,
        "total_min": rule.total_min,
        "total_max": rule.total_max,
        "note": rule.note,
    }
    key = and_(
        fr.program_id == pid,
        fr.project_type == rule.project_type,
        fr.year == rule.year,
        fr.effective_from == rule.effective_from,
    )
    rid = conn.execute(select(fr.id).where(key)).scalar()
    if rid is None:
        rid = conn.execute(
            insert(funding_rules).values(
                program_id=pid,
                project_type=rule.project_type,
                year=rule.year,
                effective_from=rule.effective_from,
                **values,
            )
        ).inserted_primary_key[0]
    else:
        conn.execute(update(funding_rules).where(fr.id == rid).values(**values))
        conn.execute(funding_rule_parties.delete().where(rp.rule_id == rid))
    if rule.parties:
        conn.execute(
            insert(funding_rule_parties),
            [
                {
                    "rule_id": rid,
                    "party": p.party,
                    "cap": p.cap,
                    "min_pct": None if p.min_pct is None else str(p.min_pct),
                    "max_pct": None if p.max_pct is None else str(p.max_pct),
                }
                for p in rule.parties
            ],
        )
    return rule.to_dict()


def refuse_all(problems: list[DomainError], several: type) -> None:
    """The one problem, or all of them together as ``several``."""
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise several(problems)


def _rules(conn: Connection, where) -> list[tuple[int, Rule]]:
    fr, rp = funding_rules.c, funding_rule_parties.c
    rows = conn.execute(
        select(funding_rules, programs.c.code.label("program"))
        .join(programs, programs.c.id == fr.program_id)
        .where(where)
        .order_by(programs.c.code, fr.project_type, fr.year, fr.effective_from)
    ).all()
    limits: dict[int, list[PartyLimit]] = defaultdict(list)
    if rows:
        for p in conn.execute(
            select(funding_rule_parties).where(rp.rule_id.in_([r.id for r in rows])).order_by(rp.rule_id, rp.party)
        ):
            limits[p.rule_id].append(PartyLimit(p.party, _dec(p.min_pct), _dec(p.max_pct), p.cap))
    return [
        (
            r.id,
            Rule(
                r.program,
                r.project_type,
                r.year,
                r.effective_from,
                tuple(_party_order(limits[r.id])),
                r.effective_to,
                r.total_min,
                r.total_max,
                r.note,
            ),
        )
        for r in rows
    ]


def _party_order(limits: list[PartyLimit]) -> list[PartyLimit]:
    order = {"state": 0, "sponsor": 1, "sme": 2}
    return sorted(limits, key=lambda p: (order.get(p.party, 3), p.party))


def _dec(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def rules_of(conn: Connection, program: str) -> list[Rule]:
    return [rule for _, rule in _rules(conn, programs.c.code == program)]


def _rule_for(conn: Connection, program_id: int, program: str, project_type: str, year: int, day: date):
    fr = funding_rules.c
    found = _rules(conn, and_(fr.program_id == program_id, fr.project_type == project_type, fr.year == year))
    rule = rule_in_force([r for _, r in found], day)
    if rule is None:
        raise NoFundingRule(program=program, type=project_type, year=year, day=day.isoformat())
    return next(rid for rid, r in found if r is rule), rule


# -- projects -------------------------------------------------------------------------------------------------
def _check_figures(spec: dict[str, Any]) -> list[DomainError]:
    problems: list[DomainError] = []
    for key in ("baseline", "target"):
        figures = spec.get(key) or {}
        unknown = sorted(set(figures) - set(SHAREABLE))
        if unknown:
            problems.append(KpiUnknown(field=key, kpis=unknown, known=SHAREABLE))
        problems += [e for kpi, v in figures.items() if kpi in SHAREABLE and (e := check_kpi_value(kpi, v))]
    for party in spec.get("shares") or {}:
        if not PARTY_PATTERN.match(party):
            problems.append(PartyCode(party=party))
    return problems


def add_project(conn: Connection, spec: dict[str, Any]) -> dict[str, Any]:
    """A project of a program type and year, its shares checked against the rule in force on its agreement day."""
    prog = _program_row(conn, spec["program"])
    factory_id = _org_id(conn, spec["factory"], "factory")
    sponsor_id = _org_id(conn, spec["sponsor"], "sponsor")
    agreed_on = spec.get("agreed_on") or date.today()
    rule_id, rule = _rule_for(conn, prog.id, prog.code, spec["type"], int(spec["year"]), agreed_on)
    shares = {p: int(a) for p, a in (spec.get("shares") or {}).items()}
    budget = int(spec["budget"])
    problems = _check_figures(spec) + check_shares(budget, shares, rule)
    if conn.execute(select(projects.c.id).where(projects.c.code == spec["code"])).first():
        problems.append(ProjectExists(project=spec["code"]))
    refuse_all(problems, ProjectRefused)
    pid = conn.execute(
        insert(projects).values(
            code=spec["code"],
            name=spec.get("name"),
            program_id=prog.id,
            year=int(spec["year"]),
            project_type=spec["type"],
            agreed_on=agreed_on,
            rule_id=rule_id,
            factory_id=factory_id,
            sponsor_id=sponsor_id,
            budget=budget,
            baseline=spec.get("baseline") or {},
            target=spec.get("target") or {},
            description=spec.get("description"),
        )
    ).inserted_primary_key[0]
    conn.execute(insert(project_shares), [{"project_id": pid, "party": p, "amount": a} for p, a in shares.items()])
    return project(conn, Viewer("office", None), spec["code"])


EDITABLE = ("name", "description", "baseline", "target", "budget", "shares", "agreed_on")


def update_project(conn: Connection, code: str, changes: dict[str, Any]) -> dict[str, Any]:
    """Change a project: its name, description, baseline, target, agreement day, total and shares (checked
    again against the rule in force on its agreement day; no share below what the ledger already holds)."""
    p = projects.c
    row = conn.execute(select(projects).where(p.code == code).with_for_update()).first()
    if row is None:
        raise ProjectNotFound(project=code)
    changes = {k: v for k, v in changes.items() if k in EDITABLE and v is not None}
    current = _shares(conn, [row.id])[row.id]
    shares = {k: int(v) for k, v in (changes.get("shares") or current).items()}
    budget = int(changes.get("budget", row.budget))
    agreed_on = changes.get("agreed_on", row.agreed_on)
    prog = conn.execute(select(programs).where(programs.c.id == row.program_id)).one()
    rule_id, rule = _rule_for(conn, prog.id, prog.code, row.project_type, row.year, agreed_on)
    problems = _check_figures(changes) + check_shares(budget, shares, rule)
    moved = _ledger_sums(conn, row.id)
    for (party, _kind), amount in sorted(moved.items()):
        if amount > shares.get(party, 0):
            problems.append(CommitmentBelowLedger(party=party, amount=f"{shares.get(party, 0):,}", moved=f"{amount:,}"))
    refuse_all(problems, ProjectRefused)
    values = {k: v for k, v in changes.items() if k in ("name", "description", "baseline", "target")}
    conn.execute(
        update(projects).where(p.id == row.id).values(budget=budget, agreed_on=agreed_on, rule_id=rule_id, **values)
    )
    if "shares" in changes:
        conn.execute(project_shares.delete().where(project_shares.c.project_id == row.id))
        conn.execute(
            insert(project_shares), [{"project_id": row.id, "party": k, "amount": v} for k, v in shares.items()]
        )
    return project(conn, Viewer("office", None), code)


def _project_scope(viewer: Viewer):
    p = projects.c
    if viewer.office:
        return True
    return (p.sponsor_id == viewer.org_id) if viewer.kind == "sponsor" else (p.factory_id == viewer.org_id)


def _shares(conn: Connection, ids: list[int]) -> dict[int, dict[str, int]]:
    out: dict[int, dict[str, int]] = {i: {} for i in ids}
    s = project_shares.c
    if ids:
        for pid, party, amount in conn.execute(select(s.project_id, s.party, s.amount).where(s.project_id.in_(ids))):
            out[pid][party] = int(amount)
    return out


def _projects_query(viewer: Viewer, filters: dict[str, Any] | None = None):
    f, s = organisations.alias("f"), organisations.alias("s")
    query = (
        select(
            projects,
            programs.c.code.label("program"),
            f.c.code.label("factory"),
            f.c.name.label("factory_name"),
            s.c.code.label("sponsor"),
            s.c.name.label("sponsor_name"),
        )
        .join(programs, programs.c.id == projects.c.program_id)
        .join(f, f.c.id == projects.c.factory_id)
        .join(s, s.c.id == projects.c.sponsor_id)
        .where(_project_scope(viewer))
    )
    filters = filters or {}
    if filters.get("program"):
        query = query.where(programs.c.code == filters["program"])
    if filters.get("year"):
        query = query.where(projects.c.year == int(filters["year"]))
    if filters.get("sponsor"):
        query = query.where(s.c.code == filters["sponsor"])
    if filters.get("type"):
        query = query.where(projects.c.project_type == filters["type"])
    if filters.get("q"):
        like = f"%{filters['q']}%"
        query = query.where(or_(f.c.code.ilike(like), f.c.name.ilike(like), projects.c.code.ilike(like)))
    return query


def _project_doc(row: Any, shares: dict[str, int]) -> dict[str, Any]:
    return {
        "code": row.code,
        "name": row.name,
        "program": row.program,
        "year": row.year,
        "type": row.project_type,
        "agreed_on": row.agreed_on.isoformat(),
        "factory": row.factory,
        "factory_name": row.factory_name,
        "sponsor": row.sponsor,
        "sponsor_name": row.sponsor_name,
        "budget": int(row.budget),
        "shares": shares,
        "baseline": row.baseline,
        "target": row.target,
        "description": row.description,
    }


def project(conn: Connection, viewer: Viewer, code: str) -> dict[str, Any]:
    row = conn.execute(_projects_query(viewer).where(projects.c.code == code)).first()
    if row is None:
        raise ProjectNotFound(project=code)
    doc = _project_doc(row, _shares(conn, [row.id])[row.id])
    if row.rule_id is not None:
        found = _rules(conn, funding_rules.c.id == row.rule_id)
        doc["rule"] = found[0][1].to_dict() if found else None
    ms = milestones.c
    doc["milestones"] = [
        {
            "id": m.id,
            "name": m.name,
            "due": m.due.isoformat(),
            "done_at": m.done_at.isoformat() if m.done_at else None,
            "done_by": m.done_by,
        }
        for m in conn.execute(select(milestones).where(ms.project_id == row.id).order_by(ms.due, ms.id))
    ]
    lg = ledger.c
    entries = conn.execute(select(ledger).where(lg.project_id == row.id).order_by(lg.ts, lg.id)).all()
    reversed_by = {e.reverses: e.id for e in entries if e.reverses is not None}
    doc["ledger"] = [
        {
            "id": e.id,
            "ts": e.ts.isoformat(),
            "party": e.party,
            "kind": e.kind,
            "amount": int(e.amount),
            "note": e.note,
            "reverses": e.reverses,
            "reversed_by": reversed_by.get(e.id),
            "actor": e.actor,
        }
        for e in entries
    ]
    sums = _ledger_sums(conn, row.id)
    doc["funding"] = {
        party: {
            "committed": amount,
            "contributed": sums.get((party, "contribution"), 0),
            "paid": sums.get((party, "payment"), 0),
        }
        for party, amount in doc["shares"].items()
    }
    return doc


def project_list(conn: Connection, viewer: Viewer, filters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    rows = conn.execute(_projects_query(viewer, filters).order_by(projects.c.code)).all()
    shares = _shares(conn, [r.id for r in rows])
    return [_project_doc(r, shares[r.id]) for r in rows]


def add_milestone(conn: Connection, code: str, name: str, due: datetime) -> dict[str, Any]:
    pid = conn.execute(select(projects.c.id).where(projects.c.code == code)).scalar()
    if pid is None:
        raise ProjectNotFound(project=code)
    mid = conn.execute(insert(milestones).values(project_id=pid, name=name, due=due)).inserted_primary_key[0]
    return {"id": mid, "project": code, "name": name, "due": due.isoformat(), "done_at": None}


def complete_milestone(conn: Connection, code: str, milestone: int, actor: str, done_at: datetime | None = None):
    """Mark a milestone done (once: of two completions at the same moment, the second is refused)."""
    done_at = _now(done_at)
    ms = milestones.c
    row = conn.execute(
        select(milestones)
        .join(projects, projects.c.id == ms.project_id)
        .where(projects.c.code == code, ms.id == milestone)
    ).first()
    if row is None:
        raise MilestoneNotFound(milestone=milestone, project=code)
    done = conn.execute(
        update(milestones).where(ms.id == row.id, ms.done_at.is_(None)).values(done_at=done_at, done_by=actor)
    ).rowcount
    if not done:
        current = conn.execute(select(ms.done_at).where(ms.id == row.id)).scalar_one()
        raise MilestoneDone(milestone=row.name, done_at=current.isoformat())
    return {"id": row.id, "project": code, "name": row.name, "done_at": done_at.isoformat(), "done_by": actor}


# -- the ledger -----------------------------------------------------------------------------------------------
def _ledger_sums(conn: Connection, project_id: int) -> dict[tuple[str, str], int]:
    lg = ledger.c
    rows = conn.execute(
        select(lg.party, lg.kind, func.sum(lg.amount)).where(lg.project_id == project_id).group_by(lg.party, lg.kind)
    )
    return {(party, kind): int(total) for party, kind, total in rows}


def _lock_project(conn: Connection, code: str):
    # The project's row is locked: entries for it at the same moment are checked against the shares in turn.
    row = conn.execute(select(projects).where(projects.c.code == code).with_for_update()).first()
    if row is None:
        raise ProjectNotFound(project=code)
    return row


def add_ledger_entry(
    conn: Connection,
    code: str,
    party: str,
    kind: str,
    amount: int,
    note: str | None = None,
    ts: datetime | None = None,
    actor: str | None = None,
) -> dict[str, Any]:
    """A contribution (paid in) or a payment (paid out) of a party; neither ever beyond what it committed."""
    if kind not in LEDGER_KINDS:
        raise LedgerKind(kind=kind)
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise AmountInvalid()
    row = _lock_project(conn, code)
    committed = _shares(conn, [row.id])[row.id]
    if party not in committed:
        raise PartyWithoutShare(project=code, party=party)
    so_far = _ledger_sums(conn, row.id).get((party, kind), 0)
    if so_far + amount > committed[party]:
        raise LedgerAboveCommitment(
            party=party, kind=kind, total=f"{so_far + amount:,}", commitment=f"{committed[party]:,}"
        )
    ts = ts or datetime.now(timezone.utc)
    eid = conn.execute(
        insert(ledger).values(project_id=row.id, ts=ts, party=party, kind=kind, amount=amount, note=note, actor=actor)
    ).inserted_primary_key[0]
    return {
        "id": eid,
        "project": code,
        "party": party,
        "kind": kind,
        "amount": amount,
        "ts": ts.isoformat(),
        "note": note,
    }


def reverse_ledger_entry(
    conn: Connection, code: str, entry: int, reason: str, actor: str | None = None, ts: datetime | None = None
) -> dict[str, Any]:
    """Correct a ledger entry: a new entry of the opposite amount that names it, with the reason.  An entry is
    reversed once (a constraint keeps the first of two reversals at the same moment)."""
    if not reason or not reason.strip():
        raise CorrectionNeedsReason()
    row = _lock_project(conn, code)
    lg = ledger.c
    original = conn.execute(select(ledger).where(lg.id == entry, lg.project_id == row.id)).first()
    if original is None:
        raise LedgerEntryNotFound(entry=entry, project=code)
    if original.reverses is not None:
        raise ReversalOfReversal(entry=entry)
    if conn.execute(select(lg.id).where(lg.reverses == entry)).first():
        raise LedgerEntryReversed(entry=entry)
    ts = ts or datetime.now(timezone.utc)
    eid = conn.execute(
        insert(ledger).values(
            project_id=row.id,
            ts=ts,
            party=original.party,
            kind=original.kind,
            amount=-int(original.amount),
            note=reason,
            reverses=entry,
            actor=actor,
        )
    ).inserted_primary_key[0]
    return {
        "id": eid,
        "project": code,
        "party": original.party,
        "kind": original.kind,
        "amount": -int(original.amount),
        "reverses": entry,
        "note": reason,
        "ts": ts.isoformat(),
    }


def funding(conn: Connection, viewer: Viewer, filters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Money per program, year, sponsor and party: committed (the projects' shares), contributed and paid (the
    ledger, reversals included), for the projects in the viewer's scope."""
    scoped = _projects_query(viewer, filters).subquery()
    s, lg = project_shares.c, ledger.c
    key = (scoped.c.program, scoped.c.year, scoped.c.sponsor)
    committed = conn.execute(
        select(*key, s.party, func.count(), func.sum(s.amount))
        .join(scoped, scoped.c.id == s.project_id)
        .group_by(*key, s.party)
    ).all()
    moved = conn.execute(
        select(
            *key,
            lg.party,
            func.sum(case((lg.kind == "contribution", lg.amount), else_=0)),
            func.sum(case((lg.kind == "payment", lg.amount), else_=0)),
        )
        .join(scoped, scoped.c.id == lg.project_id)
        .group_by(*key, lg.party)
    ).all()
    rows: dict[tuple, dict[str, Any]] = {}
    for program, year, sponsor, party, count, amount in committed:
        rows[(program, year, sponsor, party)] = {
            "program": program,
            "year": year,
            "sponsor": sponsor,
            "party": party,
            "projects": int(count),
            "committed": int(amount),
            "contributed": 0,
            "paid": 0,
        }
    for program, year, sponsor, party, contributed, paid in moved:
        row = rows.setdefault(
            (program, year, sponsor, party),
            {"program": program, "year": year, "sponsor": sponsor, "party": party, "projects": 0, "committed": 0},
        )
        row["contributed"], row["paid"] = int(contributed or 0), int(paid or 0)
    order = {"state": 0, "sponsor": 1, "sme": 2}
    return sorted(
        rows.values(), key=lambda r: (r["program"], r["year"], r["sponsor"], order.get(r["party"], 3), r["party"])
    )


def totals(conn: Connection, viewer: Viewer, program: str) -> dict[str, Any]:
    """A program's budgets and money per party, sponsor and year, for the projects the viewer sees."""
    _program_row(conn, program)
    rows = funding(conn, viewer, {"program": program})
    scoped = _projects_query(viewer, {"program": program}).subquery()
    count, budget = conn.execute(select(func.count(), func.coalesce(func.sum(scoped.c.budget), 0))).one()
    per_party: dict[str, dict[str, int]] = {}
    for r in rows:
        t = per_party.setdefault(r["party"], {"committed": 0, "contributed": 0, "paid": 0})
        for k in t:
            t[k] += r[k]
    return {"program": program, "projects": int(count), "budget": int(budget), "parties": per_party, "rows": rows}


# -- consents and withdrawals ---------------------------------------------------------------------------------
def consent_text(min_group: int = MIN_GROUP) -> tuple[str, ...]:
    return tuple(p.replace("{min_group}", str(min_group)) for p in CONSENT_TEXT)


def grant_consent(
    conn: Connection,
    viewer: Viewer,
    sponsor: str,
    kpis: list[str],
    granularity: str = "month",
    text_version: str | None = CONSENT_TEXT_VERSION,
    now: datetime | None = None,
):
    """A factory shares monthly KPIs with one of its projects' sponsors (any other sponsor code, existing or not,
    is answered as unknown)."""
    if viewer.kind != "factory":
        raise OnlyFactoryShares()
    unknown = sorted(set(kpis) - set(SHAREABLE))
    if unknown or not kpis:
        raise SharedKpiUnknown(kpis=unknown, known=SHAREABLE) if unknown else ChooseKpis(known=SHAREABLE)
    if granularity != "month":
        raise MonthlyOnly()
    if text_version != CONSENT_TEXT_VERSION:
        raise ConsentTextNotAgreed(version=CONSENT_TEXT_VERSION)
    sponsor_id = _partner_sponsor(conn, viewer, sponsor)
    cid = conn.execute(
        insert(consents).values(
            factory_id=viewer.org_id,
            sponsor_id=sponsor_id,
            kpis=sorted(set(kpis)),
            granularity=granularity,
            granted_at=_now(now),
            text_version=text_version,
        )
    ).inserted_primary_key[0]
    return consent(conn, viewer, int(cid))


def _partner_sponsor(conn: Connection, viewer: Viewer, sponsor: str) -> int:
    s, p = organisations.alias("s"), projects.c
    sid = conn.execute(
        select(s.c.id)
        .join(projects, p.sponsor_id == s.c.id)
        .where(s.c.code == str(sponsor), p.factory_id == viewer.org_id)
    ).first()
    if sid is None:
        raise SponsorNotFound(sponsor=str(sponsor)[:64])
    return int(sid[0])


def consent(conn: Connection, viewer: Viewer, cid: int) -> dict[str, Any]:
    c = consents.c
    s = organisations.alias("s")
    query = select(consents, s.c.code.label("sponsor"), s.c.name.label("sponsor_name")).join(s, s.c.id == c.sponsor_id)
    query = query.where(c.id == cid)
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
        "sponsor_name": row.sponsor_name,
        "kpis": row.kpis,
        "granularity": row.granularity,
        "granted_at": row.granted_at.isoformat(),
        "text_version": row.text_version,
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


def withdraw_consent(conn: Connection, viewer: Viewer, cid: int, now: datetime | None = None) -> dict[str, Any]:
    if viewer.kind != "factory":
        raise OnlyFactoryWithdraws()
    consent(conn, viewer, cid)
    # Withdrawn only if it stands: of two withdrawals at the same moment, the second is refused.
    done = conn.execute(
        update(consents).where(consents.c.id == cid, consents.c.withdrawn_at.is_(None)).values(withdrawn_at=_now(now))
    ).rowcount
    if not done:
        raise ConsentWithdrawn(consent=cid)
    return consent(conn, viewer, cid)


def withdraw(
    conn: Connection, viewer: Viewer, period: str | None = None, kpi: str | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """A factory takes back a month, a KPI, or one KPI of one month, from everyone's per-factory view."""
    if viewer.kind != "factory":
        raise OnlyFactoryWithdraws()
    if not period and not kpi:
        raise WithdrawalScope()
    if period:
        month_start(period)
    if kpi and kpi not in SHAREABLE:
        raise SharedKpiUnknown(kpis=[kpi], known=SHAREABLE)
    now = _now(now)
    wid = conn.execute(
        insert(withdrawals).values(factory_id=viewer.org_id, period=period or None, kpi=kpi or None, withdrawn_at=now)
    ).inserted_primary_key[0]
    return {"id": wid, "period": period or None, "kpi": kpi or None, "withdrawn_at": now.isoformat()}


def withdrawals_of(conn: Connection, viewer: Viewer) -> list[dict[str, Any]]:
    w = withdrawals.c
    return [
        {"id": r.id, "period": r.period, "kpi": r.kpi, "withdrawn_at": r.withdrawn_at.isoformat()}
        for r in conn.execute(select(withdrawals).where(w.factory_id == viewer.org_id).order_by(w.id))
    ]


# -- signed outcome reports -----------------------------------------------------------------------------------
def _text(value: Any, field: str, limit: int) -> str:
    if not isinstance(value, str) or not value or len(value) > limit:
        raise ReportFieldInvalid(field=field, expected=f"text of 1 to {limit} characters")
    return value


def _fresh(value: Any, now: datetime) -> datetime:
    try:
        signed_at = datetime.fromisoformat(_text(value, "signed_at", 40))
        if signed_at.tzinfo is None:
            raise ValueError
    except ValueError:
        raise SignedAtInvalid() from None
    if abs(now - signed_at) > FRESH_FOR:
        raise ReportStale(signed_at=signed_at.isoformat())
    return signed_at


def check_envelope(envelope: Any) -> dict[str, Any]:
    """The shape of a report, before anything else: the fields and only them, each of its type and length."""
    if not isinstance(envelope, dict) or not isinstance(envelope.get("payload"), dict):
        raise ReportShape()
    extra = sorted(set(envelope) - {"payload", "signature"})
    payload = envelope["payload"]
    extra += sorted(f"payload.{k}"[:80] for k in set(payload) - PAYLOAD_REQUIRED - PAYLOAD_OPTIONAL)
    if extra:
        raise ReportExtraFields(fields=extra[:10])
    missing = sorted(PAYLOAD_REQUIRED - set(payload))
    if missing:
        raise ReportLacks(fields=missing)
    _text(envelope.get("signature"), "signature", 200)
    _text(payload["factory"], "factory", 64)
    if payload.get("sponsor") is not None:
        _text(payload["sponsor"], "sponsor", 64)
    if not isinstance(payload["nonce"], str) or not NONCE.match(payload["nonce"]):
        raise ReportFieldInvalid(field="nonce", expected="16 to 64 letters, digits, - or _")
    if "partial" in payload and not isinstance(payload["partial"], bool):
        raise ReportFieldInvalid(field="partial", expected="true or false")
    if payload.get("key") is not None and not re.fullmatch(r"[0-9a-f]{16}", str(payload["key"])):
        raise ReportFieldInvalid(field="key", expected="the key's fingerprint, 16 hexadecimal digits")
    cover = payload.get("coverage")
    if cover is not None:
        fraction = cover.get("fraction") if isinstance(cover, dict) else None
        if (
            not isinstance(cover, dict)
            or not set(cover) <= {"from", "to", "fraction"}
            or any(
                cover.get(k) is not None and not (isinstance(cover[k], str) and len(cover[k]) <= 40)
                for k in ("from", "to")
            )
            or isinstance(fraction, bool)
            or not (fraction is None or (isinstance(fraction, int | float) and 0 <= fraction <= 1))
        ):
            raise ReportFieldInvalid(field="coverage", expected='{"from": time, "to": time, "fraction": 0..1}')
    kpis = payload["kpis"]
    if not isinstance(kpis, dict) or len(kpis) > MAX_KPIS:
        raise ReportKpisShape(limit=MAX_KPIS)
    unknown = sorted(str(k)[:40] for k in set(kpis) - set(SHAREABLE))
    if unknown:
        raise SharedKpiUnknown(kpis=unknown[:10], known=SHAREABLE)
    refuse([e for k, v in kpis.items() if (e := check_kpi_value(k, v))])
    return payload


def receive_report(conn: Connection, viewer: Viewer, envelope: Any, now: datetime | None = None) -> dict[str, Any]:
    """Check and keep a factory's signed monthly report: its shape, the sender is that factory, the signature
    verifies with the factory's key in use (or the key it names, if that key was in use when it signed), it was
    signed within the last 15 minutes and not received before, the month has begun (and a running month is marked
    partial), and a sponsor it names is a partner with a consent covering its KPIs.  A month sent again replaces
    the one received before (a correction)."""
    now = _now(now)
    if viewer.kind != "factory":
        raise ReportNeedsFactoryToken()
    payload = check_envelope(envelope)
    # The factory's row is locked: its reports are taken in turn (two copies of one report, two corrections).
    org = conn.execute(select(organisations).where(organisations.c.id == viewer.org_id).with_for_update()).one()
    if payload["factory"] != org.code:
        raise ReportOtherFactory(own=org.code, factory=payload["factory"])
    signed_at = _fresh(payload["signed_at"], now)
    key = _signing_key(conn, org, payload.get("key"), signed_at)
    try:
        data = verify(bytes(key.public_key), payload, envelope["signature"])
    except SignatureError as exc:
        raise SignatureRefused(reason=str(exc)) from None
    r = outcome_reports.c
    if conn.execute(select(r.id).where(r.nonce == payload["nonce"])).first():
        raise ReportReplayed(nonce=payload["nonce"])
    period, partial = payload["period"], bool(payload.get("partial", False))
    check_reportable(period, partial, now)
    sponsor_id = consent_id = None
    if payload.get("sponsor") is not None:
        sponsor = payload["sponsor"]
        sponsor_id = _partner_sponsor(conn, viewer, sponsor)
        c = consents.c
        live = conn.execute(
            select(consents)
            .where(c.factory_id == org.id, c.sponsor_id == sponsor_id, c.withdrawn_at.is_(None))
            .order_by(c.id.desc())
        ).first()
        if live is None:
            raise NoConsent(factory=org.code, sponsor=sponsor)
        beyond = sorted(set(payload["kpis"]) - set(live.kpis))
        if beyond:
            raise ConsentDoesNotCover(sponsor=sponsor, kpis=beyond)
        consent_id = live.id
    conn.execute(
        update(outcome_reports)
        .where(r.factory_id == org.id, r.period == period, r.superseded.is_(False))
        .values(superseded=True)
    )
    conn.execute(
        insert(outcome_reports).values(
            factory_id=org.id,
            sponsor_id=sponsor_id,
            consent_id=consent_id,
            key_id=key.id,
            period=period,
            kpis=payload["kpis"],
            partial=partial,
            coverage=payload.get("coverage"),
            superseded=False,
            payload=data.decode(),
            signature=base64.b64decode(envelope["signature"]),
            nonce=payload["nonce"],
            signed_at=signed_at,
            received_at=now,
        )
    )
    return {
        "factory": org.code,
        "sponsor": payload.get("sponsor"),
        "period": period,
        "partial": partial,
        "key": key.fingerprint,
        "received_at": now.isoformat(),
    }


def _signing_key(conn: Connection, org, named: str | None, signed_at: datetime):
    k = factory_keys.c
    if named is None:
        key = _key_in_use(conn, org.id)
        if key is None:
            raise NoActiveKey(factory=org.code)
        return key
    key = conn.execute(select(factory_keys).where(k.factory_id == org.id, k.fingerprint == named)).first()
    if key is None:
        raise KeyNotFound(key=named, factory=org.code)
    if key.revoked_at is not None:
        raise KeyRevoked(key=named, factory=org.code, revoked_at=key.revoked_at.isoformat())
    if key.retired_at is not None and signed_at > key.retired_at:
        raise KeyRetired(key=named, factory=org.code, retired_at=key.retired_at.isoformat())
    return key


# -- what each party sees ---------------------------------------------------------------------------------------
@dataclass
class Month:
    """A factory's current figures of a month as the viewer may see them."""

    factory_id: int
    period: str
    kpis: dict[str, float | None]
    partial: bool
    received_at: datetime
    key: str | None
    withdrawn: set[str]  # KPIs of the month the factory took back (kept for the office's roll-ups only)


def _withdrawn_kpis(
    rules: list[tuple[str | None, str | None, datetime]], period: str, received: datetime, kpis: Iterable[str]
) -> set[str]:
    hidden: set[str] = set()
    for w_period, w_kpi, at in rules:
        if (w_period is None or w_period == period) and at >= received:
            hidden |= set(kpis) if w_kpi is None else {w_kpi}
    return hidden & set(kpis)


def months(
    conn: Connection,
    viewer: Viewer,
    factory_ids: list[int] | None = None,
    latest_only: bool = False,
    keep_withdrawn: bool = False,
) -> list[Month]:
    """The current months the viewer may see (per factory, oldest first), each with the KPIs it may see.
    ``latest_only``: each factory's latest visible month.  ``keep_withdrawn``: the office's roll-ups also take
    what the factory withdrew (``Month.withdrawn`` says which)."""
    r, k = outcome_reports.c, factory_keys.c
    query = (
        select(r.factory_id, r.period, r.kpis, r.partial, r.received_at, k.fingerprint)
        .join(factory_keys, k.id == r.key_id, isouter=True)
        .where(r.superseded.is_(False))
    )
    allowed: dict[int, set[str]] | None = None
    if viewer.kind == "factory":
        query = query.where(r.factory_id == viewer.org_id)
    elif viewer.kind == "sponsor":
        c = consents.c
        allowed = defaultdict(set)
        for fid, kpis in conn.execute(
            select(c.factory_id, c.kpis).where(c.sponsor_id == viewer.org_id, c.withdrawn_at.is_(None))
        ):
            allowed[fid] |= set(kpis)
        allowed = {fid: kp for fid, kp in allowed.items() if fid in _partners(conn, viewer)}
        factory_ids = [f for f in (factory_ids or allowed) if f in allowed]
        if not factory_ids:
            return []
    if factory_ids is not None:
        query = query.where(r.factory_id.in_(factory_ids))
    w = withdrawals.c
    wq = select(w.factory_id, w.period, w.kpi, w.withdrawn_at)
    if factory_ids is not None:
        wq = wq.where(w.factory_id.in_(factory_ids))
    taken_back: dict[int, list] = defaultdict(list)
    for fid, period, kpi, at in conn.execute(wq):
        taken_back[fid].append((period, kpi, at))
    if latest_only:
        # each factory's latest month, unless the factory withdrew something (then all its months are read)
        newest = (
            select(r.factory_id.label("fid"), func.max(r.period).label("period"))
            .where(r.superseded.is_(False))
            .group_by(r.factory_id)
            .subquery()
        )
        latest_query = query.join(newest, and_(newest.c.fid == r.factory_id, newest.c.period == r.period))
        if taken_back:
            latest_query = latest_query.where(r.factory_id.not_in(list(taken_back)))
            rows = list(conn.execute(latest_query)) + list(
                conn.execute(query.where(r.factory_id.in_(list(taken_back))))
            )
        else:
            rows = list(conn.execute(latest_query))
    else:
        rows = list(conn.execute(query.order_by(r.factory_id, r.period)))
    out: list[Month] = []
    for fid, period, kpis, partial, received, fp in rows:
        if allowed is not None:
            kpis = {name: v for name, v in kpis.items() if name in allowed[fid]}
        hidden = _withdrawn_kpis(taken_back[fid], period, received, kpis) if fid in taken_back else set()
        if hidden and not keep_withdrawn:
            kpis = {name: v for name, v in kpis.items() if name not in hidden}
        if not kpis and (hidden or allowed is not None):
            continue
        out.append(Month(fid, period, kpis, bool(partial), received, fp, hidden))
    if latest_only:
        last: dict[int, Month] = {}
        for m in out:
            visible = keep_withdrawn or set(m.kpis) - m.withdrawn
            if visible and (m.factory_id not in last or m.period > last[m.factory_id].period):
                last[m.factory_id] = m
        out = list(last.values())
    out.sort(key=lambda m: (m.factory_id, m.period))
    return out


def _org_codes(conn: Connection) -> dict[int, tuple[str, str]]:
    return {
        r.id: (r.code, r.name)
        for r in conn.execute(select(organisations.c.id, organisations.c.code, organisations.c.name))
    }


def outcomes(conn: Connection, viewer: Viewer, factory: str | None = None) -> list[dict[str, Any]]:
    """Every current month the viewer may see, per factory (a factory's own, a sponsor's consented partners',
    the office's all), without what was withdrawn."""
    ids = None
    if factory:
        fid = conn.execute(select(organisations.c.id).where(organisations.c.code == factory)).scalar()
        ids = [fid] if fid is not None else []
    codes = _org_codes(conn)
    return [
        {
            "factory": codes[m.factory_id][0],
            "period": m.period,
            "kpis": m.kpis,
            "partial": m.partial,
            "key": m.key,
            "received_at": m.received_at.isoformat(),
        }
        for m in months(conn, viewer, ids)
    ]


def _kpi_row(kpi: str, baseline: Any, target: Any, value: float | None) -> dict[str, Any]:
    return {
        "baseline": baseline,
        "target": target,
        "value": value,
        "attainment": attainment(baseline, target, value),
        "improvement_pct": improvement_pct(kpi, baseline, value),
        "met": target_met(kpi, target, value),
    }


def _kpis_of_program(conn: Connection) -> dict[str, list[str]]:
    return {r.code: _kpis_of(r) for r in conn.execute(select(programs))}


def project_months(conn: Connection, viewer: Viewer, code: str) -> dict[str, Any]:
    """A project's months as the viewer may see them: per program KPI the baseline, target, value, attainment
    and improvement; partial months marked."""
    doc = project(conn, viewer, code)
    fid = conn.execute(select(projects.c.factory_id).where(projects.c.code == code)).scalar_one()
    kpis = _kpis_of_program(conn)[doc["program"]]
    rows = []
    for m in months(conn, viewer, [fid]):
        rows.append(
            {
                "period": m.period,
                "partial": m.partial,
                "key": m.key,
                "received_at": m.received_at.isoformat(),
                "kpis": {
                    k: _kpi_row(k, doc["baseline"].get(k), doc["target"].get(k), m.kpis.get(k))
                    for k in kpis
                    if k in m.kpis
                },
            }
        )
    return {"project": code, "program": doc["program"], "kpis": kpis, "months": rows}


def dashboard(conn: Connection, viewer: Viewer, filters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every project in scope (filtered) with its latest visible month: per program KPI the baseline, target,
    value, attainment and improvement; the month marked partial if it was."""
    rows = conn.execute(_projects_query(viewer, filters).order_by(projects.c.code)).all()
    latest = {m.factory_id: m for m in months(conn, viewer, sorted({r.factory_id for r in rows}), latest_only=True)}
    program_kpis_ = _kpis_of_program(conn)
    out = []
    for r in rows:
        m = latest.get(r.factory_id)
        figures = m.kpis if m else {}
        out.append(
            {
                "project": r.code,
                "name": r.name,
                "program": r.program,
                "year": r.year,
                "type": r.project_type,
                "factory": r.factory,
                "factory_name": r.factory_name,
                "sponsor": r.sponsor,
                "sponsor_name": r.sponsor_name,
                "budget": int(r.budget),
                "latest": {"period": m.period, "partial": m.partial, "received_at": m.received_at.isoformat()}
                if m
                else None,
                "kpis": {
                    k: _kpi_row(k, r.baseline.get(k), r.target.get(k), figures.get(k)) for k in program_kpis_[r.program]
                },
            }
        )
    return out


def rollup(conn: Connection, viewer: Viewer, filters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Per program, year and sponsor: projects, the total, money per party (committed, contributed, paid), how
    many factories reported, and per program KPI the mean attainment of the latest months and how many met their
    target.  The office's roll-ups hold withdrawn figures too, and then show outcomes only over ``MIN_GROUP``
    factories or more."""
    rows = conn.execute(_projects_query(viewer, filters)).all()
    keep = viewer.office
    latest = {
        m.factory_id: m
        for m in months(conn, viewer, sorted({r.factory_id for r in rows}), latest_only=True, keep_withdrawn=keep)
    }
    program_kpis_ = _kpis_of_program(conn)
    groups: dict[tuple, dict[str, Any]] = {}
    for r in rows:
        key = (r.program, r.year, r.sponsor)
        g = groups.setdefault(
            key,
            {
                "program": r.program,
                "year": r.year,
                "sponsor": r.sponsor,
                "sponsor_name": r.sponsor_name,
                "projects": 0,
                "budget": 0,
                "reporting": 0,
                "withdrawn": False,
                "_att": defaultdict(list),
                "_met": defaultdict(int),
                "kpis_of": program_kpis_[r.program],
            },
        )
        g["projects"] += 1
        g["budget"] += int(r.budget)
        m = latest.get(r.factory_id)
        if m is None:
            continue
        g["reporting"] += 1
        g["withdrawn"] |= bool(m.withdrawn)
        for k in g["kpis_of"]:
            a = attainment(r.baseline.get(k), r.target.get(k), m.kpis.get(k))
            if a is not None:
                g["_att"][k].append(a)
            if target_met(k, r.target.get(k), m.kpis.get(k)):
                g["_met"][k] += 1
    money = defaultdict(dict)
    for f in funding(conn, viewer, filters):
        money[(f["program"], f["year"], f["sponsor"])][f["party"]] = {
            "committed": f["committed"],
            "contributed": f["contributed"],
            "paid": f["paid"],
        }
    out = []
    for key in sorted(groups):
        g = groups[key]
        shown = not g["withdrawn"] or g["reporting"] >= MIN_GROUP
        att, met = g.pop("_att"), g.pop("_met")
        kpis = g.pop("kpis_of")
        g["parties"] = money.get(key, {})
        g["kpis"] = {
            k: {
                "mean_attainment": (sum(att[k]) / len(att[k])) if shown and att[k] else None,
                "projects": len(att[k]) if shown else None,
                "met": met[k] if shown else None,
            }
            for k in kpis
        }
        g["outcomes_shown"] = shown
        g.pop("withdrawn")
        out.append(g)
    return out


def best_practices(conn: Connection, viewer: Viewer, kpi: str = "ppm", top: int = 10) -> list[dict[str, Any]]:
    """Projects ranked by verified improvement of ``kpi`` since their baseline, on their latest whole month (a
    partial month ranks nothing)."""
    rows = conn.execute(_projects_query(viewer)).all()
    whole: dict[int, Month] = {}
    for m in months(conn, viewer, sorted({r.factory_id for r in rows})):
        if not m.partial and kpi in m.kpis and m.kpis[kpi] is not None:
            whole[m.factory_id] = m  # months come oldest first: the last one kept is the latest
    ranked = []
    for r in rows:
        m = whole.get(r.factory_id)
        change = improvement_pct(kpi, r.baseline.get(kpi), m.kpis[kpi]) if m else None
        if change is None:
            continue
        ranked.append(
            {
                "project": r.code,
                "name": r.name,
                "factory": r.factory,
                "factory_name": r.factory_name,
                "sponsor": r.sponsor,
                "sponsor_name": r.sponsor_name,
                "period": m.period,
                "received_at": m.received_at.isoformat(),
                "kpi": kpi,
                "kpis": {
                    k: _kpi_row(k, r.baseline.get(k), r.target.get(k), m.kpis.get(k))
                    for k in sorted(set(r.baseline) | {kpi})
                    if k in m.kpis
                },
                "improvement_pct": change,
            }
        )
    ranked.sort(key=lambda i: -i["improvement_pct"])
    return ranked[:top]


# -- self-reported figures ------------------------------------------------------------------------------------
def enter_self_reported(
    conn: Connection, viewer: Viewer, year: int, figures: dict[str, Any], actor: str, now: datetime | None = None
) -> dict[str, Any]:
    """A factory's own figures for a year (sales and cost in won, employees); entered again, the newest counts."""
    if viewer.kind != "factory":
        raise OnlyFactoryShares()
    now = _now(now)
    if not isinstance(year, int) or isinstance(year, bool) or not 2000 <= year <= now.year:
        raise YearInvalid(year=str(year)[:10], high=now.year)
    unknown = sorted(set(figures) - set(SELF_REPORTED))
    if unknown or not figures:
        raise SelfReportedUnknown(items=unknown, known=list(SELF_REPORTED))
    problems = [
        SelfReportedValue(item=k, value=str(v)[:30], high=f"{SELF_REPORTED[k]:,}")
        for k, v in figures.items()
        if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= SELF_REPORTED[k]
    ]
    refuse(problems)
    conn.execute(
        insert(self_reported),
        [
            {"factory_id": viewer.org_id, "year": year, "item": k, "value": v, "entered_at": now, "entered_by": actor}
            for k, v in figures.items()
        ],
    )
    return {"year": year, "figures": figures, "entered_at": now.isoformat()}


def self_reported_of(conn: Connection, viewer: Viewer, factory: str | None = None) -> list[dict[str, Any]]:
    """The newest self-reported figure per factory, year and item: the office sees every factory's, a factory
    its own, a sponsor none (the program asks for them)."""
    if viewer.kind == "sponsor":
        return []
    s = self_reported.c
    newest = select(func.max(s.id)).group_by(s.factory_id, s.year, s.item)
    query = (
        select(s.year, s.item, s.value, s.entered_at, s.entered_by, organisations.c.code)
        .join(organisations, organisations.c.id == s.factory_id)
        .where(s.id.in_(newest))
        .order_by(organisations.c.code, s.year, s.item)
    )
    if viewer.kind == "factory":
        query = query.where(s.factory_id == viewer.org_id)
    elif factory:
        query = query.where(organisations.c.code == factory)
    return [
        {
            "factory": r.code,
            "year": r.year,
            "item": r.item,
            "value": int(r.value),
            "entered_at": r.entered_at.isoformat(),
            "entered_by": r.entered_by,
        }
        for r in conn.execute(query)
    ]


def dumps(doc: Any) -> str:
    return json.dumps(doc, ensure_ascii=False, default=str)
