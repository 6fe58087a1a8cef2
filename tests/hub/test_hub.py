"""The hub over its API on both stores: programs and rules listed, projects checked against their rule and
edited, milestones completed, the ledger (payments within commitments, reversing entries, totals per party,
sponsor, program and year), signed months (shape, lengths, values, months that may be reported, partner sponsors
only, corrections), consent and withdrawals, keys (rotation with history, revocation, unique keys), body limits,
isolation between organisations, the landing page, the Excel roll-up and the best-practices PDF in Korean."""

from __future__ import annotations

import base64
import io
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from pypdf import PdfReader

from shopfloor.actions.hub_share import key_rotation, signed_report
from shopfloor.app import PUBLIC_ROUTES, create_app
from shopfloor.model.funding import Rule
from shopfloor.model.signing import generate_key, sign
from shopfloor.settings import Settings
from shopfloor.store import accounts
from shopfloor.store import hub as store
from tests.api.test_route_auth import _dependency_calls, _routes

PASSWORD = "hub-password-123"
M = 1_000_000
BASIC = {"state": {"max_pct": "30", "cap": 42 * M}, "sponsor": {"min_pct": "30"}, "sme": {"max_pct": "40"}}


def closed_month(back: int = 1) -> str:
    """A month that has ended everywhere: ``back`` months before the current one."""
    now = datetime.now(timezone.utc)
    index = now.year * 12 + now.month - 1 - back
    return f"{index // 12}-{index % 12 + 1:02d}"


def current_month() -> str:
    return (datetime.now(timezone.utc) + timedelta(hours=14)).strftime("%Y-%m")


@pytest.fixture
def hub(engine):
    """The office, two sponsors, three factories (FAC-1 with SP-A, FAC-2 and FAC-3 with SP-B), projects, users."""
    keys = {}
    with engine.begin() as conn:
        store.add_organisation(conn, "PO", "중소벤처기업부 스마트공장 사업단", "office")
        store.add_organisation(conn, "SP-A", "Sponsor A", "sponsor")
        store.add_organisation(conn, "SP-B", "Sponsor B", "sponsor")
        for code in ("FAC-1", "FAC-2", "FAC-3"):
            pem, public = generate_key()
            keys[code] = pem
            store.add_organisation(conn, code, f"Factory {code}", "factory", public)
        store.add_program(conn, "SF-2026", "Smart factory 2026")
        store.set_rule(
            conn,
            Rule.from_dict(
                {"type": "basic", "year": 2026, "effective_from": "2026-01-01", "parties": BASIC}, "SF-2026"
            ),
        )
        for code, factory, sponsor in (("P-1", "FAC-1", "SP-A"), ("P-2", "FAC-2", "SP-B"), ("P-3", "FAC-3", "SP-B")):
            store.add_project(
                conn,
                {
                    "code": code,
                    "program": "SF-2026",
                    "type": "basic",
                    "year": 2026,
                    "factory": factory,
                    "sponsor": sponsor,
                    "budget": 100 * M,
                    "shares": {"state": 30 * M, "sponsor": 30 * M, "sme": 40 * M},
                    "agreed_on": datetime(2026, 3, 1).date(),
                    "baseline": {"ppm": 10_000, "output_per_hour": 40},
                    "target": {"ppm": 2_000, "output_per_hour": 50},
                },
            )
        for user, role, org in (
            ("po", "office", "PO"),
            ("spa", "sponsor", "SP-A"),
            ("spb", "sponsor", "SP-B"),
            ("f1", "factory", "FAC-1"),
            ("f2", "factory", "FAC-2"),
            ("f3", "factory", "FAC-3"),
        ):
            accounts.create_user(conn, user, role, password=PASSWORD, organisation=org)
    app = create_app(Settings(hub=True), engine=engine)

    def client(user: str) -> TestClient:
        c = TestClient(app)
        r = c.post("/api/v1/auth/login", json={"username": user, "password": PASSWORD})
        assert r.status_code == 200, r.text
        c.headers["X-CSRF-Token"] = r.json()["csrf_token"]
        return c

    return app, client, keys


def _report(keys, who, sponsor, month, kpis, **overrides):
    """A report of ``who`` signed with its key; ``overrides`` change the payload before signing."""
    env = signed_report(keys[who], who, sponsor, month, kpis)
    env["payload"].update(overrides)
    return sign(keys[who], env["payload"])


