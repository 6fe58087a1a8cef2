"""Plant, events and KPIs over the API: the same figures as the CLI, filters, pagination, bad input."""

from datetime import datetime, timedelta, timezone

import pytest

from tests.test_cli import EVENTS


def _events_json():
    rows = [line.split(",") for line in EVENTS.strip().splitlines()[1:]]
    out = []
    for ts, machine, event, value, product, reason in rows:
        e = {"ts": ts, "machine": machine, "event": event, "product": product or None, "reason": reason or None}
        if event == "state":
            e["state"] = value
        else:
            e["quantity"] = int(value)
        out.append(e)
    return out


@pytest.mark.usefixtures("rollup_units")
def test_recording_events_twice_stores_them_once_and_kpis_match_the_cli_shape(as_role):
    sup = as_role("supervisor")
    first = sup.post("/api/v1/events", json=_events_json())
    again = sup.post("/api/v1/events", json=_events_json())
    assert first.json()["inserted"] == 8 and again.json() == {**again.json(), "inserted": 0, "duplicates_skipped": 8}
    r = sup.get(
        "/api/v1/kpi",
        params={
            "machine": "WLD-01",
            "from": "2026-03-02T00:00:00+09:00",
            "to": "2026-03-03T00:00:00+09:00",
            "by": "shift",
        },
    )
    assert r.status_code == 200
    body = r.json()
    assert body["gq"] == 18848 and body["sq"] == 423 and body["pq"] == 19271
    assert any(b["bucket"] == "2026-03-02/Day" for b in body["buckets"])

    # Before WLD-01's first event (06:00) the day had no data: the night shift's bucket is null, not zero.
    assert body["partial"] is True and body["coverage"]["from"] == "2026-03-01T21:00:00+00:00"


@pytest.mark.usefixtures("rollup_units")
def test_a_window_past_now_is_answered_up_to_now_and_marked_partial(as_role):
    sup = as_role("supervisor")
    sup.post("/api/v1/events", json=_events_json())
    params = {"line": "WELD", "from": "2026-03-02T00:00:00+09:00"}
    to = (datetime.now(timezone.utc) + timedelta(days=400)).replace(microsecond=0)
    future = sup.get("/api/v1/kpi", params={**params, "to": to.isoformat()}).json()
    assert future["partial"] is True
    cover = future["coverage"]
    # The window reaches 400 days past now: both machines had data from their first event (06:00 KST) up to now
    # (the server's clock), and the same window cut at that instant has the same figures.
    now = datetime.fromisoformat(cover["to"])
    assert abs(now - datetime.now(timezone.utc)) < timedelta(minutes=5)
    start, first = datetime.fromisoformat(params["from"]), datetime.fromisoformat("2026-03-02T06:00:00+09:00")
    assert cover["fraction"] == pytest.approx((now - first) / (to - start), abs=1e-6)
    upto_now = sup.get("/api/v1/kpi", params={**params, "to": cover["to"]}).json()
    for name in ("pbt_s", "apt_s", "adet_s", "gq", "sq", "failures", "availability", "output_per_hour"):
        assert future[name] == upto_now[name], name
    days = sup.get(
        "/api/v1/kpi",
        params={**params, "from": (now - timedelta(days=1)).isoformat(), "to": (now + timedelta(days=3)).isoformat(),
                "by": "day"},
    ).json()["buckets"]  # fmt: skip
    assert days[-1]["coverage"]["fraction"] == 0 and days[-1]["apt_s"] is None and days[-1]["oee"] is None


def test_event_list_filters_and_pages(as_role):
    sup = as_role("supervisor")
    sup.post("/api/v1/events", json=_events_json())
    page = sup.get("/api/v1/events", params={"machine": "WLD-01", "limit": 3}).json()
    assert len(page["items"]) == 3 and page["next_cursor"] is not None
    rest = sup.get("/api/v1/events", params={"machine": "WLD-01", "limit": 100, "cursor": page["next_cursor"]}).json()
    assert len(rest["items"]) == 3 and rest["next_cursor"] is None
    counts = sup.get("/api/v1/events", params={"kind": "scrap"}).json()["items"]
    assert [e["reason"] for e in counts] == ["POROSITY"]
    window = sup.get(
        "/api/v1/events", params={"from": "2026-03-02T09:00:00+09:00", "to": "2026-03-02T10:00:00+09:00"}
    ).json()["items"]
    assert [e["state"] for e in window] == ["down", "running"]


