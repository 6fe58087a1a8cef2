"""Modbus TCP: polling configured registers of each machine's PLC (pymodbus, pinned to one minor).

Per machine: a unit (device) id and a register layout.  Each register names a tag, its table (holding, input,
coil, discrete), address, data type (int16, uint16, int32, uint32, int64, uint64, float32, float64, bool),
byte and word order, and a scale and offset (value = raw * scale + offset).  Registers of one table that lie
close together are read in one request (at most 125 registers or 2000 bits, the protocol's limits).

The same ``RegisterSpec`` encodes values for the simulator's Modbus server, so both sides share one layout.
Plant file::

    connectors: [{name: mould-plc, type: modbus, host: 10.0.0.20, port: 502, poll_s: 1.0}]
    machines:
      - code: NC-01
        connector: {name: mould-plc, unit: 1, registers: [
          {tag: State, table: holding, address: 0, type: uint16},
          {tag: TotalCount, table: holding, address: 1, type: uint16},
          {tag: spindle_speed, table: input, address: 10, type: float32, word_order: little}]}
"""

from __future__ import annotations

import asyncio
import logging
import struct
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from shopfloor.connectors.base import RECONNECT_MAX_S, ConnectorStatus, Emit, Quality, Signal

log = logging.getLogger(__name__)
logging.getLogger("pymodbus").setLevel(logging.CRITICAL)  # its own errors are reported through the status

TYPES: dict[str, tuple[str, int]] = {  # struct code, registers
    "int16": ("h", 1),
    "uint16": ("H", 1),
    "int32": ("i", 2),
    "uint32": ("I", 2),
    "int64": ("q", 4),
    "uint64": ("Q", 4),
    "float32": ("f", 2),
    "float64": ("d", 4),
    "bool": ("?", 1),
}
TABLES = {"holding": 3, "input": 4, "coil": 1, "discrete": 2}  # Modbus function codes for reading
MAX_REGISTERS = 125
MAX_BITS = 2000
GAP = 8  # registers between two specs that are still worth reading in one request


class ModbusConfigError(ValueError):
    pass


@dataclass(frozen=True)
class RegisterSpec:
    tag: str
    table: str
    address: int
    type: str = "uint16"
    byte_order: str = "big"
    word_order: str = "big"
    scale: float = 1.0
    offset: float = 0.0

    @property
    def bit(self) -> bool:
        return self.table in ("coil", "discrete")

    @property
    def count(self) -> int:
        return 1 if self.bit else TYPES[self.type][1]

    def decode(self, words: list[int] | list[bool]) -> float | int | bool:
        if self.bit:
            return bool(words[0])
        code, n = TYPES[self.type]
        ordered = list(words[:n])
        if self.word_order == "little":
            ordered.reverse()
        raw = b"".join(w.to_bytes(2, "big") for w in ordered)
        if self.byte_order == "little":
            raw = b"".join(raw[i : i + 2][::-1] for i in range(0, len(raw), 2))
        value = struct.unpack(">" + code, raw)[0]
        if self.type == "bool":
            return bool(value)
        if self.scale == 1.0 and self.offset == 0.0:
            return value
        return value * self.scale + self.offset

    def encode(self, value: float | int | bool) -> list[int] | list[bool]:
        if self.bit:
            return [bool(value)]
        code, _ = TYPES[self.type]
        raw_value = value if (self.scale == 1.0 and self.offset == 0.0) else (value - self.offset) / self.scale
        if code in "hHiIqQ?":
            raw_value = int(round(raw_value))
        raw = struct.pack(">" + code, raw_value) if code != "?" else struct.pack(">H", int(bool(raw_value)))
        if self.byte_order == "little":
            raw = b"".join(raw[i : i + 2][::-1] for i in range(0, len(raw), 2))
        words = [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)]
        if self.word_order == "little":
            words.reverse()
        return words


def parse_registers(machine: str, items: Any) -> list[RegisterSpec]:
    """Validate a machine's register list; errors name the machine and register."""
    problems = []
    specs = []
    if not isinstance(items, list) or not items:
        raise ModbusConfigError(f"machine {machine}: connector.registers must be a non-empty list")
    for i, item in enumerate(items):
        where = f"machine {machine}: registers[{i}]"
        if not isinstance(item, dict) or "tag" not in item or "address" not in item:
            problems.append(f"{where}: needs tag and address")
            continue
        table = item.get("table", "holding")
        dtype = item.get("type", "bool" if table in ("coil", "discrete") else "uint16")
        if table not in TABLES:
            problems.append(f"{where}: table {table!r} must be one of {', '.join(TABLES)}")
            continue
        if dtype not in TYPES:
            problems.append(f"{where}: type {dtype!r} must be one of {', '.join(TYPES)}")
            continue
        address = item["address"]
        if not isinstance(address, int) or not 0 <= address <= 65535:
            problems.append(f"{where}: address {address!r} must be 0..65535")
            continue
        orders = (item.get("byte_order", "big"), item.get("word_order", "big"))
        if any(o not in ("big", "little") for o in orders):
            problems.append(f"{where}: byte_order and word_order are big or little")
            continue
        spec = RegisterSpec(
            str(item["tag"]),
            table,
            address,
            dtype,
            orders[0],
            orders[1],
            float(item.get("scale", 1.0)),
            float(item.get("offset", 0.0)),
        )
        if address + spec.count > 65536:
            problems.append(f"{where}: {dtype} at {address} runs past the last address 65535")
            continue
        specs.append(spec)
    by_table: dict[str, list[RegisterSpec]] = {}
    for s in specs:
        by_table.setdefault(s.table, []).append(s)
    for table, group in by_table.items():
        group.sort(key=lambda s: s.address)
        for a, b in zip(group, group[1:]):
            if b.address < a.address + a.count:
                problems.append(f"machine {machine}: {table} registers of {a.tag!r} and {b.tag!r} overlap")
    if problems:
        raise ModbusConfigError("\n".join(problems))
    return specs


