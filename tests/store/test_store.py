"""The store on SQLite and PostgreSQL: migrations, plant, idempotent event log, rollups equal to raw."""

from datetime import datetime, timedelta, timezone

import pytest
import yaml
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select

from shopfloor.actions.demo import sample_plant
from shopfloor.errors import MachineUnknown
from shopfloor.model.events import CountEvent, CountKind, MachineState, StateChange
from shopfloor.model.intervals import Interval
from shopfloor.model.plant import Plant
from shopfloor.simulator.history import simulate_history
from shopfloor.store import audit, kpi, rollups
from shopfloor.store.db import migrate
from shopfloor.store.events import append_events, count_events, history
from shopfloor.store.plant import load_plant, save_plant
from shopfloor.store.schema import hourly_rollups, metadata

UTC = timezone.utc


def test_migrations_match_the_table_definitions(engine):
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []


def test_migrating_twice_changes_nothing(engine):
    migrate(engine)
    migrate(engine)


def test_plant_round_trips_through_the_store(engine):
    plant = sample_plant()
    with engine.begin() as conn:
        summary = save_plant(conn, plant, "test")
    assert summary["created"] and summary["machines"] == 7
    with engine.connect() as conn:
        assert load_plant(conn) == plant
        assert audit.entries(conn) == []  # the store writes; the action (actions.plant) audits


def test_a_machine_left_out_of_a_new_plant_file_is_retired_not_deleted(engine):
    plant = sample_plant()
    doc = plant.to_dict()
    with engine.begin() as conn:
        save_plant(conn, plant, "test")
        append_events(conn, [StateChange(datetime(2026, 3, 2, tzinfo=UTC), "NC-02", MachineState.RUNNING)])
    doc["areas"][1]["lines"][1]["machines"].pop()
    with engine.begin() as conn:
        summary = save_plant(conn, Plant.from_dict(doc), "test")
    assert summary["retired_machines"] == 1
    with engine.connect() as conn:
        assert "NC-02" not in [m.code for m in load_plant(conn).machines]
        states, _ = history(conn, "NC-02", Interval(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 3, tzinfo=UTC)))
        assert len(states) == 1


def test_events_are_stored_once_however_often_they_are_sent(engine):
    with engine.begin() as conn:
        save_plant(conn, sample_plant(), "test")
    t = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
    batch = [
        StateChange(t, "WLD-01", MachineState.RUNNING, source="a"),
        CountEvent(t + timedelta(minutes=5), "WLD-01", CountKind.GOOD, 10, "DRUM-A", source="a"),
    ]
    with engine.begin() as conn:
        first = append_events(conn, batch)
    with engine.begin() as conn:
        again = append_events(conn, batch + batch)
    assert (first.inserted, first.duplicates) == (2, 0)
    assert (again.inserted, again.duplicates) == (0, 4)
    with engine.connect() as conn:
        assert count_events(conn) == 2
        states, counts = history(conn, "WLD-01", Interval(t, t + timedelta(hours=1)))
    assert states[0].ts == t and states[0].ts.tzinfo is not None
    assert counts[0].quantity == 10 and counts[0].product == "DRUM-A"


def test_timestamps_keep_microseconds_and_come_back_in_utc(engine):
    with engine.begin() as conn:
        save_plant(conn, sample_plant(), "test")
        ts = datetime(2026, 3, 2, 6, 0, 0, 123456, tzinfo=timezone(timedelta(hours=9)))
        append_events(conn, [StateChange(ts, "WLD-01", MachineState.DOWN, "LASER_FAULT")])
    with engine.connect() as conn:
        states, _ = history(conn, "WLD-01", Interval(ts, ts + timedelta(seconds=1)))
    assert states[0].ts == ts and states[0].ts.utcoffset() == timedelta(0)
    assert states[0].reason == "LASER_FAULT"


def test_unknown_machine_is_refused(engine):
    with engine.begin() as conn:
        save_plant(conn, sample_plant(), "test")
    with pytest.raises(MachineUnknown) as refused, engine.begin() as conn:
        append_events(conn, [StateChange(datetime(2026, 3, 2, tzinfo=UTC), "NOPE", MachineState.RUNNING)])
    assert refused.value == MachineUnknown(machine="NOPE")


def _load_simulated(engine, days: int, seed: int = 3):
    plant = sample_plant()
    start = datetime(2026, 3, 1, 15, tzinfo=UTC)  # Monday 2026-03-02 00:00 KST
    events = simulate_history(plant, Interval(start, start + timedelta(days=days)), seed)
    with engine.begin() as conn:
        save_plant(conn, plant, "test")
        result = append_events(conn, events)
        rollups.invalidate(conn, result.earliest)
        rollups.refresh(conn, plant)
    return plant, start, events


