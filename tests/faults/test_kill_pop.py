"""SIGKILL of the web server while terminals report: every entry the terminal saw acknowledged is stored, the
ones it did not are sent again (as the terminal's queue does) and stored once; nothing twice.

Sent: 240 entries of good parts (quantities 1..5) for NC-02 from one terminal; the server is killed with SIGKILL
after about 80 and started again on the same store."""

from __future__ import annotations

import os
import signal
import uuid
from datetime import datetime, timezone

import httpx
from sqlalchemy import func, select

from shopfloor.actions.demo import sample_plant
from shopfloor.store import accounts
from shopfloor.store.db import open_store
from shopfloor.store.plant import save_plant
from shopfloor.store.schema import machine_events
from tests.serving import free_port, serve


def test_entries_survive_a_sigkill_of_the_server(tmp_path):
    db = str(tmp_path / "pop.db")
    engine = open_store(db)
    with engine.begin() as conn:
        save_plant(conn, sample_plant(), "t")
        user = accounts.create_user(conn, "op", "operator", password="operator-password-1")
        token = accounts.create_api_token(conn, user, "terminal")
    port = free_port()
    entries = [
        {"key": uuid.uuid4().hex, "ts": datetime.now(timezone.utc).isoformat(), "machine": "NC-02", "action": "good",
         "quantity": 1 + i % 5}
        for i in range(240)
    ]  # fmt: skip
    acknowledged: set[str] = set()
    server = serve(db, port)
    headers = {"Authorization": f"Bearer {token}"}
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=5) as terminal:
            for i, entry in enumerate(entries):
                if i == 80:
                    os.kill(server.pid, signal.SIGKILL)  # mid-stream, without warning
                    server.wait(10)
                try:
                    if terminal.post("/api/v1/pop/entries", json=entry).status_code in (200, 201):
                        acknowledged.add(entry["key"])
                except httpx.HTTPError:
                    pass  # no answer: the terminal keeps the entry and sends it again later
            assert 70 <= len(acknowledged) <= 81
            server = serve(db, port)
            for entry in entries:  # the queue resends what was not acknowledged, and a few that were
                if entry["key"] not in acknowledged or entry is entries[0]:
                    assert terminal.post("/api/v1/pop/entries", json=entry).status_code in (200, 201)
    finally:
        server.kill()
        server.wait(10)
    with engine.connect() as conn:
        stored = conn.execute(
            select(func.sum(machine_events.c.quantity)).where(machine_events.c.kind == "good")
        ).scalar()
    engine.dispose()
    assert stored == sum(e["quantity"] for e in entries)