@dataclass(frozen=True)
class Block:
    table: str
    address: int
    count: int
    specs: tuple[RegisterSpec, ...]


def plan_reads(specs: list[RegisterSpec]) -> list[Block]:
    """Group registers into as few requests as the protocol's limits allow."""
    blocks: list[Block] = []
    for table in TABLES:
        group = sorted((s for s in specs if s.table == table), key=lambda s: s.address)
        limit = MAX_BITS if table in ("coil", "discrete") else MAX_REGISTERS
        current: list[RegisterSpec] = []
        for s in group:
            if current:
                start = current[0].address
                end = max(c.address + c.count for c in current)
                if s.address - end > GAP or s.address + s.count - start > limit:
                    blocks.append(Block(table, start, end - start, tuple(current)))
                    current = []
            current.append(s)
        if current:
            start = current[0].address
            end = max(c.address + c.count for c in current)
            blocks.append(Block(table, start, end - start, tuple(current)))
    return blocks


@dataclass
class MachineLayout:
    machine: str
    unit: int
    registers: list[RegisterSpec]
    blocks: list[Block] = field(init=False)

    def __post_init__(self) -> None:
        self.blocks = plan_reads(self.registers)


class ModbusConnector:
    """Polls every machine of one Modbus TCP endpoint; reconnects with back-off when the link drops."""

    def __init__(
        self,
        name: str,
        host: str,
        port: int,
        machines: list[MachineLayout],
        poll_s: float = 1.0,
        timeout_s: float = 2.0,
        max_backoff_s: float = RECONNECT_MAX_S,
    ):
        self.name = name
        self.host, self.port = host, port
        self.machines = machines
        self.poll_s, self.timeout_s, self.max_backoff_s = poll_s, timeout_s, max_backoff_s
        self.status = ConnectorStatus(name=name, protocol="modbus", endpoint=f"{host}:{port}")

    @classmethod
    def from_config(cls, name: str, options: dict[str, Any], machines: dict[str, dict[str, Any]]) -> ModbusConnector:
        layouts = [
            MachineLayout(code, int(cfg.get("unit", 1)), parse_registers(code, cfg.get("registers")))
            for code, cfg in machines.items()
        ]
        if "host" not in options:
            raise ModbusConfigError(f"connector {name}: host is required")
        return cls(
            name,
            str(options["host"]),
            int(options.get("port", 502)),
            layouts,
            float(options.get("poll_s", 1.0)),
            float(options.get("timeout_s", 2.0)),
        )

    async def poll_once(self, client: AsyncModbusTcpClient) -> list[Signal]:
        """Read every block once; a failed block is counted and skipped, the others still arrive."""
        now = datetime.now(timezone.utc)
        out: list[Signal] = []
        for layout in self.machines:
            for block in layout.blocks:
                reader = {
                    "holding": client.read_holding_registers,
                    "input": client.read_input_registers,
                    "coil": client.read_coils,
                    "discrete": client.read_discrete_inputs,
                }[block.table]
                response = await reader(block.address, count=block.count, device_id=layout.unit)
                if response.isError():
                    self.status.record_error(
                        f"{layout.machine}: {block.table} {block.address}+{block.count}: {response}"
                    )
                    continue
                values = response.bits if block.table in ("coil", "discrete") else response.registers
                for spec in block.specs:
                    start = spec.address - block.address
                    try:
                        value = spec.decode(values[start : start + spec.count])
                    except (struct.error, ValueError, IndexError) as exc:
                        self.status.record_error(f"{layout.machine}/{spec.tag}: cannot decode: {exc}")
                        continue
                    out.append(Signal(self.name, layout.machine, spec.tag, value, now, Quality.GOOD))
        return out

    async def run(self, emit: Emit) -> None:
        backoff = 0.5
        while True:
            client = AsyncModbusTcpClient(
                self.host, port=self.port, timeout=self.timeout_s, retries=0, reconnect_delay=0
            )
            try:
                if not await client.connect():
                    raise ConnectionError(f"cannot connect to {self.host}:{self.port}")
                self.status.connected = True
                backoff = 0.5
                while True:
                    started = asyncio.get_running_loop().time()
                    signals = await self.poll_once(client)
                    if signals:
                        await emit(signals)
                        self.status.record_messages(len(signals))
                        self.status.last_value_at = signals[-1].ts
                    if not client.connected:
                        raise ConnectionError("connection closed by the server")
                    elapsed = asyncio.get_running_loop().time() - started
                    await asyncio.sleep(max(0.0, self.poll_s - elapsed))
            except asyncio.CancelledError:
                raise
            except (TimeoutError, ConnectionError, ModbusException, OSError) as exc:
                if self.status.connected:
                    log.warning("%s: %s; reconnecting", self.name, exc)
                self.status.connected = False
                self.status.record_error(str(exc))
            finally:
                client.close()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self.max_backoff_s)
