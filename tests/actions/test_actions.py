"""Every action on both stores: it writes its row, records its audit entry and publishes its live event once the
change has committed; a refused action leaves neither row, nor audit entry, nor event.

``tests/actions/test_action_coverage.py`` fails on an action of ``shopfloor.actions`` that no test here calls.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from shopfloor.actions import accounts as account_actions
from shopfloor.actions import events as event_actions
from shopfloor.actions import hub as hub_actions
from shopfloor.actions import jobs as job_actions
from shopfloor.actions import lots as lot_actions
from shopfloor.actions import master_data, scheduled_reports
from shopfloor.actions import quality as quality_actions
from shopfloor.actions import terminal as terminal_actions
from shopfloor.actions import work_orders as wo_actions
from shopfloor.actions.core import ChangeNotAudited, change
from shopfloor.actions.demo import sample_plant
from shopfloor.actions.hub_share import key_rotation, signed_report
from shopfloor.actions.plant import import_plant, parse_plant_document
from shopfloor.errors import DefectUnknown, LotNotFound, SampleAlreadyVoided, TransitionNotAllowed
from shopfloor.live import broker
from shopfloor.model.funding import Rule
from shopfloor.model.signing import generate_key
from shopfloor.settings import Settings
from shopfloor.store import accounts, audit, jobs, schedules
from shopfloor.store import hub as hub_store
from shopfloor.store import lots as lot_store
from shopfloor.store import work_orders as wo_store
from shopfloor.store.schema import alarms, audit_log, machine_events, machines, ncrs
from tests.lots_data import add_master_data

ACTOR = "user:tester"


@pytest.fixture
def events():
    """The live events this process publishes while a test runs: (topic, key), in order."""
    seen: list[tuple[str, str]] = []
    stop = broker.watch(lambda topic, keys: seen.extend((topic, k) for k in keys))
    yield seen
    stop()


@pytest.fixture
def plant_store(engine):
    with engine.begin() as conn:
        add_master_data(conn)
    return engine


def last_audit(engine) -> dict:
    with engine.connect() as conn:
        return audit.entries(conn, 1)[0]


def audit_count(engine) -> int:
    with engine.connect() as conn:
        return len(audit.entries(conn, 10_000))


# -- the write path itself ----------------------------------------------------------------------------------
def test_a_change_without_an_audit_row_is_refused_and_rolled_back(plant_store, events):
    with pytest.raises(ChangeNotAudited), change(plant_store, ACTOR) as c:
        lot_store.receive(c.conn, "COIL", 5, ACTOR, code="NEVER")
        c.publish("lot", "NEVER")
    with plant_store.connect() as conn, pytest.raises(LotNotFound):
        lot_store.get(conn, "NEVER")
    assert events == []


def test_a_refused_action_writes_nothing_and_publishes_nothing(plant_store, events):
    before = audit_count(plant_store)
    with pytest.raises(LotNotFound):
        lot_actions.hold_lot(plant_store, ACTOR, "NOPE", reason="dent")
    assert (audit_count(plant_store), events) == (before, [])


# -- work orders ---------------------------------------------------------------------------------------------
def test_work_order_create_assign_and_transition(plant_store, events):
    made = wo_actions.create_work_order(plant_store, ACTOR, code="WO-1", product="DRUM-A", quantity=10)
    assert (made["status"], last_audit(plant_store)["action"]) == ("planned", "work_order.create")
    assert events == [("work_order", "WO-1")]
    events.clear()
    wo_actions.assign_work_order(plant_store, ACTOR, "WO-1", machine="WLD-01", priority=3)
    entry = last_audit(plant_store)
    assert (entry["action"], entry["detail"]) == ("work_order.assign", {"machine": "WLD-01", "priority": 3})
    assert events == [("work_order", "WO-1"), ("machine", "WLD-01")]
    events.clear()
    wo_actions.transition_work_order(plant_store, ACTOR, "WO-1", "released")
    started = wo_actions.transition_work_order(plant_store, ACTOR, "WO-1", "in_progress", reason="go")
    with plant_store.connect() as conn:
        assert wo_store.get(conn, "WO-1").status.value == started["status"] == "in_progress"
    entry = last_audit(plant_store)
    assert (entry["action"], entry["detail"], entry["reason"]) == ("work_order.status", {"to": "in_progress"}, "go")
    assert events == [("work_order", "WO-1"), ("machine", "WLD-01")] * 2
    with pytest.raises(TransitionNotAllowed):
        wo_actions.transition_work_order(plant_store, ACTOR, "WO-1", "planned")


# -- the terminal and machine events ------------------------------------------------------------------------
def test_a_terminal_entry_stores_its_event_once(plant_store, events):
    entry = terminal_actions.PopEntry(uuid.uuid4().hex, datetime.now(timezone.utc), "WLD-01", "good", 4)
    first = terminal_actions.record_terminal_entry(plant_store, "op", entry)
    again = terminal_actions.record_terminal_entry(plant_store, "op", entry)
    assert (first["duplicate"], again["duplicate"]) == (False, True)
    with plant_store.connect() as conn:
        assert conn.execute(select(func.sum(machine_events.c.quantity))).scalar() == 4
    entry_row = last_audit(plant_store)
    assert (entry_row["action"], entry_row["actor"], entry_row["target"]) == ("pop.good", "user:op", "machine:WLD-01")
    assert events == [("machine", "WLD-01"), ("machine", "WLD-01")]


def test_terminal_entries_go_into_one_transaction_each_with_its_audit_row_and_answer(plant_store, events):
    """Taps of two operators in one call: each stored and audited under its operator, a refused one answered with
    its error without holding up the others, a resent one a duplicate, and the shift's units in each answer."""
    now = datetime.now(timezone.utc)
    good = terminal_actions.PopEntry(uuid.uuid4().hex, now, "WLD-01", "good", 4)
    scrap = terminal_actions.PopEntry(uuid.uuid4().hex, now, "WLD-01", "scrap", 1, defect="NOPE-DEFECT")
    more = terminal_actions.PopEntry(uuid.uuid4().hex, now + timedelta(microseconds=1), "WLD-01", "good", 2)
    taps = [("op", good), ("op", scrap), ("kim", more), ("op", good)]
    out = terminal_actions.record_terminal_entries(plant_store, taps)
    assert out[1] == DefectUnknown(defect="NOPE-DEFECT")
    assert [(o["duplicate"], o["gq"]) for o in (out[0], out[2], out[3])] == [(False, 6), (False, 6), (True, 6)]
    with plant_store.connect() as conn:
        assert conn.execute(select(func.sum(machine_events.c.quantity))).scalar() == 6
        rows = conn.execute(select(audit_log.c.actor, audit_log.c.action).order_by(audit_log.c.id)).all()
    assert [tuple(r) for r in rows[-3:]] == [("user:op", "pop.good"), ("user:kim", "pop.good"), ("user:op", "pop.good")]
    assert set(events) == {("machine", "WLD-01")}
    events.clear()
    assert terminal_actions.record_terminal_entries(plant_store, [("op", scrap)]) == [out[1]]  # nothing stored
    assert events == []


