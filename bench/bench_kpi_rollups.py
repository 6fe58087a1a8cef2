"""Site KPIs over a year: the coarsest rollups against the same sums computed from the raw events.

A simulated year (three shifts, three kinds of shop) of 50 and of 200 machines is stored in SQLite and, when
SHOPFLOOR_TEST_PG names a server, in a PostgreSQL database of its own.  The site's elements for the year are read
from the rollups (months here) cold (the first query on a new connection) and warm (the best of five), and
computed from the same raw events, in the same run, by:

- DuckDB: one SQL query (``bench/kpi_sql.py``) over the events copied into a DuckDB table;
- PostgreSQL: the same query over the store's own ``machine_events`` table;
- the project's recomputation from the raw events (``store.kpi.raw_elements``, Python).

Every baseline's sums are checked against the rollups' before any figure is reported.  Targets: 50 ms for the
site-year at 50 machines, 200 ms at 200.  The PostgreSQL store gets the SQLite store's rows (events and rollups)
copied over, so that the year is simulated and rolled up once.
"""

from __future__ import annotations

import csv
import os
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
from sqlalchemy import create_engine, insert, select, text

from bench.kpi_sql import duckdb_query, elements, postgresql_query
from shopfloor.actions.demo import sample_plant
from shopfloor.analytics.kpi import KpiElements
from shopfloor.model.calendar import buckets, local_days
from shopfloor.model.intervals import Interval
from shopfloor.model.plant import Plant
from shopfloor.simulator.history import simulate_history
from shopfloor.store import kpi, rollups
from shopfloor.store.db import open_engine, open_store, resolve_url
from shopfloor.store.events import append_events, count_events
from shopfloor.store.plant import machine_ids, save_plant
from shopfloor.store.schema import hourly_rollups, local_rollups, machine_events, rollup_state

TARGET_S = {50: 0.05, 200: 0.2}
BATCH = 20_000


def plant_with(machines: int) -> Plant:
    """The sample plant with its lines grown to ``machines`` machines in total."""
    doc = sample_plant().to_dict()
    lines = [ln for area in doc["areas"] for ln in area["lines"]]
    for ln in lines:
        ln["machines"] = []
    for product in doc["products"]:
        product.pop("cycle_by_machine", None)
    for i in range(machines):
        ln = lines[i % len(lines)]
        ln["machines"].append({"code": f"{ln['code']}-{i + 1:03d}", "name": f"{ln['name']} #{i + 1}"})
    return Plant.from_dict(doc)


def _best(fn, repeat: int):
    best, value = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - t)
    return best, value


def _check(name: str, got: KpiElements, want: KpiElements) -> None:
    """The same counts, and the same seconds to a millisecond: sums of millions of durations in another order
    differ in their last bits."""
    for field, value in want.to_dict().items():
        other = getattr(got, field)
        close = other == value if isinstance(value, int) else abs(other - value) <= 1e-3 + 1e-12 * abs(value)
        if not close:
            raise AssertionError(f"{name} disagrees with the rollups on {field}: {other} != {value}")


def _load_sqlite(path: Path, plant: Plant, window: Interval) -> tuple[float, int]:
    """The year into an SQLite store, machine by machine (append, invalidate, refresh); returns the seconds spent
    storing and rolling up, and the events stored."""
    engine = open_store(str(path))
    with engine.begin() as conn:
        save_plant(conn, plant, "bench")
    spent = 0.0
    for i, machine in enumerate(plant.machines):
        events = simulate_history(plant, window, seed=i, machines=[machine.code])
        t = time.perf_counter()
        with engine.begin() as conn:
            result = append_events(conn, events)
            rollups.invalidate(conn, result.earliest)
            rollups.refresh(conn, plant, [machine.code])
        spent += time.perf_counter() - t
    with engine.connect() as conn:
        stored = count_events(conn)
    engine.dispose()
    return spent, stored


def _copy_to_postgresql(sqlite_path: Path, url: str, plant: Plant) -> None:
    """The SQLite store's events and rollups into a fresh PostgreSQL store (the same rows, computed once)."""
    source = open_engine(str(sqlite_path))
    target = open_store(url)
    with target.begin() as conn:
        save_plant(conn, plant, "bench")
    with source.connect() as src:
        for table in (machine_events, hourly_rollups, local_rollups, rollup_state):
            result = src.execution_options(stream_results=True).execute(select(table))
            while rows := result.mappings().fetchmany(BATCH):
                with target.begin() as conn:
                    conn.execute(insert(table), [dict(r) for r in rows])
    with target.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE"))
    source.dispose()
    target.dispose()


def _scheduled(plant: Plant, window: Interval) -> list[tuple[float, float, float, float | None]]:
    """The scheduled intervals of the window in seconds from its start: (start, end, seconds before, next start)."""
    spans = plant.calendar.planned(plant.site.tz, window)
    rows, cum = [], 0.0
    for i, iv in enumerate(spans):
        ps, pe = (iv.start - window.start).total_seconds(), (iv.end - window.start).total_seconds()
        nxt = (spans[i + 1].start - window.start).total_seconds() if i + 1 < len(spans) else None
        rows.append((ps, pe, cum, nxt))
        cum += pe - ps
    return rows