@pytest.mark.usefixtures("rollup_units")
def test_rollups_agree_with_a_recomputation_from_raw_events(engine):
    plant, start, _ = _load_simulated(engine, days=3)
    # A window that starts and ends inside hours, so both rollups and raw edges are used.
    window = Interval(start + timedelta(hours=5, minutes=17), start + timedelta(days=2, hours=20, minutes=3))
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(hourly_rollups)).scalar() > 100
        for m in plant.machines:
            fast = kpi.machine_elements(conn, plant, m.code, window)
            raw = kpi.raw_elements(conn, plant, m.code, window)
            for name, value in fast.to_dict().items():
                assert value == pytest.approx(getattr(raw, name), abs=1e-6), (m.code, name)


@pytest.mark.usefixtures("rollup_units")
def test_a_late_event_invalidates_and_rebuilds_rollups(engine):
    plant, start, _ = _load_simulated(engine, days=2)
    late = StateChange(start + timedelta(hours=9, minutes=1), "CNC-01", MachineState.DOWN, "LATE")
    back = StateChange(start + timedelta(hours=9, minutes=41), "CNC-01", MachineState.RUNNING)
    window = Interval(start, start + timedelta(days=2))
    with engine.connect() as conn:
        before = kpi.machine_elements(conn, plant, "CNC-01", window)
    with engine.begin() as conn:
        result = append_events(conn, [late, back])
        rollups.invalidate(conn, result.earliest)
        rollups.refresh(conn, plant, ["CNC-01"])
    with engine.connect() as conn:
        after = kpi.machine_elements(conn, plant, "CNC-01", window)
        raw = kpi.raw_elements(conn, plant, "CNC-01", window)
    assert after.failures >= before.failures
    assert after != before
    for name, value in after.to_dict().items():
        assert value == pytest.approx(getattr(raw, name), abs=1e-6), name


@pytest.mark.usefixtures("rollup_units")
def test_line_and_site_sum_their_machines(engine):
    plant, start, _ = _load_simulated(engine, days=1)
    window = Interval(start, start + timedelta(days=1))
    with engine.connect() as conn:
        per_machine = {m.code: kpi.machine_elements(conn, plant, m.code, window) for m in plant.machines}
        line = kpi.elements(conn, plant, kpi.scope_machines(plant, line="CNC"), window)
        site = kpi.elements(conn, plant, kpi.scope_machines(plant, site=True), window)
    assert line.apt_s == pytest.approx(sum(per_machine[c].apt_s for c in ("CNC-01", "CNC-02", "CNC-03")))
    assert site.gq == sum(e.gq for e in per_machine.values())
    assert site.pbt_s == pytest.approx(sum(e.pbt_s for e in per_machine.values()))


@pytest.mark.usefixtures("rollup_units")
def test_changing_the_calendar_rebuilds_rollups(engine):
    plant, start, _ = _load_simulated(engine, days=1)
    doc = plant.to_dict()
    doc["calendar"]["shifts"][0]["breaks"] = []
    changed = Plant.from_dict(yaml.safe_load(yaml.safe_dump(doc)))
    window = Interval(start, start + timedelta(days=1))
    with engine.begin() as conn:
        save_plant(conn, changed, "test")
        rollups.refresh(conn, changed)
    with engine.connect() as conn:
        fast = kpi.machine_elements(conn, changed, "WLD-01", window)
        raw = kpi.raw_elements(conn, changed, "WLD-01", window)
    assert fast.pbt_s == pytest.approx(raw.pbt_s)


@pytest.mark.usefixtures("rollup_units")
def test_buckets_summed_from_grouped_rollups_equal_the_same_buckets_one_by_one(tmp_path):
    from datetime import date

    from shopfloor.actions.demo import _local_day, load_demo
    from shopfloor.store import kpi
    from shopfloor.store.db import open_store
    from shopfloor.store.plant import current_plant

    engine = open_store(str(tmp_path / "b.db"))
    load_demo(engine, seed=4, day=date(2026, 3, 3))
    with engine.connect() as conn:
        plant = current_plant(conn)
        day = _local_day(plant, date(2026, 3, 3))
        codes = [m.code for m in plant.machines]
        fast = kpi.bucketed(conn, plant, codes, day, "hour")
        assert len(fast) == 24 and sum(el.pq for _, _, el in fast) > 0
        for label, iv, el in fast:
            one = kpi.elements(conn, plant, codes, iv)
            for field in ("pbt_s", "apt_s", "adet_s", "asut_s", "ideal_s"):
                assert getattr(el, field) == pytest.approx(getattr(one, field), abs=1e-6), (label, field)
            assert (el.pq, el.gq, el.sq, el.rq, el.failures) == (one.pq, one.gq, one.sq, one.rq, one.failures), label
    engine.dispose()
