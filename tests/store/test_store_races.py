"""Check-then-insert under concurrency, on SQLite and PostgreSQL: writers that race for the same new name (a user, a
work order code, a lot number, an idempotency key, a characteristic, a site) get the answer a single writer gets
(created, exists already, the first request's result, the next free number), never a unique violation."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from sqlalchemy import create_engine, func, select

from shopfloor.actions.demo import sample_plant
from shopfloor.errors import UserExists, WorkOrderExists
from shopfloor.store import accounts, lots, ncr, work_orders
from shopfloor.store import inspections as insp
from shopfloor.store.db import open_engine, writing
from shopfloor.store.plant import save_plant
from shopfloor.store.schema import inspection_characteristics, ncrs, sites, users
from shopfloor.store.schema import lots as lots_table
from tests.lots_data import add_master_data

RACERS = 20


def engine_like(engine, pool: int = RACERS):
    """A second engine on the same store whose pool lets ``pool`` transactions run at once: enough for many in
    flight, few enough to leave the shared test server (max_connections 100) room for other test runs."""
    url = engine.url.render_as_string(hide_password=False)
    if engine.dialect.name == "sqlite":
        return open_engine(url)
    return create_engine(url, pool_size=pool, max_overflow=0, pool_timeout=120)


def race(engine, work, racers: int = RACERS) -> list:
    """``work(i, conn)`` in ``racers`` threads released at once, each in its own write transaction; returns each
    thread's result or the exception it raised."""
    racing = engine_like(engine)
    start = threading.Barrier(racers)
    out: list = [None] * racers

    def run(i: int) -> None:
        start.wait()
        try:
            with writing(racing) as conn:
                out[i] = work(i, conn)
        except Exception as exc:  # noqa: BLE001 - the test looks at every outcome
            out[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(racers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    racing.dispose()
    return out


def kinds(outcomes: list) -> Counter:
    return Counter("ok" if not isinstance(o, Exception) else type(o).__name__ for o in outcomes)


@pytest.fixture
def master(engine):
    with engine.begin() as conn:
        plant = add_master_data(conn)
    return engine, plant


def test_one_user_name_taken_at_once_is_created_once(engine):
    outcomes = race(engine, lambda i, conn: accounts.create_user(conn, "kim", "operator", pin="1234"))
    assert kinds(outcomes) == {"ok": 1, "UserExists": RACERS - 1}
    assert all(o.params == {"user": "kim"} for o in outcomes if isinstance(o, UserExists))
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(users)).scalar() == 1


def test_one_work_order_code_taken_at_once_is_created_once(master):
    engine, plant = master
    outcomes = race(engine, lambda i, conn: work_orders.create(conn, plant, "WO-RACE", "DRUM-A", 10, f"p{i}"))
    assert kinds(outcomes) == {"ok": 1, "WorkOrderExists": RACERS - 1}
    assert all(o.params == {"work_order": "WO-RACE"} for o in outcomes if isinstance(o, WorkOrderExists))


def test_lots_received_at_once_get_the_next_free_numbers(master):
    engine, _ = master
    at = lots._now(None)
    outcomes = race(engine, lambda i, conn: lots.receive(conn, "COIL", 100, f"op{i}", at=at).code)
    assert kinds(outcomes) == {"ok": RACERS}
    assert sorted(outcomes) == [f"R{at:%y%m%d}-{n:04d}" for n in range(1, RACERS + 1)]


def test_a_receipt_sent_again_at_once_is_done_once(master):
    engine, _ = master
    outcomes = race(engine, lambda i, conn: lots.receive(conn, "COIL", 100, "op", key="tap-7").code)
    assert kinds(outcomes) == {"ok": RACERS} and len(set(outcomes)) == 1
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(lots_table)).scalar() == 1


def test_ncrs_opened_at_once_get_distinct_numbers_and_a_repeated_one_is_opened_once(master):
    engine, _ = master
    with writing(engine) as conn:
        lot = lots.receive(conn, "COIL", 100, "op").code
    numbers = race(engine, lambda i, conn: ncr.open_ncr(conn, f"crack {i}", "qa", lot=lot)["code"])
    assert kinds(numbers) == {"ok": RACERS} and len(set(numbers)) == RACERS
    repeated = race(engine, lambda i, conn: ncr.open_ncr(conn, "crack", "qa", lot=lot, key="ncr-1")["code"])
    assert kinds(repeated) == {"ok": RACERS} and len(set(repeated)) == 1
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(ncrs)).scalar() == RACERS + 1


def test_one_characteristic_saved_at_once_is_one_row(master):
    engine, plant = master
    spec = {"product": "DRUM-A", "code": "BEAD-W", "name": "Weld bead width", "kind": "variable", "chart": "xbar-r",
            "unit": "mm", "nominal": 2.0, "lsl": 1.7, "usl": 2.3, "sample_size": 5, "every_parts": 50,
            "phase1": 20}  # fmt: skip
    outcomes = race(engine, lambda i, conn: insp.save_characteristic(conn, plant, spec | {"name": f"bead {i}"}).id)
    assert kinds(outcomes) == {"ok": RACERS} and len(set(outcomes)) == 1
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(inspection_characteristics)).scalar() == 1


def test_one_new_site_imported_at_once_is_created_once(engine):
    plant = sample_plant()
    outcomes = race(engine, lambda i, conn: save_plant(conn, plant, f"admin{i}")["created"], racers=8)
    assert kinds(outcomes) == {"ok": 8} and sorted(outcomes) == [False] * 7 + [True]
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(sites)).scalar() == 1
