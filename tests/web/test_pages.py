"""Pages: sign-in, board, machine page, terminal, languages, live updates."""

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

from fastapi.testclient import TestClient
from markupsafe import escape  # as the templates escape

from shopfloor.actions.board import machine_tiles
from shopfloor.actions.demo import sample_plant
from shopfloor.i18n import LANGUAGES, catalog, error_message
from shopfloor.live import broker
from tests.conftest import PASSWORD

WEB = Path(__file__).resolve().parents[2] / "src" / "shopfloor" / "web"


def page_login(app, username, password=PASSWORD):
    client = TestClient(app)
    r = client.post(
        "/login", data={"username": username, "password": password, "next": "/board"}, follow_redirects=False
    )
    assert r.status_code == 303, r.text
    return client


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def refusal_shown(error, lang: str = "ko") -> str:
    """How a page shows a refusal: its message in the page's language (Korean for the sample plant in Seoul)."""
    return f'<p class="error" role="alert">{escape(error_message(error, lang))}</p>'


def test_pages_need_a_signed_in_user(anonymous):
    for path in ("/board", "/terminal", "/machines/WLD-01", "/"):
        r = anonymous.get(path, follow_redirects=False)
        assert r.status_code == 303 and "login" in r.headers["location"], path


def test_board_shows_every_machine_in_korean_for_a_seoul_site(app):
    client = page_login(app, "supervisor")
    html = client.get("/board").text
    for code in ("WLD-01", "WLD-02", "CNC-01", "CNC-02", "CNC-03", "NC-01", "NC-02"):
        assert f'id="tile-{code}"' in html
    assert 'lang="ko"' in html and "현황판" in html and "설비종합효율" in html


def test_language_switches_in_one_tap_and_sticks_to_the_user(app):
    client = page_login(app, "supervisor")
    csrf = csrf_of(client.get("/board").text)
    r = client.post("/lang", data={"lang": "vi", "next": "/board", "csrf_token": csrf}, follow_redirects=True)
    assert 'lang="vi"' in r.text and "Bảng giám sát" in r.text
    again = page_login(app, "supervisor")  # a new session of the same user, another browser
    assert 'lang="vi"' in again.get("/board").text
    r = client.post("/lang", data={"lang": "en", "next": "/board", "csrf_token": csrf}, follow_redirects=True)
    assert 'lang="en"' in r.text and ">Board<" in r.text


def test_language_change_without_csrf_is_refused_for_a_signed_in_user(app):
    client = page_login(app, "supervisor")
    r = client.post("/lang", data={"lang": "vi", "next": "/board"}, follow_redirects=False)
    assert r.status_code == 403