def _pru_rows(plant: Plant, ids: dict[str, int]) -> list[tuple[int, str, float]]:
    return [
        (ids[m.code], p.code, cycle)
        for m in plant.machines
        for p in plant.products
        if (cycle := plant.ideal_cycle(p.code, m.code)) is not None
    ]


def _duckdb(sqlite_path: Path, tmp: Path, plant: Plant, window: Interval) -> tuple[float, KpiElements]:
    """The raw events copied into DuckDB, then the query timed (best of 3)."""
    source = open_engine(str(sqlite_path))
    csv_path = tmp / "events.csv"
    me = machine_events.c
    with source.connect() as conn, csv_path.open("w", newline="") as out:
        ids = machine_ids(conn)
        writer = csv.writer(out)
        writer.writerow(["machine_id", "id", "ts", "kind", "state", "quantity", "product"])
        result = conn.execution_options(stream_results=True).execute(
            select(me.machine_id, me.id, me.ts, me.kind, me.state, me.quantity, me.product)
        )
        while rows := result.fetchmany(BATCH):
            writer.writerows(
                (r.machine_id, r.id, (r.ts - window.start).total_seconds(), r.kind, r.state, r.quantity, r.product)
                for r in rows
            )
    source.dispose()
    db = duckdb.connect(str(tmp / "bench.duckdb"))
    db.execute(
        "CREATE TABLE events AS SELECT * FROM read_csv(?, header = true, columns = {'machine_id': 'INTEGER', "
        "'id': 'BIGINT', 'ts': 'DOUBLE', 'kind': 'VARCHAR', 'state': 'VARCHAR', 'quantity': 'BIGINT', "
        "'product': 'VARCHAR'})",
        [str(csv_path)],
    )
    db.execute("CREATE TABLE planned (ps DOUBLE, pe DOUBLE, cum DOUBLE, next_ps DOUBLE)")
    db.executemany("INSERT INTO planned VALUES (?, ?, ?, ?)", _scheduled(plant, window))
    db.execute("CREATE TABLE scope (machine_id INTEGER)")
    db.executemany("INSERT INTO scope VALUES (?)", [(ids[m.code],) for m in plant.machines])
    db.execute("CREATE TABLE pru (machine_id INTEGER, product VARCHAR, pru DOUBLE)")
    db.executemany("INSERT INTO pru VALUES (?, ?, ?)", _pru_rows(plant, ids))
    planned = _scheduled(plant, window)
    query = duckdb_query(window.seconds, sum(pe - ps for ps, pe, _, _ in planned))
    seconds, row = _best(lambda: db.execute(query).fetchone(), 3)
    db.close()
    return seconds, elements(row)


def _postgresql_sql(url: str, plant: Plant, window: Interval) -> tuple[float, KpiElements]:
    engine = open_engine(url)
    planned = _scheduled(plant, window)
    with engine.connect() as conn:
        ids = machine_ids(conn)
        conn.execute(text("CREATE TEMP TABLE planned (ps float8, pe float8, cum float8, next_ps float8)"))
        conn.execute(text("INSERT INTO planned VALUES (:a, :b, :c, :d)"),
                     [dict(zip("abcd", row)) for row in planned])  # fmt: skip
        conn.execute(text("CREATE INDEX ON planned (ps)"))
        conn.execute(text("CREATE TEMP TABLE scope (machine_id integer PRIMARY KEY)"))
        conn.execute(text("INSERT INTO scope VALUES (:m)"), [{"m": ids[m.code]} for m in plant.machines])
        conn.execute(text("CREATE TEMP TABLE pru (machine_id integer, product text, pru float8)"))
        conn.execute(text("INSERT INTO pru VALUES (:m, :p, :c)"),
                     [{"m": m, "p": p, "c": c} for m, p, c in _pru_rows(plant, ids)])  # fmt: skip
        # A view cannot take parameters: the window's bounds are written into it (they are ours, not input).
        conn.execute(
            text(
                "CREATE TEMP VIEW events AS SELECT machine_id, id, "
                f"extract(epoch FROM ts - timestamptz '{window.start.isoformat()}')::float8 AS ts, kind, state, "
                f"quantity, product FROM machine_events WHERE ts < timestamptz '{window.end.isoformat()}'"
            )
        )
        conn.execute(text("ANALYZE planned; ANALYZE scope; ANALYZE pru"))
        query = text(postgresql_query(window.seconds, sum(pe - ps for ps, pe, _, _ in planned)))
        seconds, row = _best(lambda: conn.execute(query).first(), 3)
        conn.rollback()
    engine.dispose()
    return seconds, elements(row)


def _fast(url: str, plant: Plant, codes: list[str], window: Interval, now: datetime):
    """The site-year from rollups: cold (the first query on a new engine and connection) and warm (best of 5)."""
    engine = open_engine(url)
    with engine.connect() as conn:
        t = time.perf_counter()
        cold_value, _ = kpi.measure(conn, plant, codes, window, now)
        cold = time.perf_counter() - t
        warm, (warm_value, _) = _best(lambda: kpi.measure(conn, plant, codes, window, now), 5)
    engine.dispose()
    _check("the cold read", cold_value, warm_value)
    return cold, warm, warm_value


