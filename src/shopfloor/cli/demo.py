"""``shopfloor demo`` and ``shopfloor simulate``: the virtual plant, its machines speaking the real protocols."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.table import Table
from sqlalchemy import Engine

from shopfloor import runtime
from shopfloor.actions.demo import create_demo_accounts, load_demo, load_history, sample_plant
from shopfloor.actions.demo_materials import has_lots, load_materials
from shopfloor.actions.demo_mould_shop import load_mould_shop
from shopfloor.cli.common import console, settings
from shopfloor.cli.kpi import kpi_cmd
from shopfloor.model.intervals import Interval
from shopfloor.settings import Settings
from shopfloor.simulator.plant import VirtualPlant
from shopfloor.simulator.servers import ProtocolPlant, connected_plant, demo_broker
from shopfloor.store.db import open_store, resolve_url
from shopfloor.store.events import event_spans
from shopfloor.store.plant import load_plant, machine_ids, save_plant

cli = typer.Typer()


@cli.command("demo")
def demo_cmd(
    db: Annotated[str, typer.Option("--db", help="Store for the demo (embedded SQLite by default).")] = "demo.db",
    host: Annotated[str, typer.Option(help="Address to serve on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 8000,
    days: Annotated[int, typer.Option(help="Days of simulated history before now.")] = 7,
    seed: Annotated[int, typer.Option(help="Random seed of the simulation.")] = 7,
    serve: Annotated[
        bool,
        typer.Option(
            "--serve/--no-serve",
            help="Serve the board and terminal on the live "
            "simulated plant (default), or only load a simulated day and print its KPIs.",
        ),
    ] = True,
) -> None:
    """The demo: sample plant, simulated history, live simulated machines, the board and the terminal."""
    demo_settings = settings(db=db)
    engine = open_store(demo_settings.db)
    if not serve:
        summary = load_demo(engine, seed)
        console.print(
            f"demo store {resolve_url(db)}: plant {summary['site']}, {summary['events']} event(s) for "
            f"{summary['day']} ({summary['timezone']})"
        )
        kpi_cmd(site=True, start=summary["day"], end=summary["next_day"], by="shift", db=db)
        for line in summary["lines"]:
            kpi_cmd(line=line, start=summary["day"], end=summary["next_day"], db=db)
        return
    _serve_demo(demo_settings, engine, host, port, days, seed)


def _serve_demo(demo_settings: Settings, engine: Engine, host: str, port: int, days: int, seed: int) -> None:
    plant = sample_plant()
    mqtt_url = demo_broker(demo_settings.mqtt)
    virtual = VirtualPlant(plant, seed)
    protocols = ProtocolPlant(virtual, mqtt_url)
    url = resolve_url(demo_settings.db)

    async def main() -> None:
        await protocols.start()
        live = connected_plant(plant, protocols)
        now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
        with engine.begin() as conn:
            save_plant(conn, live, "demo")
            live = load_plant(conn, live.site.code)
            spans = list(event_spans(conn, list(machine_ids(conn).values())).values())
            if not has_lots(conn):  # the first start: master data and a day of material flow up to now
                load_materials(conn, live, now - timedelta(hours=7))
        start = now - timedelta(days=days)
        last = max((sp[1] for sp in spans if sp), default=None)
        if last is not None:
            start = max(start, last + timedelta(seconds=1))
        with console.status("simulating the plant's history..."):
            added = (
                await asyncio.to_thread(load_history, engine, live, Interval(start, now), seed) if start < now else 0
            )
        logins = create_demo_accounts(engine)
        await asyncio.to_thread(load_mould_shop, engine, now)  # the first start only

        def ready() -> None:
            console.print(
                f"[bold]shopfloor demo[/] on {url}: {len(live.machines)} simulated machines, "
                f"{added} history event(s) added"
            )
            for code, protocol in protocols.assignment.items():
                console.print(f"  {code}: {protocol if protocol != 'none' else 'no data (needs the MQTT broker)'}")
            if mqtt_url is None:
                console.print("[yellow]no MQTT broker reachable: the demo runs without the Sparkplug machines[/]")
            console.print(f"  board:    http://{host}:{port}/board")
            console.print(f"  terminal: http://{host}:{port}/terminal/login")
            table = Table(title="sample accounts")
            for col in ("role", "sign in as", "password / PIN"):
                table.add_column(col)
            for role, who, secret in logins:
                table.add_row(role, who, secret)
            console.print(table)
            console.print("Ctrl+C stops the demo.")

        sources = [lambda emit: protocols.copy_values()]
        buffer = Path(demo_settings.db + ".buffer")
        try:
            await runtime.run(demo_settings, engine, live, sources, host, port, buffer, on_ready=ready)
        finally:
            await protocols.stop()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass


@cli.command("simulate")
def simulate_cmd(
    seed: Annotated[int, typer.Option(help="Random seed of the simulation.")] = 7,
    host: Annotated[str, typer.Option(help="Address the protocol servers listen on.")] = "127.0.0.1",
    mqtt: Annotated[
        str | None,
        typer.Option(
            help="Broker for the Sparkplug edge node (default $SHOPFLOOR_MQTT or mqtt://127.0.0.1:1883 when reachable)."
        ),
    ] = None,
    port_base: Annotated[
        int,
        typer.Option(
            min=0,
            max=65533,
            help="Known ports: Modbus TCP at this port, OPC UA at +1, MTConnect at +2 (0: free ports).",
        ),
    ] = 0,
) -> None:
    """Run the virtual plant's machines behind real protocol servers and print the plant-file connectors."""
    url = demo_broker(settings(mqtt=mqtt).mqtt)
    if url is None:
        console.print("[yellow]no MQTT broker answers: the Sparkplug machines are left out[/]")
    protocols = ProtocolPlant(VirtualPlant(sample_plant(), seed), url, host, port_base)

    async def main() -> None:
        await protocols.start()
        specs, per_machine = protocols.connectors()
        console.print(yaml.safe_dump({"connectors": specs, "machines": per_machine}, sort_keys=False), highlight=False)
        try:
            await protocols.copy_values()
        finally:
            await protocols.stop()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
