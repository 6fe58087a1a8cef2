"""Connecting a machine from the pages: what its data source offers (``discover``), the current values of the
sources picked and what the mapping makes of them (``try_mapping``), and the connection saved into the plant
(``connect_machine``: the connector, the machine's sources and its tag mapping, checked as the plant file is,
audited).  The running ingest follows the plant in the store and starts the connector without a restart.

A pick is ``{"source": ..., "name": ..., "role": ..., "as": ...}``: an OPC UA node id, a Modbus register
address (``as`` its decoding, e.g. ``float32 CDAB``) or an MTConnect data item id; ``name`` the signal's name;
``role`` one of state, good_count, total_count, scrap_count, alarm, process.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from sqlalchemy import Engine

from shopfloor.actions.core import change
from shopfloor.actions.plant import checked_plant
from shopfloor.errors import (
    EndpointMissing,
    MachineNotFound,
    NothingMapped,
    PlantNotImported,
    ProtocolUnknown,
    RoleTwice,
)
from shopfloor.ingest import discover as d
from shopfloor.ingest.service import load_status
from shopfloor.model import plant_edit
from shopfloor.model.events import MachineState
from shopfloor.model.plant import CONNECTOR_TYPES
from shopfloor.model.tags import MappingError, parse_tags
from shopfloor.store import rollups
from shopfloor.store.first_run import has_plant
from shopfloor.store.locks import lock_name
from shopfloor.store.plant import load_plant, save_plant

PROTOCOLS = ("opcua", "modbus", "mqtt", "mtconnect")
ROLES = ("state", "good_count", "total_count", "scrap_count", "alarm", "process")
DEFAULT_STATE_MAP = "0=idle, 1=running, 2=setup, 3=down, 4=planned_stop"
LISTEN_S = 5.0  # how long the pages listen for Sparkplug births
DECODING = {label: (dtype, order) for label, dtype, order in d.DECODINGS}


def endpoint_of(protocol: str, form: dict[str, str]) -> dict[str, Any]:
    """The connector's options from a form: an OPC UA or MTConnect url; a Modbus host, port, unit and the
    register range to read."""
    if protocol not in PROTOCOLS:
        raise ProtocolUnknown(protocol=protocol, protocols=list(PROTOCOLS))
    if protocol in ("opcua", "mtconnect", "mqtt"):
        url = form.get("url", "").strip()
        if not url:
            raise EndpointMissing(what="url")
        return {"url": url}
    host = form.get("host", "").strip()
    if not host:
        raise EndpointMissing(what="host")

    def number(name: str, default: int, top: int) -> int:
        text = form.get(name, "").strip()
        return min(max(int(text), 0), top) if text.isdigit() else default

    return {"host": host, "port": number("port", 502, 65535), "unit": number("unit", 1, 247),
            "table": "input" if form.get("table") == "input" else "holding",
            "start": number("start", 0, 65535), "count": max(number("count", 20, 125), 1)}  # fmt: skip


def discover(protocol: str, endpoint: dict[str, Any]) -> dict[str, Any]:
    """What the source offers: ``tree`` (OPC UA), ``registers`` with their decodings (Modbus), ``devices``
    (MTConnect)."""
    if protocol == "opcua":
        return {"tree": asyncio.run(d.opcua_browse(endpoint["url"]))}
    if protocol == "modbus":
        e = endpoint
        words = asyncio.run(d.modbus_words(e["host"], e["port"], e["unit"], e["table"], e["start"], e["count"]))
        return {"registers": d.decodings(words, e["start"]), "decodings": [x[0] for x in d.DECODINGS]}
    if protocol == "mqtt":
        return {"sparkplug": asyncio.run(d.sparkplug_births(endpoint["url"], LISTEN_S))}
    return {"devices": asyncio.run(d.mtconnect_probe(endpoint["url"]))}


def connector_status(engine: Engine) -> dict[str, Any] | None:
    """The ingest workers' last status of every connector, with their connections and disconnections."""
    return load_status(engine)


def _signal(pick: dict[str, Any]) -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", str(pick.get("name") or pick["source"]))
    return name or "signal"


def _register(pick: dict[str, Any], table: str) -> dict[str, Any]:
    dtype, order = DECODING.get(pick.get("as") or "uint16", ("uint16", "big"))
    return {"tag": _signal(pick), "table": table, "address": int(pick["source"]), "type": dtype, "word_order": order}


def _state_map(text: str) -> dict[Any, str]:
    out: dict[Any, str] = {}
    for piece in (p.strip() for p in (text or DEFAULT_STATE_MAP).split(",")):
        if "=" in piece:
            key, _, state = piece.partition("=")
            key = key.strip()
            out[int(key) if key.lstrip("-").isdigit() else key] = state.strip()
    return out


