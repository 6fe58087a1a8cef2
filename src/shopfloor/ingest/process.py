"""The ``shopfloor ingest`` process: the connectors of the plant file and the writer, supervised until a signal.

What stops it, and how:

* SIGTERM (what systemd sends) or SIGINT: a clean stop.  Every connector is stopped (an MQTT connector finishes
  and acknowledges the commit in flight, publishes its host death and closes its session), the writer commits
  or buffers what is queued, the status is saved as stopped, and the process ends with exit code 0.
* A fatal configuration error (``ConnectorConfigError``: an option that cannot work, a client id another
  process uses): the same clean stop, then the error, and a non-zero exit code.

Nothing else stops it.  A store that goes away only sends the data to the disk buffer (and a status save that
fails is only noted); a connector that fails in a way nobody foresaw is logged, shown in its status and started
again after the reconnection back-off.  A store that does not answer when the process starts is waited for
(``open_when_reachable``): the plant, the mapping state and the connectors' sessions are in it, and until they are
read no source is connected, so nothing is acknowledged (the broker keeps what it holds for the session).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from shopfloor.connectors.base import RECONNECT_MAX_S, Connector, ConnectorConfigError
from shopfloor.errors import PlantNotImported
from shopfloor.ingest.service import STATUS_EVERY_S, build_connectors, default_worker, publish_status, save_status
from shopfloor.ingest.writer import MAPPER_STATE_KEY, IngestWriter, WriterEmit, tune_gc_for_ingest
from shopfloor.live import broker
from shopfloor.model.plant import Plant
from shopfloor.store.db import open_store
from shopfloor.store.plant import load_plant, plant_version

log = logging.getLogger(__name__)
PLANT_EVERY_S = 2.0  # how often the ingest looks for a changed plant (connectors saved on the pages)


def open_when_reachable(url: str | None, retry_s: float = 2.0) -> tuple[Engine, Plant]:
    """The store and its plant, once the store answers and holds a plant (a new store gets one from the set-up
    page): tried again every ``retry_s`` until it does (or SIGTERM or SIGINT ends the wait, as
    KeyboardInterrupt)."""
    previous = signal.getsignal(signal.SIGTERM)

    def interrupt(signum, frame):  # noqa: ARG001 - the signal handler's signature
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    try:
        waiting = False
        while True:
            try:
                engine = open_store(url)
                with engine.connect() as conn:
                    return engine, load_plant(conn)
            except (OperationalError, DBAPIError) as exc:
                if not waiting:
                    log.warning("the store does not answer; waiting for it: %s", str(exc).splitlines()[0])
                waiting = True
                time.sleep(retry_s)
            except PlantNotImported:
                if not waiting:
                    log.warning("no plant in the store yet; waiting for the set-up page or shopfloor import plant")
                waiting = True
                engine.dispose()
                time.sleep(retry_s)
    finally:
        signal.signal(signal.SIGTERM, previous)


async def run_ingest(
    engine: Engine,
    plant: Plant,
    buffer_dir: Path,
    only: set[str] | None = None,
    worker: str | None = None,
    status_every_s: float = STATUS_EVERY_S,
    plant_every_s: float = PLANT_EVERY_S,
) -> None:
    """Run the connectors of the plant file (or those in ``only``) into the store until SIGTERM or SIGINT,
    following the plant as it changes in the store (looked at every ``plant_every_s``: a connector saved on the
    pages runs without a restart);
    raises ``ConnectorConfigError`` after a clean stop when a connector's configuration cannot work.  A worker
    running some connectors keeps its mapping state under its own key; ``worker`` (default: from the host name
    and the buffer folder) names it."""
    worker = worker or default_worker(buffer_dir)
    key = MAPPER_STATE_KEY if only is None else f"{MAPPER_STATE_KEY}:{','.join(sorted(only))}"
    built = build_connectors(plant, None, only, worker)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):  # not the main thread
            loop.add_signal_handler(signum, stop.set)
    writer = IngestWriter(engine, plant, buffer_dir, state_key=key)
    await writer.start()
    # What an earlier run buffered goes to the store first, so the connectors start from the state it carries.
    await writer.replay()
    tune_gc_for_ingest()
    for c in built:
        if hasattr(c, "quarantine"):
            c.quarantine = writer.quarantine  # type: ignore[attr-defined]
    broker.share_through(engine)

    # The boards of the web processes hear of each committed batch's machines, through PostgreSQL.
    emit = writer.emit_for_connector(lambda signals: broker.publish(s.machine for s in signals))
    fatal: list[ConnectorConfigError] = []
    running = {c.name: (_signature(plant, c.name), c) for c in built}
    tasks = {c.name: asyncio.create_task(_supervise(c, emit, fatal, stop), name=f"connector-{c.name}") for c in built}

    def follow(changed: Plant) -> None:
        """The plant changed in the store (a connector saved on the pages): run what it says now, restarting
        only the connectors whose configuration or machines changed."""
        wanted = {spec.name for spec in changed.connectors if only is None or spec.name in only}
        fresh = {c.name: c for c in build_connectors(changed, None, wanted, worker)}
        writer.use_plant(changed)
        for name in list(tasks):
            if name not in fresh or _signature(changed, name) != running[name][0]:
                tasks.pop(name).cancel()
                built.remove(running.pop(name)[1])
                log.info("connector %s stopped: the plant changed", name)
        for name, c in fresh.items():
            if name in tasks:
                continue
            if hasattr(c, "quarantine"):
                c.quarantine = writer.quarantine  # type: ignore[attr-defined]
            running[name] = (_signature(changed, name), c)
            built.append(c)
            tasks[name] = asyncio.create_task(_supervise(c, emit, fatal, stop), name=f"connector-{name}")
            log.info("connector %s started: the plant changed", name)

    watch = asyncio.create_task(_follow_plant(engine, follow, plant_every_s))
    status = asyncio.create_task(publish_status(engine, built, writer, status_every_s, worker))
    try:
        await stop.wait()
    finally:
        watch.cancel()
        for task in tasks.values():
            task.cancel()
        await asyncio.gather(watch, *tasks.values(), return_exceptions=True)
        status.cancel()
        await asyncio.gather(status, return_exceptions=True)
        await writer.stop()
        try:
            await asyncio.to_thread(save_status, engine, built, writer.buffered, worker, status_every_s, True)
        except (OperationalError, DBAPIError):
            log.warning("the final connector status could not be saved: the store does not answer")
        for signum in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(signum)
    if fatal:
        raise fatal[0]


def _signature(plant: Plant, name: str) -> str:
    """What a connector is made of: its options and its machines' sources (a change restarts it)."""
    spec = next((c for c in plant.connectors if c.name == name), None)
    machines = {m.code: m.connector for m in plant.machines_of(name)}
    return repr((spec.type, sorted(spec.options.items()), sorted(machines.items())) if spec else None)


