"""Two `shopfloor ingest` processes of one connector, as deploy/ runs them (one shared subscription, a buffer
each), against the real broker and PostgreSQL: by default each has a client id of its own (site, connector and
worker), so neither takes over the other's session and every part is counted once.  Given the same client id
by hand, they would take the session from each other for ever: the ingest refuses to go on (exit code 2)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from shopfloor.ingest.service import load_status
from shopfloor.model.plant import Plant
from shopfloor.store.db import open_store
from shopfloor.store.plant import save_plant
from shopfloor.store.schema import machine_events
from tests.conftest import _truncate_pg, require_service
from tests.connectors.test_mqtt_connector import Probe

pytestmark = [pytest.mark.pg, pytest.mark.mqtt]


def _plant(url: str, unique: str, **options) -> Plant:
    return Plant.from_dict({
        "site": {"code": "S", "timezone": "UTC"},
        "areas": [{"code": "A", "lines": [{"code": "L", "machines": [{
            "code": "M1", "connector": {"name": "line"},
            "tags": {"total_count": {"signal": "Total", "bits": 32}, "product": {"default": "P"}},
        }]}]}],
        "products": [{"code": "P", "ideal_cycle_s": 0.1}],
        "connectors": [{"name": "line", "type": "mqtt", "url": url, "host_id": f"h-{unique}", "share": "ingest",
                        "json_topics": [{"topic": f"{unique}/+/telemetry"}], **options}],
    })  # fmt: skip


def _start(db: str, buffer, log):
    cmd = [sys.executable, "-m", "shopfloor.cli", "ingest", "--db", db, "--buffer", str(buffer)]
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def _good(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(
            select(func.coalesce(func.sum(machine_events.c.quantity), 0)).where(machine_events.c.kind == "good")
        ).scalar_one()


def test_two_workers_of_one_connector_keep_their_own_sessions_and_count_each_part_once(pg_engine, tmp_path):
    url = require_service("SHOPFLOOR_TEST_MQTT", "MQTT broker")
    unique = f"w{os.getpid()}{int(time.time()) % 100000}"
    _truncate_pg(pg_engine)
    with pg_engine.begin() as conn:
        save_plant(conn, _plant(url, unique), "test")
    db = pg_engine.url.render_as_string(hide_password=False)
    logs = [open(tmp_path / f"w{i}.log", "wb") for i in (1, 2)]  # noqa: SIM115 - handed to the processes
    procs = [_start(db, tmp_path / f"buffer{i}", logs[i - 1]) for i in (1, 2)]
    publisher = Probe(url, f"{unique}/nothing")
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            status = load_status(pg_engine)
            if status and len(status["connectors"]) == 2 and all(c["connected"] for c in status["connectors"]):
                break
            time.sleep(0.5)
        else:
            raise AssertionError("the two workers did not both connect")
        t0 = datetime(2026, 3, 2, tzinfo=timezone.utc)
        topic = f"{unique}/M1/telemetry"
        publisher.publish(topic, json.dumps({"ts": t0.isoformat(), "values": {"Total": 1000}}))
        time.sleep(1.0)  # the baseline first
        for n in range(1, 201):
            publisher.publish(topic, json.dumps({"ts": (t0 + timedelta(seconds=n)).isoformat(),
                                                 "values": {"Total": 1000 + n}}))  # fmt: skip
        deadline = time.monotonic() + 30
        while _good(pg_engine) < 200 and time.monotonic() < deadline:
            time.sleep(0.3)
        time.sleep(6)  # a status save later: still both connected, neither taken over
        status = load_status(pg_engine)
        assert all(p.poll() is None for p in procs)
    finally:
        publisher.close()
        codes = []
        for p in procs:
            p.send_signal(signal.SIGTERM)
            codes.append(p.wait(30))
        for log in logs:
            log.close()
    assert _good(pg_engine) == 200
    assert codes == [0, 0]
    connectors = status["connectors"]
    assert len({c["worker"] for c in connectors}) == 2
    assert all(c["connected"] and "taken over" not in (c["last_error"] or "") for c in connectors), connectors
    for i in (1, 2):
        assert "Session taken over" not in (tmp_path / f"w{i}.log").read_text()


def test_two_processes_given_one_client_id_are_refused_with_exit_code_2(tmp_path):
    url = require_service("SHOPFLOOR_TEST_MQTT", "MQTT broker")
    unique = f"x{os.getpid()}{int(time.time()) % 100000}"
    db = str(tmp_path / "s.db")
    engine = open_store(db)
    with engine.begin() as conn:
        save_plant(conn, _plant(url, unique, client_id=f"fixed-{unique}"), "test")
    logs = [open(tmp_path / f"w{i}.log", "wb") for i in (1, 2)]  # noqa: SIM115 - handed to the processes
    procs = [_start(db, tmp_path / f"buffer{i}", logs[i - 1]) for i in (1, 2)]
    try:
        deadline = time.monotonic() + 60
        while all(p.poll() is None for p in procs) and time.monotonic() < deadline:
            time.sleep(0.2)
        ended = [p for p in procs if p.poll() is not None]
        assert ended, "neither process noticed the other taking its session"
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                p.wait(30)
        for log in logs:
            log.close()
    assert ended[0].returncode == 2
    text = "".join((tmp_path / f"w{i}.log").read_text() for i in (1, 2))
    assert f"another MQTT client uses the client id 'fixed-{unique}'" in text