def _consent(client, sponsor, kpis):
    r = client.post(
        "/api/v1/hub/consents", json={"sponsor": sponsor, "kpis": kpis, "text_version": store.CONSENT_TEXT_VERSION}
    )
    assert r.status_code == 201, r.text
    return r.json()


def test_programs_and_rules_are_listed_and_a_project_is_checked_against_its_rule(hub):
    _, client, _ = hub
    po = client("po")
    assert po.get("/api/v1/hub/programs").json() == [
        {
            "code": "SF-2026",
            "name": "Smart factory 2026",
            "kpis": ["ppm", "output_per_hour", "operating_rate", "labour_productivity", "oee", "lead_time_h"],
        }
    ]
    (rule,) = po.get("/api/v1/hub/programs/SF-2026/rules").json()
    assert rule["parties"]["sme"] == {"min_pct": None, "max_pct": "40", "cap": None}
    body = {
        "code": "P-9",
        "program": "SF-2026",
        "type": "basic",
        "year": 2026,
        "agreed_on": "2026-04-01",
        "factory": "FAC-1",
        "sponsor": "SP-A",
        "budget": 100 * M,
        "shares": {"state": 0, "sponsor": 30 * M, "sme": 70 * M},
    }
    r = po.post("/api/v1/hub/projects", json=body)
    assert (r.status_code, r.json()["code"], r.json()["params"]) == (
        422,
        "hub.share_above_maximum",
        {"party": "sme", "amount": "70,000,000", "pct": "70", "limit": "40", "rule": "SF-2026 basic 2026 (2026-01-01)"},
    )
    ko = po.post(
        "/api/v1/hub/projects",
        json=body | {"shares": {"state": 20 * M, "sponsor": 30 * M, "sme": 50 * M}},
        headers={"Accept-Language": "ko"},
    )
    assert ko.json()["detail"] == (
        "sme 분담금 50,000,000원은 총사업비의 50 %입니다. "
        "규칙 SF-2026 basic 2026 (2026-01-01)은(는) 최대 40 %까지 허용합니다"
    )
    early = po.post("/api/v1/hub/projects", json=body | {"agreed_on": "2025-12-31"})
    assert (early.json()["code"], early.json()["params"]["day"]) == ("hub.no_funding_rule", "2025-12-31")
    exact = body | {"shares": {"state": 30 * M, "sponsor": 30 * M, "sme": 40 * M}}
    assert po.post("/api/v1/hub/projects", json=exact).status_code == 201
    extra = po.post("/api/v1/hub/projects", json=body | {"code": "P-10", "state": 1})
    assert (extra.status_code, extra.json()["code"]) == (422, "request.invalid")
    # editing: a total and shares that break the rule are refused, a new name and target are kept
    edit = po.patch(
        "/api/v1/hub/projects/P-9",
        json={"budget": 200 * M, "shares": {"state": 60 * M, "sponsor": 60 * M, "sme": 80 * M}},
    )
    assert (edit.json()["code"], edit.json()["params"]["party"]) == ("hub.share_above_cap", "state")
    edited = po.patch("/api/v1/hub/projects/P-9", json={"name": "용접 라인 MES", "target": {"ppm": 1_000}})
    assert edited.status_code == 200 and (edited.json()["name"], edited.json()["target"]) == (
        "용접 라인 MES",
        {"ppm": 1_000},
    )
    assert client("spa").patch("/api/v1/hub/projects/P-9", json={"name": "x"}).status_code == 403


def test_milestones_are_completed_once(hub):
    _, client, _ = hub
    po = client("po")
    m = po.post("/api/v1/hub/projects/P-1/milestones", json={"name": "MES live", "due": "2026-09-01T00:00:00+09:00"})
    mid = m.json()["id"]
    done = po.post(f"/api/v1/hub/projects/P-1/milestones/{mid}/complete", json={})
    assert done.status_code == 200 and done.json()["done_by"] == "user:po"
    again = po.post(f"/api/v1/hub/projects/P-1/milestones/{mid}/complete", json={})
    assert (again.status_code, again.json()["code"]) == (409, "hub.milestone_done")
    assert po.get("/api/v1/hub/projects/P-1").json()["milestones"][0]["done_at"] == done.json()["done_at"]


