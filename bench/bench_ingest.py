"""End-to-end ingest: Sparkplug B DDATA batches from an edge node (born by the project's EdgeNode, its DDATA
written to the broker as ready MQTT packets), through the broker, the MQTT connector, the tag mapping and the
single writer into SQLite, in values per second; baseline: a raw bulk insert of the same
rows into the same table of a fresh store (the store's own connection settings), measured in the same run: the
faster of one executemany and INSERTs of 5,000 rows each (as the writer makes them).  Each figure is the best of
five runs, both sides (the machine is shared with the broker and the edge node).

Needs the MQTT broker (SHOPFLOOR_TEST_MQTT or mqtt://127.0.0.1:1883).  Process values are stored uncompressed
here, so stored rows equal values sent.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

from shopfloor.connectors.mqtt import MqttConnector
from shopfloor.ingest.writer import _ROWS_PER_INSERT as ROWS_PER_INSERT
from shopfloor.ingest.writer import IngestWriter, tune_gc_for_ingest
from shopfloor.model.plant import Plant
from shopfloor.store.db import _sqlite_pragmas, open_store
from shopfloor.store.plant import load_plant, save_plant
from shopfloor.store.schema import to_micros

PUBLISHER = """
import socket, sys, time
from shopfloor.connectors.mqtt import broker_address
from shopfloor.connectors.mqtt_client import connect_packet, disconnect_packet, publish_packet
from shopfloor.connectors.sparkplug.edge import EdgeNode
url, group, devices, metrics, rounds = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6])
host, port = broker_address(url)
edge = EdgeNode(host, port, group, "edge", {f"D{d:03d}": {f"v{m}": 0.0 for m in range(metrics)}
                                             for d in range(devices)})
edge.start()
# The DDATA messages are encoded before the clock starts, down to their MQTT PUBLISH packets, and written to the
# broker in one go on a connection of their own: what is measured is broker -> store, not how fast the edge
# node's own MQTT client (paho, some 40 us a message on this machine) gets them out.
base = int(time.time() * 1000)
with edge._lock:
    messages = [edge.session.data(f"D{d:03d}", {f"v{m}": float(r * 1000 + m) for m in range(metrics)}, ts_ms=base + r)
                for r in range(1, rounds + 1) for d in range(devices)]