def _sqlite_figures(url, plant, window, now, fast, warm, head, machines, days) -> list[dict]:
    """Against the project's Python recomputation from raw events: the site, one machine, one machine by day."""
    codes = [m.code for m in plant.machines]
    rows = []
    engine = open_engine(url)
    with engine.connect() as conn:
        raw_s, raw = _best(lambda: KpiElements.sum(kpi.raw_elements(conn, plant, c, window, now) for c in codes), 1)
        _check("the Python recomputation", raw, fast)
        rows.append(_row(f"{head}, warm", warm, raw_s, "s (Python recomputation from raw events)"))
        if machines == min(TARGET_S) or days != 365:
            one = codes[0]
            m_fast, _ = _best(lambda: kpi.measure(conn, plant, [one], window, now), 5)
            m_raw, _ = _best(lambda: kpi.raw_elements(conn, plant, one, window, now), 1)
            rows.append(_row("SQLite: one machine over the period", m_fast, m_raw,
                             "s (Python recomputation from raw events)"))  # fmt: skip
            days_list = buckets(plant.calendar, plant.site.tz, window, "day")
            d_fast, _ = _best(lambda: kpi.bucketed(conn, plant, [one], window, "day", now), 3)
            d_raw, _ = _best(lambda: [kpi.raw_elements(conn, plant, one, iv, now) for _, iv in days_list], 1)
            rows.append(_row(f"SQLite: one machine by day ({len(days_list)} buckets)", d_fast, d_raw,
                             "s (Python recomputation from raw events)"))  # fmt: skip
    engine.dispose()
    return rows


def _row(name: str, value: float, baseline: float, baseline_unit: str, **extra) -> dict:
    # Printed as it is measured: the full run takes the better part of an hour.
    print(f"  {name}: {value:.4g} s; {baseline:.4g} {baseline_unit}", file=sys.stderr, flush=True)
    return {"name": name, "value": value, "unit": "s", "baseline": baseline, "baseline_unit": baseline_unit,
            "ratio": baseline / value, **extra}  # fmt: skip


def _measure_size(machines: int, days: int, tmp: Path, pg_base: str | None) -> list[dict]:
    plant = plant_with(machines)
    tz = plant.site.tz
    first = datetime(2025, 1, 1).date()
    window = local_days(first, first + timedelta(days=days), tz)  # a past year, local midnight to midnight
    now = datetime.now(timezone.utc)
    codes = [m.code for m in plant.machines]
    sqlite_path = tmp / f"kpi-{machines}.db"
    load_s, stored = _load_sqlite(sqlite_path, plant, window)
    span = "a year" if days == 365 else f"{days} days"
    label = f"{span} of {machines} machines ({stored:,} events)"
    target = {"target_s": TARGET_S[machines]} if machines in TARGET_S and days == 365 else {}
    duck_s, duck = _duckdb(sqlite_path, tmp, plant, window)
    rows = []
    stores = [("SQLite", str(sqlite_path))]
    pg_name = None
    if pg_base:
        pg_name = f"shopfloor_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(resolve_url(pg_base), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{pg_name}"'))
        pg_url = resolve_url(pg_base).rsplit("/", 1)[0] + f"/{pg_name}"
        _copy_to_postgresql(sqlite_path, pg_url, plant)
        stores.append(("PostgreSQL", pg_url))
    try:
        for store, url in stores:
            cold, warm, fast = _fast(url, plant, codes, window, now)
            _check("DuckDB", duck, fast)
            head = f"{store}: site KPIs over {label} from rollups"
            rows.append(_row(f"{head}, warm", warm, duck_s, "s (DuckDB SQL over the raw events)", **target))
            rows.append(_row(f"{head}, cold", cold, duck_s, "s (DuckDB SQL over the raw events)", **target))
            if store == "PostgreSQL":
                pg_s, pg = _postgresql_sql(url, plant, window)
                _check("PostgreSQL SQL", pg, fast)
                rows.append(_row(f"{head}, warm", warm, pg_s, "s (PostgreSQL SQL over the raw events)"))
            else:
                rows += _sqlite_figures(url, plant, window, now, fast, warm, head, machines, days)
                rows.append({"name": f"{store}: load {label}, events stored and rolled up per second",
                             "value": stored / load_s, "unit": "events/s", "baseline": load_s,
                             "baseline_unit": "s total", "ratio": 1.0})  # fmt: skip
    finally:
        if pg_name:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))
            admin.dispose()
    return rows


def run(quick: bool = False) -> list[dict]:
    sizes = [(6, 30)] if quick else [(50, 365), (200, 365)]
    pg_base = os.environ.get("SHOPFLOOR_TEST_PG")
    rows = []
    for machines, days in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            rows += _measure_size(machines, days, Path(tmp), pg_base)
    return rows
