"""Modbus TCP against a real pymodbus server on loopback: data types, word orders, scaling, roll-over,
exception responses, and a server that goes away and comes back."""

import asyncio
import math

import pytest

from shopfloor.connectors.modbus import (
    MachineLayout,
    ModbusConfigError,
    ModbusConnector,
    RegisterSpec,
    parse_registers,
    plan_reads,
)
from shopfloor.ingest.counters import CounterTracker
from shopfloor.simulator.modbus_server import ModbusPlantServer
from tests.connectors.waiting import run

LAYOUT = [
    {"tag": "State", "table": "holding", "address": 0, "type": "uint16"},
    {"tag": "Count16", "table": "holding", "address": 1, "type": "uint16"},
    {"tag": "Signed", "table": "holding", "address": 2, "type": "int16"},
    {"tag": "Count32", "table": "holding", "address": 3, "type": "uint32"},
    {"tag": "Count32LE", "table": "holding", "address": 5, "type": "uint32", "word_order": "little"},
    {"tag": "Power", "table": "input", "address": 10, "type": "float32"},
    {
        "tag": "PowerSwap",
        "table": "input",
        "address": 12,
        "type": "float32",
        "word_order": "little",
        "byte_order": "little",
    },
    {"tag": "Energy", "table": "input", "address": 20, "type": "float64"},
    {"tag": "Big", "table": "holding", "address": 30, "type": "int64"},
    {"tag": "Temp", "table": "holding", "address": 40, "type": "int16", "scale": 0.1, "offset": -40},
    {"tag": "Door", "table": "coil", "address": 5},
    {"tag": "EStop", "table": "discrete", "address": 7},
]


@pytest.mark.parametrize(
    "spec, value",
    [
        (RegisterSpec("a", "holding", 0, "uint32"), 4_000_000_000),
        (RegisterSpec("a", "holding", 0, "int32", word_order="little"), -123456),
        (RegisterSpec("a", "holding", 0, "float32", byte_order="little"), 1.5),
        (RegisterSpec("a", "holding", 0, "float64", word_order="little"), -2.25e10),
        (RegisterSpec("a", "holding", 0, "uint64"), 2**63 + 5),
        (RegisterSpec("a", "holding", 0, "int16", scale=0.1, offset=-40), 25.5),
    ],
)
def test_encode_and_decode_are_inverse(spec, value):
    assert math.isclose(spec.decode(spec.encode(value)), value, rel_tol=1e-6)


def test_word_order_puts_the_low_word_first():
    assert RegisterSpec("a", "holding", 0, "uint32").encode(0x12345678) == [0x1234, 0x5678]
    assert RegisterSpec("a", "holding", 0, "uint32", word_order="little").encode(0x12345678) == [0x5678, 0x1234]


def test_reads_are_grouped_within_protocol_limits():
    specs = [RegisterSpec(f"t{i}", "holding", i * 2, "uint32") for i in range(100)]  # 200 registers
    blocks = plan_reads(specs)
    assert all(b.count <= 125 for b in blocks) and sum(len(b.specs) for b in blocks) == 100
    assert len(blocks) == 2


def test_bad_layouts_are_refused_with_their_place():
    with pytest.raises(ModbusConfigError) as info:
        parse_registers(
            "M1",
            [
                {"tag": "a", "address": 0, "type": "uint32"},
                {"tag": "b", "address": 1},
                {"tag": "c", "address": 2, "type": "float16"},
                {"tag": "d", "address": 70000},
                {"tag": "e", "address": 3, "table": "flash"},
            ],
        )
    text = str(info.value)
    assert "'a' and 'b' overlap" in text and "float16" in text and "70000" in text and "flash" in text


