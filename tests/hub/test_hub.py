"""The hub: funding rules, isolation between organisations on every endpoint and page, signed reports checked
for tampering, freshness and replay, consent withdrawal, and program totals against the ledger; and a hub with two
factory installations on loopback."""

from __future__ import annotations

import base64
import copy
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient

from shopfloor.actions.hub_share import signed_report
from shopfloor.app import PUBLIC_ROUTES, create_app
from shopfloor.model.funding import Rule, check_shares
from shopfloor.model.signing import canonical, generate_key
from shopfloor.settings import Settings
from shopfloor.store import accounts
from shopfloor.store import hub as store
from tests.api.test_route_auth import _dependency_calls, _routes

PASSWORD = "hub-password-123"


def test_funding_rule_checks_name_every_broken_share():
    rule = Rule(2026, "basic", state_max_pct=30, sponsor_min_pct=30, state_cap=50_000_000)
    assert check_shares(100_000_000, 30_000_000, 30_000_000, 40_000_000, rule) == []
    problems = check_shares(200_000_000, 70_000_000, 50_000_000, 70_000_000, rule)
    assert [str(p) for p in problems] == [
        "the shares add up to 190,000,000, not the budget 200,000,000",
        "the state share 70,000,000 is 35.0 % of the budget; the 2026 basic rule allows at most 30 %",
        "the sponsor share 50,000,000 is 25.0 % of the budget; the 2026 basic rule asks for at least 30 %",
        "the state share 70,000,000 is above the 2026 basic cap of 50,000,000",
    ]


def test_canonical_json_is_sorted_compact_and_refuses_nan():
    assert canonical({"b": 1, "a": "용접", "c": [1.5, None]}) == '{"a":"용접","b":1,"c":[1.5,null]}'.encode()
    with pytest.raises(ValueError, match="finite"):
        canonical({"x": float("nan")})


@pytest.fixture
def hub(engine):
    """A hub with the office, two sponsors and two factories (one partner each), projects, users and keys."""
    keys = {}
    with engine.begin() as conn:
        store.add_organisation(conn, "PO", "Program office", "office")
        store.add_organisation(conn, "SP-A", "Sponsor A", "sponsor")
        store.add_organisation(conn, "SP-B", "Sponsor B", "sponsor")
        for code in ("FAC-1", "FAC-2"):
            pem, public = generate_key()
            keys[code] = pem
            store.add_organisation(conn, code, f"Factory {code}", "factory", public)
        store.add_program(conn, "SF-2026", "Smart factory 2026")
        store.set_rule(conn, "SF-2026", Rule(2026, "basic", 30, 30, 50_000_000))
        store.set_rule(conn, "SF-2026", Rule(2027, "basic", 25, 35, 40_000_000))  # the rules change per year
        for code, factory, sponsor in (("P-1", "FAC-1", "SP-A"), ("P-2", "FAC-2", "SP-B")):
            store.add_project(conn, {
                "code": code, "program": "SF-2026", "year": 2026, "level": "basic", "factory": factory,
                "sponsor": sponsor, "budget": 100_000_000, "state": 30_000_000, "sponsor_share": 30_000_000,
                "factory_share": 40_000_000, "baseline": {"ppm": 10_000, "output_per_hour": 40},
                "target": {"ppm": 1_500},
            })  # fmt: skip
        for user, role, org in (("po", "office", "PO"), ("spa", "sponsor", "SP-A"), ("spb", "sponsor", "SP-B"),
                                ("f1", "factory", "FAC-1"), ("f2", "factory", "FAC-2")):  # fmt: skip
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
    from shopfloor.model.signing import sign

    env = signed_report(keys[who], who, sponsor, month, kpis)
    env["payload"].update(overrides)
    return sign(keys[who], env["payload"])
    env["payload"].update(overrides)
    return env


def test_a_project_that_breaks_the_rule_of_its_year_is_refused(hub):
    _, client, _ = hub
    po = client("po")
    body = {"code": "P-3", "program": "SF-2026", "year": 2027, "level": "basic", "factory": "FAC-1"}
    body |= {"sponsor": "SP-A", "budget": 100_000_000, "state": 30_000_000, "sponsor_share": 30_000_000}
    body |= {"factory_share": 40_000_000}
    r = po.post("/api/v1/hub/projects", json=body)
    assert (r.status_code, r.json()["code"]) == (422, "hub.project_refused")
    assert [p["message"] for p in r.json()["problems"]] == [
        "the state share 30,000,000 is 30.0 % of the budget; the 2027 basic rule allows at most 25 %",
        "the sponsor share 30,000,000 is 30.0 % of the budget; the 2027 basic rule asks for at least 35 %",
    ]
    assert client("spa").post("/api/v1/hub/projects", json=body).status_code == 403