def test_the_ledger_keeps_payments_within_commitments_and_corrects_by_reversal(hub):
    _, client, _ = hub
    po = client("po")

    def entry(party, kind, amount, project="P-1"):
        return po.post(f"/api/v1/hub/projects/{project}/ledger", json={"party": party, "kind": kind, "amount": amount})

    over = entry("state", "payment", 500 * M)
    assert (over.status_code, over.json()["code"], over.json()["params"]) == (
        409,
        "hub.ledger_above_commitment",
        {"party": "state", "kind": "payment", "total": "500,000,000", "commitment": "30,000,000"},
    )
    assert entry("local", "contribution", 1).json()["code"] == "hub.party_without_share"
    first = entry("state", "contribution", 30 * M).json()
    assert entry("state", "contribution", 1).status_code == 409
    wrong = entry("sponsor", "contribution", 25 * M).json()
    for party, kind, amount, project in (
        ("state", "payment", 20 * M, "P-1"),
        ("sme", "contribution", 40 * M, "P-1"),
        ("sponsor", "contribution", 30 * M, "P-2"),
        ("state", "payment", 5 * M, "P-2"),
    ):
        assert entry(party, kind, amount, project).status_code == 201
    no_reason = po.post(f"/api/v1/hub/projects/P-1/ledger/{wrong['id']}/reverse", json={"reason": " "})
    assert no_reason.json()["code"] == "hub.correction_needs_reason"
    undone = po.post(f"/api/v1/hub/projects/P-1/ledger/{wrong['id']}/reverse", json={"reason": "entered twice"})
    assert undone.status_code == 201 and undone.json()["amount"] == -25 * M
    twice = po.post(f"/api/v1/hub/projects/P-1/ledger/{wrong['id']}/reverse", json={"reason": "again"})
    assert (twice.status_code, twice.json()["code"]) == (409, "hub.ledger_entry_reversed")
    of_reversal = po.post(f"/api/v1/hub/projects/P-1/ledger/{undone.json()['id']}/reverse", json={"reason": "x"})
    assert of_reversal.json()["code"] == "hub.reversal_of_reversal"
    assert entry("sponsor", "contribution", 30 * M).status_code == 201  # the corrected amount fits again
    assert first["amount"] == 30 * M
    doc = po.get("/api/v1/hub/projects/P-1").json()
    assert doc["funding"] == {
        "state": {"committed": 30 * M, "contributed": 30 * M, "paid": 20 * M},
        "sponsor": {"committed": 30 * M, "contributed": 30 * M, "paid": 0},
        "sme": {"committed": 40 * M, "contributed": 40 * M, "paid": 0},
    }
    reversed_entry = next(e for e in doc["ledger"] if e["id"] == wrong["id"])
    assert reversed_entry["reversed_by"] == undone.json()["id"]
    # a share cannot drop below what the ledger holds
    cut = po.patch(
        "/api/v1/hub/projects/P-1",
        json={"budget": 90 * M, "shares": {"state": 20 * M, "sponsor": 30 * M, "sme": 40 * M}},
    )
    assert "hub.commitment_below_ledger" in {p["code"] for p in cut.json().get("problems", [cut.json()])}
    funding = po.get("/api/v1/hub/funding", params={"program": "SF-2026", "year": 2026}).json()
    assert funding == [
        {
            "program": "SF-2026",
            "year": 2026,
            "sponsor": "SP-A",
            "party": p,
            "projects": 1,
            "committed": c,
            "contributed": k,
            "paid": d,
        }
        for p, c, k, d in (
            ("state", 30 * M, 30 * M, 20 * M),
            ("sponsor", 30 * M, 30 * M, 0),
            ("sme", 40 * M, 40 * M, 0),
        )
    ] + [
        {
            "program": "SF-2026",
            "year": 2026,
            "sponsor": "SP-B",
            "party": p,
            "projects": 2,
            "committed": c,
            "contributed": k,
            "paid": d,
        }
        for p, c, k, d in (("state", 60 * M, 0, 5 * M), ("sponsor", 60 * M, 30 * M, 0), ("sme", 80 * M, 0, 0))
    ]
    assert [r["sponsor"] for r in client("spa").get("/api/v1/hub/funding").json()] == ["SP-A"] * 3


