"""An OPC UA server for the virtual plant (asyncua): one object per machine with its tags as variables,
node ids ``ns=<plant>;s=<machine>.<tag>``, values set from Python."""

from __future__ import annotations

import logging

from asyncua import Server, ua

from shopfloor.simulator.modbus_server import free_port

logging.getLogger("asyncua").setLevel(logging.CRITICAL)
NAMESPACE = "urn:shopfloor:virtual-plant"


class OpcUaPlantServer:
    def __init__(
        self, machines: dict[str, dict[str, float | int | bool | str]], host: str = "127.0.0.1", port: int = 0
    ):
        self.machines = machines
        self.host = host
        self.port = port or free_port(host)
        self.url = f"opc.tcp://{host}:{self.port}/shopfloor/"
        self.ns = 2
        self._server: Server | None = None
        self._vars: dict[tuple[str, str], object] = {}

    def node_id(self, machine: str, tag: str) -> str:
        return f"ns={self.ns};s={machine}.{tag}"

    async def start(self) -> None:
        server = Server()
        await server.init()
        server.set_endpoint(self.url)
        server.set_server_name("shopfloor virtual plant")
        self.ns = await server.register_namespace(NAMESPACE)
        for machine, tags in self.machines.items():
            obj = await server.nodes.objects.add_object(ua.NodeId(machine, self.ns), ua.QualifiedName(machine, self.ns))
            for tag, initial in tags.items():
                var = await obj.add_variable(
                    ua.NodeId(f"{machine}.{tag}", self.ns), ua.QualifiedName(tag, self.ns), initial
                )
                self._vars[(machine, tag)] = var
        await server.start()
        self._server = server

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop()
            self._server = None

    async def set(self, machine: str, tag: str, value: float | int | bool | str) -> None:
        var = self._vars[(machine, tag)]
        await var.write_value(value)  # type: ignore[attr-defined]
