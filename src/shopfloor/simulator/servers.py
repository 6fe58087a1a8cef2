"""The virtual plant behind real protocols: each simulated machine is served over the protocol its kind of
shop typically has, and its values are copied to that server every second.

Laser welding line -> an MQTT Sparkplug B edge node (needs a broker); CNC machining -> OPC UA, except the
last machine of the line -> an MTConnect agent; mould shop -> Modbus TCP.  ``connectors()`` returns the
plant-file ``connectors`` section and each machine's ``connector`` entry that reach these servers, so the
demo connects to them exactly as to real machines.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from datetime import datetime, timezone
from typing import Any

from shopfloor.connectors.modbus import parse_registers
from shopfloor.connectors.mqtt import broker_address
from shopfloor.model.plant import Plant
from shopfloor.simulator.machine import STATE_MAP
from shopfloor.simulator.modbus_server import ModbusPlantServer
from shopfloor.simulator.mtconnect_agent import AgentItem, MTConnectAgent
from shopfloor.simulator.opcua_server import OpcUaPlantServer
from shopfloor.simulator.plant import VirtualPlant

log = logging.getLogger(__name__)
EXECUTION = {
    "running": "ACTIVE",
    "idle": "READY",
    "setup": "INTERRUPTED",
    "down": "STOPPED",
    "planned_stop": "PROGRAM_STOPPED",
}
MTCONNECT_STATE_MAP = {v: k for k, v in EXECUTION.items()}


DEFAULT_BROKER = "mqtt://127.0.0.1:1883"


def agent_items(code: str, process_values: list[str]) -> list[AgentItem]:
    """The data items of a machine served by the MTConnect agent: availability, execution, the alarm message,
    parts made (PART_COUNT of subType ALL) and scrapped (subType BAD), the NC program running (PROGRAM), and each
    process value as a LOAD."""
    items = [
        AgentItem(f"{code}_avail", "AVAILABILITY", "EVENT", "avail"),
        AgentItem(f"{code}_exec", "EXECUTION", "EVENT", "execution"),
        AgentItem(f"{code}_alarm", "MESSAGE", "EVENT", "alarm"),
        AgentItem(f"{code}_total", "PART_COUNT", "EVENT", "total", "ALL"),
        AgentItem(f"{code}_bad", "PART_COUNT", "EVENT", "bad", "BAD"),
        AgentItem(f"{code}_program", "PROGRAM", "EVENT", "program"),
    ]
    return items + [AgentItem(f"{code}_{n}", "LOAD", "SAMPLE", n) for n in process_values]


def demo_broker(explicit: str | None = None) -> str | None:
    """The broker for the virtual plant's Sparkplug machines (the argument, from the settings, or the local one),
    or None when it does not answer."""
    url = explicit or DEFAULT_BROKER
    return url if broker_reachable(url) else None


def broker_reachable(url: str, timeout: float = 1.0) -> bool:
    host, port = broker_address(url)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


class ProtocolPlant:
    """The virtual plant's protocol servers.  ``port_base``: serve at known ports (Modbus TCP at port_base, OPC UA
    at port_base + 1, the MTConnect agent at port_base + 2) rather than at free ones."""

    PORTS = {"modbus": 0, "opcua": 1, "mtconnect": 2}

    def __init__(self, virtual: VirtualPlant, mqtt_url: str | None, host: str = "127.0.0.1", port_base: int = 0):
        self.virtual = virtual
        self.host = host
        self.mqtt_url = mqtt_url
        self.port_base = port_base
        plant = virtual.plant
        self.assignment: dict[str, str] = {}
        for line in plant.lines:
            for i, m in enumerate(line.machines):
                if line.code == "WELD":
                    self.assignment[m.code] = "mqtt" if mqtt_url else "none"
                elif line.code == "CNC":
                    self.assignment[m.code] = "mtconnect" if i == len(line.machines) - 1 else "opcua"
                    # The CNC controls report the NC program they run (MTConnect PROGRAM, an OPC UA node).
                    virtual.machines[m.code].program = f"O{1001 + i}"
                else:
                    self.assignment[m.code] = "modbus"
        self.modbus: ModbusPlantServer | None = None
        self.opcua: OpcUaPlantServer | None = None
        self.agent: MTConnectAgent | None = None
        self.edge = None
        self._units: dict[str, int] = {}

    def _port(self, protocol: str) -> int:
        return self.port_base + self.PORTS[protocol] if self.port_base else 0

    def machines_on(self, protocol: str) -> list[str]:
        return [code for code, p in self.assignment.items() if p == protocol]

    def _tags(self, code: str) -> dict[str, Any]:
        return self.virtual.machines[code].tags()

    def _registers(self, code: str) -> list[dict[str, Any]]:
        regs = [
            {"tag": "State", "address": 0},
            {"tag": "AlarmCode", "address": 1},
            {"tag": "TotalCount", "address": 2},
            {"tag": "ScrapCount", "address": 3},
            {"tag": "GoodCount", "address": 4},
        ]
        for j, name in enumerate(n for n in self._tags(code) if n[0].islower()):
            regs.append({"tag": name, "table": "input", "address": 10 + 2 * j, "type": "float32"})
        return regs

    async def start(self) -> None:
        if self.machines_on("modbus"):
            layouts = {}
            for unit, code in enumerate(self.machines_on("modbus"), start=1):
                self._units[code] = unit
                layouts[unit] = parse_registers(code, self._registers(code))
            self.modbus = ModbusPlantServer(layouts, self.host, self._port("modbus"))
            await self.modbus.start()
        if self.machines_on("opcua"):
            self.opcua = OpcUaPlantServer(
                {c: self._tags(c) for c in self.machines_on("opcua")}, self.host, self._port("opcua")
            )
            await self.opcua.start()
        if self.machines_on("mtconnect"):
            devices = {}
            for code in self.machines_on("mtconnect"):
                devices[code] = agent_items(code, [n for n in self._tags(code) if n[0].islower()])
            self.agent = MTConnectAgent(devices, buffer_size=4096, host=self.host, port=self._port("mtconnect"))
            await self.agent.start()
        if self.machines_on("mqtt"):
            # Imported here: the edge node's MQTT stack is loaded only when some machine speaks Sparkplug.
            from shopfloor.connectors.sparkplug.edge import EdgeNode

            host, port = broker_address(self.mqtt_url or "")
            self.edge = EdgeNode(
                host, port, "shopfloor-demo", "weld-line", {c: dict(self._tags(c)) for c in self.machines_on("mqtt")}
            )
            await asyncio.to_thread(self.edge.start)

    async def stop(self) -> None:
        for server in (self.modbus, self.opcua, self.agent):
            if server is not None:
                await server.stop()
        if self.edge is not None:
            await asyncio.to_thread(self.edge.stop)

    async def copy_values(self) -> None:
        """Push every machine's current values to its server (only changed ones for MQTT and MTConnect)."""
        last: dict[str, dict[str, Any]] = {}
        while True:
            now = datetime.now(timezone.utc)
            for code, protocol in self.assignment.items():
                machine = self.virtual.machines[code]
                machine.advance(now)
                tags = machine.tags()
                changed = {k: v for k, v in tags.items() if last.get(code, {}).get(k) != v}
                last[code] = tags
                if not changed:
                    continue
                try:
                    if protocol == "modbus" and self.modbus:
                        for tag, value in changed.items():
                            await self.modbus.set(self._units[code], tag, value)
                    elif protocol == "opcua" and self.opcua:
                        for tag, value in changed.items():
                            await self.opcua.set(code, tag, value)
                    elif protocol == "mtconnect" and self.agent:
                        names = {"State": "execution", "AlarmCode": "alarm", "TotalCount": "total", "ScrapCount": "bad",
                                 "Program": "program"}  # fmt: skip
                        for tag, value in changed.items():
                            if tag == "State":
                                value = EXECUTION[STATE_MAP[int(value)]]
                            if tag in names or tag[0].islower():
                                self.agent.set(code, names.get(tag, tag), value)
                    elif protocol == "mqtt" and self.edge:
                        self.edge.data(code, changed)
                except Exception as exc:  # noqa: BLE001 - one machine's server trouble must not stop the plant
                    log.warning("virtual plant: %s: %s", code, exc)
            await asyncio.sleep(1.0)

    def connectors(self) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
        """The plant file's ``connectors`` and each machine's ``connector`` entry for these servers."""
        specs: list[dict[str, Any]] = []
        per_machine: dict[str, dict[str, Any]] = {}
        if self.modbus:
            specs.append(
                {"name": "mould-plc", "type": "modbus", "host": self.host, "port": self.modbus.port, "poll_s": 1.0}
            )
            for code, unit in self._units.items():
                per_machine[code] = {"name": "mould-plc", "unit": unit, "registers": self._registers(code)}
        if self.opcua:
            specs.append({"name": "cnc-opcua", "type": "opcua", "url": self.opcua.url, "publish_ms": 200})
            for code in self.machines_on("opcua"):
                per_machine[code] = {
                    "name": "cnc-opcua",
                    "nodes": {t: self.opcua.node_id(code, t) for t in self._tags(code)},
                }
        if self.agent:
            specs.append({"name": "cnc-mtconnect", "type": "mtconnect", "url": self.agent.url, "poll_s": 1.0})
            for code in self.machines_on("mtconnect"):
                items = {"execution": "State", "alarm": "AlarmCode", "total": "TotalCount", "bad": "ScrapCount",
                         "program": "Program"}  # fmt: skip
                items.update({n: n for n in self._tags(code) if n[0].islower()})
                per_machine[code] = {"name": "cnc-mtconnect", "device": code, "items": items}
        if self.edge:
            specs.append(
                {
                    "name": "weld-sparkplug",
                    "type": "mqtt",
                    "url": self.mqtt_url,
                    "groups": ["shopfloor-demo"],
                    "host_id": "shopfloor-demo",
                }
            )
            for code in self.machines_on("mqtt"):
                per_machine[code] = {"name": "weld-sparkplug", "device": code}
        return specs, per_machine


def connected_plant(plant: Plant, protocols: ProtocolPlant) -> Plant:
    """``plant`` with the connectors that reach the running protocol servers (what the demo imports)."""
    specs, per_machine = protocols.connectors()
    doc = plant.to_dict()
    doc["connectors"] = specs
    for area in doc["areas"]:
        for line in area["lines"]:
            for m in line["machines"]:
                if m["code"] in per_machine:
                    m["connector"] = per_machine[m["code"]]
                if protocols.assignment.get(m["code"]) == "mtconnect":
                    m["tags"]["state"]["map"] = MTCONNECT_STATE_MAP
                if protocols.assignment.get(m["code"]) in ("mtconnect", "opcua"):
                    m["tags"]["program"] = {"signal": "Program"}
    return Plant.from_dict(doc)
