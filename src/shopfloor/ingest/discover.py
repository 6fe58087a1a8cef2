"""What a machine offers before it is connected: the OPC UA address space as a tree, a Modbus register range
decoded as every type and word order side by side, an MTConnect agent's devices and data items; and the current
values of the sources picked, for the "test" of a mapping.

Each function opens its own short connection and closes it; a peer that does not answer within ``timeout_s``
is reported as such (``DiscoveryFailed``)."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit

import httpx
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from shopfloor.connectors.modbus import MAX_REGISTERS, TYPES, RegisterSpec
from shopfloor.connectors.mqtt_client import MqttRefused, connect_packet
from shopfloor.connectors.mqtt_client import connect as mqtt_connect
from shopfloor.connectors.mtconnect import MalformedDocument, MTConnectError, parse_probe, parse_xml
from shopfloor.connectors.sparkplug.codec import decode_payload, metric_value, type_name
from shopfloor.connectors.sparkplug.errors import SparkplugError
from shopfloor.connectors.sparkplug.topics import parse_topic
from shopfloor.errors import DiscoveryFailed

MAX_NODES = 500
MAX_DEPTH = 6
# The decodings shown side by side for each register address: (label, type, word order).
DECODINGS = (
    ("uint16", "uint16", "big"),
    ("int16", "int16", "big"),
    ("uint32 ABCD", "uint32", "big"),
    ("uint32 CDAB", "uint32", "little"),
    ("int32 ABCD", "int32", "big"),
    ("int32 CDAB", "int32", "little"),
    ("float32 ABCD", "float32", "big"),
    ("float32 CDAB", "float32", "little"),
)


def _plain(value: Any) -> Any:
    """A value as a page shows it: a number, text or truth value as it is, anything else as (short) text."""
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    text = str(value)
    return text if len(text) <= 80 else text[:79] + "…"


async def opcua_browse(url: str, timeout_s: float = 4.0) -> list[dict[str, Any]]:
    """The Objects folder as a tree (the server's own diagnostics left out): each node with its node id, browse
    name, class, and for a variable its value and data type."""
    from asyncua import Client, ua  # only when a page browses a server: 0.2 s and 20 MB that `serve` spares

    client = Client(url, timeout=timeout_s)
    try:
        await asyncio.wait_for(client.connect(), timeout_s)
    except (OSError, TimeoutError, ua.UaError) as exc:
        raise DiscoveryFailed(endpoint=url, reason=str(exc) or type(exc).__name__) from None
    try:
        count = 0

        async def walk(node, depth: int) -> list[dict[str, Any]]:
            nonlocal count
            out = []
            for child in await node.get_children(refs=ua.ObjectIds.HierarchicalReferences):
                if child.nodeid.NamespaceIndex == 0 or count >= MAX_NODES:
                    continue  # the standard's own nodes (Server, Aliases) are no machine's
                count += 1
                name = (await child.read_browse_name()).Name
                cls = await child.read_node_class()
                item: dict[str, Any] = {"node_id": child.nodeid.to_string(), "name": name, "children": []}
                if cls == ua.NodeClass.Variable:
                    try:
                        dv = await child.read_data_value()
                        item["value"] = _plain(dv.Value.Value if dv.Value is not None else None)
                        item["type"] = dv.Value.VariantType.name if dv.Value is not None else ""
                    except ua.UaError:
                        item["value"], item["type"] = None, ""
                    item["variable"] = True
                elif depth < MAX_DEPTH:
                    item["children"] = await walk(child, depth + 1)
                out.append(item)
            return out

        return await walk(client.nodes.objects, 0)
    finally:
        try:
            await asyncio.wait_for(client.disconnect(), 2)
        except Exception:  # noqa: BLE001 - the link is gone already
            pass


async def opcua_values(url: str, node_ids: list[str], timeout_s: float = 4.0) -> dict[str, Any]:
    """The current value of each node (None for one that cannot be read)."""
    from asyncua import Client, ua  # only when a page tests a mapping: 0.2 s and 20 MB that `serve` spares

    client = Client(url, timeout=timeout_s)
    try:
        await asyncio.wait_for(client.connect(), timeout_s)
    except (OSError, TimeoutError, ua.UaError) as exc:
        raise DiscoveryFailed(endpoint=url, reason=str(exc) or type(exc).__name__) from None
    try:
        out = {}
        for nid in node_ids:
            try:
                out[nid] = _plain(await client.get_node(nid).read_value())
            except (ua.UaError, ValueError):
                out[nid] = None
        return out
    finally:
        try:
            await asyncio.wait_for(client.disconnect(), 2)
        except Exception:  # noqa: BLE001
            pass


async def modbus_words(host: str, port: int, unit: int, table: str, start: int, count: int,
                       timeout_s: float = 3.0) -> list[int]:  # fmt: skip
    """``count`` registers (holding or input) from ``start``."""
    client = AsyncModbusTcpClient(host, port=port, timeout=timeout_s, retries=0)
    endpoint = f"{host}:{port}"
    try:
        if not await client.connect():
            raise DiscoveryFailed(endpoint=endpoint, reason="no connection")
        reader = client.read_input_registers if table == "input" else client.read_holding_registers
        response = await reader(start, count=min(count, MAX_REGISTERS), device_id=unit)
        if response.isError():
            raise DiscoveryFailed(endpoint=endpoint, reason=str(response))
        return list(response.registers)
    except (ModbusException, OSError, TimeoutError) as exc:
        raise DiscoveryFailed(endpoint=endpoint, reason=str(exc) or type(exc).__name__) from None
    finally:
        client.close()


def decodings(words: list[int], start: int) -> list[dict[str, Any]]:
    """For each address, the register's word and what it reads as under each type and word order (a 32-bit type
    takes this register and the next)."""
    rows = []
    for i, word in enumerate(words):
        values: dict[str, Any] = {}
        for label, dtype, order in DECODINGS:
            n = TYPES[dtype][1]
            if i + n > len(words):
                values[label] = None
                continue
            value = RegisterSpec("x", "holding", start + i, dtype, "big", order).decode(words[i : i + n])
            if isinstance(value, float):
                value = None if value != value or abs(value) > 1e12 else round(value, 4)  # NaN, noise: not shown
            values[label] = value
        rows.append({"address": start + i, "word": word, "hex": f"{word:04X}", "values": values})
    return rows


async def modbus_values(host: str, port: int, unit: int, registers: list[dict[str, Any]]) -> dict[str, Any]:
    """The current value of each register (as a plant file names it: tag, table, address, type, word_order)."""
    out = {}
    for r in registers:
        spec = RegisterSpec(r["tag"], r["table"], r["address"], r["type"], "big", r.get("word_order", "big"))
        words = await modbus_words(host, port, unit, spec.table, spec.address, spec.count)
        out[spec.tag] = spec.decode(words)
    return out


async def mtconnect_probe(url: str, timeout_s: float = 4.0) -> list[dict[str, Any]]:
    """The agent's devices, each with its data items (id, name, type, subType, category)."""
    try:
        async with httpx.AsyncClient(timeout=timeout_s) as client:
            response = await client.get(url.rstrip("/") + "/probe")
            response.raise_for_status()
        items = parse_probe(parse_xml(response.content))
    except (httpx.HTTPError, MalformedDocument, MTConnectError) as exc:
        raise DiscoveryFailed(endpoint=url, reason=str(exc) or type(exc).__name__) from None
    devices: dict[str, list[dict[str, Any]]] = {}
    for di in items:
        devices.setdefault(di.device, []).append(
            {"id": di.id, "name": di.name, "type": di.type, "sub_type": di.sub_type, "category": di.category}
        )
    return [{"device": name, "items": found} for name, found in devices.items()]


