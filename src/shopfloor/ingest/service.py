"""Building the connectors a plant file describes, and keeping their status where the CLI can read it."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Engine, select

from shopfloor.connectors.base import Connector
from shopfloor.connectors.modbus import ModbusConnector
from shopfloor.connectors.mqtt import MqttConnector, Quarantine
from shopfloor.connectors.mtconnect import MTConnectConnector
from shopfloor.connectors.opcua import OpcUaConnector
from shopfloor.model.plant import Plant
from shopfloor.store.db import writing
from shopfloor.store.schema import ingest_state

STATUS_KEY = "connectors/status"


def build_connectors(
    plant: Plant, quarantine: Quarantine | None = None, only: set[str] | None = None
) -> list[Connector]:
    """One connector per ``connectors`` entry of the plant file (those named in ``only``, when given), with the
    machines that name it."""
    known = {spec.name for spec in plant.connectors}
    if only is not None and only - known:
        raise ValueError(
            f"no connector {', '.join(sorted(only - known))} in the plant file (known: {', '.join(sorted(known))})"
        )
    out: list[Connector] = []
    for spec in plant.connectors:
        if only is not None and spec.name not in only:
            continue
        machines = {
            m.code: {k: v for k, v in (m.connector or {}).items() if k != "name"} for m in plant.machines_of(spec.name)
        }
        if spec.type == "modbus":
            out.append(ModbusConnector.from_config(spec.name, spec.options, machines))
        elif spec.type == "opcua":
            out.append(OpcUaConnector.from_config(spec.name, spec.options, machines))
        elif spec.type == "mtconnect":
            out.append(MTConnectConnector.from_config(spec.name, spec.options, machines))
        elif spec.type == "mqtt":
            out.append(MqttConnector.from_config(spec.name, spec.options, machines, quarantine))
    return out


def save_status(engine: Engine, connectors: list[Any], buffered: int) -> None:
    # Imported here: the writer imports this module's status keys, so a top-level import would be a cycle.
    from shopfloor.ingest.writer import _upsert_state

    doc = {
        "at": datetime.now(timezone.utc).isoformat(),
        "buffered": buffered,
        "connectors": [c.status.as_dict() for c in connectors],
    }
    with writing(engine) as conn:
        _upsert_state(conn, STATUS_KEY, doc)


def load_status(engine: Engine) -> dict[str, Any] | None:
    with engine.connect() as conn:
        return conn.execute(select(ingest_state.c.state).where(ingest_state.c.key == STATUS_KEY)).scalar()


async def publish_status(engine: Engine, connectors: list[Any], writer, every_s: float = 5.0) -> None:
    while True:
        for c in connectors:
            c.status.buffered = writer.buffered
        await asyncio.to_thread(save_status, engine, connectors, writer.buffered)
        await asyncio.sleep(every_s)
