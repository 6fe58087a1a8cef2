"""Genealogy trace on a large store: one million lots and five million consumption links, on SQLite and on
PostgreSQL (SHOPFLOOR_TEST_PG, e.g. postgresql://postgres@127.0.0.1:5432/test; skipped when unset).

The lots form four levels of 250,000 (raw, component, WIP, finished); each lot above raw consumes six or seven
lots of the level below, drawn at random (750,000 x 6.67 = 5,000,000 links).  A backward trace starts at a
finished lot (about 300 lots upstream), a forward trace at a raw lot (about 300 downstream).

Figures: the p95 of ``reached_ids`` (the recursive query that finds every lot of a trace) and of the whole
``trace`` (edges, lots, supplier names, shipments, work orders) over random start lots, next to the p95 of a
breadth-first traversal in plain Python over the same links held in memory (dicts of lists), in the same run.
"""

from __future__ import annotations

import io
import os
import sqlite3
import tempfile
import time
import uuid
from collections import deque
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from sqlalchemy import bindparam, create_engine, text

from shopfloor.store import trace as trace_store
from shopfloor.store.db import open_store, resolve_url
from shopfloor.store.schema import to_micros

LEVELS = ("raw", "component", "wip", "finished")


def _graph(per_level: int, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """Parent and child ids (1-based; level k holds ids k*per_level+1 .. (k+1)*per_level)."""
    rng = np.random.default_rng(seed)
    parents, children = [], []
    for level in range(1, len(LEVELS)):
        child_ids = np.arange(level * per_level + 1, (level + 1) * per_level + 1)
        fan_in = np.where(rng.random(per_level) < 2 / 3, 7, 6)
        kids = np.repeat(child_ids, fan_in)
        below = (level - 1) * per_level + 1
        parents.append(rng.integers(below, below + per_level, size=kids.size))
        children.append(kids)
    return np.concatenate(parents), np.concatenate(children)


def _lot_rows(per_level: int):
    now = to_micros(datetime(2026, 3, 2, tzinfo=timezone.utc))
    for k, kind in enumerate(LEVELS):
        for i in range(per_level):
            lot_id = k * per_level + i + 1
            yield (lot_id, f"{kind[0].upper()}{lot_id:07d}", kind.upper(), 1000, "consumed", now)


def _load_sqlite(path: Path, per_level: int, parents: np.ndarray, children: np.ndarray) -> None:
    engine = open_store(str(path))
    engine.dispose()
    db = sqlite3.connect(str(path))
    db.execute("PRAGMA journal_mode=WAL")
    db.executemany(
        "INSERT INTO items (code, name, kind, unit) VALUES (?, ?, ?, 'kg')", [(k.upper(), k, k) for k in LEVELS]
    )
    db.executemany(
        "INSERT INTO lots (id, code, item, qty_milli, status, created_at) VALUES (?,?,?,?,?,?)",
        _lot_rows(per_level),
    )
    db.execute("DROP INDEX ix_lot_links_child_parent")
    db.execute("DROP INDEX ix_lot_links_parent_child")
    now = to_micros(datetime(2026, 3, 2, tzinfo=timezone.utc))
    db.executemany(
        "INSERT INTO lot_links (parent_id, child_id, kind, qty_milli, ts, actor) "
        "VALUES (?, ?, 'produce', 1000, ?, 'b')",
        ((int(p), int(c), now) for p, c in zip(parents, children)),
    )
    db.execute("CREATE INDEX ix_lot_links_child_parent ON lot_links (child_id, parent_id)")
    db.execute("CREATE INDEX ix_lot_links_parent_child ON lot_links (parent_id, child_id)")
    db.commit()
    db.execute("ANALYZE")
    db.close()


def _load_pg(url: str, per_level: int, parents: np.ndarray, children: np.ndarray) -> None:
    engine = open_store(url)
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute(
            "INSERT INTO items (code, name, kind, unit) VALUES "
            + ",".join(f"('{k.upper()}','{k}','{k}','kg')" for k in LEVELS)
        )
        with cur.copy("COPY lots (id, code, item, qty_milli, status, created_at) FROM STDIN") as copy:
            stamp = "2026-03-02 00:00:00+00"
            for lot_id, code, item, qty, status, _ in _lot_rows(per_level):
                copy.write_row((lot_id, code, item, qty, status, stamp))
        cur.execute("SELECT setval(pg_get_serial_sequence('lots', 'id'), (SELECT max(id) FROM lots))")
        cur.execute("DROP INDEX ix_lot_links_child_parent")
        cur.execute("DROP INDEX ix_lot_links_parent_child")
        with cur.copy("COPY lot_links (parent_id, child_id, kind, qty_milli, ts, actor) FROM STDIN") as copy:
            buf = io.StringIO()
            for i, (p, c) in enumerate(zip(parents.tolist(), children.tolist())):
                buf.write(f"{p}\t{c}\tproduce\t1000\t2026-03-02 00:00:00+00\tb\n")
                if i % 200_000 == 199_999:
                    copy.write(buf.getvalue())
                    buf = io.StringIO()
            copy.write(buf.getvalue())
        cur.execute("CREATE INDEX ix_lot_links_child_parent ON lot_links (child_id, parent_id)")
        cur.execute("CREATE INDEX ix_lot_links_parent_child ON lot_links (parent_id, child_id)")
        cur.execute("ANALYZE lots")
        cur.execute("ANALYZE lot_links")
        raw.commit()
    finally:
        raw.close()
        engine.dispose()


def _bfs(adjacency: dict[int, list[int]], root: int) -> list[int]:
    seen = {root}
    queue = deque([root])
    while queue:
        for nxt in adjacency.get(queue.popleft(), ()):
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return list(seen)


def _p95(samples: list[float]) -> float:
    return float(np.percentile(np.array(samples), 95))


def _measure(engine, per_level: int, parents, children, samples: int, label: str) -> list[dict]:
    rng = np.random.default_rng(11)
    up: dict[int, list[int]] = {}
    down: dict[int, list[int]] = {}
    for p, c in zip(parents.tolist(), children.tolist()):
        up.setdefault(c, []).append(p)
        down.setdefault(p, []).append(c)
    starts = {
        trace_store.BACKWARD: rng.integers(3 * per_level + 1, 4 * per_level + 1, size=samples).tolist(),
        trace_store.FORWARD: rng.integers(1, per_level + 1, size=samples).tolist(),
    }
    rows = []
    with engine.connect() as conn:
        codes = dict(
            conn.execute(
                text("SELECT id, code FROM lots WHERE id IN :ids").bindparams(bindparam("ids", expanding=True)),
                {"ids": starts[trace_store.BACKWARD] + starts[trace_store.FORWARD]},
            ).all()
        )
        for direction, adjacency in ((trace_store.BACKWARD, up), (trace_store.FORWARD, down)):
            query_s, full_s, bfs_s, sizes = [], [], [], []
            for root in starts[direction]:
                t0 = time.perf_counter()
                found = trace_store.reached_ids(conn, root, direction)
                query_s.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                trace_store.trace(conn, codes[root], direction)
                full_s.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                expected = _bfs(adjacency, root)
                bfs_s.append(time.perf_counter() - t0)
                if sorted(found) != sorted(expected):
                    raise AssertionError(f"{label} {direction} trace of {root} differs from the in-memory traversal")
                sizes.append(len(found))
            bfs_p95 = _p95(bfs_s) * 1000
            for what, times in (("lots reached", query_s), ("whole trace", full_s)):
                value = _p95(times) * 1000
                rows.append(
                    {
                        "name": f"{label}: {direction} trace p95, {what} (mean {np.mean(sizes):.0f} lots; "
                        f"{len(LEVELS) * per_level} lots, {parents.size} links)",
                        "value": value,
                        "unit": "ms",
                        "baseline": bfs_p95,
                        "baseline_unit": "ms in-memory BFS p95",
                        "ratio": value / bfs_p95,
                    }
                )
    return rows


def run(quick: bool = False) -> list[dict]:
    per_level = 2_500 if quick else 250_000
    samples = 20 if quick else 200
    parents, children = _graph(per_level)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "trace.db"
        _load_sqlite(path, per_level, parents, children)
        engine = open_store(str(path))
        rows += _measure(engine, per_level, parents, children, samples, "SQLite")
        engine.dispose()
    base = os.environ.get("SHOPFLOOR_TEST_PG")
    if base:
        name = f"shopfloor_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(resolve_url(base), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = resolve_url(base).rsplit("/", 1)[0] + f"/{name}"
        try:
            _load_pg(url, per_level, parents, children)
            engine = open_store(url)
            rows += _measure(engine, per_level, parents, children, samples, "PostgreSQL")
            engine.dispose()
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    return rows
