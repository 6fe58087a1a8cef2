"""Preventive plans counted from the machine data, on SQLite and PostgreSQL: one test per trigger (calendar, run
hours, cycles, shots), and planned maintenance against its overrun in the KPI figures read from the store.

The plant: machines M1 and M2 in UTC, one Day shift 08:00-16:00 without a break (8 h planned), on
Tuesday 2026-11-03 unless a test says otherwise.  Every expected figure is worked out by hand next to it.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from shopfloor.actions import maintenance as mnt
from shopfloor.actions.events import store_events
from shopfloor.model.events import CountEvent, CountKind, MachineState, StateChange
from shopfloor.model.intervals import Interval
from shopfloor.model.maintenance import DueState
from shopfloor.model.plant import Plant
from shopfloor.store import kpi
from shopfloor.store import maintenance as store
from shopfloor.store.plant import save_plant

UTC = timezone.utc
A = "user:maint"
PLANT = {
    "site": {"code": "S", "name": "Mould shop", "timezone": "UTC"},
    "areas": [{"code": "A", "lines": [{"code": "L", "machines": [{"code": "M1"}, {"code": "M2"}]}]}],
    "products": [{"code": "P", "ideal_cycle_s": 20}],
    "calendar": {"shifts": [{"name": "Day", "start": "08:00", "end": "16:00"}]},
}


def at(h: int, m: int = 0, day: int = 3) -> datetime:
    return datetime(2026, 11, day, h, m, tzinfo=UTC)


@pytest.fixture
def plant(engine):
    p = Plant.from_dict(PLANT)
    with engine.begin() as conn:
        save_plant(conn, p, "test")
    return p


def put(engine, plant, *events) -> None:
    with engine.begin() as conn:
        store_events(conn, plant, list(events))


def plan_due(engine, plant, code, now):
    with engine.connect() as conn:
        return store.plan_due(conn, plant, store.get_plan(conn, code), now)


def test_calendar_trigger(engine, plant):
    mnt.create_maintenance_plan(
        engine,
        A,
        code="CAL",
        name="monthly",
        trigger="calendar",
        interval=30,
        warn_before=5,
        machine="M1",
        last_done_at=at(8, day=1),
    )
    # 1 Nov 08:00 + 24 days = 25 Nov 08:00: used 24 d < 25 -> ok; 26 Nov 08:00: 25 d -> due; 1 Dec 08:00: 30 d.
    assert plan_due(engine, plant, "CAL", at(8, day=25)).state is DueState.OK
    assert plan_due(engine, plant, "CAL", at(8, day=26)).state is DueState.DUE
    d = plan_due(engine, plant, "CAL", datetime(2026, 12, 1, 8, tzinfo=UTC))
    assert (d.state, d.used, d.due_at) == (DueState.OVERDUE, 30, datetime(2026, 12, 1, 8, tzinfo=UTC))


def test_run_hours_trigger_counts_actual_production_time(engine, plant):
    put(
        engine,
        plant,
        StateChange(at(8), "M1", MachineState.RUNNING),
        StateChange(at(12), "M1", MachineState.DOWN, "JAM"),
        StateChange(at(13), "M1", MachineState.RUNNING),
        StateChange(at(15), "M1", MachineState.IDLE),
    )
    mnt.create_maintenance_plan(
        engine,
        A,
        code="RH",
        name="hydraulics",
        trigger="run_hours",
        interval=8,
        warn_before=2,
        machine="M1",
        last_done_at=at(7),
    )
    # Running 08-12 (4 h) and 13-15 (2 h): 6 h used at 16:00; 8 - 2 = 6 -> due.  At 11:00 only 3 h -> ok.
    assert plan_due(engine, plant, "RH", at(11)).used == pytest.approx(3)
    assert plan_due(engine, plant, "RH", at(11)).state is DueState.OK
    d = plan_due(engine, plant, "RH", at(16))
    assert (d.state, d.used) == (DueState.DUE, pytest.approx(6))
    # Two more hours of running the next morning (08-10): 8 h -> overdue.
    put(
        engine,
        plant,
        StateChange(at(8, day=4), "M1", MachineState.RUNNING),
        StateChange(at(10, day=4), "M1", MachineState.IDLE),
    )
    assert plan_due(engine, plant, "RH", at(11, day=4)).state is DueState.OVERDUE


def test_cycle_trigger_counts_units_made_since_last_done(engine, plant):
    put(
        engine,
        plant,
        StateChange(at(8), "M1", MachineState.RUNNING),
        CountEvent(at(10), "M1", CountKind.GOOD, 100, "P"),
        CountEvent(at(10), "M1", CountKind.SCRAP, 5, "P", "SHORT"),
        CountEvent(at(14), "M1", CountKind.GOOD, 50, "P"),
    )
    mnt.create_maintenance_plan(
        engine,
        A,
        code="CY",
        name="ejectors",
        trigger="cycles",
        interval=150,
        warn_before=10,
        machine="M1",
        last_done_at=at(9),
    )
    # After 09:00: 100 + 5 + 50 = 155 units >= 150 -> overdue; at 11:00 only 105 -> ok (150 - 10 = 140).
    assert (plan_due(engine, plant, "CY", at(11)).state, plan_due(engine, plant, "CY", at(11)).used) == (
        DueState.OK,
        105,
    )
    assert plan_due(engine, plant, "CY", at(16)).state is DueState.OVERDUE


def test_shot_trigger_follows_the_mould_from_machine_to_machine(engine, plant):
    mnt.create_mould(engine, A, code="MD-1", name="cover 4-cav", cavities=4, life_shots=1000, initial_shots=20)
    mnt.mount_mould(engine, A, "MD-1", machine="M1", at=at(9))
    put(
        engine,
        plant,
        CountEvent(at(10), "M1", CountKind.GOOD, 398, "P"),
        CountEvent(at(10), "M1", CountKind.SCRAP, 2, "P", "SHORT"),
        CountEvent(at(14), "M1", CountKind.GOOD, 80, "P"),  # after the mould left M1: not its shots
        CountEvent(at(15), "M2", CountKind.GOOD, 200, "P"),
    )
    mnt.unmount_mould(engine, A, "MD-1", at=at(13, 30))
    mnt.mount_mould(engine, A, "MD-1", machine="M2", at=at(13, 30))
    mnt.create_maintenance_plan(
        engine,
        A,
        code="SH",
        name="mould PM",
        trigger="shots",
        interval=150,
        warn_before=20,
        mould="MD-1",
        last_done_at=at(8),
    )
    # Parts while mounted: 400 on M1 + 200 on M2 = 600; 4 cavities -> 150 shots: overdue.  At 12:00: 100 shots.
    assert plan_due(engine, plant, "SH", at(12)).used == 100
    assert plan_due(engine, plant, "SH", at(16)).state is DueState.OVERDUE
    with engine.connect() as conn:
        mould = store.mould_dict(conn, plant, "MD-1", at(16))
        history = store.mounts(conn, "MD-1")
    # 20 shots before it was registered + 150 = 170 of a life of 1,000.
    assert (mould["shots"], mould["life_used"], mould["machine"]) == (170, 0.17, "M2")
    assert [(h["machine"], h["unmounted_at"] is None) for h in history] == [("M1", False), ("M2", True)]


def test_planned_maintenance_is_planned_downtime_and_its_overrun_a_loss(engine, plant):
    put(engine, plant, StateChange(at(8), "M1", MachineState.RUNNING))
    mnt.create_maintenance_plan(
        engine,
        A,
        code="PM",
        name="weekly",
        trigger="calendar",
        interval=7,
        machine="M1",
        planned_minutes=60,
        checklist=["grease", "filters"],
        last_done_at=at(8, day=1),
    )
    order = mnt.open_preventive_order(engine, A, "PM", at=at(8, 30))
    mnt.start_maintenance(engine, A, order["code"], at=at(9))
    closed = mnt.close_maintenance(engine, A, order["code"], done=["grease", "filters"], at=at(10, 30))
    put(engine, plant, StateChange(at(10, 45), "M1", MachineState.RUNNING))
    with engine.connect() as conn:
        e = kpi.machine_elements(conn, plant, "M1", Interval(at(8), at(16)), at(16))
        plan = store.get_plan(conn, "PM")
    # Planned window 09:00-10:00 -> PDOT 1 h; overrun 10:00-10:30 and the wait to 10:45 -> ADET 0.75 h;
    # PBT = 8 - 1 = 7 h; APT = 08-09 + 10:45-16:00 = 6.25 h; no failure event.
    assert (e.pdot_s, e.pbt_s, e.apt_s, e.adet_s, e.failures) == (3600, 7 * 3600, 6.25 * 3600, 0.75 * 3600, 0)
    assert plan.last_done_at == at(10, 30) and closed["status"] == "closed"


def test_a_machine_down_past_the_threshold_gets_one_breakdown_request(engine, plant):
    put(
        engine,
        plant,
        StateChange(at(8), "M1", MachineState.RUNNING),
        StateChange(at(9), "M1", MachineState.DOWN),
        StateChange(at(9, 5), "M1", MachineState.DOWN, "MOTOR"),
        StateChange(at(8), "M2", MachineState.DOWN),
    )
    after = timedelta(minutes=15)
    assert mnt.raise_breakdowns_for_long_stops(engine, mnt.WATCH_ACTOR, after=after, at=at(9, 14)) != []
    # At 09:14 M1 has been down 14 min (since 09:00, the second down event does not restart it); M2 74 min.
    with engine.connect() as conn:
        raised = {o["machine"]: o for o in store.orders(conn)}
    assert list(raised) == ["M2"] and raised["M2"]["down_since"] == at(8).isoformat()
    second = mnt.raise_breakdowns_for_long_stops(engine, mnt.WATCH_ACTOR, after=after, at=at(9, 16))
    assert [o["machine"] for o in second] == ["M1"]  # M2 has its request already
    assert second[0]["down_since"] == at(9).isoformat() and second[0]["source"] == "auto"
    assert mnt.raise_breakdowns_for_long_stops(engine, mnt.WATCH_ACTOR, after=after, at=at(9, 30)) == []


def test_mtbf_mttr_and_cost_of_a_machine_by_hand(engine, plant):
    # M1 runs 08:00-16:00 except two breakdowns: 10:00-10:30 and 13:00-14:00.  APT = 8 - 0.5 - 1 = 6.5 h.
    put(
        engine,
        plant,
        StateChange(at(8), "M1", MachineState.RUNNING),
        StateChange(at(10), "M1", MachineState.DOWN),
        StateChange(at(10, 30), "M1", MachineState.RUNNING),
        StateChange(at(13), "M1", MachineState.DOWN),
        StateChange(at(14), "M1", MachineState.RUNNING),
    )
    first = mnt.raise_breakdown(engine, A, "M1", at=at(10, 5))
    mnt.close_maintenance(engine, A, first["code"], labour_minutes=30, hourly_rate=40, at=at(10, 30),
                          parts=[{"part": "fuse", "qty": 2, "unit_cost": 5}])  # fmt: skip
    second = mnt.raise_breakdown(engine, A, "M1", at=at(13, 20))
    mnt.close_maintenance(engine, A, second["code"], labour_minutes=60, hourly_rate=40, at=at(14))
    with engine.connect() as conn:
        r = store.reliability(conn, plant, Interval(at(8), at(16)), "M1", None, at(16))
    # FE = 2; MTBF = 6.5 h / 2 = 3.25 h; TTR = 30 min (from the stop at 10:00) and 60 min: MTTR = 45 min;
    # cost = (2 x 5 + 30/60 x 40) + 60/60 x 40 = 30 + 40 = 70.
    assert (r["failures"], r["mtbf_s"], r["mttr_s"], r["cost"]) == (2, 3.25 * 3600, 45 * 60, 70.0)
