"""Running shopfloor as one process: the web server, the ingest writer and the data sources side by side.

Sources hand signals to the writer; after each commit the writer's machines are published to open boards.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import uvicorn
from sqlalchemy import Engine

from shopfloor.actions.scheduled_reports import scheduler
from shopfloor.app import create_app
from shopfloor.connectors.base import Signal
from shopfloor.ingest.service import build_connectors, default_worker, publish_status
from shopfloor.ingest.writer import IngestWriter, tune_gc_for_ingest
from shopfloor.live import broker
from shopfloor.model.plant import Plant
from shopfloor.settings import Settings

log = logging.getLogger(__name__)
Source = Callable[[Callable[[list[Signal]], Awaitable[None]]], Awaitable[None]]


async def run(
    settings: Settings,
    engine: Engine,
    plant: Plant,
    sources: list[Source],
    host: str,
    port: int,
    buffer_dir: Path,
    on_ready: Callable[[], None] | None = None,
    connectors: bool = True,
) -> None:
    """Serve the application and run ``sources`` plus, with ``connectors``, those the plant file describes."""
    writer = IngestWriter(engine, plant, buffer_dir)
    await writer.start()
    tune_gc_for_ingest()
    worker = default_worker(buffer_dir)
    built = build_connectors(plant, writer.quarantine, worker=worker) if connectors else []
    sources = [*sources, *(c.run for c in built)]
    if built:
        sources.append(lambda emit: publish_status(engine, built, writer, worker=worker))

    # The boards hear of each committed batch's machines.
    emit = writer.emit_for_connector(lambda signals: broker.publish(s.machine for s in signals))

    app = create_app(settings, engine=engine)
    app.state.writer = writer
    gc.freeze()  # the application's routes and schemas too, as in app_from_env
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off"))
    tasks = [asyncio.create_task(source(emit)) for source in sources]
    for task in tasks:
        task.add_done_callback(_report_failure)
    tasks.append(asyncio.create_task(scheduler(engine, settings)))
    serve = asyncio.create_task(server.serve())
    while not server.started and not serve.done():
        await asyncio.sleep(0.05)
    if on_ready is not None and server.started:
        on_ready()
    try:
        await serve
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await writer.stop()


def _report_failure(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("a data source stopped: %r", task.exception(), exc_info=task.exception())
