"""Running past one process: two web workers on one PostgreSQL store, each its own process.  A terminal entry
stored through worker A reaches a board open on worker B (LISTEN/NOTIFY), and the count is stored once."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import datetime, timezone

import httpx
import pytest
from sqlalchemy import func, select, text

from shopfloor.actions.demo import sample_plant
from shopfloor.store import accounts
from shopfloor.store.plant import save_plant
from shopfloor.store.schema import machine_events
from tests.conftest import _truncate_pg
from tests.serving import free_port, serve

pytestmark = pytest.mark.pg
PASSWORD = "worker-password-1"


def wait_until_listening(engine, timeout_s: float = 15.0) -> None:
    """Until a connection of this database listens on the live-update channel (as PostgreSQL itself reports)."""
    deadline = time.monotonic() + timeout_s
    query = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND query = 'LISTEN shopfloor_machines'"
    )
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            if conn.execute(query).scalar():
                return
    raise AssertionError("no worker listens for live updates")


def test_a_board_on_one_worker_sees_an_entry_made_through_another(pg_engine, pg_url):
    _truncate_pg(pg_engine)
    with pg_engine.begin() as conn:
        save_plant(conn, sample_plant(), "test")
        accounts.create_user(conn, "sup", "supervisor", password=PASSWORD)
    ports = (free_port(), free_port())
    workers = [serve(pg_url, p) for p in ports]
    try:
        seen: list[str] = []
        connected = threading.Event()

        def watch() -> None:
            with httpx.Client(base_url=f"http://127.0.0.1:{ports[1]}", timeout=20) as board:
                board.post("/login", data={"username": "sup", "password": PASSWORD})
                with board.stream("GET", "/board/stream") as stream:
                    for line in stream.iter_lines():
                        connected.set()
                        seen.append(line)
                        if line.startswith("data:") and "tile-NC-01" in line:
                            return

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        assert connected.wait(15)
        wait_until_listening(pg_engine)  # the board's worker listens once its first board has subscribed
        with httpx.Client(base_url=f"http://127.0.0.1:{ports[0]}", timeout=20) as terminal:
            r = terminal.post("/api/v1/auth/login", json={"username": "sup", "password": PASSWORD})
            terminal.headers["X-CSRF-Token"] = r.json()["csrf_token"]
            entry = {"key": uuid.uuid4().hex, "ts": datetime.now(timezone.utc).isoformat(), "machine": "NC-01",
                     "action": "good", "quantity": 3}  # fmt: skip
            for _ in range(2):  # sent twice: stored once
                assert terminal.post("/api/v1/pop/entries", json=entry).status_code in (200, 201)
        watcher.join(timeout=15)
        assert any("event: tile-NC-01" in line for line in seen), seen[-5:]
        with pg_engine.connect() as conn:
            stored = conn.execute(
                select(func.sum(machine_events.c.quantity)).where(machine_events.c.kind == "good")
            ).scalar()
        assert stored == 3
    finally:
        for w in workers:
            w.terminate()
            w.wait(10)