def test_months_are_checked_before_they_are_kept(hub):
    _, client, keys = hub
    f1 = client("f1")
    month = closed_month()

    def send(payload_kpis, month=month, **overrides):
        return f1.post("/api/v1/hub/reports", json=_report(keys, "FAC-1", None, month, payload_kpis, **overrides))

    for period in ("2099-12", "0000-01", "1999-12", "2026-13", "26-01"):
        r = send({"ppm": 1.0}, month=period)
        assert r.status_code == 422 and r.json()["code"] in ("hub.month_in_future", "hub.month"), period
    assert send({"ppm": 1.0}, month="2099-12").json()["code"] == "hub.month_in_future"
    running = send({"ppm": 1.0}, month=current_month())
    assert (running.status_code, running.json()["code"]) == (422, "hub.month_not_closed")
    assert send({"ppm": 1.0}, month=current_month(), partial=True).status_code == 201
    for bad in (True, -5.0, 1e300, "12", [1]):
        r = send({"ppm": bad})
        assert (r.status_code, r.json()["code"]) == (422, "hub.kpi_value"), bad
    assert send({"operating_rate": 1.2}).json()["params"] == {
        "kpi": "operating_rate",
        "value": "1.2",
        "low": "0",
        "high": "1",
    }
    assert send({"ppm": 1.0}, nonce="x" * 5_000).json()["code"] == "hub.report_field"
    assert send({"ppm": 1.0}, nonce="short").json()["code"] == "hub.report_field"
    assert send({"ppm": 1.0}, factory="F" * 500).json()["code"] == "hub.report_field"
    extra = send({"ppm": 1.0}, note="x" * 1000)
    assert (extra.json()["code"], extra.json()["params"]["fields"]) == ("hub.report_extra_fields", ["payload.note"])
    big = send({"ppm": 1.0}, note="x" * (store.REPORT_BODY_LIMIT + 1))
    assert (big.status_code, big.json()["code"]) == (413, "request.too_large")
    assert send({"nonsense": 1.0}).json()["code"] == "hub.shared_kpi_unknown"
    ok = send({"ppm": 3_000.0, "oee": 0.71})
    assert ok.status_code == 201 and ok.json()["partial"] is False


def test_a_factory_shares_with_its_own_sponsors_only(hub):
    _, client, keys = hub
    f1, f2, spa, spb = client("f1"), client("f2"), client("spa"), client("spb")
    month = closed_month()
    # SP-B exists but is not FAC-1's sponsor: the answer is the same as for a sponsor that does not exist
    for sponsor in ("SP-B", "SP-NOPE"):
        r = f1.post(
            "/api/v1/hub/consents",
            json={"sponsor": sponsor, "kpis": ["ppm"], "text_version": store.CONSENT_TEXT_VERSION},
        )
        assert (r.status_code, r.json()["code"], r.json()["detail"]) == (
            404,
            "hub.sponsor_not_found",
            f"no sponsor {sponsor}",
        )
    unread = f1.post("/api/v1/hub/consents", json={"sponsor": "SP-A", "kpis": ["ppm"], "text_version": "2020-01"})
    assert unread.json()["code"] == "hub.consent_text"
    _consent(f1, "SP-A", ["ppm", "output_per_hour"])
    pushed = f1.post("/api/v1/hub/reports", json=_report(keys, "FAC-1", "SP-B", month, {"ppm": 1.0}))
    assert (pushed.status_code, pushed.json()["code"]) == (404, "hub.sponsor_not_found")
    beyond = f1.post("/api/v1/hub/reports", json=_report(keys, "FAC-1", "SP-A", month, {"scrap_ratio": 0.01}))
    assert beyond.json()["code"] == "hub.consent_does_not_cover"
    assert (
        f1.post(
            "/api/v1/hub/reports", json=_report(keys, "FAC-1", "SP-A", month, {"ppm": 3_000.0, "output_per_hour": 44.0})
        ).status_code
        == 201
    )
    assert f2.post("/api/v1/hub/reports", json=_report(keys, "FAC-2", None, month, {"ppm": 8_000.0})).status_code == 201
    assert [o["factory"] for o in spa.get("/api/v1/hub/outcomes").json()] == ["FAC-1"]
    assert spb.get("/api/v1/hub/outcomes").json() == []  # FAC-2 gave SP-B no consent
    assert {o["factory"] for o in client("po").get("/api/v1/hub/outcomes").json()} == {"FAC-1", "FAC-2"}