def mapping(
    protocol: str, name: str, endpoint: dict[str, Any], picks: list[dict[str, Any]], state_map: str = "",
    product: str = "",
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:  # fmt: skip
    """The plant document's parts of a connection: the connector, the machine's ``connector`` entry and its
    ``tags`` (``product``: what the machine makes when no source says, for its ideal cycle time).  Refused
    without any mapped source or with one role (other than process) mapped twice."""
    chosen = [p for p in picks if p.get("role") in ROLES]
    if not chosen:
        raise NothingMapped()
    seen: set[str] = set()
    for p in chosen:
        if p["role"] != "process" and p["role"] in seen:
            raise RoleTwice(role=p["role"])
        seen.add(p["role"])
    if protocol == "opcua":
        spec = {"name": name, "type": "opcua", "url": endpoint["url"]}
        source = {"name": name, "nodes": {_signal(p): p["source"] for p in chosen}}
    elif protocol == "modbus":
        spec = {"name": name, "type": "modbus", "host": endpoint["host"], "port": endpoint["port"], "poll_s": 1.0}
        source = {"name": name, "unit": endpoint["unit"],
                  "registers": [_register(p, endpoint.get("table", "holding")) for p in chosen]}  # fmt: skip
    elif protocol == "mqtt":
        group, _, device = (endpoint.get("device") or "").partition("/")
        edge, _, device = device.partition("/")
        spec = {"name": name, "type": "mqtt", "url": endpoint["url"], "groups": [group] if group else []}
        source = {"name": name, "device": device or edge, **({"edge": edge} if device else {})}
    else:
        spec = {"name": name, "type": "mtconnect", "url": endpoint["url"], "poll_s": 1.0}
        source = {
            "name": name,
            "device": endpoint.get("device", ""),
            "items": {p["source"]: _signal(p) for p in chosen},
        }
    tags: dict[str, Any] = {}
    for p in chosen:
        signal, role = _signal(p), p["role"]
        if role == "state":
            tags["state"] = {"signal": signal, "map": _state_map(state_map)}
        elif role == "alarm":
            tags["alarm"] = {"signal": signal}
        elif role == "process":
            tags.setdefault("process", []).append({"signal": signal, "name": signal.lower()})
        else:
            bits = 16 if protocol == "modbus" and (p.get("as") or "uint16").endswith("16") else 32
            tags[role] = {"signal": signal, "bits": bits}
    if product:
        tags["product"] = {"default": product}
    return spec, source, tags


def try_mapping(protocol: str, endpoint: dict[str, Any], picks: list[dict[str, Any]], state_map: str,
                machine: str, products: set[str]) -> list[dict[str, Any]]:  # fmt: skip
    """Each picked source with its current value and what the mapping makes of it (the state it means, the count,
    the alarm, the process value), read from the source now: the page's "test"."""
    spec, source, tags = mapping(protocol, "test", endpoint, picks, state_map)
    chosen = [p for p in picks if p.get("role") in ROLES]
    if protocol == "opcua":
        values = asyncio.run(d.opcua_values(endpoint["url"], [p["source"] for p in chosen]))
        live = {_signal(p): values.get(p["source"]) for p in chosen}
    elif protocol == "modbus":
        live = asyncio.run(d.modbus_values(endpoint["host"], endpoint["port"], endpoint["unit"], source["registers"]))
    elif protocol == "mqtt":
        heard = asyncio.run(d.sparkplug_births(endpoint["url"], LISTEN_S))
        wanted = endpoint.get("device", "")
        live = {m["name"]: m["value"] for e in heard if f"{e['group']}/{e['edge']}/{e['device']}".rstrip("/") == wanted
                for m in e["metrics"]}  # fmt: skip
    else:
        live = {}
    try:
        rules = parse_tags(machine, tags, products)
    except MappingError:
        rules = None
    out = []
    for p in chosen:
        signal, value = _signal(p), live.get(_signal(p))
        result: Any = value
        if p["role"] == "state" and rules is not None and rules.state is not None:
            state = rules.state.state_of(value)
            result = state.value if isinstance(state, MachineState) else "?"
        elif p["role"] == "alarm":
            result = "-" if not value else f"alarm {value} (down)"
        out.append({"signal": signal, "role": p["role"], "value": value, "result": result})
    return out


def connect_machine(engine: Engine, actor: str, machine: str, *, connector: dict[str, Any],
                    source: dict[str, Any], tags: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    """Save a machine's connection: the connector (added or replaced by name), the machine's sources and its tag
    mapping, in one change checked as the plant file is.  The ingest starts it within seconds."""
    if connector.get("type") not in CONNECTOR_TYPES:
        raise ProtocolUnknown(protocol=str(connector.get("type")), protocols=list(CONNECTOR_TYPES))
    with change(engine, actor) as c:
        site = has_plant(c.conn)
        if site is None:
            raise PlantNotImported()
        lock_name(c.conn, "site", site)
        before = load_plant(c.conn, site)
        try:
            line = before.machine(machine).line
        except KeyError:
            raise MachineNotFound(machine=machine) from None
        options = {k: v for k, v in connector.items() if k != "name"}
        doc = plant_edit.edit(before.to_dict(), "connector", connector["name"], options)
        doc = plant_edit.edit(doc, "machine", machine, {"line": line, "connector": source, "tags": tags})
        plant = checked_plant(doc)
        save_plant(c.conn, plant, actor)
        stored = load_plant(c.conn, site)
        rollups.refresh(c.conn, stored, [machine])
        c.audit("connector.save", f"machine:{machine}", {"connector": connector, "source": source, "tags": tags})
        c.publish("plant", site)
        c.publish("machine", machine)
    return {"machine": machine, "connector": connector["name"]}