def test_sign_in_refuses_other_sites_and_open_redirects(app):
    client = TestClient(app)
    r = client.post(
        "/login",
        data={"username": "admin", "password": PASSWORD},
        headers={"origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert r.status_code == 403
    r = client.post(
        "/login", data={"username": "admin", "password": PASSWORD, "next": "//evil.example/x"}, follow_redirects=False
    )
    assert r.headers["location"] == "/"


def test_operator_pin_sign_in_goes_to_the_terminal_in_vietnamese(app):
    client = TestClient(app)
    r = client.post("/terminal/login", data={"who": "B-1001", "pin": "4821"}, follow_redirects=True)
    assert r.url.path == "/terminal" and 'lang="vi"' in r.text
    html = client.get("/terminal?machine=WLD-01").text
    assert "Báo hàng đạt" in html and 'data-machine="WLD-01"' in html


def test_terminal_entries_are_stored_once_and_the_answer_shows_the_counts(app):
    client = TestClient(app)
    client.post("/terminal/login", data={"who": "B-1001", "pin": "4821"})
    csrf = re.search(r'data-csrf="([^"]+)"', client.get("/terminal?machine=WLD-01").text).group(1)
    now = datetime.now(timezone.utc)
    entry = {
        "key": "k-00000001",
        "ts": now.isoformat(),
        "machine": "WLD-01",
        "action": "good",
        "quantity": 12,
        "product": "DRUM-A",
    }
    headers = {"X-CSRF-Token": csrf}
    first = client.post("/api/v1/pop/entries", json=entry, headers=headers)
    resent = client.post("/api/v1/pop/entries", json=entry, headers=headers)
    assert first.status_code == 200 and not first.json()["duplicate"]
    assert resent.json()["duplicate"] and resent.json()["gq"] == first.json()["gq"]
    scrap = {
        **entry,
        "key": "k-00000002",
        "ts": (now - timedelta(seconds=1)).isoformat(),
        "action": "scrap",
        "quantity": 2,
    }
    r = client.post("/api/v1/pop/entries", json=scrap, headers=headers)
    assert (r.status_code, r.json()["code"]) == (422, "terminal.defect_missing")
    r = client.post("/api/v1/pop/entries", json={**scrap, "defect": "POROSITY"}, headers=headers)
    assert r.status_code == 200 and r.json()["sq"] == 2
    ahead = {**entry, "key": "k-00000003", "ts": (now + timedelta(hours=1)).isoformat()}
    assert client.post("/api/v1/pop/entries", json=ahead, headers=headers).json()["code"] == "terminal.clock_ahead"


def test_a_stop_reason_is_recorded_for_the_stop(app):
    client = TestClient(app)
    client.post("/terminal/login", data={"who": "B-1001", "pin": "4821"})
    csrf = re.search(r'data-csrf="([^"]+)"', client.get("/terminal?machine=CNC-01").text).group(1)
    now = datetime.now(timezone.utc)
    headers = {"X-CSRF-Token": csrf}
    base = {"machine": "CNC-01"}
    paused = (now - timedelta(minutes=10)).isoformat()
    client.post(
        "/api/v1/pop/entries", json={**base, "key": "s-0000001", "ts": paused, "action": "pause"}, headers=headers
    )
    assert _tile_reason(app) == ("idle", "PAUSE")  # a pause is a stop with a reason of its own
    r = client.post(
        "/api/v1/pop/entries",
        json={**base, "key": "s-0000002", "ts": now.isoformat(), "action": "reason", "reason": "MATERIAL_WAIT"},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    assert _tile_reason(app) == ("idle", "MATERIAL_WAIT")  # the reason given replaces it for the whole stop
    board = page_login(app, "supervisor").get("/board").text
    cnc = re.search(r'id="tile-CNC-01".*?<div class="since">(.*?)</div>', board, re.S).group(1)
    assert re.search(r"· <span class=\"reason-name\"[^>]*>자재 대기</span>$", cnc), cnc  # its name, in Korean


def _tile_reason(app) -> tuple[str, str]:
    with app.state.engine.connect() as conn:
        tile = machine_tiles(conn, sample_plant(), datetime.now(timezone.utc), ["CNC-01"])[0]
    return tile["state"], tile["reason"]


def test_machine_page_has_its_three_charts(app, as_role):
    client = page_login(app, "quality")
    html = client.get("/machines/WLD-01").text
    for chart in ("timeline", "hourly", "pareto"):
        # Each chart is SVG drawn on the server (no chart script in the browser).
        assert re.search(rf'id="{chart}"[^>]*><svg [^>]*class="chart-svg"', html), chart
    assert "echarts" not in html
    # The charts alone, as the page fetches them again when the machine's tile changes.
    fragment = client.get("/machines/WLD-01/charts").text
    assert fragment.startswith('<div id="machine-charts"') and fragment.count('class="chart-svg"') == 3
    assert 'hx-trigger="sse:tile-WLD-01' in html
    assert client.get("/machines/NOPE").status_code == 404
    assert client.get("/machines/NOPE/charts").status_code == 404


def test_vendor_assets_are_served_locally(anonymous):
    for name in ("htmx.min.js", "sse.js"):
        r = anonymous.get(f"/static/vendor/{name}")
        assert r.status_code == 200 and len(r.content) > 1000, name
    assert anonymous.get("/static/vendor/other.js").status_code == 404
    assert anonymous.get("/static/vendor/echarts.min.js").status_code == 404  # charts are SVG from the server
    assert anonymous.get("/static/app.css").status_code == 200


def test_every_message_of_every_page_has_korean_and_vietnamese():
    sources = [p.read_text(encoding="utf-8") for p in (WEB / "templates").glob("*.html")]
    sources += [p.read_text(encoding="utf-8") for p in WEB.glob("*.py")]
    reports = [p.read_text(encoding="utf-8") for p in (WEB.parent / "actions").glob("*report*.py")]
    sources.append((WEB.parent / "i18n.py").read_text(encoding="utf-8"))
    messages = set()
    for text in sources:
        messages |= set(re.findall(r'(?:\b_|gettext)\("([^"]+)"', text))
        messages |= set(re.findall(r"(?:\b_|gettext)\('([^']+)'", text))
    for text in reports:  # reports take the translating function as ``t``
        messages |= set(re.findall(r'\bt\("([^"]+)"', text))
    messages |= {
        "running",
        "idle",
        "setup",
        "down",
        "planned_stop",
        "no_order",
        "no data",
        "operator",
        "supervisor",
        "quality",
        "manager",
        "admin",
        # lot statuses, lot actions and movement kinds shown through _(value)
        *("active", "hold", "consumed", "shipped", "scrapped", "returned"),
        *("receive", "produce", "issue", "split", "merge", "release", "move", "ship", "scrap", "count", "adjust"),
        "return",
        # KPI names of the improvement report
        *("Output per hour", "Defect rate (PPM)", "First pass yield", "Scrap ratio", "On-time completion"),
        "Operating rate",
        # chart limits, NCR statuses and dispositions
        *("frozen", "provisional", "all", "none", "open", "closed", "rework", "use_as_is", "return_to_supplier"),
        # maintenance: order kinds, statuses and sources, plan triggers, units and due states shown through _(value)
        *("preventive", "breakdown", "acknowledged", "in_progress", "terminal", "auto", "plan", "page"),
        *("calendar", "run_hours", "cycles", "shots", "d", "h", "pcs", "due_ok", "due_due", "due_overdue"),
        # document kinds and revision states shown through _(value)
        *("work_instruction", "drawing", "inspection_sheet", "setup_sheet", "nc_program"),
        *("draft", "pending", "current", "superseded"),
    }
    for lang in LANGUAGES:
        if lang == "en":
            continue
        missing = sorted(m for m in messages if m not in catalog(lang))
        assert missing == [], f"{lang}: {missing}"


def test_live_board_stream_sends_a_new_tile_when_a_machine_changes(live_server):
    import httpx

    with httpx.Client(base_url=live_server, timeout=10) as client:
        r = client.post("/login", data={"username": "supervisor", "password": PASSWORD})
        assert r.status_code in (200, 303)
        with client.stream("GET", "/board/stream") as stream:
            lines = stream.iter_lines()
            assert next(lines).startswith(": connected")
            broker.publish(["NC-02"])
            seen = []
            for line in lines:
                seen.append(line)
                if line.startswith("data:") and "tile-NC-02" in line:
                    break
    assert "event: tile-NC-02" in seen


def test_machine_page_target_follows_the_product_the_machine_makes(app, as_role):
    sup = as_role("supervisor")
    sup.post(
        "/api/v1/events",
        json=[
            {
                "ts": "2026-03-02T06:00:00+09:00",
                "machine": "CNC-01",
                "event": "good",
                "quantity": 1,
                "product": "TM-CASE",
            }
        ],
    )
    client = page_login(app, "quality")
    html = client.get("/machines/CNC-01").text
    assert 'data-target="20"' in html  # TM-CASE: 180 s ideal cycle -> 20 per hour
    assert re.search(r'class="target" data-value="20"', html)  # and the chart draws that target


def test_the_board_flags_performance_above_100_percent_on_the_plant_and_its_line(app):
    """A count far beyond what the ideal cycle allows in the time run (a typed count on top of the counter, or an
    ideal cycle set too long): the plant's and the line's OEE carry the warning with its likely cause."""
    from shopfloor.actions import events as event_actions
    from shopfloor.actions.demo import last_working_day
    from shopfloor.analytics.kpi import OVER_100_CAUSE
    from shopfloor.i18n import Translator
    from shopfloor.web.board import _board_context
    from shopfloor.web.pages import templates

    engine = app.state.engine
    plant = sample_plant()
    day = last_working_day(plant, datetime.now(plant.site.tz).date())
    now = datetime.combine(day, datetime.min.time(), tzinfo=plant.site.tz) + timedelta(hours=10)
    event_actions.record_events(engine, "user:t", [
        {"ts": now - timedelta(minutes=30), "machine": "WLD-01", "event": "state", "state": "running"},
        {"ts": now - timedelta(minutes=29), "machine": "WLD-01", "event": "good", "quantity": 5000,
         "product": "DRUM-A"},
    ], "api:t")  # fmt: skip
    ctx = _board_context(engine, plant, now)
    assert ctx["site"]["over_100"] is True, ctx["site"]
    assert {ln["code"]: ln["over_100"] for ln in ctx["lines"]} == {"WELD": True, "CNC": False, "MOULD": False}
    t = Translator("ko", plant.site.tz)
    html = templates.get_template("_summary.html").render({**ctx, "t": t, "_": t.gettext})
    cause = str(escape(t.gettext(OVER_100_CAUSE)))
    assert f'class="over-100" role="img" title="{cause}"' in html[: html.index("</h1>")]
    assert re.search(rf'<template data-line="WELD" data-oee="[^"]*⚠" data-title="{re.escape(cause)}"', html)
    assert re.search(r'<template data-line="CNC" data-oee="[^"⚠]*" data-title=""', html)