def test_a_month_sent_again_corrects_it_and_withdrawals_hide_a_month_or_a_kpi(hub):
    _, client, keys = hub
    f1, spa, po = client("f1"), client("spa"), client("po")
    _consent(f1, "SP-A", ["ppm", "output_per_hour"])
    m1, m2 = closed_month(2), closed_month(1)
    for month, ppm in ((m1, 5_000.0), (m2, 4_000.0), (m1, 4_500.0)):  # the older month corrected last
        body = _report(keys, "FAC-1", "SP-A", month, {"ppm": ppm, "output_per_hour": 45.0})
        assert f1.post("/api/v1/hub/reports", json=body).status_code == 201
    assert {o["period"]: o["kpis"]["ppm"] for o in spa.get("/api/v1/hub/outcomes").json()} == {m1: 4_500.0, m2: 4_000.0}
    (row,) = [r for r in po.get("/api/v1/hub/dashboard").json() if r["project"] == "P-1"]
    assert row["latest"]["period"] == m2 and row["kpis"]["ppm"]["attainment"] == pytest.approx(0.75)
    assert row["kpis"]["ppm"]["improvement_pct"] == pytest.approx(60.0) and row["kpis"]["ppm"]["met"] is False
    months = po.get("/api/v1/hub/projects/P-1/months").json()
    assert [m["period"] for m in months["months"]] == [m1, m2]
    assert months["months"][0]["kpis"]["output_per_hour"]["attainment"] == pytest.approx(0.5)

    assert f1.post("/api/v1/hub/withdrawals", json={}).json()["code"] == "hub.withdrawal_scope"
    assert f1.post("/api/v1/hub/withdrawals", json={"period": m2}).status_code == 201
    assert f1.post("/api/v1/hub/withdrawals", json={"kpi": "output_per_hour"}).status_code == 201
    for viewer in (spa, po):
        seen = {o["period"]: o["kpis"] for o in viewer.get("/api/v1/hub/outcomes").json() if o["factory"] == "FAC-1"}
        assert seen == {m1: {"ppm": 4_500.0}}
    (row,) = [r for r in po.get("/api/v1/hub/dashboard").json() if r["project"] == "P-1"]
    assert row["latest"]["period"] == m1
    # the office keeps the withdrawn month in its roll-up, shown over at least MIN_GROUP factories only
    (group,) = [g for g in po.get("/api/v1/hub/rollup").json() if g["sponsor"] == "SP-A"]
    assert (
        group["reporting"] == 1 and group["outcomes_shown"] is False and group["kpis"]["ppm"]["mean_attainment"] is None
    )
    # the month sent again after the withdrawal is shared again
    assert f1.post("/api/v1/hub/reports", json=_report(keys, "FAC-1", "SP-A", m2, {"ppm": 3_900.0})).status_code == 201
    assert {o["period"] for o in spa.get("/api/v1/hub/outcomes").json()} == {m1, m2}
    text = f1.get("/api/v1/hub/consent-text", headers={"Accept-Language": "ko"}).json()
    assert text["version"] == store.CONSENT_TEXT_VERSION and "사업 관리 기관" in " ".join(text["text"])
    cid = f1.get("/api/v1/hub/consents").json()[0]["id"]
    assert client("f2").post(f"/api/v1/hub/consents/{cid}/withdraw").status_code == 404
    assert f1.post(f"/api/v1/hub/consents/{cid}/withdraw").status_code == 200
    assert spa.get("/api/v1/hub/outcomes").json() == []
    assert {o["period"] for o in po.get("/api/v1/hub/outcomes").json()} == {m1, m2}  # the office still sees them