def test_events_are_recorded_once(plant_store, events):
    ts = datetime(2026, 3, 2, 6, tzinfo=timezone.utc)
    rows = [{"ts": ts, "machine": "CNC-01", "event": "state", "state": "running"},
            {"ts": ts, "machine": "CNC-02", "event": "good", "quantity": 5}]  # fmt: skip
    assert event_actions.record_events(plant_store, ACTOR, rows, "api:t")["inserted"] == 2
    assert event_actions.record_events(plant_store, ACTOR, rows, "api:t")["duplicates_skipped"] == 2
    assert last_audit(plant_store)["action"] == "events.record"
    assert events == [("machine", "CNC-01"), ("machine", "CNC-02")] * 2


def test_an_events_file_is_imported(plant_store, events, tmp_path):
    path = tmp_path / "e.csv"
    path.write_text("ts,machine,event,value,product,reason\n2026-03-02T06:00:00+09:00,NC-01,good,7,MOULD-CORE,\n")
    assert event_actions.import_events(plant_store, ACTOR, path)["inserted"] == 1
    assert (last_audit(plant_store)["action"], events) == ("events.import", [("machine", "NC-01")])


# -- the plant and master data ------------------------------------------------------------------------------
def test_the_plant_is_imported(engine, events):
    plant = parse_plant_document(PLANT_YAML, "plant.yaml")
    assert import_plant(engine, ACTOR, plant)["created"] is True
    entry = last_audit(engine)
    assert (entry["action"], entry["target"], entry["detail"]["machines"]) == ("plant.import", "site:S", 1)
    assert events == [("plant", "S"), ("machine", "M1")]