def _load_changed(engine: Engine, seen: int | None) -> tuple[int | None, Plant | None]:
    with engine.connect() as conn:
        version = plant_version(conn)
        return version, (load_plant(conn) if version != seen else None)


async def _follow_plant(engine: Engine, follow, every_s: float) -> None:
    """Call ``follow(plant)`` each time another plant document is saved in the store."""
    version, _ = await asyncio.to_thread(_load_changed, engine, None)
    while True:
        await asyncio.sleep(every_s)
        try:
            now, changed = await asyncio.to_thread(_load_changed, engine, version)
        except (OperationalError, DBAPIError):
            continue  # the store does not answer: the connectors go on as they are
        if changed is None:
            continue
        version = now
        try:
            follow(changed)
        except (ValueError, ConnectorConfigError) as exc:  # a configuration that cannot run: the rest go on
            log.error("the changed plant's connectors were not all started: %s", exc)


async def _supervise(connector: Connector, emit: WriterEmit, fatal: list[ConnectorConfigError], stop: asyncio.Event):
    """Run one connector; start it again after anything unforeseen, stop the process on a configuration error."""
    while True:
        try:
            await connector.run(emit)
            return
        except asyncio.CancelledError:
            raise
        except ConnectorConfigError as exc:
            log.error("%s: %s", connector.name, exc)
            connector.status.record_error(str(exc))
            fatal.append(exc)
            stop.set()
            return
        except Exception as exc:  # noqa: BLE001 - a connector must never take the ingest down
            log.exception("%s stopped on an unexpected error; starting it again", connector.name)
            connector.status.connected = False
            connector.status.record_error(f"stopped on an unexpected error, started again: {exc!r}")
            await asyncio.sleep(RECONNECT_MAX_S)
