"""The hub's check-then-writes under concurrency, on SQLite and PostgreSQL: threads released together contribute
to one share, send copies of one report or corrections of one month, and reverse one ledger entry; the store ends
as if they had come in turn, and each refusal is the typed one (never a 500)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from shopfloor.actions import hub as actions
from shopfloor.actions.hub_share import signed_report
from shopfloor.errors import LedgerAboveCommitment, LedgerEntryReversed, ReportReplayed
from shopfloor.model.funding import Rule
from shopfloor.model.signing import generate_key
from shopfloor.store import hub as store
from shopfloor.store.schema import ledger, outcome_reports
from tests.actions.test_races import THREADS, together

M = 1_000_000


@pytest.fixture
def project(engine):
    pem, public = generate_key()
    with engine.begin() as conn:
        store.add_organisation(conn, "SP", "Sponsor", "sponsor")
        store.add_organisation(conn, "FA", "Factory", "factory", public)
        store.add_program(conn, "PG", "Program")
        store.set_rule(conn, Rule.from_dict({"type": "basic", "year": 2026, "effective_from": "2026-01-01",
                                             "parties": {"state": {}, "sponsor": {}, "sme": {}}}, "PG"))  # fmt: skip
        store.add_project(conn, {"code": "P1", "program": "PG", "type": "basic", "year": 2026, "factory": "FA",
                                 "sponsor": "SP", "budget": 100 * M, "agreed_on": date(2026, 2, 1),
                                 "shares": {"state": 30 * M, "sponsor": 30 * M, "sme": 40 * M}})  # fmt: skip
        factory = store.Viewer("factory", store.organisation(conn, "FA")["id"])
    return engine, pem, factory


@pytest.mark.parametrize("round_", range(2))
def test_contributions_at_once_never_exceed_a_share(project, round_):
    engine, _, _ = project
    results = together([lambda: actions.add_ledger_entry(engine, "user:t", "P1", party="sponsor",
                                                         kind="contribution", amount=10 * M)] * THREADS)  # fmt: skip
    kept = [r for r in results if isinstance(r, dict)]
    assert len(kept) == 3 and all(isinstance(r, LedgerAboveCommitment) for r in results if r not in kept)
    with engine.connect() as conn:
        assert conn.execute(select(func.sum(ledger.c.amount)).where(ledger.c.party == "sponsor")).scalar() == 30 * M


def test_copies_of_one_report_at_once_are_kept_once(project):
    engine, pem, factory = project
    envelope = signed_report(pem, "FA", None, "2026-03", {"ppm": 1_000.0})
    results = together([lambda: actions.receive_report(engine, "user:f", factory, envelope)] * THREADS)
    assert sum(isinstance(r, dict) for r in results) == 1
    assert all(isinstance(r, ReportReplayed) for r in results if not isinstance(r, dict))
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(outcome_reports)).scalar() == 1


def test_corrections_of_one_month_at_once_leave_one_current(project):
    engine, pem, factory = project
    envelopes = [signed_report(pem, "FA", None, "2026-03", {"ppm": 1_000.0 + i}) for i in range(THREADS)]
    results = together([lambda e=e: actions.receive_report(engine, "user:f", factory, e) for e in envelopes])
    assert all(isinstance(r, dict) for r in results)
    r = outcome_reports.c
    with engine.connect() as conn:
        current = conn.execute(select(r.id, r.kpis).where(r.superseded.is_(False))).all()
        newest = conn.execute(select(func.max(r.id))).scalar()
    assert [row.id for row in current] == [newest]


def test_one_entry_reversed_at_once_is_reversed_once(project):
    engine, _, _ = project
    entry = actions.add_ledger_entry(engine, "user:t", "P1", party="state", kind="contribution", amount=5 * M)
    results = together([lambda: actions.reverse_ledger_entry(engine, "user:t", "P1", entry["id"], reason="twice")]
                       * THREADS)  # fmt: skip
    assert sum(isinstance(r, dict) for r in results) == 1
    assert all(isinstance(r, LedgerEntryReversed) for r in results if not isinstance(r, dict))
