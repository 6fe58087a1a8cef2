"""The real parts for fault tests, each private to the test: a PostgreSQL cluster and a Mosquitto broker on free
loopback ports in a temporary folder (stopped and started by the test, never the shared servers), the real
`shopfloor ingest` process, and a Sparkplug edge node that publishes numbered values and notes which ones the
broker acknowledged.  ``count`` compares what was acknowledged with what the store holds.

Each value is one DDATA of device D1 (QoS 1) with two metrics: ``Index`` (a Double, the value's number, stored as
a process value at the DDATA's own time) and ``Counter`` (an Int64 part counter, +1 a message, counted as good
parts).  A value is stored when its Index is in the store at its own time.  The counter starts at 0 in the first
birth the ingest sees, and the stream ends with one more value sent until acknowledged: the good parts counted
must then be exactly the counter's last value (fewer: units lost; more: units counted twice).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import create_engine, func, select, text

from shopfloor.connectors.sparkplug.edge import EdgeNode, Sent
from shopfloor.model.plant import Plant
from shopfloor.store.db import open_store
from shopfloor.store.plant import save_plant
from shopfloor.store.schema import machine_events, machines, measurements

GROUP, EDGE, DEVICE = "faults", "edge1", "D1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pg_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return found[-1].parent if found else None


def _as_owner(cmd: list[str], owner: str | None) -> list[str]:
    return ["runuser", "-u", owner, "--", *cmd] if owner else cmd


class PrivatePostgres:
    """A PostgreSQL cluster of its own (initdb in a temporary folder, trust authentication, a free port)."""

    def __init__(self, root: Path):
        bindir = _pg_bin()
        if bindir is None:
            raise RuntimeError("PostgreSQL server binaries not found under /usr/lib/postgresql")
        self.bin = bindir
        self.dir = root / "pg"
        self.port = free_port()
        # The server refuses to run as root: as root, the cluster belongs to the postgres user.
        self.owner = "postgres" if os.geteuid() == 0 else None
        self.dir.mkdir(parents=True)
        if self.owner:
            shutil.chown(root, self.owner)
            shutil.chown(self.dir, self.owner)
        subprocess.run(
            _as_owner([str(bindir / "initdb"), "-D", str(self.dir / "data"), "-A", "trust", "-U", "postgres",
                       "--no-sync", "-E", "UTF8"], self.owner),
            check=True, capture_output=True,
        )  # fmt: skip
        self.start()
        admin = create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres",
                              isolation_level="AUTOCOMMIT")  # fmt: skip
        with admin.connect() as conn:
            conn.execute(text("CREATE DATABASE shopfloor"))
        admin.dispose()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/shopfloor"

    def _ctl(self, *args: str) -> None:
        cmd = [str(self.bin / "pg_ctl"), "-D", str(self.dir / "data"), "-l", str(self.dir / "log"), *args]
        subprocess.run(_as_owner(cmd, self.owner), check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1"
        self._ctl("-w", "-o", options, "start")

    def stop(self) -> None:
        self._ctl("-w", "-m", "fast", "stop")

    def close(self) -> None:
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass


class PrivateBroker:
    """A Mosquitto broker of its own: persistence on (queued QoS 1 messages survive a clean stop), no limit on
    what it queues for a client that is away."""

    def __init__(self, root: Path):
        self.dir = root / "mosquitto"
        self.dir.mkdir()
        self.port = free_port()
        self.url = f"mqtt://127.0.0.1:{self.port}"
        user = "user root\n" if os.geteuid() == 0 else ""
        (self.dir / "mosquitto.conf").write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
            f"persistence_location {self.dir}/\nmax_queued_messages 0\nautosave_interval 5\n{user}"
        )
        self.proc: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        log = open(self.dir / "log", "ab")  # noqa: SIM115 - the broker's own output, kept for a failing test
        self.proc = subprocess.Popen(["mosquitto", "-c", str(self.dir / "mosquitto.conf")], stdout=log, stderr=log)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("the private broker did not start")

    def stop(self) -> None:
        """A clean stop (SIGTERM): the broker writes its persistence file first."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(20)
            self.proc = None

    def close(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)


def plant(broker_url: str) -> Plant:
    return Plant.from_dict(
        {
            "site": {"code": "F", "timezone": "UTC"},
            "areas": [{"code": "A", "lines": [{"code": "L", "machines": [{
                "code": "M1",
                "connector": {"name": "line", "device": DEVICE},
                "tags": {
                    "total_count": {"signal": "Counter", "bits": 64},
                    "product": {"default": "P"},
                    "process": [{"signal": "Index", "name": "index"}],
                },
            }]}]}],
            "products": [{"code": "P", "ideal_cycle_s": 0.001}],
            "connectors": [{"name": "line", "type": "mqtt", "url": broker_url, "groups": [GROUP], "host_id": "host"}],
        }
    )  # fmt: skip


