"""Every unit counted once, against real servers: the MQTT broker (SHOPFLOOR_TEST_MQTT) and a Modbus TCP server
on loopback, through the connectors, the mapping and the writer into a store.

* Increments stamped with one timestamp (a JSON publisher that stamps whole seconds; a Sparkplug edge node whose
  every metric carries one fixed timestamp, as Eclipse Tahu's example does) are each counted: an event's identity
  is its reading, not its time.  A reading sent again adds nothing.
* A total and a scrap counter that advance in one reading give good = delta(total) - delta(scrap), whatever order
  the two values arrive in.
* A UInt64 counter across 2^53 and across its 2^64 wrap counts exactly (integers end to end).
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from shopfloor.connectors.modbus import MachineLayout, ModbusConnector, parse_registers
from shopfloor.connectors.mqtt import broker_address
from shopfloor.connectors.sparkplug.edge import EdgeNode
from shopfloor.ingest.writer import IngestWriter
from shopfloor.model.plant import Plant
from shopfloor.simulator.modbus_server import ModbusPlantServer
from shopfloor.store.db import open_store
from shopfloor.store.plant import load_plant, save_plant
from shopfloor.store.schema import machine_events, quarantine
from shopfloor.store.schema import machines as machine_table
from tests.connectors.conftest import mqtt_url as mqtt_url  # noqa: F401,PLC0414 - fixture
from tests.connectors.conftest import unique as unique  # noqa: F401,PLC0414 - fixture
from tests.connectors.test_mqtt_connector import Probe, connector, started, stopped
from tests.connectors.waiting import run, until

STATES = {"0": "idle", "1": "running", "2": "down"}


def _store(tmp_path, machines: list[dict]):
    engine = open_store(str(tmp_path / "store.db"))
    plant = Plant.from_dict({
        "site": {"code": "S", "timezone": "UTC"},
        "areas": [{"code": "A", "lines": [{"code": "L", "machines": machines}]}],
        "products": [{"code": "P", "ideal_cycle_s": 0.0001}],
    })  # fmt: skip
    with engine.begin() as conn:
        save_plant(conn, plant, "test")
        return engine, load_plant(conn)


def _events(engine, kind: str | None = None) -> list:
    me = machine_events.c
    query = select(me.kind, me.quantity, me.state, me.ts).order_by(me.ts, me.id)
    with engine.connect() as conn:
        rows = conn.execute(query if kind is None else query.where(me.kind == kind)).all()
    return rows


def _units(engine, kind: str) -> int:
    return sum(r.quantity for r in _events(engine, kind))


def _counters(machine: str, **extra) -> dict:
    return {
        "code": machine,
        "tags": {
            "state": {"signal": "State", "map": STATES},
            "total_count": {"signal": "Total", "bits": 32},
            "scrap_count": {"signal": "Scrap", "bits": 32, "reason": "NG"},
            "product": {"default": "P"},
            **extra,
        },
    }


async def _pipeline(engine, plant, conn, tmp_path, body):
    writer = IngestWriter(engine, plant, tmp_path / "buffer")
    await writer.start()
    task = await started(conn, writer.emit_for_connector())
    try:
        await body()
    finally:
        await stopped(task)
        await writer.stop()


@pytest.mark.mqtt
def test_json_readings_stamped_with_whole_seconds_each_count_and_a_resend_adds_nothing(mqtt_url, unique, tmp_path):  # noqa: F811
    """A publisher stamps whole seconds and sends 4 messages a second: the counter 0..23 gives 23 units (not one
    per second); the states running, down, running of one second are three changes; the same messages sent again
    (a resend after a lost acknowledgement) add nothing."""
    engine, plant = _store(tmp_path, [_counters("M1")])
    topic = f"{unique}/M1/telemetry"
    t0 = 1_772_400_000_000
    messages = [{"ts": t0 + (i // 4) * 1000, "values": {"Total": i}} for i in range(24)]
    states = [{"id": f"s{k}", "ts": t0 + 9000, "values": {"State": v}} for k, v in enumerate((1, 2, 1))]
    probe = Probe(mqtt_url, f"{unique}/nothing")

    async def body():
        for doc in messages + states:
            await asyncio.to_thread(probe.publish, topic, json.dumps(doc))
        await until(lambda: _units(engine, "good") >= 23 and len(_events(engine, "state")) >= 3, timeout=20)
        for doc in messages + states:  # sent again
            await asyncio.to_thread(probe.publish, topic, json.dumps(doc))
        await asyncio.sleep(1.0)

    try:
        conn = connector(mqtt_url, unique, groups=[], json_topics=[{"topic": f"{unique}/+/telemetry"}])
        run(_pipeline(engine, plant, conn, tmp_path, body))
    finally:
        probe.close()
    assert _units(engine, "good") == 23
    assert [r.quantity for r in _events(engine, "good")] == [1] * 23
    assert [r.state for r in _events(engine, "state")] == ["running", "down", "running"]


@pytest.mark.mqtt
def test_sparkplug_metrics_sharing_one_fixed_timestamp_each_count(mqtt_url, unique, tmp_path):  # noqa: F811
    """Every DDATA carries the same timestamp (an edge node whose metric time is fixed): 700 counter increments
    are 700 units and 7 state changes are 7 events, each identified by its message's bdSeq/seq."""
    engine, plant = _store(tmp_path, [_counters("WLD-01")])
    host, port = broker_address(mqtt_url)
    edge = EdgeNode(host, port, unique, "edge1", {"WLD-01": {"State": 0, "Total": 0}}, client_id=f"e-{unique}", qos=1)
    fixed = int((datetime.now(timezone.utc).timestamp() + 3600) * 1000)  # after the birth

    async def body():
        await asyncio.to_thread(edge.start)
        await until(lambda: len(_events(engine, "state")) >= 1)  # the birth's state
        for i in range(1, 701):
            values = {"Total": i}
            if i % 100 == 0:
                values["State"] = 1 if (i // 100) % 2 else 2
            await asyncio.to_thread(edge.data, "WLD-01", values, fixed)
        await until(lambda: _units(engine, "good") >= 700 and len(_events(engine, "state")) >= 8, timeout=30)
        await asyncio.sleep(0.5)

    try:
        run(_pipeline(engine, plant, connector(mqtt_url, unique), tmp_path, body))
    finally:
        edge.stop()
    assert _units(engine, "good") == 700
    assert [r.state for r in _events(engine, "state")] == ["idle", *["running", "down"] * 3, "running"]


@pytest.mark.mqtt
@pytest.mark.parametrize("order", [("Total", "Scrap"), ("Scrap", "Total")])
def test_json_total_and_scrap_in_one_reading_in_either_order(mqtt_url, unique, tmp_path, order):  # noqa: F811
    """Total 100 -> 110 and scrap 5 -> 7 in one message: 8 good and 2 scrap, 10 parts made."""
    engine, plant = _store(tmp_path, [_counters("M1")])
    topic = f"{unique}/M1/telemetry"
    readings = [{"Total": 100, "Scrap": 5}, {"Total": 110, "Scrap": 7}, {"Total": 113, "Scrap": 7}]
    probe = Probe(mqtt_url, f"{unique}/nothing")

    async def body():
        for k, values in enumerate(readings):
            doc = {"ts": 1_772_400_000_000 + k * 1000, "values": {tag: values[tag] for tag in order}}
            await asyncio.to_thread(probe.publish, topic, json.dumps(doc))
        await until(lambda: _units(engine, "good") >= 11, timeout=20)
        await asyncio.sleep(0.5)

    try:
        conn = connector(mqtt_url, unique, groups=[], json_topics=[{"topic": f"{unique}/+/telemetry"}])
        run(_pipeline(engine, plant, conn, tmp_path, body))
    finally:
        probe.close()
    counts = [(r.ts.second, r.kind, r.quantity) for r in _events(engine) if r.kind != "state"]
    assert sorted(counts) == [(1, "good", 8), (1, "scrap", 2), (2, "good", 3)]


@pytest.mark.parametrize("first", ["Total", "Scrap"])
def test_modbus_total_and_scrap_advancing_in_one_poll_in_either_register_order(tmp_path, first):
    """One poll reads total 100 -> 110 and scrap 5 -> 7 (the two registers written at once, so no poll falls
    between them), the registers laid out total first or scrap first: 8 good and 2 scrap."""
    second = "Scrap" if first == "Total" else "Total"
    layout = [{"tag": first, "address": 0, "type": "uint16"}, {"tag": second, "address": 1, "type": "uint16"}]
    engine, plant = _store(tmp_path, [_counters("NC-01")])

    async def scenario():
        server = ModbusPlantServer({1: parse_registers("NC-01", layout)})
        await server.start()
        values = {"Total": 100, "Scrap": 5}
        await server.set_raw(1, "holding", 0, [values[first], values[second]])
        conn = ModbusConnector("plc", "127.0.0.1", server.port, [MachineLayout("NC-01", 1, server.layouts[1])],
                               poll_s=0.2)  # fmt: skip
        writer = IngestWriter(engine, plant, tmp_path / "buffer")
        await writer.start()
        task = asyncio.create_task(conn.run(writer.emit_for_connector()))
        try:
            await until(lambda: conn.status.messages_total >= 4)  # two polls: the baseline is stored
            values = {"Total": 110, "Scrap": 7}
            await server.set_raw(1, "holding", 0, [values[first], values[second]])
            await until(lambda: _units(engine, "good") >= 8)
            await asyncio.sleep(0.6)  # more polls of the same values add nothing
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await writer.stop()
            await server.stop()

    run(scenario())
    assert _units(engine, "good") == 8 and _units(engine, "scrap") == 2


@pytest.mark.mqtt
def test_uint64_counters_across_2_53_and_the_2_64_wrap_count_exactly(mqtt_url, unique, tmp_path):  # noqa: F811
    """Two UInt64 counters over Sparkplug: one rises through 2^53 (where a float loses the units), one wraps from
    near 2^64 to 0; 400 increments each are 400 units each."""
    machines = [
        {"code": m, "tags": {"total_count": {"signal": "Total", "bits": 64}, "product": {"default": "P"}}}
        for m in ("M53", "M64")
    ]
    engine, plant = _store(tmp_path, machines)
    starts = {"M53": 2**53 - 200, "M64": 2**64 - 200}
    host, port = broker_address(mqtt_url)
    edge = EdgeNode(host, port, unique, "edge1", {m: {"Total": v} for m, v in starts.items()},
                    client_id=f"e-{unique}", qos=1, datatypes={m: {"Total": "UInt64"} for m in starts})  # fmt: skip
    t0 = int((datetime.now(timezone.utc).timestamp() + 3600) * 1000)  # after the birth

    async def body():
        await asyncio.to_thread(edge.start)
        await asyncio.sleep(0.5)
        for i in range(1, 401):
            for m, start in starts.items():
                await asyncio.to_thread(edge.data, m, {"Total": (start + i) % 2**64}, t0 + i * 10)
        await until(lambda: _units(engine, "good") >= 800, timeout=30)
        await asyncio.sleep(0.5)

    try:
        run(_pipeline(engine, plant, connector(mqtt_url, unique), tmp_path, body))
    finally:
        edge.stop()
    me, m = machine_events.c, machine_table.c
    with engine.connect() as conn:
        units = dict(conn.execute(
            select(m.code, func.sum(me.quantity)).join_from(machine_events, machine_table).where(me.kind == "good")
            .group_by(m.code)
        ).all())  # fmt: skip
        quarantined = conn.execute(select(quarantine.c.reason)).scalars().all()
    assert units == {"M53": 400, "M64": 400}
    assert not [q for q in quarantined if "counter" in q], quarantined
