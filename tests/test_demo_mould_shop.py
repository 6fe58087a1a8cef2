"""The demo's mould shop on both stores: moulds with their shots, a PM plan coming due, an NC program whose
revision changed with its design revision, a mismatch of CNC-01's running program, and the skills; loaded once."""

from datetime import datetime, timezone

from shopfloor.actions.demo import create_demo_accounts, sample_plant
from shopfloor.actions.demo_materials import sample_master
from shopfloor.actions.demo_mould_shop import load_mould_shop
from shopfloor.model.maintenance import DueState
from shopfloor.store import documents, maintenance, nc_monitor, skills
from shopfloor.store.master import save_master
from shopfloor.store.plant import save_plant


def test_the_mould_shop_of_the_demo(engine):
    plant = sample_plant()
    with engine.begin() as conn:
        save_plant(conn, plant, "test")
        save_master(conn, sample_master(plant), "test")
    create_demo_accounts(engine)
    now = datetime.now(timezone.utc)
    assert load_mould_shop(engine, now)["loaded"] is True
    assert load_mould_shop(engine, now) == {"loaded": False}
    with engine.connect() as conn:
        due = maintenance.plan_due(conn, plant, maintenance.get_plan(conn, "PM-NC01-M"), now)
        case = maintenance.mould_dict(conn, plant, "MD-CASE-04", now)
        program = documents.document_dict(conn, "NC-CORE-10", now)
        raised = nc_monitor.check(conn, plant, [(now, "CNC-01", "O1001"), (now, "CNC-03", "O1003")])
        held = skills.held(conn, "nguyen")
    assert (due.state, round(due.used)) == (DueState.DUE, 28)  # 28 of 30 days, warned from day 27
    assert (case["machine"], case["shots"] >= 287_500, case["life_used"] >= 0.958) == ("NC-02", True, True)
    assert program["current"] == "2"
    assert [(r["revision"], r["state"], r["design_revision"]) for r in program["revisions"]] == [
        ("1", "superseded", "3"),
        ("2", "current", "4"),
    ]
    assert len(raised) == 1  # CNC-01 runs O1001 where O1011 is approved; CNC-03 runs its approved O1003
    assert "NC-5AX" in held