PLANT_YAML = "site: {code: S, timezone: UTC}\nareas: [{code: A, lines: [{code: L, machines: [{code: M1}]}]}]\n"


def test_master_data_is_imported(plant_store, events):
    content = b"code,name,kind\nWH-9,Kho,store\n"
    summary = master_data.import_master(plant_store, ACTOR, content, "locations.csv")
    assert summary["locations"] == 1
    entry = last_audit(plant_store)
    assert (entry["action"], entry["detail"]["format"]) == ("master.import", "csv")
    assert events == [("master_data", "all")]


# -- lots -----------------------------------------------------------------------------------------------------
def _lot(engine, code):
    with engine.connect() as conn:
        return lot_store.get(conn, code)


def test_every_lot_action(plant_store, events):
    receive = dict(item="COIL", qty="100", code="C1", location="WH", supplier="POSCO", supplier_lot="P-1")
    assert lot_actions.receive_lot(plant_store, ACTOR, **receive)["qty"] == "100"
    assert (last_audit(plant_store)["action"], events[-1]) == ("lot.receive", ("lot", "C1"))
    with plant_store.begin() as conn:
        wo_store.create(conn, sample_plant(), "WO-L", "SHELL", 10, "planner", machine="WLD-01")
    wo_actions.transition_work_order(plant_store, ACTOR, "WO-L", "released")
    wo_actions.transition_work_order(plant_store, ACTOR, "WO-L", "in_progress")
    steps = [
        (lambda: lot_actions.issue_lot(plant_store, ACTOR, "C1", work_order="WO-L", qty="10"), "lot.issue", ["C1"]),
        (lambda: lot_actions.report_output(plant_store, ACTOR, "WO-L", qty="4", code="S1"), "lot.produce", ["S1"]),
        (lambda: lot_actions.split_lot(plant_store, ACTOR, "C1", quantities=["5"], codes=["C2"]), "lot.split",
         ["C1", "C2"]),
        (lambda: lot_actions.merge_lots(plant_store, ACTOR, lots=["C2", "C1"], code="C3"), "lot.merge",
         ["C1", "C2", "C3"]),
        (lambda: lot_actions.move_lot(plant_store, ACTOR, "C3", location="LINE-1"), "lot.move", ["C3"]),
        (lambda: lot_actions.hold_lot(plant_store, ACTOR, "C3", reason="rust"), "lot.hold", ["C3"]),
        (lambda: lot_actions.release_lot(plant_store, ACTOR, "C3", reason="cleared"), "lot.release", ["C3"]),
        (lambda: lot_actions.count_lot(plant_store, ACTOR, "C3", counted="80", reason="count"), "lot.count", ["C3"]),
        (lambda: lot_actions.scrap_lot(plant_store, ACTOR, "C3", qty="1", defect="CRACK"), "lot.scrap", ["C3"]),
        (lambda: lot_actions.ship_lot(plant_store, ACTOR, "S1", customer="LGE", shipment="DN-1"), "lot.ship", ["S1"]),
    ]  # fmt: skip
    for do, action, lots in steps:
        events.clear()
        do()
        assert last_audit(plant_store)["action"] == action
        assert sorted(key for topic, key in events if topic == "lot") == lots, action
    assert (_lot(plant_store, "C3").qty, _lot(plant_store, "C3").status.value) == ("79", "active")
    assert (_lot(plant_store, "S1").status.value, _lot(plant_store, "C1").status.value) == ("shipped", "consumed")