def test_keys_rotate_with_their_history_and_are_revoked(hub):
    _, client, keys = hub
    f1, po = client("f1"), client("po")
    old_month, new_month = closed_month(2), closed_month(1)
    assert f1.post("/api/v1/hub/reports", json=_report(keys, "FAC-1", None, old_month, {"ppm": 5.0})).status_code == 201
    new_pem, rotation = key_rotation(keys["FAC-1"], "FAC-1")
    assert client("f2").post("/api/v1/hub/keys/rotate", json=rotation).json()["code"] == "hub.report_other_factory"
    rotated = f1.post("/api/v1/hub/keys/rotate", json=rotation)
    assert rotated.status_code == 200, rotated.text
    stale_key = f1.post("/api/v1/hub/reports", json=_report(keys, "FAC-1", None, new_month, {"ppm": 4.0}))
    assert stale_key.json()["code"] == "hub.key_retired"
    keys["FAC-1"] = new_pem
    assert f1.post("/api/v1/hub/reports", json=_report(keys, "FAC-1", None, new_month, {"ppm": 4.0})).status_code == 201
    history = po.get("/api/v1/hub/organisations/FAC-1/keys").json()
    assert [(k["state"], k["months"]) for k in history] == [("retired", [old_month]), ("in use", [new_month])]
    assert po.get("/api/v1/hub/organisations/FAC-1/signatures").json() == [
        {"period": old_month, "key": history[0]["key"], "verified": True},
        {"period": new_month, "key": history[1]["key"], "verified": True},
    ]
    assert client("spa").get("/api/v1/hub/organisations/FAC-1/keys").status_code == 404
    # a key is registered once: not for another factory, not again
    taken = base64.b64encode(generate_key()[1]).decode()
    assert po.post("/api/v1/hub/organisations/FAC-2/keys", json={"public_key": taken}).status_code == 201
    again = po.post("/api/v1/hub/organisations/FAC-3/keys", json={"public_key": taken})
    assert (again.status_code, again.json()["code"]) == (409, "hub.key_exists")
    # revoked: it signs nothing more; a lost key is replaced by the office
    revoked = f1.post(f"/api/v1/hub/organisations/FAC-1/keys/{history[1]['key']}/revoke", json={"reason": "lost"})
    assert revoked.status_code == 200
    assert (
        f1.post("/api/v1/hub/reports", json=_report(keys, "FAC-1", None, new_month, {"ppm": 3.0})).json()["code"]
        == "hub.key_revoked"
    )
    replacement, public = generate_key()
    assert (
        po.post(
            "/api/v1/hub/organisations/FAC-1/keys", json={"public_key": base64.b64encode(public).decode()}
        ).status_code
        == 201
    )
    keys["FAC-1"] = replacement
    assert f1.post("/api/v1/hub/reports", json=_report(keys, "FAC-1", None, new_month, {"ppm": 3.0})).status_code == 201


def test_bodies_are_limited_and_read_only_for_a_known_caller(hub):
    app, client, _ = hub
    anonymous = TestClient(app)
    huge = b"{" + b" " * (2 * store.REPORT_BODY_LIMIT) + b"}"
    for path in ("/api/v1/hub/projects", "/api/v1/hub/reports", "/api/v1/hub/organisations"):
        r = anonymous.post(path, content=huge, headers={"Content-Type": "application/json"})
        assert (r.status_code, r.json()["code"]) == (401, "auth.sign_in_required"), path
    bad_token = anonymous.post("/api/v1/hub/reports", content=huge, headers={"Authorization": "Bearer sf_nope"})
    assert bad_token.status_code == 401
    po = client("po")
    r = po.post("/api/v1/hub/projects", content=huge, headers={"Content-Type": "application/json"})
    assert (r.status_code, r.json()["code"]) == (413, "request.too_large")

    def chunks():
        for _ in range(200):
            yield b" " * 1024

    streamed = po.post("/api/v1/hub/projects", content=chunks(), headers={"Content-Type": "application/json"})
    assert streamed.status_code == 413


def test_no_organisation_reads_or_changes_another_s_records(hub):
    app, client, _ = hub
    spa, f1 = client("spa"), client("f1")
    _consent(f1, "SP-A", ["ppm"])
    assert spa.get("/api/v1/hub/projects/P-2").status_code == 404  # exists, but not theirs: not found
    assert spa.get("/api/v1/hub/projects/P-404").status_code == 404
    assert f1.get("/api/v1/hub/projects/P-2").status_code == 404
    assert [p["code"] for p in spa.get("/api/v1/hub/projects").json()] == ["P-1"]
    assert {o["code"] for o in spa.get("/api/v1/hub/organisations").json()} == {"SP-A", "FAC-1"}
    for method, path, _route in _routes(app):
        if method != "GET" or not path.startswith("/api/v1/hub") or path.endswith((".pdf", ".xlsx")):
            continue
        r = spa.get(path.replace("{code}", "SF-2026").replace("{cid}", "1"))
        assert "FAC-2" not in r.text and "P-2" not in r.text and "SP-B" not in r.text, path
    for user in ("spa", "f1"):
        c = client(user)
        assert (
            c.post(
                "/api/v1/hub/projects/P-1/ledger", json={"party": "state", "kind": "payment", "amount": 1}
            ).status_code
            == 403
        )
        assert (
            c.post("/api/v1/hub/organisations", json={"code": "X", "name": "X", "kind": "sponsor"}).status_code == 403
        )
    page = spa.get("/hub")
    assert page.status_code == 200 and "Factory FAC-1" in page.text and "FAC-2" not in page.text


