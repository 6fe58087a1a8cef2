"""Building the connectors a plant file describes, and keeping their status where the CLI can read it.

Each ingest process (worker) saves its connectors' status every few seconds under its own key; a status whose
process has stopped reporting (three intervals without a save) is shown as stale, never as connected.  A store
that cannot be reached for a status save is only noted: the data itself goes to the disk buffer.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import re
import socket
from datetime import datetime, timezone
from hashlib import blake2b
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import DBAPIError, OperationalError

from shopfloor.connectors.base import Connector
from shopfloor.model.plant import Plant
from shopfloor.store.db import writing
from shopfloor.store.schema import ingest_state

log = logging.getLogger(__name__)
STATUS_KEY = "connectors/status"  # followed by "/<worker>"
STATUS_EVERY_S = 5.0
STALE_AFTER = 3  # status saves missed before a worker's connectors are shown stale


def default_worker(buffer_dir: Path | None) -> str:
    """A name for this ingest worker that stays the same across its restarts and differs between workers: the
    host name and a digest of the worker's own buffer folder (each worker has one)."""
    host = re.sub(r"[^A-Za-z0-9_-]+", "-", socket.gethostname())[:32] or "host"
    where = str(buffer_dir.resolve()) if buffer_dir is not None else f"pid-{os.getpid()}"
    return f"{host}-{blake2b(where.encode(), digest_size=3).hexdigest()}"


if TYPE_CHECKING:
    from shopfloor.connectors.mqtt import Quarantine

# Each connector's module, imported when a plant names a connector of its type: the protocol libraries cost
# tens of MB and a few tenths of a second each (asyncua alone 0.3 s and 20 MB), a plant uses one or two of them,
# and `serve`, which reads the connectors' status from here, none.
CONNECTOR_CLASSES = {
    "modbus": ("shopfloor.connectors.modbus", "ModbusConnector"),
    "opcua": ("shopfloor.connectors.opcua", "OpcUaConnector"),
    "mtconnect": ("shopfloor.connectors.mtconnect", "MTConnectConnector"),
    "mqtt": ("shopfloor.connectors.mqtt", "MqttConnector"),
}


def connector_class(kind: str) -> Any:
    """The connector class of a plant file's connector ``type``, its module imported on first use."""
    module, name = CONNECTOR_CLASSES[kind]
    return getattr(importlib.import_module(module), name)


def build_connectors(
    plant: Plant, quarantine: Quarantine | None = None, only: set[str] | None = None, worker: str = "main"
) -> list[Connector]:
    """One connector per ``connectors`` entry of the plant file (those named in ``only``, when given), with the
    machines that name it.  ``worker`` names this ingest worker: connectors keep their state under it, and an
    MQTT connector's default client id is made of the site, the connector and it (unique per plant, connector
    and worker)."""
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
        cls = connector_class(spec.type)
        if spec.type in ("modbus", "opcua"):
            out.append(cls.from_config(spec.name, spec.options, machines))
        elif spec.type == "mtconnect":
            out.append(cls.from_config(spec.name, spec.options, machines, worker=worker))
        elif spec.type == "mqtt":
            out.append(cls.from_config(spec.name, spec.options, machines, quarantine, plant.site.code, worker))
    return out


HISTORY_KEPT = 50  # connections and disconnections kept per worker


def note_changes(connectors: list[Any], seen: dict[str, bool], history: list[dict[str, Any]]) -> None:
    """Append to ``history`` each connector that connected or lost its connection since ``seen`` (its last
    state, updated), with the error it reported; the oldest entries beyond ``HISTORY_KEPT`` are dropped."""
    now = datetime.now(timezone.utc).isoformat()
    for c in connectors:
        st = c.status
        if st.name in seen and seen[st.name] != st.connected:
            history.append({"at": now, "connector": st.name, "connected": st.connected,
                            "error": None if st.connected else st.last_error})  # fmt: skip
        seen[st.name] = st.connected
    del history[:-HISTORY_KEPT]


def save_status(
    engine: Engine,
    connectors: list[Any],
    buffered: int,
    worker: str = "main",
    every_s: float = STATUS_EVERY_S,
    stopped: bool = False,
    history: list[dict[str, Any]] | None = None,
) -> None:
    # Imported here: the writer imports this module's status keys, so a top-level import would be a cycle.
    from shopfloor.ingest.writer import _upsert_state

    doc = {
        "at": datetime.now(timezone.utc).isoformat(),
        "worker": worker,
        "pid": os.getpid(),
        "every_s": every_s,
        "stopped": stopped,
        "buffered": buffered,
        "connectors": [c.status.as_dict() for c in connectors],
        "history": list(history or []),
    }
    with writing(engine) as conn:
        _upsert_state(conn, f"{STATUS_KEY}/{worker}", doc)


def load_status(engine: Engine, now: datetime | None = None) -> dict[str, Any] | None:
    """Every worker's last saved status as one: ``at`` the latest save, ``buffered`` their sum, and each
    connector with its ``worker``, when it was ``reported_at`` and whether it is ``stale`` (its process stopped
    reporting, or stopped): a stale connector is never shown connected."""
    now = now or datetime.now(timezone.utc)
    with engine.connect() as conn:
        rows = conn.execute(
            select(ingest_state.c.state).where(ingest_state.c.key.startswith(STATUS_KEY)).order_by(ingest_state.c.key)
        ).all()
    docs = [doc for (doc,) in rows if isinstance(doc, dict) and "connectors" in doc]
    if not docs:
        return None
    out: dict[str, Any] = {"at": max(d["at"] for d in docs), "buffered": 0, "connectors": [], "workers": [],
                           "history": sorted((h for d in docs for h in d.get("history") or []),
                                             key=lambda h: h["at"], reverse=True)}  # fmt: skip
    for doc in docs:
        reported = datetime.fromisoformat(doc["at"])
        every = float(doc.get("every_s") or STATUS_EVERY_S)
        stale = bool(doc.get("stopped")) or (now - reported).total_seconds() > STALE_AFTER * every
        worker = doc.get("worker", "main")
        out["buffered"] += int(doc.get("buffered") or 0)
        out["workers"].append({"worker": worker, "reported_at": doc["at"], "stale": stale, "pid": doc.get("pid")})
        for c in doc["connectors"]:
            connected = bool(c.get("connected")) and not stale
            out["connectors"].append({**c, "connected": connected, "stale": stale, "worker": worker,
                                      "reported_at": doc["at"]})  # fmt: skip
    return out


async def publish_status(
    engine: Engine, connectors: list[Any], writer, every_s: float = STATUS_EVERY_S, worker: str = "main"
) -> None:
    """Save the connectors' status every ``every_s``; a store that cannot be reached is noted and tried again
    (the data itself goes to the disk buffer meanwhile: a status is never a reason to stop)."""
    failing = False
    seen: dict[str, bool] = {}
    history: list[dict[str, Any]] = []
    while True:
        for c in connectors:
            c.status.buffered = writer.buffered
        note_changes(connectors, seen, history)
        try:
            await asyncio.to_thread(save_status, engine, connectors, writer.buffered, worker, every_s, False, history)
        except (OperationalError, DBAPIError) as exc:
            if not failing:
                log.warning("connector status not saved (the store does not answer): %s", str(exc).splitlines()[0])
            failing = True
        else:
            failing = False
        await asyncio.sleep(every_s)