def test_bad_events_are_refused_whole_with_their_index(as_role):
    sup = as_role("supervisor")
    bad = [
        {"ts": "2026-03-02T06:00:00+09:00", "machine": "NOPE", "event": "state", "state": "running"},
        {"ts": "2026-03-02T06:00:00+09:00", "machine": "WLD-01", "event": "good"},
        {"ts": "2099-03-02T06:00:00+09:00", "machine": "WLD-01", "event": "good", "quantity": 1},
    ]
    r = sup.post("/api/v1/events", json=bad)
    assert (r.status_code, r.json()["code"]) == (422, "events.refused")
    assert [(p["code"], p["message"]) for p in r.json()["problems"]] == [
        ("events.machine_unknown", "[0].machine: unknown machine NOPE"),
        ("events.quantity_missing", "[1].quantity: required for a count"),
        ("events.in_future", "[2].ts: 2099-03-02T06:00:00+09:00 is in the future"),
    ]
    assert sup.get("/api/v1/events").json()["items"] == []
    naive = sup.post(
        "/api/v1/events",
        json=[{"ts": "2026-03-02T06:00:00", "machine": "WLD-01", "event": "state", "state": "running"}],
    )
    assert naive.status_code == 422


def test_plant_can_be_read_by_all_and_replaced_by_admin_as_yaml(as_role):
    assert as_role("operator").get("/api/v1/plant").json()["site"]["code"] == "CHANGWON"
    admin = as_role("admin")
    doc = (
        "site: {code: CHANGWON, timezone: Asia/Seoul}\nareas: [{code: A, lines: [{code: L, machines: [{code: M9}]}]}]\n"
    )
    r = admin.put("/api/v1/plant", content=doc, headers={"content-type": "application/yaml"})
    assert r.status_code == 200 and r.json()["retired_machines"] == 7
    assert [m["code"] for m in admin.get("/api/v1/machines").json()] == ["M9"]
    r = admin.put("/api/v1/plant", content="site: {code: X}", headers={"content-type": "application/yaml"})
    assert (r.status_code, r.json()["code"]) == (422, "plant.file_refused")
    assert {"code": "plant.file_problem", "params": {"where": "site.timezone", "problem": "missing"},
            "message": "site.timezone: missing"} in r.json()["problems"]  # fmt: skip
    r = admin.put("/api/v1/plant", content="x", headers={"content-type": "text/plain"})
    assert r.status_code == 415


def test_kpi_scope_errors_are_problems(as_role):
    client = as_role("manager")
    r = client.get("/api/v1/kpi", params={"machine": "NOPE"})
    assert r.status_code == 422 and "unknown machine" in r.json()["detail"]
    r = client.get("/api/v1/kpi", params={"site": True, "from": "2026-03-03T00:00:00Z", "to": "2026-03-02T00:00:00Z"})
    assert r.status_code == 422


def test_audit_records_who_changed_what(as_role):
    as_role("supervisor").post("/api/v1/events", json=_events_json())
    entries = as_role("manager").get("/api/v1/audit").json()
    assert any(e["actor"] == "user:supervisor" and e["action"] == "events.record" for e in entries)


def test_connector_status_is_served_once_the_ingest_saved_it(as_role, engine):
    from shopfloor.connectors.base import ConnectorStatus
    from shopfloor.ingest.service import save_status

    client = as_role("operator")
    assert client.get("/api/v1/connectors").status_code == 404

    class Fake:
        status = ConnectorStatus(name="plc", protocol="modbus", endpoint="10.0.0.2:502", connected=True)

    save_status(engine, [Fake()], buffered=3)
    body = client.get("/api/v1/connectors").json()
    assert body["buffered"] == 3 and body["connectors"][0]["name"] == "plc"


def test_defect_rates_by_code_and_shift(as_role):
    sup = as_role("supervisor")
    sup.post("/api/v1/events", json=_events_json())
    window = {"from": "2026-03-02T00:00:00+09:00", "to": "2026-03-03T00:00:00+09:00"}
    by_code = sup.get("/api/v1/quality/defects", params={**window, "by": "defect"}).json()["rows"]
    assert by_code == [
        {
            "key": "POROSITY",
            "produced": 19271,
            "good": 0,
            "scrap": 423,
            "rework": 0,
            "ppm": 423 / 19271 * 1e6,
            "share_pct": 100.0,
            "cumulative_pct": 100.0,
        }
    ]
    by_shift = as_role("quality").get("/api/v1/quality/defects", params={**window, "by": "shift"}).json()["rows"]
    assert by_shift[0]["key"] == "2026-03-02/Day" and by_shift[0]["scrap"] == 423
    assert sup.get("/api/v1/quality/defects", params={"by": "colour"}).status_code == 422


def test_prometheus_metrics_need_a_token_and_report_request_latency(app, as_role):
    from fastapi.testclient import TestClient

    assert TestClient(app).get("/metrics").status_code == 401
    admin = as_role("admin")
    token = admin.post("/api/v1/tokens", json={"username": "manager", "name": "prometheus"}).json()["token"]
    scraper = TestClient(app, headers={"Authorization": f"Bearer {token}"})
    scraper.get("/api/v1/machines")
    body = scraper.get("/metrics").text
    assert "# TYPE shopfloor_http_request_duration_seconds histogram" in body
    assert 'route="/api/v1/machines"' in body and 'le="+Inf"' in body