def test_every_hub_route_checks_who_is_asking(hub):
    from shopfloor.api.deps import current_principal
    from shopfloor.web.pages import page_user

    app, _, _ = hub
    anonymous = TestClient(app)
    for method, path, route in _routes(app):
        if (method, path) in PUBLIC_ROUTES:
            continue
        calls = set(_dependency_calls(route.dependant))
        assert current_principal in calls or page_user in calls, f"{method} {path}"
        if path.startswith(("/api/v1/hub", "/hub")):
            url = path.replace("{code}", "P-1").replace("{cid}", "1").replace("{key}", "k")
            url = url.replace("{entry}", "1").replace("{milestone}", "1")
            r = anonymous.request(method, url, follow_redirects=False)
            assert r.status_code in (401, 303), f"{method} {path}: {r.status_code}"


def test_hub_users_land_on_the_hub_in_korean_with_amounts_in_won(hub):
    _, client, _ = hub
    po = client("po")
    assert po.get("/", follow_redirects=False).headers["location"] == "/hub"
    page = po.get("/hub")
    assert '<html lang="ko">' in page.text and '<a href="/hub">허브</a>' in page.text and "/board" not in page.text
    assert "1억 원" in page.text and "Factory FAC-3" in page.text
    assert client("f1").get("/", follow_redirects=False).headers["location"] == "/hub"


def test_the_rollup_workbook_holds_the_figures_cell_by_cell(hub):
    _, client, keys = hub
    f1, f2, po = client("f1"), client("f2"), client("po")
    month = closed_month()
    assert (
        f1.post(
            "/api/v1/hub/reports", json=_report(keys, "FAC-1", None, month, {"ppm": 6_000.0, "output_per_hour": 45.0})
        ).status_code
        == 201
    )
    assert f2.post("/api/v1/hub/reports", json=_report(keys, "FAC-2", None, month, {"ppm": 2_000.0})).status_code == 201
    po.post("/api/v1/hub/projects/P-1/ledger", json={"party": "state", "kind": "contribution", "amount": 30 * M})
    po.post("/api/v1/hub/projects/P-2/ledger", json={"party": "sme", "kind": "payment", "amount": 12_345_678})
    r = po.get("/api/v1/hub/rollup.xlsx", params={"lang": "en", "program": "SF-2026"})
    assert r.status_code == 200
    wb = load_workbook(io.BytesIO(r.content))
    rows = [[c.value for c in row] for row in wb["Roll-up"].iter_rows()]
    expected = [
        [
            "Program",
            "Year",
            "Sponsor",
            "Sponsor name",
            "Projects",
            "Project total (won)",
            "State: committed",
            "State: contributed",
            "State: paid",
            "Sponsor: committed",
            "Sponsor: contributed",
            "Sponsor: paid",
            "SME: committed",
            "SME: contributed",
            "SME: paid",
            "Factories reporting",
            "Defect rate: mean attainment",
            "Defect rate: target met",
            "Output per hour: mean attainment",
            "Output per hour: target met",
            "Operating rate: mean attainment",
            "Operating rate: target met",
            "OEE: mean attainment",
            "OEE: target met",
            "Lead time: mean attainment",
            "Lead time: target met",
        ],
        [
            "SF-2026",
            2026,
            "SP-A",
            "Sponsor A",
            1,
            100 * M,
            30 * M,
            30 * M,
            0,
            30 * M,
            0,
            0,
            40 * M,
            0,
            0,
            1,
            0.5,
            0,
            0.5,
            0,
            None,
            0,
            None,
            0,
            None,
            0,
        ],
        [
            "SF-2026",
            2026,
            "SP-B",
            "Sponsor B",
            2,
            200 * M,
            60 * M,
            0,
            0,
            60 * M,
            0,
            0,
            80 * M,
            0,
            12_345_678,
            1,
            1.0,
            1,
            None,
            0,
            None,
            0,
            None,
            0,
            None,
            0,
        ],
    ]
    # labour productivity (a default KPI of the program, shareable) after the operating rate: nobody reported it
    expected[0][22:22] = ["Labour productivity: mean attainment", "Labour productivity: target met"]
    for row in expected[1:]:
        row[22:22] = [None, 0]
    assert rows == expected
    assert wb["Roll-up"]["F2"].number_format == "#,##0" and wb["Roll-up"]["Q2"].number_format == "0.0%"
    projects = [[c.value for c in row] for row in wb["Projects"].iter_rows(max_col=14)]
    assert projects[0] == [
        "Project",
        "Factory",
        "Factory name",
        "Sponsor",
        "Program",
        "Year",
        "Type",
        "Project total (won)",
        "Latest month",
        "Partial month",
        "Defect rate (PPM): baseline",
        "Defect rate (PPM): target",
        "Defect rate (PPM): value",
        "Defect rate (PPM): attainment",
    ]
    assert projects[1:] == [
        [
            "P-1",
            "FAC-1",
            "Factory FAC-1",
            "SP-A",
            "SF-2026",
            2026,
            "basic",
            100 * M,
            month,
            "no",
            10_000,
            2_000,
            6_000,
            0.5,
        ],
        [
            "P-2",
            "FAC-2",
            "Factory FAC-2",
            "SP-B",
            "SF-2026",
            2026,
            "basic",
            100 * M,
            month,
            "no",
            10_000,
            2_000,
            2_000,
            1.0,
        ],
        [
            "P-3",
            "FAC-3",
            "Factory FAC-3",
            "SP-B",
            "SF-2026",
            2026,
            "basic",
            100 * M,
            None,
            None,
            10_000,
            2_000,
            None,
            None,
        ],
    ]
    korean = load_workbook(io.BytesIO(po.get("/api/v1/hub/rollup.xlsx").content))
    assert korean.sheetnames == ["종합", "과제"] and korean["종합"]["A1"].value == "사업"


