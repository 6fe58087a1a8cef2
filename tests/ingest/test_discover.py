"""Discovery for the connect pages: register decodings computed by hand, and the Sparkplug edge nodes, devices
and metrics heard in births on the real broker."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from shopfloor.connectors.mqtt import broker_address
from shopfloor.connectors.sparkplug.edge import EdgeNode
from shopfloor.errors import DiscoveryFailed
from shopfloor.ingest.discover import decodings, modbus_words, sparkplug_births
from shopfloor.simulator.modbus_server import free_port
from tests.connectors.conftest import mqtt_url as mqtt_url  # noqa: F401,PLC0414 - fixture
from tests.connectors.conftest import unique as unique  # noqa: F401,PLC0414 - fixture


def test_registers_are_decoded_as_every_type_and_word_order():
    # 1234.5 is 0x449A5000 in IEEE 754 single precision (sign 0, exponent 137, mantissa 0x1A5000).
    rows = decodings([0x449A, 0x5000, 0xFFFF, 0x0001, 0x0002], start=100)
    assert rows[0]["address"] == 100 and rows[0]["hex"] == "449A"
    assert rows[0]["values"]["float32 ABCD"] == 1234.5  # high word first
    assert rows[1]["values"]["float32 CDAB"] != 1234.5
    assert rows[2]["values"]["int16"] == -1 and rows[2]["values"]["uint16"] == 65535
    assert rows[3]["values"]["uint32 ABCD"] == 0x0001_0002 == 65538
    assert rows[3]["values"]["uint32 CDAB"] == 0x0002_0001 == 131073
    assert rows[2]["values"]["int32 ABCD"] == -65535  # 0xFFFF0001 as two's complement
    assert rows[4]["values"]["uint32 ABCD"] is None  # no register after the last one
    swapped = decodings([0x5000, 0x449A], start=0)
    assert swapped[0]["values"]["float32 CDAB"] == 1234.5  # the PLC sends the low word first


def test_a_modbus_peer_that_does_not_answer_is_named():
    port = free_port()
    with pytest.raises(DiscoveryFailed) as failed:
        asyncio.run(modbus_words("127.0.0.1", port, 1, "holding", 0, 10, timeout_s=1.0))
    assert failed.value.params["endpoint"] == f"127.0.0.1:{port}"


@pytest.mark.mqtt
def test_sparkplug_births_name_the_edge_nodes_devices_and_metrics(mqtt_url, unique):  # noqa: F811
    host, port = broker_address(mqtt_url)
    edge = EdgeNode(host, port, unique, "edge1", {"PRS-03": {"State": 1, "Total": 42, "force_kN": 81.5}},
                    client_id=f"e-{unique}")  # fmt: skip
    timer = threading.Timer(1.0, edge.start)  # the edge connects (and is born) while the page listens
    timer.start()
    try:
        heard = asyncio.run(sparkplug_births(mqtt_url, listen_s=3.0))
    finally:
        timer.join()
        edge.stop()
    mine = [e for e in heard if e["group"] == unique]
    devices = {e["device"]: e for e in mine}
    assert set(devices) >= {"", "PRS-03"}  # the node's own birth, and the device's
    metrics = {m["name"]: m["value"] for m in devices["PRS-03"]["metrics"]}
    assert metrics["Total"] == 42 and metrics["force_kN"] == pytest.approx(81.5)
    assert devices["PRS-03"]["birth"] is True and devices["PRS-03"]["edge"] == "edge1"


def test_an_mtconnect_agent_names_its_devices_and_data_items():
    from shopfloor.ingest.discover import mtconnect_probe
    from shopfloor.simulator.mtconnect_agent import MTConnectAgent
    from shopfloor.simulator.servers import agent_items

    async def probe():
        agent = MTConnectAgent({"CNC-09": agent_items("CNC-09", ["spindle_load"])})
        await agent.start()
        try:
            return await mtconnect_probe(agent.url)
        finally:
            await agent.stop()

    devices = asyncio.run(probe())
    assert [d["device"] for d in devices] == ["CNC-09"]
    items = {i["id"]: i for i in devices[0]["items"]}
    assert (items["CNC-09_total"]["type"], items["CNC-09_total"]["sub_type"]) == ("PART_COUNT", "ALL")
    assert items["CNC-09_spindle_load"]["category"] == "SAMPLE"
    with pytest.raises(DiscoveryFailed):
        asyncio.run(mtconnect_probe(f"http://127.0.0.1:{free_port()}", timeout_s=1.0))


def test_the_ingest_of_a_new_store_waits_for_its_plant(tmp_path):
    """``shopfloor ingest`` started before the set-up waits for the plant instead of stopping."""
    from shopfloor.actions.demo import sample_plant
    from shopfloor.ingest.process import open_when_reachable
    from shopfloor.store.db import open_store
    from shopfloor.store.plant import save_plant

    db = str(tmp_path / "new.db")
    setup_engine = open_store(db)  # created and migrated, no plant

    def set_up():
        with setup_engine.begin() as conn:
            save_plant(conn, sample_plant(), "test")

    setter = threading.Timer(0.6, set_up)  # the set-up happens while the ingest waits
    setter.start()
    started = time.monotonic()
    engine, plant = open_when_reachable(db, retry_s=0.1)  # in the main thread: it handles SIGTERM
    setter.join()
    assert time.monotonic() - started >= 0.6 and plant.site.code == sample_plant().site.code
    engine.dispose()
    setup_engine.dispose()