def test_a_recall_holds_what_is_still_in_stock_and_says_so_in_the_audit(plant_store, events):
    lot_actions.receive_lot(plant_store, ACTOR, item="COIL", qty="10", code="R1", supplier="POSCO")
    lot_actions.split_lot(plant_store, ACTOR, "R1", quantities=["4"], codes=["R2"])
    events.clear()
    report = lot_actions.hold_recalled_lots(plant_store, "cli:root", "R1", reason="porosity complaint")
    assert sorted(report["held"]) == ["R1", "R2"] and report["summary"]["on_hold_lots"] == 2
    entry = last_audit(plant_store)
    assert (entry["action"], entry["actor"], entry["reason"]) == ("lot.recall_hold", "cli:root", "porosity complaint")
    assert sorted(events) == [("lot", "R1"), ("lot", "R2")]
    assert {_lot(plant_store, c).status.value for c in ("R1", "R2")} == {"hold"}


# -- quality --------------------------------------------------------------------------------------------------
BEAD = {"product": "DRUM-A", "code": "BEAD-W", "name": "Bead width", "kind": "variable", "chart": "xbar-r",
        "unit": "mm", "nominal": 2.0, "lsl": 1.8, "usl": 2.2, "sample_size": 3}  # fmt: skip


def test_characteristics_samples_and_a_sample_file(plant_store, events):
    char = quality_actions.save_characteristic(plant_store, ACTOR, BEAD)
    cid = char["id"]
    assert (last_audit(plant_store)["action"], events) == ("quality.characteristic", [("characteristic", str(cid))])
    events.clear()
    sample = quality_actions.record_sample(plant_store, ACTOR, cid, measurements=[2.0, 2.01, 1.99], machine="WLD-01")
    assert sample["measurements"] == [2.0, 2.01, 1.99]
    assert (last_audit(plant_store)["action"], events) == (
        "quality.sample",
        [("characteristic", str(cid)), ("machine", "WLD-01")],
    )
    events.clear()
    csv = b"product,characteristic,ts,values\nDRUM-A,BEAD-W,2026-03-02T08:00:00+09:00,2.0 2.0 2.0\n"
    assert quality_actions.import_sample_file(plant_store, ACTOR, csv, "s.csv") == {"rows": 1}
    entry = last_audit(plant_store)
    assert (entry["action"], entry["target"]) == ("quality.samples_import", "file:s.csv")
    assert events == [("characteristic", str(cid))]


def test_chart_settings_and_samples_voided_or_excluded(plant_store, events):
    cid = quality_actions.save_characteristic(plant_store, ACTOR, BEAD)["id"]
    ids = [quality_actions.record_sample(plant_store, ACTOR, cid, measurements=g)["id"]
           for g in ([2.0, 2.01, 1.99], [2.02, 2.0, 1.98])]  # fmt: skip
    events.clear()
    saved = quality_actions.set_chart_settings(plant_store, ACTOR, cid, rules="we:1,4=7", options={"nsigmas": 2.5},
                                               valid_min=None, valid_max=5.0)  # fmt: skip
    assert (saved["rules"], saved["options"], saved["valid_max"], saved["lsl"]) == (
        "we:1,4=7",
        {"nsigmas": 2.5},
        5.0,
        1.8,
    )
    assert (last_audit(plant_store)["action"], events) == ("quality.characteristic", [("characteristic", str(cid))])
    events.clear()
    excluded = quality_actions.exclude_sample(plant_store, ACTOR, cid, ids[0], reason="new coil")
    entry = last_audit(plant_store)
    assert (excluded["excluded_reason"], entry["action"], entry["target"]) == (
        "new coil", "quality.sample_exclude", f"sample:{ids[0]}"
    )  # fmt: skip
    voided = quality_actions.void_sample(plant_store, ACTOR, cid, ids[1], reason="typed twice")
    entry = last_audit(plant_store)
    assert (voided["voided_by"], entry["action"], entry["detail"]) == (
        ACTOR, "quality.sample_void", {"characteristic": cid, "reason": "typed twice"}
    )  # fmt: skip
    assert events == [("characteristic", str(cid))] * 2
    with pytest.raises(SampleAlreadyVoided):
        quality_actions.void_sample(plant_store, ACTOR, cid, ids[1], reason="again")