async def sparkplug_births(url: str, listen_s: float = 5.0, timeout_s: float = 4.0) -> list[dict[str, Any]]:
    """The Sparkplug B edge nodes and devices heard on the broker during ``listen_s``: the metrics (name, type,
    value) of each birth certificate, and the devices seen only in data messages (whose metrics a birth names).
    Listening only: nothing is published."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or (8883 if parts.scheme == "mqtts" else 1883)
    seen: dict[tuple[str, str, str], dict[str, Any]] = {}

    def on_message(message) -> None:
        try:
            topic = parse_topic(message.topic)
        except SparkplugError:
            return
        if topic.message_type not in ("NBIRTH", "DBIRTH", "NDATA", "DDATA"):
            return
        key = (topic.group or "", topic.edge_node or "", topic.device or "")
        entry = seen.setdefault(key, {"group": key[0], "edge": key[1], "device": key[2], "metrics": [], "birth": False})
        if topic.message_type.endswith("BIRTH"):
            try:
                payload = decode_payload(bytes(message.payload))
            except (SparkplugError, ValueError):
                return
            entry["birth"] = True
            entry["metrics"] = [
                {"name": m.name, "type": type_name(m.datatype), "value": _plain(_metric(m))} for m in payload.metrics
            ]

    try:
        link = await mqtt_connect(host, port, connect_packet(f"shopfloor-discover-{id(seen):x}", 30, True), on_message,
                                  30, tls=parts.scheme == "mqtts", timeout_s=timeout_s)  # fmt: skip
    except (OSError, TimeoutError, MqttRefused) as exc:
        raise DiscoveryFailed(endpoint=url, reason=str(exc) or type(exc).__name__) from None
    try:
        await link.subscribe([("spBv1.0/+/NBIRTH/+", 0), ("spBv1.0/+/DBIRTH/+/+", 0), ("spBv1.0/+/NDATA/+", 0),
                              ("spBv1.0/+/DDATA/+/+", 0)], timeout_s)  # fmt: skip
        await asyncio.sleep(listen_s)
    finally:
        link.disconnect()
    return sorted(seen.values(), key=lambda e: (e["group"], e["edge"], e["device"]))


def _metric(metric: Any) -> Any:
    try:
        return metric_value(metric)
    except (SparkplugError, ValueError):
        return None
