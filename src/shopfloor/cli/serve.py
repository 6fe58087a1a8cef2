"""``shopfloor serve`` (the web application, the API and the scheduled reports) and ``shopfloor ingest`` (the
connectors of the plant file, without a web server)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
import uvicorn

from shopfloor import logs
from shopfloor.actions import maintenance
from shopfloor.actions.scheduled_reports import scheduler
from shopfloor.api.serving import MAX_HEADER_BYTES, guarded_protocol
from shopfloor.app import create_app
from shopfloor.cli.common import DbOption, fail, settings
from shopfloor.connectors.base import ConnectorConfigError
from shopfloor.errors import DomainError
from shopfloor.ingest.process import open_when_reachable, run_ingest
from shopfloor.store.db import open_store, resolve_url

cli = typer.Typer()


@cli.command("serve")
def serve_cmd(
    host: Annotated[str, typer.Option(help="Address to serve on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 8000,
    secure_cookies: Annotated[
        bool | None, typer.Option(help="Mark cookies Secure (behind HTTPS); default $SHOPFLOOR_SECURE.")
    ] = None,
    hub: Annotated[
        bool | None, typer.Option("--hub", help="Serve the hub too: programs, sponsors, shared outcomes.")
    ] = None,
    db: DbOption = None,
) -> None:
    """Serve the web application and the REST API (OpenAPI at /api/openapi.json) on a store, and send the
    scheduled reports when they are due.  Raise breakdown requests for machines that stay down.  Slow request
    headers and bodies, open connections and body sizes are limited by the settings SHOPFLOOR_HEADER_TIMEOUT_S,
    _BODY_TIMEOUT_S, _KEEP_ALIVE_S, _MAX_CONNECTIONS, _MAX_BODY_KB and _MAX_UPLOAD_MB."""
    served = settings(db=db, secure=secure_cookies, hub=hub)
    logs.configure(served.log_level, served.log_format)
    engine = open_store(served.db)
    web_app = create_app(served, engine=engine)

    async def main() -> None:
        reports = asyncio.create_task(scheduler(engine, served))
        stops = asyncio.create_task(maintenance.watch(engine, served))
        try:
            config = uvicorn.Config(
                web_app,
                host=host,
                port=port,
                log_level="info",
                log_config=None,
                # uvicorn's own limits, and the slow-header, slow-body and connection limits it lacks
                http=guarded_protocol(served.header_timeout_s, served.body_timeout_s, served.max_connections),
                timeout_keep_alive=served.keep_alive_s,
                h11_max_incomplete_event_size=MAX_HEADER_BYTES,
            )
            await uvicorn.Server(config).serve()
        finally:
            reports.cancel()
            stops.cancel()

    asyncio.run(main())


@cli.command("ingest")
def ingest_cmd(
    buffer: Annotated[
        Path | None, typer.Option(help="Disk buffer folder (default: next to an SQLite store, else ./ingest-buffer).")
    ] = None,
    connector: Annotated[
        list[str] | None,
        typer.Option("--connector", help="Run only this connector of the plant file (repeatable): one worker each."),
    ] = None,
    worker: Annotated[
        str | None,
        typer.Option(
            help="Name of this ingest worker (default: host name and buffer folder); keep it across restarts."
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """Collect machine data: run the connectors of the plant file into the store (no web server).  Several
    workers on one store each run their own connectors (``--connector``) with their own buffer.  SIGTERM stops it
    cleanly (exit code 0); a connector configuration that cannot work stops it with exit code 2.  A store that does
    not answer at start is waited for."""
    ingesting = settings(db=db)
    logs.configure(ingesting.log_level, ingesting.log_format)
    try:
        engine, plant = open_when_reachable(ingesting.db)
    except DomainError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        return
    url = resolve_url(ingesting.db)
    folder = buffer or (Path(url.split("///", 1)[1] + ".buffer") if url.startswith("sqlite") else Path("ingest-buffer"))
    try:
        asyncio.run(run_ingest(engine, plant, folder, set(connector) if connector else None, worker))
    except (ConnectorConfigError, ValueError) as exc:
        fail(str(exc))