def test_an_ncr_holds_its_lot_and_its_disposition_scraps_and_releases(plant_store, events):
    lot_actions.receive_lot(plant_store, ACTOR, item="COIL", qty="50", code="N1", supplier="POSCO")
    events.clear()
    ncr = quality_actions.open_ncr(plant_store, ACTOR, description="rust", lot="N1", qty="5")
    assert (_lot(plant_store, "N1").status.value, last_audit(plant_store)["action"]) == ("hold", "quality.ncr_open")
    assert events == [("ncr", ncr["code"]), ("lot", "N1")]
    events.clear()
    closed = quality_actions.dispose_ncr(plant_store, ACTOR, ncr["code"], disposition="scrap", note="cut out")
    assert closed["status"] == "closed" and _lot(plant_store, "N1").qty == "45"
    assert _lot(plant_store, "N1").status.value == "active"
    assert (last_audit(plant_store)["action"], events) == (
        "quality.ncr_disposition",
        [("ncr", ncr["code"]), ("lot", "N1")],
    )
    with plant_store.connect() as conn:
        assert conn.execute(select(ncrs.c.status)).scalar() == "closed"


def test_an_alarm_is_acknowledged_once(plant_store, events):
    with plant_store.begin() as conn:
        mid = conn.execute(select(machines.c.id).where(machines.c.code == "NC-02")).scalar()
        now = datetime.now(timezone.utc)
        alarm = conn.execute(
            alarms.insert().values(machine_id=mid, name="temp", rule="nelson1", ts=now, value=9.0, points=[1],
                                   raised_at=now)
        ).inserted_primary_key[0]  # fmt: skip
    done = quality_actions.acknowledge_alarm(plant_store, "user:qa", alarm, comment="thermocouple replaced")
    assert (done["ack_by"], done["ack_comment"]) == ("user:qa", "thermocouple replaced")
    entry = last_audit(plant_store)
    assert (entry["action"], entry["reason"]) == ("alarm.ack", "thermocouple replaced")
    assert events == [("alarm", str(alarm)), ("machine", "NC-02")]


# -- accounts -------------------------------------------------------------------------------------------------
def test_users_tokens_language_and_sessions(plant_store, events):
    user = account_actions.create_user(plant_store, ACTOR, username="kim", role="operator", pin="1234", badge="B-7")
    assert (user["role"], last_audit(plant_store)["action"], events) == ("operator", "user.create", [("user", "kim")])
    events.clear()
    token = account_actions.create_api_token(plant_store, ACTOR, username="kim", name="gateway")
    assert token.startswith("sf_") and last_audit(plant_store)["action"] == "token.create"
    assert account_actions.user_of_token(plant_store, token).username == "kim"
    with plant_store.connect() as conn:
        token_id = accounts.list_api_tokens(conn)[0]["id"]
    account_actions.revoke_api_token(plant_store, ACTOR, token_id)
    assert account_actions.user_of_token(plant_store, token) is None
    assert last_audit(plant_store)["action"] == "token.revoke"
    with plant_store.connect() as conn:
        kim = accounts.by_username(conn, "kim")
    account_actions.set_language(plant_store, "user:kim", kim, "vi")
    assert last_audit(plant_store)["detail"] == {"language": "vi"}
    session = account_actions.sign_in(
        plant_store, "B-7", "10.0.0.9", lambda conn: accounts.check_pin(conn, "B-7", "1234"), via="page"
    )
    assert (session.user.language, last_audit(plant_store)["action"]) == ("vi", "auth.login")
    account_actions.sign_out(plant_store, session)
    with plant_store.connect() as conn:
        assert accounts.session_for(conn, session.token) is None
    assert last_audit(plant_store)["action"] == "auth.logout"
    assert [e for e in events if e[0] == "token"] == [("token", str(token_id))]


# -- reports: schedules and background jobs -----------------------------------------------------------------
def test_a_schedule_is_added(plant_store, events, tmp_path):
    doc = scheduled_reports.add_schedule(plant_store, ACTOR, name="daily", period="day", delivery="folder",
                                         target=str(tmp_path))  # fmt: skip
    with plant_store.connect() as conn:
        assert schedules.get(conn, "daily") == doc
    assert (last_audit(plant_store)["action"], events) == ("report.schedule", [("schedule", "daily")])