packets = b"".join(publish_packet(topic, payload) for topic, payload, _ in messages)
sock = socket.create_connection((host, port))
sock.sendall(connect_packet(f"{group}-data", 60, clean_start=True))
connack = sock.recv(256)
assert connack[:1] == b"\x20" and connack[3] == 0, connack
print("born", flush=True)
sys.stdin.readline()
sock.sendall(packets)
sys.stdin.readline()
sock.sendall(disconnect_packet())
sock.close()
edge.stop()
"""


# (devices, metrics per DDATA message, rounds): 100,000 values each; the second shows how much of the cost is
# per message (MQTT framing, topic, sequence) rather than per value.
SHAPES = [(50, 20, 100), (10, 200, 50)]


def _plant(devices: int, metrics: int) -> Plant:
    machines = [
        {"code": f"D{d:03d}", "tags": {"process": [{"signal": f"v{m}", "name": f"v{m}"} for m in range(metrics)]}}
        for d in range(devices)
    ]
    return Plant.from_dict(
        {
            "site": {"code": "B", "timezone": "UTC"},
            "areas": [{"code": "A", "lines": [{"code": "L", "machines": machines}]}],
        }
    )


def _pipeline(url: str, tmp: Path, devices: int, metrics: int, rounds: int) -> float:
    """Seconds from the first DDATA sent to the last value committed."""
    total = devices * metrics * rounds
    group = f"bench-{uuid.uuid4().hex[:6]}"
    engine = open_store(str(tmp / f"{group}.db"))
    plant = _plant(devices, metrics)
    with engine.begin() as conn:
        save_plant(conn, plant, "bench")
        plant = load_plant(conn)

    async def pipeline() -> float:
        writer = IngestWriter(engine, plant, tmp / f"{group}-buffer")  # the connector's and writer's defaults
        await writer.start()
        conn = MqttConnector("bench", url, groups=[group], host_id=f"h-{group}", client_id=f"c-{group}")
        task = asyncio.create_task(conn.run(writer.emit_for_connector()))
        while not conn.status.connected:
            await asyncio.sleep(0.05)
        # The edge node publishes from its own process, as a real gateway would.
        publisher = subprocess.Popen(
            [sys.executable, "-c", PUBLISHER, url, group, str(devices), str(metrics), str(rounds)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert publisher.stdout is not None and publisher.stdin is not None
        publisher.stdout.readline()  # "born"
        while writer.stats.committed_signals < devices * metrics:  # the births
            await asyncio.sleep(0.05)
        start_rows = writer.stats.committed_measurements
        t0 = time.perf_counter()
        publisher.stdin.write("go\n")
        publisher.stdin.flush()
        deadline = time.monotonic() + 600
        while writer.stats.committed_measurements - start_rows < total and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        elapsed = time.perf_counter() - t0
        stored = writer.stats.committed_measurements - start_rows
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        publisher.stdin.close()
        publisher.wait(30)
        await writer.stop()
        if stored < total:
            raise AssertionError(f"only {stored} of {total} values were stored")
        return elapsed

    try:
        return asyncio.run(pipeline())
    finally:
        engine.dispose()


def _raw_insert(tmp: Path, devices: int, metrics: int, rounds: int, multirow: bool) -> float:
    """Seconds to insert the same rows into the same table of a fresh store with the store's own connection
    settings, one transaction per 50,000 rows: with one executemany, or with INSERTs of as many rows each as the
    writer puts in one."""
    path = tmp / f"raw-{uuid.uuid4().hex[:6]}.db"
    engine = open_store(str(path))
    with engine.begin() as c:
        save_plant(c, _plant(devices, metrics), "bench")
    engine.dispose()
    db = sqlite3.connect(str(path), isolation_level=None)
    _sqlite_pragmas(db, None)
    ids = dict(db.execute("SELECT code, id FROM machines"))
    now = to_micros(datetime.now(timezone.utc))
    rows = [
        (ids[f"D{d:03d}"], f"v{m}", now + r * 1000, float(r * 1000 + m), "good")
        for r in range(1, rounds + 1)
        for d in range(devices)
        for m in range(metrics)
    ]
    sql = "INSERT INTO measurements (machine_id, name, ts, value, quality) VALUES "
    t0 = time.perf_counter()
    for i in range(0, len(rows), 50_000):
        chunk = rows[i : i + 50_000]
        db.execute("BEGIN")
        if multirow:
            for j in range(0, len(chunk), ROWS_PER_INSERT):
                part = chunk[j : j + ROWS_PER_INSERT]
                db.execute(sql + ",".join(["(?,?,?,?,?)"] * len(part)), list(itertools.chain.from_iterable(part)))
        else:
            db.executemany(sql + "(?,?,?,?,?)", chunk)
        db.execute("COMMIT")
    elapsed = time.perf_counter() - t0
    db.close()
    return elapsed


def run(quick: bool = False) -> list[dict]:
    url = os.environ.get("SHOPFLOOR_TEST_MQTT", "mqtt://127.0.0.1:1883")
    tune_gc_for_ingest()  # as `shopfloor ingest` does
    shapes, repeat = ([(5, 20, 20)], 1) if quick else (SHAPES, 5)
    out = []
    for devices, metrics, rounds in shapes:
        total = devices * metrics * rounds
        with tempfile.TemporaryDirectory() as tmp:
            pipeline_s = min(_pipeline(url, Path(tmp), devices, metrics, rounds) for _ in range(repeat))
            raw_s = min(
                _raw_insert(Path(tmp), devices, metrics, rounds, multirow)
                for _ in range(repeat)
                for multirow in (False, True)
            )
        rate, raw_rate = total / pipeline_s, total / raw_s
        out.append(
            {
                "name": f"Sparkplug DDATA -> broker -> store, {total} values ({devices} devices x {metrics} metrics "
                "per DDATA)",
                "value": rate,
                "unit": "values/s",
                "baseline": raw_rate,
                "baseline_unit": "values/s raw bulk insert (executemany or 5,000-row INSERTs)",
                "ratio": rate / raw_rate,
            }
        )
    return out
