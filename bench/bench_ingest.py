"""End-to-end ingest: Sparkplug B DDATA batches from an edge node (born by the project's EdgeNode, its DDATA
written to the broker as ready MQTT packets), through the broker, the MQTT connector, the tag mapping and the
single writer into SQLite and into PostgreSQL, in values per second.  SQLite's baseline: a raw bulk insert of the same
rows into the same table of a fresh store (the store's own connection settings), measured in the same run: the
faster of one executemany and INSERTs of 5,000 rows each (as the writer makes them).  Each figure is the best of
five runs, both sides (the machine is shared with the broker and the edge node).  PostgreSQL's baseline is psycopg's
COPY in binary format of the same rows into a fresh store (the fastest way in), medians of alternated runs, with the
CPU time of the benchmark's process per value on each side.

The MQTT stack: the same pipeline is run with the connector's MQTT connection made by a general library instead
of the project's own client (``mqtt_client``): gmqtt (asyncio) and aiomqtt (paho-mqtt on asyncio), each handing
every received message to the same connector, which decodes and commits it exactly as with its own client.  Those
rows' baseline is the own client's figure of the same run, so their ratio says how much of the pipeline's rate a
library would leave.  (Neither library can acknowledge a QoS 1 message after its commit the way the connector
does: aiomqtt acknowledges on receipt; gmqtt only from one task per message.  The rows use QoS 0, as the
benchmark's DDATA are.)

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
from datetime import datetime, timedelta, timezone
from pathlib import Path

import aiomqtt
import gmqtt
import psycopg

from bench.stores import pg_database, pg_server
from shopfloor.connectors.mqtt import MqttConnector, broker_address
from shopfloor.connectors.mqtt_client import Message
from shopfloor.ingest.writer import _ROWS_PER_INSERT as ROWS_PER_INSERT
from shopfloor.ingest.writer import IngestWriter, tune_gc_for_ingest
from shopfloor.model.plant import Plant
from shopfloor.store.db import _sqlite_pragmas, open_store
from shopfloor.store.plant import load_plant, save_plant
from shopfloor.store.schema import to_micros

COPY_COLUMNS = "(machine_id, name, ts, value, quality)"
ROOT = str(Path(__file__).resolve().parent.parent)  # the checkout that holds bench/
PUBLISHER = """
import socket, sys, time
from bench.stores import pg_database, pg_server
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
# node's own MQTT connection (some 60-90 us a message on this machine, besides encoding it) gets them out.
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


class GmqttConnector(MqttConnector):
    """The connector with its MQTT connection made by gmqtt: every message goes to the connector's inbox."""

    async def _keep_connected(self) -> None:
        host, port = broker_address(f"mqtt://{self.broker.host}:{self.broker.port}")
        subscribed = asyncio.Event()
        client = gmqtt.Client(self.client_id)

        def on_message(_client, topic, payload, qos, properties):
            self._on_message(Message(topic, payload, qos, bool(properties.get("retain")), 0))
            return 0

        client.on_message = on_message
        client.on_subscribe = lambda *args: subscribed.set()
        await client.connect(host, port, keepalive=60)
        for topic, qos in self.subscriptions():
            subscribed.clear()
            client.subscribe(topic, qos=qos)
            await subscribed.wait()
        self.status.connected = True
        self._post("ready", [])
        try:
            await asyncio.Event().wait()
        finally:
            await client.disconnect()


class AiomqttConnector(MqttConnector):
    """The connector with its MQTT connection made by aiomqtt (paho-mqtt on asyncio)."""

    async def _keep_connected(self) -> None:
        async with aiomqtt.Client(
            self.broker.host, self.broker.port, identifier=self.client_id, protocol=aiomqtt.ProtocolVersion.V5
        ) as client:
            for topic, qos in self.subscriptions():
                await client.subscribe(topic, qos=qos)
            self.status.connected = True
            self._post("ready", [])
            async for m in client.messages:
                self._on_message(Message(str(m.topic), m.payload, m.qos, m.retain, m.mid))  # type: ignore[arg-type]


CLIENTS = {"own client": MqttConnector, "gmqtt 0.8": GmqttConnector, "aiomqtt 2.5 (paho)": AiomqttConnector}