class Ingest:
    """The `shopfloor ingest` process on a store, restarted, killed or stopped by the test."""

    def __init__(self, db: str, buffer: Path, log: Path):
        self.db, self.buffer, self.log = db, buffer, log
        self.proc: subprocess.Popen | None = None
        self.exit_codes: list[int] = []

    def start(self) -> None:
        cmd = [sys.executable, "-m", "shopfloor.cli", "ingest", "--db", self.db, "--buffer", str(self.buffer),
               "--worker", "w1"]  # fmt: skip
        out = open(self.log, "ab")  # noqa: SIM115 - handed to the process
        self.proc = subprocess.Popen(cmd, stdout=out, stderr=out, env={**os.environ, "PYTHONUNBUFFERED": "1"})

    def signal(self, signum: int, timeout: float = 60) -> int:
        assert self.proc is not None
        self.proc.send_signal(signum)
        code = self.proc.wait(timeout)
        self.exit_codes.append(code)
        self.proc = None
        return code

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


class Publisher:
    """An edge node of the project's own (QoS 1) publishing value after value, noting each acknowledgement."""

    def __init__(self, broker: PrivateBroker):
        host, port = "127.0.0.1", broker.port
        self.edge = EdgeNode(host, port, GROUP, EDGE, {DEVICE: {"Index": 0.0, "Counter": 0}}, qos=1,
                             client_id="faults-edge", keepalive_s=5)  # fmt: skip
        self.infos: dict[int, Sent] = {}  # index -> its message (acknowledged once the broker's PUBACK came)
        self.sent = 0
        self.counter = 0
        self.next = 1
        self.times: dict[int, int] = {}  # index -> its own time (ms)
        self._last_ms = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, rate: float = 100.0) -> None:
        self.edge.start(timeout_s=20)
        self._thread = threading.Thread(target=self._run, args=(rate,), daemon=True)
        self._thread.start()

    def _publish(self) -> Sent | None:
        """The next value, at a time of its own; its message, or None when the edge node is not born."""
        i = self.next
        self.next += 1
        self.counter += 1
        ts = max(int(time.time() * 1000), self._last_ms + 1)
        self._last_ms = ts
        sent = self.edge.send(DEVICE, {"Index": float(i), "Counter": self.counter}, ts_ms=ts)
        if sent is None:
            return None
        self.times[i] = ts
        self.infos[i] = sent
        self.sent += 1
        return sent

    def _run(self, rate: float) -> None:
        while not self._stop.is_set():
            self._publish()
            time.sleep(1.0 / rate)

    def stop(self, timeout: float = 60) -> None:
        """Stop the stream, then send one last value until the broker acknowledges it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            sent = self._publish()
            if sent is not None:
                try:
                    sent.done.result(5)
                except Exception:  # noqa: BLE001 - the connection ended first, or no answer yet: another one
                    pass
                if sent.acknowledged:
                    break
            time.sleep(0.5)
        else:
            raise AssertionError("the last value was never acknowledged by the broker")
        self.edge.stop()

    def acknowledged(self) -> set[int]:
        return {i for i, sent in self.infos.items() if sent.acknowledged}


@dataclass
class Count:
    scenario: str
    sent: int
    acknowledged: int
    stored: int
    lost: int
    duplicated: int
    units_made: int
    units_counted: int
    exit_codes: list[int]
    missing: list[int]  # the first acknowledged values not stored, to look for in the logs

    def row(self) -> str:
        return (f"| {self.scenario} | {self.sent} | {self.acknowledged} | {self.stored} | {self.lost} | "
                f"{self.duplicated} | {self.units_made} | {self.units_counted} |")  # fmt: skip


def stored_values(store_url: str, publisher: Publisher) -> tuple[set[int], int]:
    """The values stored at their own time, and the good parts counted."""
    engine = open_store(store_url)
    try:
        with engine.connect() as conn:
            mid = conn.execute(select(machines.c.id).where(machines.c.code == "M1")).scalar_one()
            rows = conn.execute(
                select(measurements.c.value, measurements.c.ts).where(
                    measurements.c.machine_id == mid, measurements.c.name == "index"
                )
            ).all()
            good = conn.execute(
                select(func.coalesce(func.sum(machine_events.c.quantity), 0)).where(
                    machine_events.c.machine_id == mid, machine_events.c.kind == "good"
                )
            ).scalar_one()
    finally:
        engine.dispose()
    # A birth repeats the last value at the birth's time: only a value at its own time is that value stored.
    stored = {
        int(value)
        for value, ts in rows
        if int(value) in publisher.times
        and ts == datetime.fromtimestamp(publisher.times[int(value)] / 1000, tz=timezone.utc)
    }
    return stored, int(good)


def count(store_url: str, scenario: str, publisher: Publisher, exit_codes: list[int]) -> Count:
    stored, good = stored_values(store_url, publisher)
    acked = publisher.acknowledged()
    made = publisher.counter
    return Count(
        scenario,
        publisher.sent,
        len(acked),
        len(stored),
        len(acked - stored) + max(0, made - good),
        max(0, good - made),
        made,
        good,
        exit_codes,
        sorted(acked - stored)[:10],
    )


class Rig:
    """Everything one scenario needs, started; ``close`` stops all of it."""

    def __init__(self, buffer_dir: Path | None = None):
        self.root = Path(tempfile.mkdtemp(prefix="shopfloor-faults-"))
        self.pg = PrivatePostgres(self.root)
        self.broker = PrivateBroker(self.root)
        engine = open_store(self.pg.url)
        with engine.begin() as conn:
            save_plant(conn, plant(self.broker.url), "faults")
        engine.dispose()
        self.buffer = buffer_dir or self.root / "buffer"
        self.ingest = Ingest(self.pg.url, self.buffer, self.root / "ingest.log")
        self.publisher = Publisher(self.broker)

    def wait_online(self, timeout: float = 60) -> None:
        """Until the ingest's host application says online (it has subscribed)."""
        import paho.mqtt.client as mqtt

        seen = threading.Event()
        probe = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        probe.on_message = lambda _c, _u, msg: b'"online": true' in msg.payload and seen.set()
        probe.connect("127.0.0.1", self.broker.port)
        probe.subscribe("spBv1.0/STATE/host", qos=1)
        probe.loop_start()
        try:
            if not seen.wait(timeout):
                raise AssertionError(f"shopfloor ingest did not come online; its log:\n{self.log_tail()}")
        finally:
            probe.loop_stop()
            probe.disconnect()

    def left_unacknowledged(self, client_id: str = "shopfloor-F-line-w1", wait_s: float = 2.0) -> int:
        """After the ingest stopped: the edge node's messages the broker still keeps for the ingest's session
        (delivered to whoever takes the session up), i.e. received but never acknowledged."""
        import paho.mqtt.client as mqtt

        got: list[str] = []
        present: list[bool] = []
        probe = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        probe.on_message = lambda _c, _u, msg: got.append(msg.topic)
        probe.on_connect = lambda _c, _u, flags, _rc, _p=None: present.append(flags.session_present)
        probe.connect("127.0.0.1", self.broker.port, clean_start=False)
        probe.loop_start()
        time.sleep(wait_s)
        probe.loop_stop()
        probe.disconnect()
        assert present == [True], f"no session of {client_id} at the broker to look into"
        return len([t for t in got if t.startswith(f"spBv1.0/{GROUP}/")])

    def settle(self, timeout: float = 120) -> None:
        """Until every acknowledged value is stored and every unit counted (or the time is up)."""
        deadline = time.monotonic() + timeout
        acked = self.publisher.acknowledged()
        while time.monotonic() < deadline:
            try:
                stored, good = stored_values(self.pg.url, self.publisher)
            except Exception:  # noqa: BLE001 - the store may be coming back
                stored, good = set(), 0
            if acked <= stored and good >= self.publisher.counter:
                return
            time.sleep(0.5)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.ingest.log.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""

    def close(self) -> None:
        keep = os.environ.get("SHOPFLOOR_FAULTS_KEEP")
        if keep:  # the logs of the run, for a failing scenario
            target = Path(keep) / self.root.name
            for log in [p for p in (*self.root.rglob("log"), *self.root.rglob("*.log")) if p.is_file()]:
                (target / log.parent.relative_to(self.root)).mkdir(parents=True, exist_ok=True)
                shutil.copy(log, target / log.relative_to(self.root))
        self.ingest.close()
        try:
            self.publisher.edge.stop(clean=False)
        except Exception:  # noqa: BLE001 - already stopped
            pass
        self.broker.close()
        self.pg.close()
        shutil.rmtree(self.root, ignore_errors=True)