def test_best_practices_rank_whole_months_in_korean(hub):
    _, client, keys = hub
    f1, f2, po = client("f1"), client("f2"), client("po")
    month = closed_month()
    f1.post("/api/v1/hub/reports", json=_report(keys, "FAC-1", None, month, {"ppm": 6_000.0}))
    f2.post("/api/v1/hub/reports", json=_report(keys, "FAC-2", None, month, {"ppm": 2_000.0}))
    # a partial month with a better figure ranks nothing
    f1.post("/api/v1/hub/reports", json=_report(keys, "FAC-1", None, current_month(), {"ppm": 1.0}, partial=True))
    pdf = po.get("/api/v1/hub/best-practices.pdf")
    assert pdf.status_code == 200
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "모범 사례" in text and "불량률" in text
    assert text.index("Factory FAC-2") < text.index("Factory FAC-1") and "+80.0 %" in text and "+40.0 %" in text


def test_self_reported_figures_are_the_factory_s_own(hub):
    _, client, _ = hub
    f1, po, spa = client("f1"), client("po"), client("spa")
    ok = f1.post("/api/v1/hub/self-reported", json={"year": 2026, "figures": {"sales": 1_250_000_000, "employees": 42}})
    assert ok.status_code == 201
    assert f1.post("/api/v1/hub/self-reported", json={"year": 2026, "figures": {"profit": 1}}).json()["code"] == (
        "hub.self_reported_unknown"
    )
    assert (
        f1.post("/api/v1/hub/self-reported", json={"year": 2099, "figures": {"sales": 1}}).json()["code"] == "hub.year"
    )
    assert po.post("/api/v1/hub/self-reported", json={"year": 2026, "figures": {"sales": 1}}).status_code == 403
    f1.post("/api/v1/hub/self-reported", json={"year": 2026, "figures": {"employees": 45}})
    seen = {(s["item"], s["value"]) for s in po.get("/api/v1/hub/self-reported").json()}
    assert seen == {("sales", 1_250_000_000), ("employees", 45)}
    assert spa.get("/api/v1/hub/self-reported").json() == []
    assert "12억 5,000만 원" in po.get("/hub").text
