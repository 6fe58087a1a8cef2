"""A Modbus TCP server for the virtual plant: one unit per simulated machine, registers laid out with the
same ``RegisterSpec`` list the connector reads, values set from Python."""

from __future__ import annotations

import logging
import socket

from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from shopfloor.connectors.modbus import TABLES, RegisterSpec

logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
SIZE = 1024  # addresses 0..1023 of each table exist on every unit


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class ModbusPlantServer:
    def __init__(self, layouts: dict[int, list[RegisterSpec]], host: str = "127.0.0.1", port: int = 0):
        self.layouts = layouts
        self.host = host
        self.port = port or free_port(host)
        self._server: ModbusTcpServer | None = None
        self._by_tag = {unit: {s.tag: s for s in specs} for unit, specs in layouts.items()}

    async def start(self) -> None:
        devices = [
            SimDevice(
                id=unit,
                simdata=(
                    [SimData(0, count=SIZE, values=False, datatype=DataType.BITS)],
                    [SimData(0, count=SIZE, values=False, datatype=DataType.BITS)],
                    [SimData(0, count=SIZE, values=0, datatype=DataType.REGISTERS)],
                    [SimData(0, count=SIZE, values=0, datatype=DataType.REGISTERS)],
                ),
            )
            for unit in self.layouts
        ]
        self._server = ModbusTcpServer(devices, address=(self.host, self.port))
        await self._server.serve_forever(background=True)

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.shutdown()
            self._server = None

    async def set(self, unit: int, tag: str, value: float | int | bool) -> None:
        """Write a tag's value into its registers, encoded as the layout says."""
        assert self._server is not None, "server not started"
        spec = self._by_tag[unit][tag]
        code = {"holding": 3, "input": 4, "coil": 1, "discrete": 2}[spec.table]
        assert spec.table in TABLES
        await self._server.async_setValues(unit, code, spec.address, spec.encode(value))

    async def set_raw(self, unit: int, table: str, address: int, values: list[int] | list[bool]) -> None:
        assert self._server is not None, "server not started"
        await self._server.async_setValues(
            unit, {"holding": 3, "input": 4, "coil": 1, "discrete": 2}[table], address, values
        )
