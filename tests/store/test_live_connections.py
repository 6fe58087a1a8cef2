"""Live updates between processes on PostgreSQL (LISTEN/NOTIFY): a process that moves to another store closes its
connections to the one it left, so switching stores (a test suite, the hub beside a factory) does not pile up
listening connections until the server refuses more clients."""

from __future__ import annotations

import time

import psycopg
import pytest

from shopfloor.live import Broker

pytestmark = pytest.mark.pg


def _connections(url: str, query: str) -> int:
    plain = url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(plain, autocommit=True) as conn:
        return conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE %s", (query,)
        ).fetchone()[0]


def _until(check, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


def test_a_store_left_behind_keeps_no_listening_or_sending_connection(pg_url):
    broker = Broker()
    before, sending = _connections(pg_url, "LISTEN%"), _connections(pg_url, "SELECT pg_notify%")
    for n in range(5):
        # the same store under two spellings of its address: each switch is a new fan-out
        url = pg_url if n % 2 == 0 else pg_url.replace("postgresql://", "postgresql+psycopg://", 1) + "?"
        broker.use_postgres(url)
        assert broker.in_step() or _until(broker.in_step)
        broker.publish_event("machine", ["M1"])
    assert _until(lambda: _connections(pg_url, "LISTEN%") == before + 1), _connections(pg_url, "LISTEN%")
    broker.use_postgres(None)
    assert _until(lambda: _connections(pg_url, "LISTEN%") == before)
    assert _until(lambda: _connections(pg_url, "SELECT pg_notify%") == sending)
