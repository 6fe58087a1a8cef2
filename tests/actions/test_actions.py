"""Every action on both stores: it writes its row, records its audit entry and publishes its live event once the
change has committed; a refused action leaves neither row, nor audit entry, nor event.

``tests/actions/test_action_coverage.py`` fails on an action of ``shopfloor.actions`` that no test here calls.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from shopfloor import errors
from shopfloor.actions import accounts as account_actions
from shopfloor.actions import documents as doc_actions
from shopfloor.actions import events as event_actions
from shopfloor.actions import hub as hub_actions
from shopfloor.actions import jobs as job_actions
from shopfloor.actions import lots as lot_actions
from shopfloor.actions import maintenance as mnt
from shopfloor.actions import master_data, scheduled_reports
from shopfloor.actions import quality as quality_actions
from shopfloor.actions import skills as skill_actions
from shopfloor.actions import terminal as terminal_actions
from shopfloor.actions import work_orders as wo_actions
from shopfloor.actions.core import ChangeNotAudited, change
from shopfloor.actions.demo import sample_plant
from shopfloor.actions.hub_share import key_rotation, signed_report
from shopfloor.actions.plant import import_plant, parse_plant_document
from shopfloor.errors import (
    BadgeTaken,
    CannotDeactivateSelf,
    DefectUnknown,
    DomainError,
    LotNotFound,
    PasswordTooShort,
    PinInvalid,
    PinOnlyForOperators,
    RoleUnknown,
    SampleAlreadyVoided,
    TransitionNotAllowed,
    UserNotFound,
    WrongSecret,
)
from shopfloor.live import broker
from shopfloor.model.funding import Rule
from shopfloor.model.signing import generate_key
from shopfloor.settings import Settings
from shopfloor.store import accounts, audit, jobs, schedules
from shopfloor.store import hub as hub_store
from shopfloor.store import lots as lot_store
from shopfloor.store import work_orders as wo_store
from shopfloor.store.schema import (
    ROLES,
    alarms,
    audit_log,
    document_confirmations,
    document_revisions,
    machine_events,
    machines,
    maintenance_orders,
    maintenance_plans,
    mould_mounts,
    moulds,
    nc_transfers,
    ncrs,
    operation_skills,
    operator_skills,
    skills,
)
from shopfloor.store.schema import operations as operations_table
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


def test_a_work_order_is_corrected_field_by_field(plant_store, events):
    due = datetime(2026, 6, 30, 14, 59, tzinfo=timezone.utc)
    wo_actions.create_work_order(plant_store, ACTOR, code="WO-E", product="DRUM-A", quantity=10, machine="WLD-01")
    events.clear()
    edited = wo_actions.edit_work_order(plant_store, ACTOR, "WO-E", product="SHELL", quantity=12, due=due,
                                        machine="CNC-01")  # fmt: skip
    assert (edited["product"], edited["quantity"], edited["due"], edited["machine"], edited["priority"]) == (
        "SHELL", 12, due.isoformat(), "CNC-01", 0)  # fmt: skip
    with plant_store.connect() as conn:
        row = wo_store.get(conn, "WO-E")
    assert (row.product, row.quantity, row.due, row.machine) == ("SHELL", 12, due, "CNC-01")
    entry = last_audit(plant_store)
    assert (entry["action"], entry["target"], entry["detail"]) == ("work_order.edit", "work_order:WO-E", {
        "before": {"product": "DRUM-A", "quantity": 10, "due": None, "machine": "WLD-01"},
        "after": {"product": "SHELL", "quantity": 12, "due": due.isoformat(), "machine": "CNC-01"}})  # fmt: skip
    assert sorted(events) == [("machine", "CNC-01"), ("machine", "WLD-01"), ("work_order", "WO-E")]
    # the same values again change nothing: no row, no audit entry, no event
    before, events[:] = audit_count(plant_store), []
    wo_actions.edit_work_order(plant_store, ACTOR, "WO-E", quantity=12, machine="CNC-01")
    assert (audit_count(plant_store), events) == (before, [])
    with pytest.raises(errors.NothingToEdit):
        wo_actions.edit_work_order(plant_store, ACTOR, "WO-E")


def test_a_work_order_correction_is_refused_by_status_and_counts(plant_store, events):
    wo_actions.create_work_order(plant_store, ACTOR, code="WO-F", product="DRUM-A", quantity=10, machine="WLD-01")
    wo_actions.transition_work_order(plant_store, ACTOR, "WO-F", "released")
    wo_actions.transition_work_order(plant_store, ACTOR, "WO-F", "in_progress")
    now = datetime.now(timezone.utc) + timedelta(seconds=1)
    event_actions.record_events(plant_store, ACTOR, [{"ts": now, "machine": "WLD-01", "event": "good", "quantity": 7}],
                                "api:t")  # fmt: skip
    before, events[:] = audit_count(plant_store), []
    refusals = [
        ({"product": "SHELL"}, errors.WorkOrderProductFixed(work_order="WO-F", status="in_progress")),
        ({"machine": "CNC-01"}, errors.WorkOrderStarted(work_order="WO-F", status="in_progress")),
        ({"quantity": 6}, errors.WorkOrderQuantityBelowGood(work_order="WO-F", quantity=6, good=7)),
        ({"quantity": 0}, errors.WorkOrderQuantity(quantity=0)),
        ({"priority": 5000}, errors.WorkOrderPriority(priority=5000)),
        ({"due": datetime(202, 5, 1, tzinfo=timezone.utc)},
         errors.WorkOrderDueImplausible(due="0202-05-01T00:00:00+00:00")),
        ({"product": "NOPE"}, errors.WorkOrderProductFixed(work_order="WO-F", status="in_progress")),
    ]  # fmt: skip
    for fields, refusal in refusals:
        with pytest.raises(DomainError) as refused:
            wo_actions.edit_work_order(plant_store, ACTOR, "WO-F", **fields)
        assert refused.value == refusal, fields
    assert (audit_count(plant_store), events) == (before, [])
    # while it runs, the quantity may go down to the good units counted, and the product given unchanged is no change
    assert wo_actions.edit_work_order(plant_store, ACTOR, "WO-F", product="DRUM-A", quantity=7)["quantity"] == 7
    wo_actions.transition_work_order(plant_store, ACTOR, "WO-F", "completed")
    with pytest.raises(errors.WorkOrderNotEditable) as refused:
        wo_actions.edit_work_order(plant_store, ACTOR, "WO-F", priority=5)
    assert refused.value.params == {"work_order": "WO-F", "status": "completed"}
    wo_actions.create_work_order(plant_store, ACTOR, code="WO-G", product="DRUM-A", quantity=10)
    with pytest.raises(errors.Problems) as refused:
        wo_actions.edit_work_order(plant_store, ACTOR, "WO-G", product="NOPE", machine="NOWHERE")
    assert [p.code for p in refused.value.problems] == ["plant.product_unknown", "plant.machine_unknown"]


# -- the terminal and machine events ------------------------------------------------------------------------
def test_a_terminal_entry_stores_its_event_once(plant_store, events):
    entry = terminal_actions.PopEntry(uuid.uuid4().hex, datetime.now(timezone.utc), "WLD-01", "good", 4)
    first = terminal_actions.record_terminal_entry(plant_store, "op", entry)
    again = terminal_actions.record_terminal_entry(plant_store, "op", entry)
    assert (first["duplicate"], again["duplicate"]) == (False, True)
    with plant_store.connect() as conn:
        assert conn.execute(select(func.sum(machine_events.c.quantity))).scalar() == 4
    entry_row = last_audit(plant_store)
    # WLD-01 counts with its PLC: a typed count is audited as a correction of its counter
    assert (entry_row["action"], entry_row["actor"], entry_row["target"]) == (
        "pop.correction", "user:op", "machine:WLD-01")  # fmt: skip
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
    # WLD-01 counts with its PLC: typed counts are audited as corrections of its counter
    assert [tuple(r) for r in rows[-3:]] == [
        ("user:op", "pop.correction"), ("user:kim", "pop.correction"), ("user:op", "pop.correction")]  # fmt: skip
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


# -- the guided set-up and the plant pages ----------------------------------------------------------------------
def test_the_first_plant_and_administrator_are_set_up(engine, events):
    from shopfloor.actions.setup import set_up_plant
    from shopfloor.errors import SetupDone, SetupNeedsAdmin

    plant = parse_plant_document(PLANT_YAML, "plant.yaml")
    with pytest.raises(SetupNeedsAdmin):
        set_up_plant(engine, ACTOR, plant)
    assert events == [] and audit_count(engine) == 0
    summary = set_up_plant(engine, "user:kim", plant, admin={"username": "kim", "password": "correct horse 1"})
    assert (summary["admin"], summary["site"], summary["machines"]) == ("kim", "S", 1)
    with engine.connect() as conn:
        assert accounts.by_username(conn, "kim").role == "admin"
        entries = [(e["action"], e["target"], e["actor"]) for e in audit.entries(conn, 5)]
    assert entries == [("plant.setup", "site:S", "user:kim"), ("user.create", "user:kim", "user:kim")]
    assert sorted(events) == [("machine", "M1"), ("plant", "S"), ("user", "kim")]
    with pytest.raises(SetupDone):
        set_up_plant(engine, ACTOR, plant)
    assert audit_count(engine) == 2


def test_the_plant_is_changed_one_entity_at_a_time(engine, events):
    from shopfloor.actions.plant import edit_plant
    from shopfloor.errors import PlantEntityInUse, PlantFileRefused
    from shopfloor.store.plant import load_plant

    import_plant(engine, ACTOR, parse_plant_document(PLANT_YAML, "plant.yaml"))
    events.clear()
    edit_plant(engine, ACTOR, "line", "L2", {"name": "Press", "area": "A"}, new=True)
    edit_plant(engine, ACTOR, "machine", "M2", {"name": "Press 2", "type": "press", "line": "L2"}, new=True)
    edit_plant(engine, ACTOR, "extra_shift", "2026-12-05/Sat", {"date": "2026-12-05", "name": "Sat",
                                                                 "start": "08:00", "end": "12:00"})  # fmt: skip
    with engine.connect() as conn:
        plant = load_plant(conn)
    assert plant.machine("M2").kind == "press" and plant.machine("M2").line == "L2"
    assert [(d.isoformat(), s.name) for d, s in plant.calendar.extra_shifts] == [("2026-12-05", "Sat")]
    entry = last_audit(engine)
    assert (entry["action"], entry["target"]) == ("plant.extra_shift.save", "extra_shift:2026-12-05/Sat")
    assert ("plant", "S") in events and ("machine", "M2") in events
    # Refused as the YAML import refuses, and refused while it holds something: nothing written, nothing sent.
    before, seen = audit_count(engine), len(events)
    with pytest.raises(PlantFileRefused) as refused:
        edit_plant(engine, ACTOR, "shift", "Day", {"start": "25:00", "end": "17:00", "days": ["mon"]})
    assert [p.params["where"] for p in refused.value.problems] == ["calendar.shifts[0].start"]
    with pytest.raises(PlantEntityInUse):
        edit_plant(engine, ACTOR, "line", "L2")
    assert audit_count(engine) == before and len(events) == seen


def test_work_orders_are_reordered_and_imported(plant_store, events):
    from shopfloor.actions.order_import import import_orders
    from shopfloor.errors import WorkOrdersRefused

    for code in ("R-1", "R-2"):
        wo_actions.create_work_order(plant_store, ACTOR, code=code, product="DRUM-A", quantity=5, machine="WLD-01")
    events.clear()
    done = wo_actions.reorder_work_orders(plant_store, ACTOR, ["R-2", "R-1"])
    assert [(o["code"], o["priority"]) for o in done] == [("R-2", 2), ("R-1", 1)]
    entry = last_audit(plant_store)
    assert (entry["action"], entry["detail"]) == ("work_order.reorder", {"sequence": ["R-2", "R-1"]})
    assert sorted(events) == [("machine", "WLD-01"), ("work_order", "R-1"), ("work_order", "R-2")]
    events.clear()
    summary = import_orders(plant_store, ACTOR, b"order,item,qty\nI-1,DRUM-A,3\nI-2,DRUM-A,4\n", "erp.csv")
    assert summary["created"] == 2
    with plant_store.connect() as conn:
        assert wo_store.get(conn, "I-2").quantity == 4
    assert last_audit(plant_store)["action"] == "work_order.import"
    assert sorted(events) == [("work_order", "I-1"), ("work_order", "I-2")]
    events.clear()
    before = audit_count(plant_store)
    with pytest.raises(WorkOrdersRefused) as refused:
        import_orders(plant_store, ACTOR, b"order,item,qty\nI-3,DRUM-A,3\nI-1,DRUM-A,4\n", "erp.csv")
    assert [(p.row, p.column, p.error.code) for p in refused.value.problems] == [(3, "code", "work_order.exists")]
    with plant_store.connect() as conn:
        assert "I-3" not in {o.code for o in wo_store.list_orders(conn)}
    assert audit_count(plant_store) == before and events == []
    # An empty Excel date (1900-01-00) or a priority beyond the dispatch list's range: refused with its row.
    with pytest.raises(WorkOrdersRefused) as refused:
        import_orders(plant_store, ACTOR, b"order,item,qty,due,priority\nI-4,DRUM-A,3,1900-01-01,5000\n", "erp.csv")
    problems = [(p.row, p.column, p.error.code) for p in refused.value.problems]
    assert problems == [(2, "due", "work_order.due_implausible"), (2, "priority", "work_order.priority")]


def test_a_machine_is_connected_from_the_pages(engine, events):
    from shopfloor.actions.connect import connect_machine, mapping
    from shopfloor.errors import MachineNotFound
    from shopfloor.store.plant import load_plant

    import_plant(engine, ACTOR, parse_plant_document(PLANT_YAML, "plant.yaml"))
    events.clear()
    picks = [{"source": "ns=2;s=M1.State", "name": "State", "role": "state"},
             {"source": "ns=2;s=M1.Count", "name": "Count", "role": "total_count"}]  # fmt: skip
    spec, source, tags = mapping("opcua", "m1-opcua", {"url": "opc.tcp://127.0.0.1:4840/"}, picks)
    assert connect_machine(engine, ACTOR, "M1", connector=spec, source=source, tags=tags)["connector"] == "m1-opcua"
    with engine.connect() as conn:
        plant = load_plant(conn)
    assert plant.machine("M1").connector == {"name": "m1-opcua", "nodes": {"State": "ns=2;s=M1.State",
                                                                          "Count": "ns=2;s=M1.Count"}}  # fmt: skip
    assert [c.name for c in plant.connectors] == ["m1-opcua"] and plant.machine("M1").tags["total_count"]["bits"] == 32
    entry = last_audit(engine)
    assert (entry["action"], entry["target"]) == ("connector.save", "machine:M1")
    assert sorted(events) == [("machine", "M1"), ("plant", "S")]
    events.clear()
    before = audit_count(engine)
    with pytest.raises(MachineNotFound):
        connect_machine(engine, ACTOR, "NOPE", connector=spec, source=source, tags=tags)
    assert audit_count(engine) == before and events == []


def test_a_machine_photo_is_stored(engine, events):
    from shopfloor.actions.plant import set_machine_photo
    from shopfloor.errors import MediaTypeUnsupported
    from shopfloor.store.plant import photo

    import_plant(engine, ACTOR, parse_plant_document(PLANT_YAML, "plant.yaml"))
    events.clear()
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
    assert set_machine_photo(engine, ACTOR, "M1", png)["content_type"] == "image/png"
    with engine.connect() as conn:
        assert photo(conn, "M1") == ("image/png", png)
    assert (last_audit(engine)["action"], events) == ("plant.machine.photo", [("machine", "M1")])
    with pytest.raises(MediaTypeUnsupported):
        set_machine_photo(engine, ACTOR, "M1", b"<svg/>")


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


def _pin_sign_in(engine, who, pin):
    return account_actions.sign_in(engine, who, "10.0.0.9", lambda conn: accounts.check_pin(conn, who, pin), via="page")


def test_an_administrator_changes_deactivates_resets_and_signs_out_a_user(plant_store, events):
    account_actions.create_user(plant_store, ACTOR, username="kim", role="operator", pin="1234", badge="B-7")
    token = account_actions.create_api_token(plant_store, ACTOR, username="kim", name="gateway")
    session = _pin_sign_in(plant_store, "B-7", "1234")
    events.clear()

    user = account_actions.update_user(plant_store, ACTOR, "kim", language="ko", badge="B-8")
    assert (user["language"], user["badge"]) == ("ko", "B-8")
    entry = last_audit(plant_store)
    assert (entry["action"], entry["detail"]) == (
        "user.update",
        {"changed": {"language": [None, "ko"], "badge": ["B-7", "B-8"]}},
    )
    assert events == [("user", "kim")]

    assert account_actions.end_sessions(plant_store, ACTOR, "kim") == 1
    assert last_audit(plant_store)["detail"] == {"sessions": 1}
    with plant_store.connect() as conn:
        assert accounts.session_for(conn, session.token) is None

    session = _pin_sign_in(plant_store, "B-8", "1234")
    account_actions.reset_pin(plant_store, ACTOR, "kim", pin="5678")
    assert last_audit(plant_store)["action"] == "user.reset_pin"
    with plant_store.connect() as conn:
        assert accounts.session_for(conn, session.token) is None
        assert accounts.check_pin(conn, "B-8", "1234") is None and accounts.check_pin(conn, "B-8", "5678")

    session = _pin_sign_in(plant_store, "B-8", "5678")
    user = account_actions.deactivate_user(plant_store, ACTOR, "kim", reason="left the company")
    entry = last_audit(plant_store)
    assert (user["active"], entry["action"], entry["reason"]) == (False, "user.deactivate", "left the company")
    with plant_store.connect() as conn:
        assert accounts.session_for(conn, session.token) is None
    assert account_actions.user_of_token(plant_store, token) is None
    with pytest.raises(WrongSecret):
        _pin_sign_in(plant_store, "B-8", "5678")

    assert account_actions.activate_user(plant_store, ACTOR, "kim")["active"] is True
    assert last_audit(plant_store)["action"] == "user.activate"
    assert account_actions.user_of_token(plant_store, token) is None  # the old token stays revoked
    assert _pin_sign_in(plant_store, "B-8", "5678").user.username == "kim"

    account_actions.create_user(plant_store, ACTOR, username="lee", role="manager", password="long password 1")
    account_actions.reset_password(plant_store, ACTOR, "lee", password="another password 2")
    assert last_audit(plant_store)["action"] == "user.reset_password"
    with plant_store.connect() as conn:
        assert accounts.check_password(conn, "lee", "another password 2").username == "lee"


def test_refused_account_changes_leave_the_store_as_it_was(plant_store, events):
    account_actions.create_user(plant_store, ACTOR, username="kim", role="operator", pin="1234", badge="B-7")
    account_actions.create_user(plant_store, ACTOR, username="lee", role="admin", password="long password 1",
                                badge="B-9")  # fmt: skip
    before = audit_count(plant_store)
    events.clear()
    refusals = [
        (lambda: account_actions.deactivate_user(plant_store, "user:lee", "lee"), CannotDeactivateSelf(user="lee")),
        (lambda: account_actions.update_user(plant_store, ACTOR, "kim", badge="B-9"), BadgeTaken(badge="B-9")),
        (lambda: account_actions.update_user(plant_store, ACTOR, "kim", role="boss"),
         RoleUnknown(role="boss", roles=ROLES)),
        (lambda: account_actions.update_user(plant_store, ACTOR, "kim", role="manager"), PinOnlyForOperators()),
        (lambda: account_actions.reset_pin(plant_store, ACTOR, "kim", pin="١٢٣٤"), PinInvalid()),
        (lambda: account_actions.reset_pin(plant_store, ACTOR, "lee", pin="1234"), PinOnlyForOperators()),
        (lambda: account_actions.reset_password(plant_store, ACTOR, "lee", password="short"),
         PasswordTooShort(min_length=10)),
        (lambda: account_actions.end_sessions(plant_store, ACTOR, "nobody"), UserNotFound(user="nobody")),
    ]  # fmt: skip
    for call, refusal in refusals:
        with pytest.raises(DomainError) as refused:
            call()
        assert refused.value == refusal
    assert (audit_count(plant_store), events) == (before, [])
    with plant_store.connect() as conn:
        kim = accounts.by_username(conn, "kim")
    assert (kim.role, kim.badge, kim.active) == ("operator", "B-7", True)


# -- reports: schedules and background jobs -----------------------------------------------------------------
def test_a_schedule_is_added(plant_store, events, tmp_path):
    doc = scheduled_reports.add_schedule(plant_store, ACTOR, name="daily", period="day", delivery="folder",
                                         target=str(tmp_path), roots=[tmp_path])  # fmt: skip
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
                                   target=str(out), formats="xlsx", now=monday, roots=[tmp_path])  # fmt: skip
    events.clear()
    settings = Settings(smtp_url=None, smtp_from=None, report_roots=str(tmp_path))
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


def test_a_report_folder_is_checked_against_the_roots_at_each_delivery(plant_store, tmp_path):
    """Roots narrowed after the schedule was saved, or its folder replaced by a symbolic link out of the roots:
    the report is not written there, and the schedule keeps the failure and tries again later."""
    monday = datetime(2026, 3, 2, 12, tzinfo=timezone.utc)
    root, elsewhere = tmp_path / "root", tmp_path / "elsewhere"
    root.mkdir(), elsewhere.mkdir()
    scheduled_reports.add_schedule(plant_store, ACTOR, name="xl", period="day", delivery="folder",
                                   target=str(root / "out"), formats="xlsx", now=monday, roots=[root])  # fmt: skip
    (root / "out").symlink_to(elsewhere)
    settings = Settings(smtp_url=None, smtp_from=None, report_roots=str(root))
    sent = scheduled_reports.run_due(plant_store, settings, monday + timedelta(days=1))
    assert [(r["period"], r["ok"]) for r in sent] == [("2026-03-02", False)]
    assert "ScheduleFolderOutside" in sent[0]["error"] and list(elsewhere.iterdir()) == []
    (root / "out").unlink()
    narrowed = Settings(smtp_url=None, smtp_from=None, report_roots=str(tmp_path / "other"))
    sent = scheduled_reports.run_due(plant_store, narrowed, monday + timedelta(days=2))
    assert [r["ok"] for r in sent] == [False] and not (root / "out").exists()
    assert last_audit(plant_store)["action"] == "report.failed"


def test_finish_never_ends_a_breakdown(plant_store, events):
    """A machine down on TOOL_BREAK stays down through "finish" with no order and through finishing its order: no
    event is stored and availability keeps counting the stop.  By hand: running 06:00-07:00, down from 07:00, a
    finish at 07:30 and the window 06:00-08:00 (the sample plant's day shift): APT 1 h, down 1 h, availability 0.5;
    had the finish stored ``no_order``, the half hour after it would be planned time and availability 1 h / 1.5 h."""
    from shopfloor.actions.demo import last_working_day
    from shopfloor.analytics.kpi import kpis
    from shopfloor.model.intervals import Interval
    from shopfloor.store import kpi as kpi_store
    from shopfloor.store.plant import load_plant

    with plant_store.connect() as conn:
        plant = load_plant(conn)
    day = last_working_day(plant, datetime.now(plant.site.tz).date())  # within the terminal's week of grace
    local = datetime.combine(day, datetime.min.time(), tzinfo=plant.site.tz)
    rows = [{"ts": local + timedelta(hours=6), "machine": "WLD-01", "event": "state", "state": "running"},
            {"ts": local + timedelta(hours=7), "machine": "WLD-01", "event": "state", "state": "down",
             "reason": "TOOL_BREAK"}]  # fmt: skip
    event_actions.record_events(plant_store, ACTOR, rows, "api:t")
    wo_actions.create_work_order(plant_store, ACTOR, code="WO-D", product="DRUM-A", quantity=10, machine="WLD-01")
    wo_actions.transition_work_order(plant_store, ACTOR, "WO-D", "released")
    wo_actions.transition_work_order(plant_store, ACTOR, "WO-D", "in_progress")
    events.clear()
    tap = local + timedelta(hours=7, minutes=30)
    finish = terminal_actions.PopEntry(uuid.uuid4().hex, tap, "WLD-01", "finish", work_order="WO-D")
    done = terminal_actions.record_terminal_entry(plant_store, "op", finish)
    stray = terminal_actions.PopEntry(uuid.uuid4().hex, tap + timedelta(minutes=1), "WLD-01", "finish")
    assert terminal_actions.record_terminal_entry(plant_store, "op", stray)["state_kept"] is True
    assert done["state_kept"] is True and done["duplicate"] is False
    me = machine_events.c
    with plant_store.connect() as conn:
        states = conn.execute(select(me.state, me.reason).where(me.kind == "state").order_by(me.ts)).all()
        assert [tuple(r) for r in states] == [("running", None), ("down", "TOOL_BREAK")]
        assert wo_store.get(conn, "WO-D").status.value == "completed"  # the order itself is finished
        window = Interval(local + timedelta(hours=6), local + timedelta(hours=8))
        el, _ = kpi_store.measure(conn, plant, ["WLD-01"], window, local + timedelta(hours=8))
    assert kpis(el)["availability"] == pytest.approx(0.5)
    entry = last_audit(plant_store)
    assert (entry["action"], entry["detail"]["state_kept"]) == ("pop.finish", "down")
    assert events == [("work_order", "WO-D"), ("machine", "WLD-01"), ("machine", "WLD-01")]
    # an explicit reason with the entry is the operator's word: it does change the state
    told = terminal_actions.PopEntry(uuid.uuid4().hex, tap + timedelta(minutes=2), "WLD-01", "finish",
                                     reason="END_OF_WORK")  # fmt: skip
    assert terminal_actions.record_terminal_entry(plant_store, "op", told)["state_kept"] is False


def test_a_recall_lists_running_orders_without_output_holds_their_output_and_tells_their_terminal(plant_store, events):
    """10 kg of the suspect coil R9 issued to WO-R, running on WLD-01, with no output yet: the recall lists WO-R,
    the hold puts WO-R's output under hold, the next output lot of WO-R is created on hold, and the machine's
    live event reaches its terminal (whose tile shows the notice)."""
    from shopfloor.actions.board import machine_tiles
    from shopfloor.actions.recall import recall_report
    from shopfloor.store.plant import load_plant
    from tests.lots_data import start_order

    lot_actions.receive_lot(plant_store, ACTOR, item="COIL", qty="50", code="R9", supplier="POSCO")
    with plant_store.begin() as conn:
        plant = load_plant(conn)
        start_order(conn, plant, "WO-R", "SHELL")
        lot_store.issue(conn, "R9", "10", "WO-R", ACTOR)
    with plant_store.connect() as conn:
        before = recall_report(conn, "R9")
    assert [o["code"] for o in before["consuming_orders"]] == ["WO-R"]
    assert before["consuming_orders"][0]["lots_issued"] == ["R9 (10)"]
    assert before["summary"]["orders_in_progress"] == ["WO-R"] and before["summary"]["machines_in_progress"] == [
        "WLD-01"]  # fmt: skip
    events.clear()
    report = lot_actions.hold_recalled_lots(plant_store, "cli:root", "R9", reason="porosity complaint")
    assert report["orders_held"] == ["WO-R"] and report["consuming_orders"][0]["output_held"] is True
    assert sorted(events) == [("lot", "R9"), ("machine", "WLD-01"), ("work_order", "WO-R")]
    assert last_audit(plant_store)["detail"] == {"held": ["R9"], "orders_held": ["WO-R"]}
    with plant_store.begin() as conn:
        out = lot_store.produce(conn, "WO-R", "3", "op")
        assert out.status.value == "hold"
        assert [m["kind"] for m in lot_store.movements(conn, out.code)] == ["produce", "hold"]
        tile = machine_tiles(conn, load_plant(conn), datetime.now(timezone.utc), ["WLD-01"])[0]
    assert tile["recall_hold"] == ["R9"]
    # holding again changes nothing more
    again = lot_actions.hold_recalled_lots(plant_store, "cli:root", "R9", reason="porosity complaint")
    assert again["orders_held"] == []


# -- people on the floor --------------------------------------------------------------------------------------
def test_sign_in_and_out_at_a_machine_by_badge(plant_store, events):
    from shopfloor.actions import attendance as attendance_actions
    from shopfloor.errors import AlreadySignedIn, AttendanceBadgeUnknown, NotSignedInAnywhere
    from shopfloor.store import attendance as attendance_store

    with plant_store.begin() as conn:
        accounts.create_user(conn, "kim", "operator", pin="4321", badge="B-7")
    t0 = datetime(2026, 3, 2, 6, tzinfo=timezone.utc)
    row = attendance_actions.sign_in(plant_store, ACTOR, "B-7", machine="WLD-01", at=t0)
    assert (row["username"], row["machine"]) == ("kim", "WLD-01")
    entry = last_audit(plant_store)
    assert (entry["action"], entry["target"], entry["detail"]) == ("attendance.sign_in", "machine:WLD-01",
                                                                   {"user": "kim"})  # fmt: skip
    assert events == [("machine", "WLD-01")]
    with plant_store.connect() as conn:
        assert [p["username"] for p in attendance_store.signed_in_at(conn, "WLD-01")] == ["kim"]
    before = audit_count(plant_store)
    with pytest.raises(AlreadySignedIn):
        attendance_actions.sign_in(plant_store, ACTOR, "B-7", machine="WLD-02", at=t0)
    with pytest.raises(AttendanceBadgeUnknown):
        attendance_actions.sign_in(plant_store, ACTOR, "B-NOPE", machine="WLD-02", at=t0)
    assert audit_count(plant_store) == before
    events.clear()
    out = attendance_actions.sign_out(plant_store, ACTOR, "B-7", at=t0 + timedelta(hours=8))
    assert out["signed_out"] == (t0 + timedelta(hours=8)).isoformat()
    assert last_audit(plant_store)["action"] == "attendance.sign_out" and events == [("machine", "WLD-01")]
    with pytest.raises(NotSignedInAnywhere):
        attendance_actions.sign_out(plant_store, ACTOR, "B-7")
    with plant_store.connect() as conn:
        assert attendance_store.signed_in_at(conn, "WLD-01") == []


def test_the_recall_pdf_speaks_the_readers_language_and_the_sites_time(plant_store):
    """The recall PDF in Korean: its title and headings from the catalog, no missing glyph, and the time it was made
    in the site's zone (Asia/Seoul, UTC+9: generated at 00:30 UTC is 09:30 local)."""
    import io

    from pypdf import PdfReader

    from shopfloor.actions.recall import recall_labels, recall_pdf, recall_report
    from shopfloor.i18n import Translator
    from shopfloor.reports.pdf import missing_glyphs

    lot_actions.receive_lot(plant_store, ACTOR, item="COIL", qty="5", code="R5", supplier="POSCO")
    with plant_store.connect() as conn:
        report = recall_report(conn, "R5")
    report["generated_at"] = "2026-03-02T00:30:00+00:00"
    ko = Translator("ko", sample_plant().site.tz)
    pdf = recall_pdf(report, recall_labels(ko.gettext), ko.datetime_iso)
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert ko.gettext("Recall report") in text and "영향 로트를 투입한 작업지시" in text
    assert ko.datetime_iso(report["generated_at"]) in text and "9:30" in text and missing_glyphs(pdf) == []


# -- reason and defect codes ------------------------------------------------------------------------------------
def test_reason_codes_are_added_changed_and_removed(plant_store, events):
    from shopfloor.actions import reasons as reason_actions
    from shopfloor.errors import Problems, ReasonColourBad, ReasonExists, ReasonMachineUnknown, ReasonNotFound
    from shopfloor.store.plant import current_plant

    # A Korean code, its names, a group of the reason tree, an icon, a colour, the line it applies to.
    saved = reason_actions.save_reason(
        plant_store, ACTOR, "downtime", "금형교체2", names={"ko": "금형 교체", "vi": "Thay khuôn", "ne": "मोल्ड"},
        group="setup/mould", icon="🔧", colour="#1a73e8", machines=["MOULD"], new=True,
    )  # fmt: skip
    assert saved["code"] == "금형교체2" and saved["machines"] == ["MOULD"]
    with plant_store.connect() as conn:
        plant = current_plant(conn)
    assert plant.reason_name("금형교체2", "vi") == "Thay khuôn" and plant.reason_name("금형교체2", "th") == "금형교체2"
    assert "금형교체2" in [r.code for r in plant.reasons_for("downtime", "NC-01")]
    assert "금형교체2" not in [r.code for r in plant.reasons_for("downtime", "WLD-01")]  # not on a laser welder
    entry = last_audit(plant_store)
    assert (entry["action"], entry["target"], entry["detail"]["new"]) == ("reason.save", "downtime:금형교체2", True)
    assert events == [("plant", "CHANGWON")]

    reason_actions.save_reason(plant_store, ACTOR, "downtime", "금형교체2", names={"en": "Mould change"})
    with plant_store.connect() as conn:
        plant = current_plant(conn)
    assert plant.reason("금형교체2").names == {"en": "Mould change"} and plant.reason("금형교체2").machines == ()

    before = audit_count(plant_store)
    with pytest.raises(ReasonExists):
        reason_actions.save_reason(plant_store, ACTOR, "downtime", "금형교체2", new=True)
    with pytest.raises(Problems) as refused:
        reason_actions.save_reason(plant_store, ACTOR, "defects", "X", colour="red", machines=["NOPE"])
    assert refused.value.problems == [ReasonColourBad(colour="red"), ReasonMachineUnknown(machine="NOPE")]
    assert audit_count(plant_store) == before and len(events) == 2

    reason_actions.delete_reason(plant_store, ACTOR, "downtime", "금형교체2")
    with plant_store.connect() as conn:
        assert "금형교체2" not in current_plant(conn).downtime_reasons
    assert last_audit(plant_store)["action"] == "reason.delete" and events[-1] == ("plant", "CHANGWON")
    with pytest.raises(ReasonNotFound):
        reason_actions.delete_reason(plant_store, ACTOR, "downtime", "금형교체2")


# -- maintenance and moulds ----------------------------------------------------------------------------------
def test_moulds_are_created_mounted_and_unmounted(plant_store, events):
    made = mnt.create_mould(plant_store, ACTOR, code="MD-1", name="cover", cavities=4, life_shots=500_000)
    assert (made["shots"], last_audit(plant_store)["action"], events) == (0, "mould.create", [("mould", "MD-1")])
    events.clear()
    mnt.mount_mould(plant_store, ACTOR, "MD-1", machine="WLD-01")
    assert last_audit(plant_store)["detail"]["machine"] == "WLD-01"
    assert events == [("mould", "MD-1"), ("machine", "WLD-01")]
    events.clear()
    with pytest.raises(errors.MouldMounted):
        mnt.mount_mould(plant_store, ACTOR, "MD-1", machine="WLD-02")
    assert events == []
    off = mnt.unmount_mould(plant_store, ACTOR, "MD-1")
    assert (off["machine"], last_audit(plant_store)["action"]) == (None, "mould.unmount")
    with plant_store.connect() as conn:
        assert conn.execute(select(func.count()).select_from(moulds)).scalar() == 1
        assert conn.execute(select(mould_mounts.c.unmounted_at)).scalar() is not None
    with pytest.raises(errors.MouldExists):
        mnt.create_mould(plant_store, ACTOR, code="MD-1", name="again", cavities=2)
    with pytest.raises(errors.MaintenanceNumberInvalid):
        mnt.create_mould(plant_store, ACTOR, code="MD-2", name="none", cavities=0)


def test_maintenance_plans_and_orders(plant_store, events):
    plan = mnt.create_maintenance_plan(plant_store, ACTOR, code="PM-W1", name="weekly", trigger="calendar",
                                       interval=7, machine="WLD-01", checklist=["grease"])  # fmt: skip
    assert (plan["due"]["state"], last_audit(plant_store)["action"]) == ("ok", "maintenance.plan")
    assert events == [("maintenance", "PM-W1"), ("machine", "WLD-01")]
    with pytest.raises(errors.MaintenanceShotsNeedMould):
        mnt.create_maintenance_plan(plant_store, ACTOR, code="X", name="x", trigger="shots", interval=1,
                                    machine="WLD-01")  # fmt: skip
    with pytest.raises(errors.MaintenanceTriggerInvalid):
        mnt.create_maintenance_plan(plant_store, ACTOR, code="X", name="x", trigger="moon", interval=1,
                                    machine="WLD-01")  # fmt: skip
    with pytest.raises(errors.MaintenancePlanExists):
        mnt.create_maintenance_plan(plant_store, ACTOR, code="PM-W1", name="x", trigger="calendar", interval=1,
                                    machine="WLD-01")  # fmt: skip
    events.clear()
    order = mnt.open_preventive_order(plant_store, ACTOR, "PM-W1")
    assert (order["status"], order["plan"], last_audit(plant_store)["action"]) == (
        "open",
        "PM-W1",
        "maintenance.preventive",
    )
    assert ("maintenance", order["code"]) in events
    with pytest.raises(errors.PlanOrderAlreadyOpen):
        mnt.open_preventive_order(plant_store, ACTOR, "PM-W1")
    events.clear()
    started = mnt.start_maintenance(plant_store, ACTOR, order["code"])
    assert (started["status"], last_audit(plant_store)["action"]) == ("in_progress", "maintenance.start")
    assert events == [("maintenance", order["code"]), ("machine", "WLD-01")]
    with plant_store.connect() as conn:  # the machine is in planned downtime
        assert conn.execute(select(machine_events.c.state).order_by(machine_events.c.id.desc())).scalar() == (
            "planned_stop"
        )
    with pytest.raises(errors.ChecklistIncomplete):
        mnt.close_maintenance(plant_store, ACTOR, order["code"], done=[])
    closed = mnt.close_maintenance(plant_store, ACTOR, order["code"], done=["grease"], labour_minutes=30,
                                   hourly_rate=40, parts=[{"part": "grease", "qty": 1, "unit_cost": 5}])  # fmt: skip
    assert (closed["status"], closed["cost"], last_audit(plant_store)["action"]) == (
        "closed",
        25.0,
        "maintenance.close",
    )
    with pytest.raises(errors.MaintenanceStepNotAllowed):
        mnt.acknowledge_maintenance(plant_store, ACTOR, order["code"])
    events.clear()
    bd = mnt.raise_breakdown(plant_store, "user:op", "WLD-02", description="hydraulic leak")
    assert (bd["kind"], bd["source"], last_audit(plant_store)["action"]) == (
        "breakdown",
        "terminal",
        "maintenance.breakdown",
    )
    assert events == [("maintenance", bd["code"]), ("machine", "WLD-02")]
    with pytest.raises(errors.BreakdownAlreadyOpen):
        mnt.raise_breakdown(plant_store, "user:op", "WLD-02")
    acked = mnt.acknowledge_maintenance(plant_store, ACTOR, bd["code"])
    assert (acked["acknowledged_by"], last_audit(plant_store)["action"]) == (ACTOR, "maintenance.acknowledge")
    with pytest.raises(errors.MaintenancePartInvalid):
        mnt.close_maintenance(plant_store, ACTOR, bd["code"], parts=[{"part": "", "qty": 1}])
    mnt.close_maintenance(plant_store, ACTOR, bd["code"], labour_minutes=60, hourly_rate=30)
    with plant_store.connect() as conn:
        rows = conn.execute(select(maintenance_orders.c.code, maintenance_orders.c.status, maintenance_orders.c.cost)
                            .order_by(maintenance_orders.c.id)).all()  # fmt: skip
        assert [tuple(r) for r in rows] == [(order["code"], "closed", 25.0), (bd["code"], "closed", 30.0)]
        assert conn.execute(select(maintenance_plans.c.last_done_at)).scalar() is not None
    # The server's watch: CNC-01 down for 20 minutes gets a request.
    now = datetime.now(timezone.utc)
    event_actions.record_events(plant_store, ACTOR, [{"ts": now - timedelta(minutes=20), "machine": "CNC-01",
                                "event": "state", "state": "down"}], "test")  # fmt: skip
    events.clear()
    raised = mnt.raise_breakdowns_for_long_stops(plant_store, mnt.WATCH_ACTOR, after=timedelta(minutes=15))
    assert [o["machine"] for o in raised] == ["CNC-01"]
    entry = last_audit(plant_store)
    assert (entry["action"], entry["actor"], entry["detail"]["source"]) == (
        "maintenance.breakdown",
        "system:maintenance",
        "auto",
    )
    assert events == [("maintenance", raised[0]["code"]), ("machine", "CNC-01")]


# -- documents and NC programs -------------------------------------------------------------------------------
def test_documents_revisions_approval_confirmation_and_nc_transfer(plant_store, events, tmp_path):
    made = doc_actions.create_document(plant_store, ACTOR, code="WI-1", title="Weld drum", kind="work_instruction",
                                       item="DRUM-A", machine="WLD-01")  # fmt: skip
    assert (made["current"], last_audit(plant_store)["action"], events) == (
        None,
        "document.create",
        [("document", "WI-1")],
    )
    events.clear()
    pdf = b"%PDF-1.4 work instruction rev A"
    doc = doc_actions.add_document_revision(plant_store, ACTOR, "WI-1", revision="A", filename="wi.pdf", data=pdf,
                                            media_type="application/pdf")  # fmt: skip
    assert doc["revisions"][0]["sha256"] == hashlib.sha256(pdf).hexdigest()
    assert (doc["revisions"][0]["state"], last_audit(plant_store)["action"], events) == (
        "draft",
        "document.revision",
        [("document", "WI-1")],
    )
    with pytest.raises(errors.DocumentMediaRefused):
        doc_actions.add_document_revision(plant_store, ACTOR, "WI-1", revision="B", filename="x.html",
                                          data=b"<script>", media_type="text/html")  # fmt: skip
    approved = doc_actions.approve_document_revision(plant_store, ACTOR, "WI-1", "A")
    assert (approved["current"], last_audit(plant_store)["action"]) == ("A", "document.approve")
    with pytest.raises(errors.DocumentAlreadyApproved):
        doc_actions.approve_document_revision(plant_store, ACTOR, "WI-1", "A")
    wo_actions.create_work_order(plant_store, ACTOR, code="WO-D", product="DRUM-A", quantity=5, machine="WLD-01")
    events.clear()
    doc_actions.confirm_document(plant_store, "user:op", "WI-1", "A", work_order="WO-D", machine="WLD-01")
    entry = last_audit(plant_store)
    assert (entry["action"], entry["actor"], entry["detail"]["revision"]) == ("document.confirm", "user:op", "A")
    assert events == [("document", "WI-1"), ("machine", "WLD-01")]
    # NC program: made from a design revision, approved, sent to the DNC's shared folder.
    cad = hashlib.sha256(b"mould core CAD rev 3").hexdigest()
    doc_actions.create_document(plant_store, ACTOR, code="NC-1", title="core", kind="nc_program", item="DRUM-A",
                                machine="WLD-01", design_ref="MD-7 core")  # fmt: skip
    with pytest.raises(errors.NcDesignMissing):
        doc_actions.add_document_revision(plant_store, ACTOR, "NC-1", revision="1", filename="O1001.nc",
                                          data=b"O1001", media_type="text/plain")  # fmt: skip
    program = b"%\nO1001 (CORE)\nG90 G54\nM30\n%\n"
    doc_actions.add_document_revision(plant_store, ACTOR, "NC-1", revision="1", filename="O1001.nc", data=program,
                                      media_type="text/plain", design_revision="3", cad_sha256=cad,
                                      program_name="O1001")  # fmt: skip
    with pytest.raises(errors.DocumentRevisionNotCurrent):
        doc_actions.send_nc_program(plant_store, ACTOR, "NC-1", "1", machine="WLD-01")
    doc_actions.approve_document_revision(plant_store, ACTOR, "NC-1", "1")
    with pytest.raises(errors.NcTargetMissing):
        doc_actions.send_nc_program(plant_store, ACTOR, "NC-1", "1", machine="WLD-01")
    events.clear()
    doc_actions.set_dnc_target(plant_store, ACTOR, "WLD-01", url=str(tmp_path / "dnc"))
    assert (last_audit(plant_store)["action"], events) == ("dnc.target", [("machine", "WLD-01")])
    events.clear()
    sent = doc_actions.send_nc_program(plant_store, ACTOR, "NC-1", "1", machine="WLD-01")
    assert (tmp_path / "dnc" / "O1001").read_bytes() == program and sent["remote_name"] == "O1001"
    assert (last_audit(plant_store)["action"], events) == ("nc.send", [("document", "NC-1"), ("machine", "WLD-01")])
    with plant_store.connect() as conn:
        assert conn.execute(select(func.count()).select_from(document_revisions)).scalar() == 2
        assert conn.execute(select(func.count()).select_from(document_confirmations)).scalar() == 1
        assert conn.execute(select(nc_transfers.c.remote_name)).scalar() == "O1001"


# -- skills ---------------------------------------------------------------------------------------------------
def test_skills_required_and_certified(plant_store, events):
    with plant_store.begin() as conn:
        conn.execute(operations_table.insert().values(item="DRUM-A", seq=10, code="WELD", name="Weld",
                                                      work_centre="WLD-01", ideal_cycle_s=40, setup_s=0))  # fmt: skip
    skill_actions.create_skill(plant_store, ACTOR, code="WELD-2G", name="Welding 2G")
    assert (last_audit(plant_store)["action"], events) == ("skill.create", [("skill", "WELD-2G")])
    with pytest.raises(errors.SkillExists):
        skill_actions.create_skill(plant_store, ACTOR, code="WELD-2G", name="again")
    events.clear()
    skill_actions.require_skill(plant_store, ACTOR, item="DRUM-A", seq=10, skill="WELD-2G")
    assert (last_audit(plant_store)["action"], events) == ("skill.require", [("skill", "WELD-2G")])
    with pytest.raises(errors.SkillUnknown):
        skill_actions.require_skill(plant_store, ACTOR, item="DRUM-A", seq=10, skill="NOPE")
    events.clear()
    until = datetime(2027, 6, 30, tzinfo=timezone.utc)
    with plant_store.begin() as conn:
        accounts.create_user(conn, "kim", "operator", pin="1234")
    skill_actions.certify_operator(plant_store, ACTOR, "kim", skill="WELD-2G", expires_at=until)
    entry = last_audit(plant_store)
    assert (entry["action"], entry["target"], entry["detail"]["expires_at"]) == (
        "skill.certify",
        "user:kim",
        until.isoformat(),
    )
    assert events == [("skill", "WELD-2G")]
    with pytest.raises(errors.OperatorUnknown):
        skill_actions.certify_operator(plant_store, ACTOR, "ghost", skill="WELD-2G")
    with plant_store.connect() as conn:
        assert conn.execute(select(func.count()).select_from(skills)).scalar() == 1
        assert conn.execute(select(operation_skills.c.skill)).scalar() == "WELD-2G"
        assert conn.execute(select(operator_skills.c.expires_at)).scalar() == until


# -- the floor: handover notes and defect photos ------------------------------------------------------------------
def test_a_handover_note_is_written_once_per_machine_and_shift_and_shown_to_the_next(plant_store, events):
    from shopfloor.actions import floor as floor_actions
    from shopfloor.errors import HandoverNoShift, HandoverTextBad
    from shopfloor.store import floor
    from shopfloor.store.schema import handover_notes

    # A Tuesday of the sample plant, Asia/Seoul: the Day shift 06:00-14:00, then Swing from 14:00.
    day = datetime(2026, 12, 1, 3, 0, tzinfo=timezone.utc)  # 12:00 KST, Day shift
    floor_actions.write_handover_note(plant_store, ACTOR, "CNC-01", "Spindle warm-up needs 10 min", now=day)
    floor_actions.write_handover_note(plant_store, ACTOR, "CNC-01", "Coolant low: refill before start", now=day)
    with plant_store.connect() as conn:
        rows = conn.execute(select(handover_notes.c.shift, handover_notes.c.text)).all()
        swing_start = datetime(2026, 12, 1, 5, 0, tzinfo=timezone.utc)
        shown = floor.handover_for(conn, "CNC-01", swing_start)
    assert [tuple(r) for r in rows] == [("Day", "Coolant low: refill before start")]  # one per machine and shift
    assert shown["text"] == "Coolant low: refill before start" and shown["written_by"] == ACTOR
    entry = last_audit(plant_store)
    assert (entry["action"], entry["target"], entry["detail"]["shift"]) == ("handover.write", "machine:CNC-01", "Day")
    assert events == [("machine", "CNC-01"), ("machine", "CNC-01")]
    before = audit_count(plant_store)
    with pytest.raises(HandoverTextBad):
        floor_actions.write_handover_note(plant_store, ACTOR, "CNC-01", "  ", now=day)
    sunday = datetime(2026, 12, 6, 3, 0, tzinfo=timezone.utc)  # no shift on Sundays
    with pytest.raises(HandoverNoShift):
        floor_actions.write_handover_note(plant_store, ACTOR, "CNC-01", "anyone?", now=sunday)
    assert audit_count(plant_store) == before and len(events) == 2


JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 200


def test_a_defect_photo_is_attached_to_its_scrap_entry(plant_store, events):
    from shopfloor.actions import floor as floor_actions
    from shopfloor.errors import PhotoNotImage, PhotoTooLarge
    from shopfloor.store import floor

    saved = floor_actions.attach_defect_photo(plant_store, ACTOR, "WLD-01", "k-scrap-0001", JPEG, defect="POROSITY")
    with plant_store.connect() as conn:
        assert floor.photo(conn, saved["id"]) == ("image/jpeg", JPEG)
        assert [p["defect"] for p in floor.photos_of(conn, "k-scrap-0001")] == ["POROSITY"]
    entry = last_audit(plant_store)
    assert (entry["action"], entry["detail"]["entry"]) == ("photo.add", "k-scrap-0001")
    assert events == [("machine", "WLD-01")]
    before = audit_count(plant_store)
    with pytest.raises(PhotoNotImage):
        floor_actions.attach_defect_photo(
            plant_store, ACTOR, "WLD-01", "k-scrap-0002", b"%PDF-1.7", claimed_type="application/pdf"
        )
    with pytest.raises(PhotoTooLarge):
        floor_actions.attach_defect_photo(
            plant_store, ACTOR, "WLD-01", "k-scrap-0003", JPEG + b"\x00" * (4 * 1024 * 1024)
        )
    assert audit_count(plant_store) == before and len(events) == 1


def test_a_defect_photo_sent_again_is_stored_once_and_another_photo_is_refused(plant_store, events):
    """The terminal resends a photo whose answer it did not get: the one stored is answered again; a different
    photo for the same scrap entry is refused, nothing written."""
    from shopfloor.actions import floor as floor_actions
    from shopfloor.errors import PhotoAlreadyAttached
    from shopfloor.store import floor

    first = floor_actions.attach_defect_photo(plant_store, ACTOR, "WLD-01", "k-scrap-0009", JPEG, defect="BURR")
    before = audit_count(plant_store)
    again = floor_actions.attach_defect_photo(plant_store, ACTOR, "WLD-01", "k-scrap-0009", JPEG, defect="BURR")
    assert (again["id"], again["duplicate"], first["duplicate"]) == (first["id"], True, False)
    with pytest.raises(PhotoAlreadyAttached):
        floor_actions.attach_defect_photo(plant_store, ACTOR, "WLD-01", "k-scrap-0009", JPEG + b"\x01")
    with plant_store.connect() as conn:
        assert len(floor.photos_of(conn, "k-scrap-0009")) == 1
    assert audit_count(plant_store) == before and len(events) == 1


def test_two_shipments_of_one_lot_on_one_delivery_note_are_two_trace_nodes(plant_store):
    """By hand: lot FG-9 of 10 shipped as 3 and then 2 on delivery note DN-9: two shipment nodes, each id once."""
    from shopfloor.store import trace as trace_store

    lot_actions.receive_lot(plant_store, ACTOR, item="DRUM-A", qty="10", code="FG-9")
    lot_actions.ship_lot(plant_store, ACTOR, "FG-9", qty="3", customer="LGE", shipment="DN-9")
    lot_actions.ship_lot(plant_store, ACTOR, "FG-9", qty="2", customer="LGE", shipment="DN-9")
    with plant_store.connect() as conn:
        graph = trace_store.trace(conn, "FG-9", trace_store.FORWARD)
    ids = [n["id"] for n in graph.nodes]
    shipped = [n for n in graph.nodes if n["type"] == "shipment"]
    assert len(ids) == len(set(ids)) and [(n["shipment"], n["qty"]) for n in shipped] == [("DN-9", "3"), ("DN-9", "2")]
    assert {e["to"] for e in graph.edges if e["kind"] == "ship"} == {n["id"] for n in shipped}


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
