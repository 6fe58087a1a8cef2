"""Properties of KPI queries over the store, for any events and any window (hypothesis), on SQLite and PostgreSQL.

- Whatever rollups a query reads (none, hourly, or the coarsest of local months, days and hours), it gives the
  same elements as the recomputation from raw events, also after late events arrived in any order.
- A window that extends past now has the KPIs of the same window clipped at now.
- Buckets by local day and by shift add up to their window.

The plant's zone is drawn among zones with daylight saving (23- and 25-hour days, an overnight shift across the
change) and with half- and quarter-hour offsets (local days that do not begin on a UTC hour).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from shopfloor.analytics.kpi import KpiElements, kpis
from shopfloor.model.events import CountEvent, CountKind, MachineState, StateChange
from shopfloor.model.intervals import Interval
from shopfloor.model.plant import Plant
from shopfloor.store import kpi, rollups
from shopfloor.store.db import open_store
from shopfloor.store.events import append_events
from shopfloor.store.plant import machine_ids, save_plant
from shopfloor.store.schema import hourly_rollups, local_rollups, machine_events, rollup_state
from tests.conftest import _truncate_pg

UTC = timezone.utc
BASE = datetime(2026, 2, 20, tzinfo=UTC)  # the history spans the end of February to early April
SPAN_MIN = 45 * 24 * 60
ZONES = ("Europe/Berlin", "America/New_York", "Asia/Kolkata", "Asia/Kathmandu", "Asia/Seoul")
MACHINES = ("M1", "M2")


def plant_in(zone: str) -> Plant:
    return Plant.from_dict(
        {
            "site": {"code": "S", "name": "Works", "timezone": zone},
            "areas": [{"code": "A", "lines": [{"code": "L", "machines": [{"code": m} for m in MACHINES]}]}],
            "products": [{"code": "P", "ideal_cycle_s": 30}, {"code": "Q", "ideal_cycle_s": 45}],
            "calendar": {
                "shifts": [
                    {"name": "Day", "start": "06:00", "end": "14:00", "breaks": [{"start": "10:00", "end": "10:30"}]},
                    # Overnight, across the daylight-saving changes of Berlin and New York (Saturday night too).
                    {"name": "Night", "start": "22:00", "end": "06:00", "days": ["mon", "tue", "sat"]},
                ],
                "holidays": ["2026-03-03"],
            },
        }
    )


states = st.sampled_from(list(MachineState))
state_events = st.builds(
    lambda m, minute, s: StateChange(BASE + timedelta(minutes=minute), m, s),
    st.sampled_from(MACHINES),
    st.integers(0, SPAN_MIN),
    states,
)
count_events = st.builds(
    lambda m, minute, kind, qty, product: CountEvent(BASE + timedelta(minutes=minute), m, kind, qty, product),
    st.sampled_from(MACHINES),
    st.integers(0, SPAN_MIN),
    st.sampled_from(list(CountKind)),
    st.integers(1, 50),
    st.sampled_from(["P", "Q", None]),
)
histories = st.lists(st.one_of(state_events, count_events), min_size=1, max_size=60)
instants = st.integers(-3 * 24 * 60, SPAN_MIN + 3 * 24 * 60).map(lambda m: BASE + timedelta(minutes=m))


def _load(engine, zone: str, events: list, batches: int) -> Plant:
    """A store holding ``events``, stored in ``batches`` (in the order drawn, so later batches hold late events),
    each followed by the rollup refresh."""
    plant = plant_in(zone)
    with engine.begin() as conn:
        for table in (local_rollups, hourly_rollups, rollup_state, machine_events):
            conn.execute(delete(table))
        save_plant(conn, plant, "test")
    size = -(-len(events) // batches)
    for i in range(0, len(events), size):
        with engine.begin() as conn:
            result = append_events(conn, events[i : i + size])
            rollups.invalidate(conn, result.earliest)
            rollups.refresh(conn, plant)
    return plant


def _same(a: KpiElements, b: KpiElements) -> None:
    for name, value in a.to_dict().items():
        other = getattr(b, name)
        if isinstance(value, int):
            assert value == other, name
        else:
            assert value == pytest.approx(other, abs=1e-6), name


def _same_kpis(a: KpiElements, b: KpiElements) -> None:
    for name, value in kpis(a).items():
        other = kpis(b)[name]
        assert (value is None) == (other is None), name
        if value is not None:
            assert value == pytest.approx(other, rel=1e-9, abs=1e-9), name


def _measure(conn, plant, window, now, units):
    kpi.COVER_UNITS = units
    try:
        return kpi.measure(conn, plant, list(MACHINES), window, now)
    finally:
        kpi.COVER_UNITS = rollups.UNITS


@pytest.fixture(scope="module")
def sqlite_store(tmp_path_factory):
    engine = open_store(str(tmp_path_factory.mktemp("kpi-properties") / "store.db"))
    yield engine
    engine.dispose()


# M1 runs from the start of the history to its end, so that whole months and days of it are rolled up; M2 has
# only the drawn events (its history may start and end anywhere).
ANCHORS = [StateChange(BASE, "M1", MachineState.RUNNING), StateChange(BASE + timedelta(minutes=SPAN_MIN), "M1",
           MachineState.IDLE)]  # fmt: skip


def check_any_window(engine, zone, events, batches, a, b, now) -> None:
    plant = _load(engine, zone, ANCHORS + events, batches)
    window = Interval(min(a, b), max(a, b))
    with engine.connect() as conn:
        m1_id = machine_ids(conn)["M1"]
        m1 = rollups.states(conn, [m1_id])[m1_id]
        read = rollups.cover(Interval(window.start, max(window.start, min(window.end, now))), m1.rolled,
                             plant.site.tz)  # fmt: skip
        event(f"M1 read from {', '.join(read.rolled) or 'raw events only'}")
        raw = KpiElements.sum(kpi.raw_elements(conn, plant, m, window, now) for m in MACHINES)
        hourly, cover = _measure(conn, plant, window, now, ("hour",))
        coarse, cover_coarse = _measure(conn, plant, window, now, rollups.UNITS)
        _same(hourly, raw)
        _same(coarse, raw)
        assert cover == cover_coarse
        # The window clipped at now: the same elements and KPIs; its coverage is only smaller by the future.
        clipped_window = Interval(window.start, max(window.start, min(window.end, now)))
        clipped, clipped_cover = _measure(conn, plant, clipped_window, now, rollups.UNITS)
        _same(clipped, coarse)
        _same_kpis(clipped, coarse)
        assert clipped_cover.covered_s == pytest.approx(cover.covered_s)
        if window.seconds == 0:
            return
        # Buckets by local day and by shift add up to the window.
        for by in ("day", "shift"):
            parts = kpi.bucketed(conn, plant, list(MACHINES), window, by, now)
            assert parts[0][1].start == window.start and parts[-1][1].end == window.end
            _same(KpiElements.sum(el for _, _, el in parts), coarse)


EXAMPLE = dict(zone=st.sampled_from(ZONES), events=histories, batches=st.integers(1, 4), a=instants, b=instants,
               now=instants)  # fmt: skip


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(**EXAMPLE)
def test_any_window_on_sqlite(sqlite_store, zone, events, batches, a, b, now):
    check_any_window(sqlite_store, zone, events, batches, a, b, now)


@pytest.fixture(scope="module")
def pg_store(pg_engine):
    """The test server's database, emptied of what other tests left (other sites' machines among them)."""
    _truncate_pg(pg_engine)
    return pg_engine


@pytest.mark.pg
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(**EXAMPLE)
def test_any_window_on_postgresql(pg_store, zone, events, batches, a, b, now):
    check_any_window(pg_store, zone, events, batches, a, b, now)
