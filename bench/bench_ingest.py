"""End-to-end ingest: Sparkplug B DDATA batches from an edge node, through the broker, the MQTT connector, the
tag mapping and the single writer into SQLite, in values per second; baseline: a raw bulk insert of the same
rows into the same table of a fresh store, measured in the same run.

Needs the MQTT broker (SHOPFLOOR_TEST_MQTT or mqtt://127.0.0.1:1883).  Process values are stored uncompressed
here, so stored rows equal values sent.
"""

from __future__ import annotations

import asyncio
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
from shopfloor.ingest.writer import IngestWriter
from shopfloor.model.plant import Plant
from shopfloor.store.db import open_store
from shopfloor.store.plant import load_plant, save_plant
from shopfloor.store.schema import to_micros

PUBLISHER = """
import sys, time
from shopfloor.connectors.mqtt import broker_address
from shopfloor.connectors.sparkplug.edge import EdgeNode
url, group, devices, metrics, rounds = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6])
host, port = broker_address(url)
edge = EdgeNode(host, port, group, "edge", {f"D{d:03d}": {f"v{m}": 0.0 for m in range(metrics)}
                                             for d in range(devices)})
edge.start()
# The DDATA messages are encoded before the clock starts: what is measured is broker -> store.
base = int(time.time() * 1000)
with edge._lock:
    messages = [edge.session.data(f"D{d:03d}", {f"v{m}": float(r * 1000 + m) for m in range(metrics)}, ts_ms=base + r)
                for r in range(1, rounds + 1) for d in range(devices)]
print("born", flush=True)
sys.stdin.readline()
for topic, payload, _ in messages:
    edge.client.publish(topic, payload, qos=0)
sys.stdin.readline()
edge.stop()
"""


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


def run(quick: bool = False) -> list[dict]:
    url = os.environ.get("SHOPFLOOR_TEST_MQTT", "mqtt://127.0.0.1:1883")
    devices, metrics, rounds = (5, 20, 20) if quick else (50, 20, 100)
    total = devices * metrics * rounds
    group = f"bench-{uuid.uuid4().hex[:6]}"
    with tempfile.TemporaryDirectory() as tmp:
        engine = open_store(str(Path(tmp) / "ingest.db"))
        plant = _plant(devices, metrics)
        with engine.begin() as conn:
            save_plant(conn, plant, "bench")
            plant = load_plant(conn)

        async def pipeline() -> float:
            writer = IngestWriter(engine, plant, Path(tmp) / "buffer", max_rows=50_000)
            await writer.start()
            conn = MqttConnector(
                "bench", url, groups=[group], host_id=f"h-{group}", client_id=f"c-{group}", max_batch=20_000
            )
            task = asyncio.create_task(conn.run(writer.submit))
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
                await asyncio.sleep(0.02)
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

        pipeline_s = asyncio.run(pipeline())
        engine.dispose()

        # Baseline: the same rows into the same table of a fresh store, one executemany per 50,000 rows.
        fresh = open_store(str(Path(tmp) / "raw.db"))
        with fresh.begin() as c:
            save_plant(c, plant, "bench")
        fresh.dispose()
        db = sqlite3.connect(str(Path(tmp) / "raw.db"))
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        ids = dict(db.execute("SELECT code, id FROM machines"))
        now = datetime.now(timezone.utc)
        rows = [
            (ids[f"D{d:03d}"], f"v{m}", to_micros(now) + r * 1000, float(r * 1000 + m), "good")
            for r in range(1, rounds + 1)
            for d in range(devices)
            for m in range(metrics)
        ]
        t0 = time.perf_counter()
        for i in range(0, len(rows), 50_000):
            db.executemany(
                "INSERT INTO measurements (machine_id, name, ts, value, quality) VALUES (?,?,?,?,?)",
                rows[i : i + 50_000],
            )
            db.commit()
        raw_s = time.perf_counter() - t0
        db.close()
    rate, raw_rate = total / pipeline_s, total / raw_s
    return [
        {
            "name": f"Sparkplug DDATA -> broker -> store, {total} values ({devices} devices x {metrics} metrics)",
            "value": rate,
            "unit": "values/s",
            "baseline": raw_rate,
            "baseline_unit": "values/s raw bulk insert",
            "ratio": rate / raw_rate,
        }
    ]