def test_reports_are_verified_and_a_sponsor_sees_its_partner_only(hub):
    _, client, keys = hub
    f1, f2, spa, spb, po = (client(u) for u in ("f1", "f2", "spa", "spb", "po"))
    assert (
        f1.post("/api/v1/hub/consents", json={"sponsor": "SP-A", "kpis": ["ppm", "output_per_hour"]}).status_code == 201
    )
    assert f2.post("/api/v1/hub/consents", json={"sponsor": "SP-B", "kpis": ["ppm"]}).status_code == 201
    ok = f1.post(
        "/api/v1/hub/reports", json=_report(keys, "FAC-1", "SP-A", "2026-09", {"ppm": 1_400, "output_per_hour": 46})
    )
    assert ok.status_code == 201, ok.text
    assert (
        f2.post("/api/v1/hub/reports", json=_report(keys, "FAC-2", "SP-B", "2026-09", {"ppm": 8_000})).status_code
        == 201
    )

    tampered = _report(keys, "FAC-1", "SP-A", "2026-10", {"ppm": 900})
    tampered["payload"]["kpis"]["ppm"] = 90  # changed after signing
    r = f1.post("/api/v1/hub/reports", json=tampered)
    assert (r.status_code, r.json()["code"]) == (422, "hub.signature_refused")
    replay = _report(keys, "FAC-1", "SP-A", "2026-11", {"ppm": 1_300})
    assert f1.post("/api/v1/hub/reports", json=replay).status_code == 201
    again = f1.post("/api/v1/hub/reports", json=replay)
    assert (again.status_code, again.json()["code"]) == (409, "hub.report_replayed")
    stale = signed_report(keys["FAC-1"], "FAC-1", "SP-A", "2026-08", {"ppm": 1})
    stale["payload"]["signed_at"] = (datetime.now(timezone.utc) - timedelta(hours=2)).isoformat()
    from shopfloor.model.signing import sign

    stale = sign(keys["FAC-1"], stale["payload"])
    r = f1.post("/api/v1/hub/reports", json=stale)
    assert (r.status_code, r.json()["code"]) == (422, "hub.report_stale")
    as_other = f1.post("/api/v1/hub/reports", json=_report(keys, "FAC-2", "SP-B", "2026-09", {"ppm": 1}))
    assert (as_other.status_code, as_other.json()["code"], as_other.json()["params"]) == (
        422,
        "hub.report_other_factory",
        {"own": "FAC-1", "factory": "FAC-2"},
    )
    signed_by_other = f1.post(
        "/api/v1/hub/reports", json=_report(keys, "FAC-2", "SP-A", "2026-09", {"ppm": 1}, factory="FAC-1")
    )
    assert (signed_by_other.status_code, signed_by_other.json()["code"]) == (422, "hub.signature_refused")
    beyond = f1.post("/api/v1/hub/reports", json=_report(keys, "FAC-1", "SP-A", "2026-09", {"scrap_ratio": 0.01}))
    assert (beyond.status_code, beyond.json()["code"], beyond.json()["params"]["kpis"]) == (
        422,
        "hub.consent_does_not_cover",
        ["scrap_ratio"],
    )
    assert spa.post("/api/v1/hub/reports", json=replay).status_code == 403

    seen_a = spa.get("/api/v1/hub/outcomes").json()
    assert {o["factory"] for o in seen_a} == {"FAC-1"} and [o["period"] for o in seen_a] == ["2026-09", "2026-11"]
    assert {o["factory"] for o in spb.get("/api/v1/hub/outcomes").json()} == {"FAC-2"}
    assert {o["factory"] for o in po.get("/api/v1/hub/outcomes").json()} == {"FAC-1", "FAC-2"}
    improvement = {i["project"]: i for i in spa.get("/api/v1/hub/improvements").json()}
    assert set(improvement) == {"P-1"} and improvement["P-1"]["improvement_pct"]["ppm"] == pytest.approx(87.0)

    consent_id = f1.get("/api/v1/hub/consents").json()[0]["id"]
    assert f2.post(f"/api/v1/hub/consents/{consent_id}/withdraw").status_code == 404  # not F-2's to withdraw
    assert f1.post(f"/api/v1/hub/consents/{consent_id}/withdraw").status_code == 200
    assert spa.get("/api/v1/hub/outcomes").json() == []  # withdrawn: the sponsor no longer sees it
    refused = f1.post("/api/v1/hub/reports", json=_report(keys, "FAC-1", "SP-A", "2026-12", {"ppm": 1}))
    assert (refused.status_code, refused.json()["code"]) == (422, "hub.no_consent")