def _pipeline(
    url: str,
    tmp: Path,
    devices: int,
    metrics: int,
    rounds: int,
    connector: type[MqttConnector] = MqttConnector,
    store: str | None = None,
) -> tuple[float, float]:
    """Seconds from the first DDATA sent to the last value committed, and the CPU seconds this process spent
    meanwhile (decoding, mapping, writing; the database server's own work is not in it).  ``store``: a
    PostgreSQL URL, else a new SQLite file."""
    total = devices * metrics * rounds
    group = f"bench-{uuid.uuid4().hex[:6]}"
    engine = open_store(store or str(tmp / f"{group}.db"))
    plant = _plant(devices, metrics)
    with engine.begin() as conn:
        save_plant(conn, plant, "bench")
        plant = load_plant(conn)

    async def pipeline() -> float:
        writer = IngestWriter(engine, plant, tmp / f"{group}-buffer")  # the connector's and writer's defaults
        await writer.start()
        conn = connector("bench", url, groups=[group], host_id=f"h-{group}", client_id=f"c-{group}")
        task = asyncio.create_task(conn.run(writer.emit_for_connector()))
        while not conn.status.connected:
            await asyncio.sleep(0.05)
        # The edge node publishes from its own process, as a real gateway would.
        publisher = subprocess.Popen(
            [sys.executable, "-c", PUBLISHER, url, group, str(devices), str(metrics), str(rounds)],
            # it imports bench/ and shopfloor from the checkout, wherever this was started from
            env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")]))},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert publisher.stdout is not None and publisher.stdin is not None
        publisher.stdout.readline()  # "born"
        while writer.stats.committed_signals < devices * metrics:  # the births
            await asyncio.sleep(0.05)
        start_rows = writer.stats.committed_measurements
        t0, c0 = time.perf_counter(), time.process_time()
        publisher.stdin.write("go\n")
        publisher.stdin.flush()
        deadline = time.monotonic() + 600
        while writer.stats.committed_measurements - start_rows < total and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
        stored = writer.stats.committed_measurements - start_rows
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        publisher.stdin.close()
        publisher.wait(30)
        await writer.stop()
        if stored < total:
            raise AssertionError(f"only {stored} of {total} values were stored")
        return elapsed, cpu

    try:
        return asyncio.run(pipeline())
    finally:
        engine.dispose()


def _rows(ids: dict[str, int], devices: int, metrics: int, rounds: int, stamp) -> list[tuple]:
    now = datetime.now(timezone.utc)
    return [
        (ids[f"D{d:03d}"], f"v{m}", stamp(now + timedelta(milliseconds=r)), float(r * 1000 + m), "good")
        for r in range(1, rounds + 1)
        for d in range(devices)
        for m in range(metrics)
    ]


def _pg_copy(url: str, devices: int, metrics: int, rounds: int) -> tuple[float, float]:
    """Seconds (and CPU seconds of this process) to COPY the same rows into the measurements of a fresh
    PostgreSQL store with psycopg, in binary format, one transaction per 50,000 rows."""
    engine = open_store(url)
    with engine.begin() as c:
        save_plant(c, _plant(devices, metrics), "bench")
    engine.dispose()
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as db:
        ids = dict(db.execute("SELECT code, id FROM machines").fetchall())
        rows = _rows(ids, devices, metrics, rounds, lambda ts: ts)
        db.commit()
        t0, c0 = time.perf_counter(), time.process_time()
        for i in range(0, len(rows), 50_000):
            with db.transaction(), db.cursor() as cur:
                with cur.copy(f"COPY measurements {COPY_COLUMNS} FROM STDIN (FORMAT BINARY)") as cp:
                    cp.set_types(["int4", "text", "timestamptz", "float8", "text"])
                    for row in rows[i : i + 50_000]:
                        cp.write_row(row)
        return time.perf_counter() - t0, time.process_time() - c0


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
    rows = _rows(ids, devices, metrics, rounds, to_micros)
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
        shape = f"{total} values ({devices} devices x {metrics} metrics per DDATA)"
        with tempfile.TemporaryDirectory() as tmp:
            pipeline_s = min(_pipeline(url, Path(tmp), devices, metrics, rounds)[0] for _ in range(repeat))
            raw_s = min(
                _raw_insert(Path(tmp), devices, metrics, rounds, multirow)
                for _ in range(repeat)
                for multirow in (False, True)
            )
        rate, raw_rate = total / pipeline_s, total / raw_s
        out.append(
            {
                "name": f"SQLite: Sparkplug DDATA -> broker -> store, {shape}",
                "value": rate,
                "unit": "values/s",
                "baseline": raw_rate,
                "baseline_unit": "values/s raw bulk insert (executemany or 5,000-row INSERTs)",
                "ratio": rate / raw_rate,
            }
        )
        if pg_server():
            out += _postgresql(url, devices, metrics, rounds, repeat, shape)
    out.extend(_mqtt_stacks(url, quick))
    return out


def _postgresql(url: str, devices: int, metrics: int, rounds: int, repeat: int, shape: str) -> list[dict]:
    """The pipeline into PostgreSQL against psycopg's binary COPY of the same rows, runs alternated, each in a
    new database; medians of ``repeat`` runs each.  Also the CPU of this process per value on each side."""
    total = devices * metrics * rounds
    base = pg_server()
    assert base is not None
    pipe, copy = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeat):
            with pg_database(base) as db:
                pipe.append(_pipeline(url, Path(tmp), devices, metrics, rounds, store=db))
            with pg_database(base) as db:
                copy.append(_pg_copy(db, devices, metrics, rounds))
    (pipe_s, pipe_cpu), (copy_s, copy_cpu) = _median_run(pipe), _median_run(copy)
    return [
        {
            "name": f"PostgreSQL: Sparkplug DDATA -> broker -> store, {shape}",
            "value": total / pipe_s,
            "unit": "values/s",
            "baseline": total / copy_s,
            "baseline_unit": "values/s psycopg binary COPY of the same rows",
            "ratio": copy_s / pipe_s,
            "cpu_us_per_value": pipe_cpu / total * 1e6,
            "baseline_cpu_us_per_value": copy_cpu / total * 1e6,
        }
    ]


def _median_run(runs: list[tuple[float, float]]) -> tuple[float, float]:
    """The run of median duration (with its CPU time)."""
    return sorted(runs)[len(runs) // 2]


def _mqtt_stacks(url: str, quick: bool) -> list[dict]:
    """The first shape through each MQTT stack, runs alternated (best of three each)."""
    devices, metrics, rounds = (5, 20, 20) if quick else SHAPES[0]
    total = devices * metrics * rounds
    best = {name: float("inf") for name in CLIENTS}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(1 if quick else 3):
            for name, connector in CLIENTS.items():
                best[name] = min(best[name], _pipeline(url, Path(tmp), devices, metrics, rounds, connector)[0])
    own = total / best["own client"]
    return [
        {
            "name": f"the same pipeline, MQTT connection by {name} ({devices} devices x {metrics} metrics per DDATA)",
            "value": total / best[name],
            "unit": "values/s",
            "baseline": own,
            "baseline_unit": "values/s with the own client (mqtt_client)",
            "ratio": total / best[name] / own,
        }
        for name in CLIENTS
        if name != "own client"
    ]