def test_a_background_job_keeps_its_progress_and_result_in_the_store(plant_store, events):
    owner = account_actions.create_user(plant_store, ACTOR, username="boss", role="manager", password="x" * 12)["id"]
    events.clear()

    def work(progress):
        progress(1, 2)
        return {"answer": 42}

    job = job_actions.start_job(plant_store, "user:boss", owner, "improvement", {"line": "WELD"}, work)
    job_actions.wait_for(job.id, timeout=30)
    with plant_store.connect() as conn:
        done = jobs.get(conn, job.id, owner)
        assert jobs.get(conn, job.id, owner + 1) is None  # seen only by who started it
    assert (done.state, done.percent, done.result) == ("finished", 100, {"answer": 42})
    assert last_audit(plant_store)["action"] == "job.improvement"
    assert events == [("job", job.id)] * 3  # started, one step of progress, finished


# -- the hub --------------------------------------------------------------------------------------------------
def test_every_hub_action(engine, events):
    pem, public = generate_key()
    spare = generate_key()[1]
    rule = Rule.from_dict(
        {
            "type": "basic",
            "year": 2026,
            "effective_from": "2026-01-01",
            "parties": {"state": {"max_pct": 50}, "sponsor": {"min_pct": 20}, "sme": {}},
        },
        "PG",
    )
    steps = [
        (lambda: hub_actions.add_organisation(engine, ACTOR, code="SP", name="Sponsor", kind="sponsor"),
         "hub.organisation"),
        (lambda: hub_actions.add_organisation(engine, ACTOR, code="FA", name="Factory", kind="factory",
                                              public_key=public), "hub.organisation"),
        (lambda: hub_actions.add_program(engine, ACTOR, code="PG", name="Program"), "hub.program"),
        (lambda: hub_actions.set_funding_rule(engine, ACTOR, rule), "hub.rule"),
        (lambda: hub_actions.add_project(engine, ACTOR, {
            "code": "P1", "program": "PG", "year": 2026, "type": "basic", "factory": "FA", "sponsor": "SP",
            "agreed_on": date(2026, 2, 1), "budget": 100, "shares": {"state": 50, "sponsor": 30, "sme": 20}}),
         "hub.project"),
        (lambda: hub_actions.update_project(engine, ACTOR, "P1", {"name": "MES"}), "hub.project_edit"),
        (lambda: hub_actions.add_ledger_entry(engine, ACTOR, "P1", party="state", kind="contribution", amount=10),
         "hub.ledger"),
        (lambda: hub_actions.reverse_ledger_entry(engine, ACTOR, "P1", 1, reason="twice"), "hub.ledger_reverse"),
        (lambda: hub_actions.add_milestone(engine, ACTOR, "P1", name="Go live",
                                           due=datetime(2026, 9, 1, tzinfo=timezone.utc)), "hub.milestone"),
        (lambda: hub_actions.complete_milestone(engine, ACTOR, "P1", 1), "hub.milestone_done"),
    ]  # fmt: skip
    for do, action in steps:
        events.clear()
        do()
        assert last_audit(engine)["action"] == action and len(events) == 1, action
    with engine.connect() as conn:
        factory_id = hub_store.organisation(conn, "FA")["id"]
        assert hub_store.project(conn, hub_store.Viewer("office", None), "P1")["funding"]["state"] == {
            "committed": 50,
            "contributed": 0,
            "paid": 0,
        }
    factory = hub_store.Viewer("factory", factory_id)
    consent = hub_actions.grant_consent(engine, ACTOR, factory, sponsor="SP", kpis=["ppm"])
    assert (last_audit(engine)["action"], events[-1]) == ("hub.consent", ("hub.consent", str(consent["id"])))
    report = hub_actions.receive_report(engine, ACTOR, factory, signed_report(pem, "FA", "SP", "2026-03", {"ppm": 9}))
    assert (report["period"], last_audit(engine)["action"], events[-1]) == (
        "2026-03",
        "hub.report",
        ("hub.report", "FA/2026-03"),
    )
    hub_actions.withdraw_figures(engine, ACTOR, factory, period="2026-03")
    assert (last_audit(engine)["action"], events[-1]) == ("hub.withdraw_figures", ("hub.report", str(factory_id)))
    hub_actions.enter_self_reported(engine, ACTOR, factory, year=2026, figures={"employees": 12})
    assert (last_audit(engine)["action"], events[-1]) == ("hub.self_reported", ("hub.report", str(factory_id)))
    hub_actions.withdraw_consent(engine, ACTOR, factory, consent["id"])
    assert (last_audit(engine)["action"], events[-1]) == ("hub.withdraw", ("hub.consent", str(consent["id"])))
    new_pem, rotation = key_rotation(pem, "FA")
    rotated = hub_actions.rotate_key(engine, ACTOR, factory, rotation)
    assert (last_audit(engine)["action"], events[-1]) == ("hub.key_rotate", ("hub.organisation", "FA"))
    hub_actions.revoke_key(engine, ACTOR, factory, "FA", key=rotated["key"], reason="lost")
    assert (last_audit(engine)["action"], last_audit(engine)["reason"]) == ("hub.key_revoke", "lost")
    hub_actions.add_key(engine, ACTOR, "FA", public_key=spare)
    assert (last_audit(engine)["action"], events[-1]) == ("hub.key", ("hub.organisation", "FA"))
    with engine.connect() as conn:
        assert [k["state"] for k in hub_store.keys_of(conn, factory, "FA")] == ["retired", "revoked", "in use"]
        assert new_pem.startswith(b"-----BEGIN PRIVATE KEY")