def test_no_organisation_reads_or_changes_another_s_records(hub):
    app, client, _ = hub
    spa, f1 = client("spa"), client("f1")
    f1.post("/api/v1/hub/consents", json={"sponsor": "SP-A", "kpis": ["ppm"]})
    assert spa.get("/api/v1/hub/projects/P-2").status_code == 404  # exists, but not theirs: not found
    assert spa.get("/api/v1/hub/projects/P-404").status_code == 404  # the same answer as a missing one
    assert f1.get("/api/v1/hub/projects/P-2").status_code == 404
    assert [p["code"] for p in spa.get("/api/v1/hub/projects").json()] == ["P-1"]
    assert {o["code"] for o in spa.get("/api/v1/hub/organisations").json()} == {"SP-A", "FAC-1"}
    assert spa.get("/api/v1/hub/programs/SF-2026/totals").json()["budget"] == 100_000_000
    for cid in range(1, 6):  # guessing consent identifiers changes nothing
        assert client("f2").post(f"/api/v1/hub/consents/{cid}/withdraw").status_code in (404,)
    # Every GET of the hub, as sponsor A, never mentions the other sponsor's partner or project.
    for method, path, _route in _routes(app):
        if method != "GET" or not path.startswith("/api/v1/hub") or path.endswith(".pdf"):
            continue
        r = spa.get(path.replace("{code}", "SF-2026").replace("{cid}", "1"))
        assert "FAC-2" not in r.text and "P-2" not in r.text and "SP-B" not in r.text, path
    for user in ("spa", "f1"):  # writes of the office are refused to the others
        c = client(user)
        assert (
            c.post(
                "/api/v1/hub/projects/P-1/ledger", json={"funder": "state", "kind": "payment", "amount": 1}
            ).status_code
            == 403
        )
        assert (
            c.post("/api/v1/hub/organisations", json={"code": "X", "name": "X", "kind": "sponsor"}).status_code == 403
        )
    page = spa.get("/hub")
    assert page.status_code == 200 and "FAC-1" in page.text and "FAC-2" not in page.text


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
            r = anonymous.request(method, path.replace("{code}", "P-1").replace("{cid}", "1"), follow_redirects=False)
            assert r.status_code in (401, 303), f"{method} {path}: {r.status_code}"


def test_program_totals_match_the_ledger(hub):
    _, client, _ = hub
    po = client("po")
    entries = [("state", "contribution", 30_000_000), ("sponsor", "contribution", 20_000_000),
               ("sponsor", "contribution", 10_000_000), ("factory", "contribution", 15_000_000),
               ("state", "payment", 25_000_000)]  # fmt: skip
    for funder, kind, amount in entries:
        assert (
            po.post(
                "/api/v1/hub/projects/P-1/ledger", json={"funder": funder, "kind": kind, "amount": amount}
            ).status_code
            == 201
        )
    over = po.post("/api/v1/hub/projects/P-1/ledger", json={"funder": "state", "kind": "contribution", "amount": 1})
    assert (over.status_code, over.json()["code"]) == (422, "hub.contribution_too_large")
    assert over.json()["detail"] == "the state would contribute 30,000,001, more than its share 30,000,000"
    totals = po.get("/api/v1/hub/programs/SF-2026/totals").json()
    assert totals["ledger"]["contribution"] == {"state": 30_000_000, "sponsor": 30_000_000, "factory": 15_000_000}
    assert totals["ledger"]["payment"] == {"state": 25_000_000}
    assert totals["projects"] == 2 and totals["budget"] == 200_000_000
    shares = {"state": 30_000_000, "sponsor": 30_000_000, "factory": 40_000_000}
    assert totals["by_sponsor"] == [
        {"sponsor": "SP-A", "projects": 1, "budget": 100_000_000, "shares": shares},
        {"sponsor": "SP-B", "projects": 1, "budget": 100_000_000, "shares": shares},
    ]
    ledger = po.get("/api/v1/hub/projects/P-1").json()["ledger"]
    assert sum(e["amount"] for e in ledger if e["kind"] == "contribution") == 75_000_000


def test_public_key_must_be_base64(hub):
    _, client, _ = hub
    r = client("po").post(
        "/api/v1/hub/organisations", json={"code": "FAC-9", "name": "F9", "kind": "factory", "public_key": "***"}
    )
    assert r.status_code == 422
    good = base64.b64encode(generate_key()[1]).decode()
    assert (
        client("po")
        .post("/api/v1/hub/organisations", json={"code": "FAC-9", "name": "F9", "kind": "factory", "public_key": good})
        .status_code
        == 201
    )
    assert copy.deepcopy(good) == good


def test_a_month_sent_again_replaces_it_and_the_latest_month_counts(hub):
    _, client, keys = hub
    f1, spa = client("f1"), client("spa")
    f1.post("/api/v1/hub/consents", json={"sponsor": "SP-A", "kpis": ["ppm"]})
    for month, ppm in (("2026-09", 3_000), ("2026-10", 2_000), ("2026-09", 2_900)):  # September corrected last
        assert (
            f1.post("/api/v1/hub/reports", json=_report(keys, "FAC-1", "SP-A", month, {"ppm": ppm})).status_code == 201
        )
    seen = {o["period"]: o["kpis"]["ppm"] for o in spa.get("/api/v1/hub/outcomes").json()}
    assert seen == {"2026-09": 2_900, "2026-10": 2_000}
    (improvement,) = spa.get("/api/v1/hub/improvements").json()
    assert improvement["latest"]["period"] == "2026-10" and improvement["improvement_pct"]["ppm"] == pytest.approx(80.0)
    pdf = spa.get("/api/v1/hub/best-practices.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    from io import BytesIO

    from pypdf import PdfReader

    text = "".join(p.extract_text() for p in PdfReader(BytesIO(pdf.content)).pages)
    assert "P-1" in text and "+80.0 %" in text and "P-2" not in text