def test_every_type_and_order_arrives_scaled():
    specs = parse_registers("M1", LAYOUT)
    values = {
        "State": 1,
        "Count16": 65535,
        "Signed": -300,
        "Count32": 3_000_000_000,
        "Count32LE": 70000,
        "Power": 1999.5,
        "PowerSwap": -12.25,
        "Energy": 123456.789,
        "Big": -(2**40),
        "Temp": 21.5,
        "Door": True,
        "EStop": True,
    }

    async def scenario():
        server = ModbusPlantServer({3: specs})
        await server.start()
        try:
            for tag, v in values.items():
                await server.set(3, tag, v)
            conn = ModbusConnector("plc", server.host, server.port, [MachineLayout("M1", 3, specs)], poll_s=0.05)
            got = {}

            async def emit(signals):
                got.update({s.tag: s.value for s in signals})
                raise asyncio.CancelledError

            with pytest.raises(asyncio.CancelledError):
                await conn.run(emit)
            return got
        finally:
            await server.stop()

    got = run(scenario())
    for tag, v in values.items():
        assert got[tag] == pytest.approx(v, rel=1e-6), tag


def test_a_16_bit_counter_rolling_over_from_65535_to_2_counts_3():
    specs = parse_registers("M1", [{"tag": "Count", "address": 0, "type": "uint16"}])

    async def scenario():
        server = ModbusPlantServer({1: specs})
        await server.start()
        await server.set(1, "Count", 65535)
        conn = ModbusConnector("plc", server.host, server.port, [MachineLayout("M1", 1, specs)], poll_s=0.05)
        readings = []

        async def emit(signals):
            readings.extend(s for s in signals if s.tag == "Count")

        task = asyncio.create_task(conn.run(emit))
        try:
            for value in (65535, 2):
                await server.set(1, "Count", value)
                n = len(readings)
                while len(readings) < n + 2:
                    await asyncio.sleep(0.02)
        finally:
            task.cancel()
            await server.stop()
        return readings

    readings = run(scenario())
    tracker = CounterTracker(16)
    total = sum(tracker.update(int(s.value), s.ts).increment for s in readings)
    assert total == 3


def test_exception_responses_are_counted_and_the_other_machines_keep_coming():
    good = parse_registers("OK", [{"tag": "State", "address": 0}])
    bad = parse_registers("BAD", [{"tag": "State", "address": 5000}])  # beyond the server's table

    async def scenario():
        server = ModbusPlantServer({1: good})
        await server.start()
        await server.set(1, "State", 1)
        conn = ModbusConnector(
            "plc", server.host, server.port, [MachineLayout("BAD", 1, bad), MachineLayout("OK", 1, good)], poll_s=0.05
        )
        seen = []

        async def emit(signals):
            seen.extend(signals)

        task = asyncio.create_task(conn.run(emit))
        while len(seen) < 3:
            await asyncio.sleep(0.02)
        task.cancel()
        await server.stop()
        return conn, seen

    conn, seen = run(scenario())
    assert {s.machine for s in seen} == {"OK"}
    assert conn.status.errors_total >= 1 and "BAD" in conn.status.last_error


def test_the_connector_reconnects_when_the_server_comes_back():
    specs = parse_registers("M1", [{"tag": "State", "address": 0}])

    async def scenario():
        server = ModbusPlantServer({1: specs})
        await server.start()
        port = server.port
        await server.set(1, "State", 1)
        conn = ModbusConnector(
            "plc", server.host, port, [MachineLayout("M1", 1, specs)], poll_s=0.05, timeout_s=0.5, max_backoff_s=0.5
        )
        seen = []

        async def emit(signals):
            seen.extend(signals)

        task = asyncio.create_task(conn.run(emit))
        while not seen:
            await asyncio.sleep(0.02)
        await server.stop()
        for _ in range(100):
            await asyncio.sleep(0.05)
            if not conn.status.connected:
                break
        assert not conn.status.connected
        again = ModbusPlantServer({1: specs}, port=port)
        await again.start()
        await again.set(1, "State", 3)
        for _ in range(200):
            await asyncio.sleep(0.05)
            if seen[-1].value == 3:
                break
        task.cancel()
        await again.stop()
        return conn, seen

    conn, seen = run(scenario())
    assert seen[-1].value == 3 and conn.status.connected
    assert conn.status.errors_total >= 1
