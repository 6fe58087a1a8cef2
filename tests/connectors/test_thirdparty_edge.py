"""An edge node the project did not write: pysparkplug (a Sparkplug B library from the package registry, installed
for the tests in .venv-thirdparty by ./run, see tests/thirdparty-requirements.txt) publishes a machine's state,
part counter and temperature through the real broker; the connector, the mapping and the writer store them.

pysparkplug sends its births and data at QoS 0, metrics by name with their datatypes, and here every metric of
every DDATA with one fixed timestamp (as Eclipse Tahu's example edge node does): each increment and each state
change must still be counted once, the UInt64 counter as an integer."""

from __future__ import annotations

import asyncio
import os
import subprocess

import pytest
from sqlalchemy import func, select

from shopfloor.connectors.mqtt import broker_address
from shopfloor.ingest.writer import IngestWriter
from shopfloor.model.plant import Plant
from shopfloor.store.db import open_store
from shopfloor.store.plant import load_plant, save_plant
from shopfloor.store.schema import machine_events, measurements
from tests.conftest import REPO
from tests.connectors.conftest import mqtt_url as mqtt_url  # noqa: F401,PLC0414 - fixture
from tests.connectors.conftest import unique as unique  # noqa: F401,PLC0414 - fixture
from tests.connectors.test_mqtt_connector import connector, started, stopped
from tests.connectors.waiting import run, until

pytestmark = pytest.mark.mqtt
THIRDPARTY_PYTHON = REPO / ".venv-thirdparty" / "bin" / "python"
N = 300

EDGE = """
import sys, time
import pysparkplug as spb

host, port, group, edge_id, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
fixed = 1_900_000_000_000  # every metric's timestamp, in every message
def metrics(state, total, temp):
    return (
        spb.Metric(timestamp=fixed, name="State", datatype=spb.DataType.INT32, value=state),
        spb.Metric(timestamp=fixed, name="Total", datatype=spb.DataType.UINT64, value=total),
        spb.Metric(timestamp=fixed, name="Temp", datatype=spb.DataType.DOUBLE, value=temp),
    )
start = 2**53 - 100  # a UInt64 counter past what a float holds exactly
node = spb.EdgeNode(group, edge_id, metrics=())
node.register(spb.Device("M1", metrics(0, start, 20.0)))
node.connect(host, port=port, blocking=False)
time.sleep(1.0)
for i in range(1, n + 1):
    state = 1 if (i // 50) % 2 == 0 else 2
    node.update_device("M1", metrics(state, start + i, 20.0 + i / 10))
    time.sleep(0.002)
time.sleep(1.0)
node.disconnect()
print("sent", n, flush=True)
"""


def test_a_pysparkplug_edge_node_is_counted_exactly(mqtt_url, unique, tmp_path):  # noqa: F811
    if not THIRDPARTY_PYTHON.exists():
        message = "the third-party edge node's environment is missing: run ./run setup"
        if os.environ.get("SHOPFLOOR_REQUIRE_SERVICES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    engine = open_store(str(tmp_path / "store.db"))
    plant = Plant.from_dict({
        "site": {"code": "S", "timezone": "UTC"},
        "areas": [{"code": "A", "lines": [{"code": "L", "machines": [{"code": "M1", "tags": {
            "state": {"signal": "State", "map": {0: "idle", 1: "running", 2: "down"}},
            "total_count": {"signal": "Total", "bits": 64},
            "product": {"default": "P"},
            "process": [{"signal": "Temp", "name": "temp"}],
        }}]}]}],
        "products": [{"code": "P", "ideal_cycle_s": 0.0001}],
    })  # fmt: skip
    with engine.begin() as conn:
        save_plant(conn, plant, "test")
        plant = load_plant(conn)

    def good() -> int:
        with engine.connect() as conn:
            return conn.execute(
                select(func.coalesce(func.sum(machine_events.c.quantity), 0)).where(machine_events.c.kind == "good")
            ).scalar_one()

    def states() -> list[str]:
        with engine.connect() as conn:
            return (
                conn.execute(
                    select(machine_events.c.state).where(machine_events.c.kind == "state").order_by(machine_events.c.id)
                )
                .scalars()
                .all()
            )

    host, port = broker_address(mqtt_url)

    async def scenario():
        writer = IngestWriter(engine, plant, tmp_path / "buffer")
        await writer.start()
        task = await started(connector(mqtt_url, unique), writer.emit_for_connector())
        try:
            edge = await asyncio.to_thread(
                subprocess.run,
                [str(THIRDPARTY_PYTHON), "-c", EDGE, host, str(port), unique, "edge1", str(N)],
                capture_output=True, text=True, timeout=120,
            )  # fmt: skip
            assert edge.returncode == 0 and f"sent {N}" in edge.stdout, edge.stderr
            await until(lambda: good() >= N, timeout=30)
            await asyncio.sleep(0.5)
        finally:
            await stopped(task)
            await writer.stop()

    run(scenario(), timeout=180)
    assert good() == N
    # idle (the birth), then running and down by turns every 50 updates: 1 + 6 changes.
    assert states() == ["idle", "running", "down", "running", "down", "running", "down", "running"]
    with engine.connect() as conn:
        temps = conn.execute(select(measurements.c.value)).scalars().all()
    assert temps == [20.0 + N / 10]  # one instant (the fixed timestamp): the last reading of it
