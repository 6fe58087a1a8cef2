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
from shopfloor.ingest.service import STATUS_EVERY_S, build_connectors, default_worker, publish_status, save_status
from shopfloor.ingest.writer import MAPPER_STATE_KEY, IngestWriter, WriterEmit, tune_gc_for_ingest
from shopfloor.live import broker
from shopfloor.model.plant import Plant
from shopfloor.store.db import open_store
from shopfloor.store.plant import load_plant

log = logging.getLogger(__name__)


def open_when_reachable(url: str | None, retry_s: float = 2.0) -> tuple[Engine, Plant]:
    """The store and its plant, once the store answers: tried again every ``retry_s`` until it does (or SIGTERM
    or SIGINT ends the wait, as KeyboardInterrupt)."""
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
    finally:
        signal.signal(signal.SIGTERM, previous)


async def run_ingest(
    engine: Engine,
    plant: Plant,
    buffer_dir: Path,
    only: set[str] | None = None,
    worker: str | None = None,
    status_every_s: float = STATUS_EVERY_S,
) -> None:
    """Run the connectors of the plant file (or those in ``only``) into the store until SIGTERM or SIGINT;
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
    tasks = [asyncio.create_task(_supervise(c, emit, fatal, stop), name=f"connector-{c.name}") for c in built]
    status = asyncio.create_task(publish_status(engine, built, writer, status_every_s, worker))
    try:
        await stop.wait()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
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