def test_scheduled_reports_are_sent_once_and_audited(plant_store, events, tmp_path):
    monday = datetime(2026, 3, 2, 12, tzinfo=timezone.utc)
    out = tmp_path / "reports"
    scheduled_reports.add_schedule(plant_store, ACTOR, name="xl", period="day", delivery="folder",
                                   target=str(out), formats="xlsx", now=monday)  # fmt: skip
    events.clear()
    settings = Settings(smtp_url=None, smtp_from=None)
    sent = scheduled_reports.run_due(plant_store, settings, monday + timedelta(days=1))
    assert [(r["period"], r["ok"]) for r in sent] == [("2026-03-02", True)]
    assert scheduled_reports.run_due(plant_store, settings, monday + timedelta(days=1)) == []
    entry = last_audit(plant_store)
    assert (entry["action"], entry["actor"], entry["detail"]["period"]) == (
        "report.sent",
        "system:scheduler",
        "2026-03-02",
    )
    assert events == [("schedule", "xl")]
    assert [p.name for p in out.iterdir()] == ["production-CHANGWON-2026-03-02.xlsx"]


def test_shift_counts_from_rolled_up_hours_and_the_hour_in_progress_equal_the_events(plant_store):
    """Counts in the Day shift (06:00-14:00 Seoul) of Tuesday 2026-03-03: three in hours that are rolled up, one in
    the hour in progress, one before the shift.  The answer is the events' sum, read partly from the rollups."""
    from zoneinfo import ZoneInfo

    from shopfloor.actions.board import shift_counts
    from shopfloor.store import rollups
    from shopfloor.store.plant import current_plant, machine_ids

    seoul = ZoneInfo("Asia/Seoul")
    at = [datetime(2026, 3, 3, h, m, tzinfo=seoul) for h, m in ((5, 50), (6, 10), (7, 20), (9, 40), (10, 5))]
    rows = [{"ts": ts, "machine": "CNC-01", "event": "good", "quantity": q} for ts, q in zip(at, (100, 1, 2, 4, 8))]
    rows.append({"ts": at[3], "machine": "CNC-01", "event": "scrap", "quantity": 16})
    event_actions.record_events(plant_store, ACTOR, rows, "api:t")
    with plant_store.connect() as conn:
        assert rollups.coverage(conn, machine_ids(conn)["CNC-01"]).end == at[4].replace(minute=0)
        counts = shift_counts(conn, current_plant(conn), "CNC-01", datetime(2026, 3, 3, 10, 30, tzinfo=seoul))
    assert counts == {"gq": 15, "sq": 16, "rq": 0}
