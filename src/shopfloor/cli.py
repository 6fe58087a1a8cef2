"""The ``shopfloor`` command line: import the plant and events, query KPIs, run the demo."""

from __future__ import annotations

import json
import sys
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from shopfloor import __version__
from shopfloor.ingest.csv_events import CsvImportError
from shopfloor.model.calendar import local_midnight
from shopfloor.model.intervals import Interval
from shopfloor.model.plant import Plant, PlantError
from shopfloor.store.db import open_store, resolve_url
from shopfloor.store.plant import StoreError, load_plant

app = typer.Typer(
    help="shopfloor: MES, machine data, SPC and ISO 22400 KPIs for small factories.",
    no_args_is_help=True,
    add_completion=False,
)
import_app = typer.Typer(help="Load the plant or machine events from files.", no_args_is_help=True)
app.add_typer(import_app, name="import")

# Reports are wide; a pipe or a CI log gets a wide page rather than columns cut to 80 characters.
console = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 160)

DbOption = Annotated[
    str | None, typer.Option("--db", help="Store URL or SQLite file; default $SHOPFLOOR_DB or ./shopfloor.db.")
]


def _fail(message: str, code: int = 2) -> None:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


@app.callback(invoke_without_command=True)
def main(version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False) -> None:
    if version:
        console.print(__version__)
        raise typer.Exit()


@import_app.command("plant")
def import_plant_cmd(
    file: Annotated[
        Path,
        typer.Argument(
            help="Plant YAML: site, areas > lines > machines, products, calendar.", exists=True, dir_okay=False
        ),
    ],
    db: DbOption = None,
) -> None:
    """Create or update the plant (ISA-95 site, areas, lines, machines; products; shift calendar)."""
    from shopfloor.actions.imports import import_plant
    from shopfloor.store.audit import current_actor

    try:
        summary = import_plant(open_store(db), file, current_actor())
    except (PlantError, StoreError) as exc:
        _fail(str(exc))
    console.print(
        f"plant {summary['site']} {'created' if summary['created'] else 'updated'}: "
        f"{summary['areas']} area(s), {summary['lines']} line(s), {summary['machines']} machine(s), "
        f"{summary['products']} product(s)"
        + (f", {summary['retired_machines']} machine(s) retired" if summary["retired_machines"] else "")
    )


@import_app.command("events")
def import_events_cmd(
    file: Annotated[
        Path,
        typer.Argument(help="CSV with columns ts,machine,event,value,product,reason.", exists=True, dir_okay=False),
    ],
    db: DbOption = None,
) -> None:
    """Import machine events.  A file with any bad row is refused whole; rows already stored are skipped."""
    from shopfloor.actions.imports import import_events
    from shopfloor.store.audit import current_actor

    try:
        summary = import_events(open_store(db), file, current_actor())
    except (CsvImportError, StoreError, ValueError) as exc:
        _fail(str(exc))
    collapsed = summary.get("collapsed_rows", 0)
    console.print(
        f"{summary['inserted']} event(s) imported from {summary['rows']} row(s); "
        f"{summary['duplicates_skipped']} already stored, skipped"
        + (f"; {collapsed} row(s) repeat an earlier row of the file and are stored once" if collapsed else "")
    )


@import_app.command("master")
def import_master_cmd(
    file: Annotated[
        Path,
        typer.Argument(
            help="Excel workbook (.xlsx), a zip of CSV files, or one CSV file named after its sheet (items.csv).",
            exists=True,
            dir_okay=False,
        ),
    ],
    db: DbOption = None,
) -> None:
    """Import master data (items, BOM, routings, suppliers, customers, locations, reason codes).  A file with any
    problem is refused whole, each problem named by sheet, row and column; sheets a CSV upload leaves out keep
    their stored rows."""
    from shopfloor.actions.master_data import import_master
    from shopfloor.model.master import MasterDataError
    from shopfloor.store.audit import current_actor
    from shopfloor.store.db import writing

    engine = open_store(db)
    try:
        with writing(engine) as conn:
            summary = import_master(conn, file.read_bytes(), file.name, current_actor())
    except (MasterDataError, StoreError) as exc:
        _fail(str(exc))
    counts = ", ".join(f"{k} {v}" for k, v in summary.items() if isinstance(v, int))
    console.print(f"master data imported from {file.name} ({summary['format']}): {counts}")


export_app = typer.Typer(help="Write data to files.", no_args_is_help=True)
app.add_typer(export_app, name="export")


@export_app.command("master")
def export_master_cmd(
    file: Annotated[Path, typer.Argument(help="File to write: .xlsx (one sheet per table) or .zip (CSV files).")],
    db: DbOption = None,
) -> None:
    """Export all master data as an Excel workbook or a zip of CSV files (UTF-8), ready to edit and import."""
    from shopfloor.actions.master_data import export_csv_zip, export_xlsx
    from shopfloor.store.master import load_master

    if file.suffix.lower() not in (".xlsx", ".zip"):
        _fail(f"{file.name}: the file name must end in .xlsx or .zip")
    with open_store(db).connect() as conn:
        data = load_master(conn)
    file.write_bytes(export_xlsx(data) if file.suffix.lower() == ".xlsx" else export_csv_zip(data))
    console.print(f"master data written to {file}")


def parse_instant(text: str, plant: Plant, option: str) -> datetime:
    """An ISO 8601 date-time with offset, ``now``, or a date (local midnight in the plant's time zone)."""
    if text == "now":
        return datetime.now(timezone.utc)
    try:
        if len(text) == 10:
            return local_midnight(date.fromisoformat(text), plant.site.tz)
        ts = datetime.fromisoformat(text)
    except ValueError:
        _fail(f"{option} {text!r} is not a date (YYYY-MM-DD) or an ISO 8601 date-time")
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=plant.site.tz)
    return ts.astimezone(timezone.utc)


@app.command("kpi")
def kpi_cmd(
    machine: Annotated[str | None, typer.Option("--machine", help="One machine code.")] = None,
    line: Annotated[str | None, typer.Option("--line", help="All machines of a line (time-weighted).")] = None,
    site: Annotated[bool, typer.Option("--site", help="All machines of the site (time-weighted).")] = False,
    start: Annotated[
        str | None,
        typer.Option(
            "--from", help="Start: ISO date-time with offset, or a date (plant-local midnight). Default: today."
        ),
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="End (exclusive), same forms, or 'now' (default).")] = None,
    by: Annotated[str | None, typer.Option("--by", help="Also per bucket: hour, shift or day (plant-local).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (ratios as fractions 0..1).")] = False,
    db: DbOption = None,
) -> None:
    """ISO 22400-2 KPIs (availability, effectiveness, quality ratio, OEE, ...) for a machine, a line or the site."""

    from shopfloor.actions.kpi_report import BUCKETS, kpi_report

    if by is not None and by not in BUCKETS:
        _fail(f"--by {by!r}: expected hour, shift or day")
    engine = open_store(db)
    with engine.connect() as conn:
        try:
            plant = load_plant(conn)
        except StoreError as exc:
            _fail(str(exc))
        now = datetime.now(timezone.utc)
        t1 = parse_instant(end, plant, "--to") if end else now
        if start:
            t0 = parse_instant(start, plant, "--from")
        else:
            t0 = local_midnight(datetime.now(plant.site.tz).date(), plant.site.tz)
        if t1 <= t0:
            _fail(f"--to ({t1.isoformat()}) must be after --from ({t0.isoformat()})")
        try:
            result = kpi_report(conn, plant, Interval(t0, t1), machine, line, site, by, now)
        except StoreError as exc:
            _fail(str(exc))
    if as_json:
        sys.stdout.write(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
        return
    _print_kpi_table(result)


def _pct(v: Any) -> str:
    return "-" if v is None else f"{v * 100:.1f}%"


def _hours(v: Any) -> str:
    return f"{v / 3600:.2f} h"


def _print_kpi_table(result: dict[str, Any]) -> None:
    rows = result.get("buckets") or []
    table = Table(title=f"KPIs {result['from']} .. {result['to']} ({', '.join(result['scope']['machines'])})")
    for col in ("bucket", "PBT", "APT", "ADET", "ASUT", "PQ", "GQ", "SQ", "RQ", "A", "E", "Q", "OEE", "PPM", "GQ/h"):
        table.add_column(col, justify="left" if col == "bucket" else "right")
    for r in [*rows, {**result, "bucket": "total"}]:
        table.add_row(
            r["bucket"],
            _hours(r["pbt_s"]),
            _hours(r["apt_s"]),
            _hours(r["adet_s"]),
            _hours(r["asut_s"]),
            str(r["pq"]),
            str(r["gq"]),
            str(r["sq"]),
            str(r["rq"]),
            _pct(r["availability"]),
            _pct(r["effectiveness"]),
            _pct(r["quality_ratio"]),
            _pct(r["oee"]),
            "-" if r["ppm"] is None else f"{r['ppm']:.0f}",
            "-" if r["output_per_hour"] is None else f"{r['output_per_hour']:.1f}",
        )
    console.print(table)


@app.command("migrate")
def migrate_cmd(db: DbOption = None) -> None:
    """Create the store or bring its schema up to date."""
    open_store(db)
    console.print(f"store ready: {resolve_url(db)}")


@app.command("demo")
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
    from shopfloor.actions.demo import load_demo

    engine = open_store(db)
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
    _serve_demo(engine, db, host, port, days, seed)


def _serve_demo(engine, db: str, host: str, port: int, days: int, seed: int) -> None:
    import asyncio
    from datetime import timedelta

    from shopfloor import runtime
    from shopfloor.actions.demo import create_demo_accounts, load_history, sample_plant
    from shopfloor.actions.demo_materials import has_lots, load_materials
    from shopfloor.simulator.plant import VirtualPlant
    from shopfloor.simulator.servers import ProtocolPlant, connected_plant, demo_broker
    from shopfloor.store.events import event_span
    from shopfloor.store.plant import machine_ids, save_plant

    plant = sample_plant()
    mqtt_url = demo_broker()
    virtual = VirtualPlant(plant, seed)
    protocols = ProtocolPlant(virtual, mqtt_url)

    async def main() -> None:
        await protocols.start()
        live = connected_plant(plant, protocols)
        now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
        with engine.begin() as conn:
            save_plant(conn, live, "demo")
            live = load_plant(conn, live.site.code)
            spans = [event_span(conn, mid) for mid in machine_ids(conn).values()]
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

        def ready() -> None:
            console.print(
                f"[bold]shopfloor demo[/] on {resolve_url(db)}: {len(live.machines)} simulated machines, "
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

        try:
            await runtime.run(
                engine, live, [lambda emit: protocols.copy_values()], host, port, Path(db + ".buffer"), on_ready=ready
            )
        finally:
            await protocols.stop()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass


@app.command("simulate")
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
    import asyncio

    import yaml

    from shopfloor.actions.demo import sample_plant
    from shopfloor.simulator.plant import VirtualPlant
    from shopfloor.simulator.servers import ProtocolPlant, demo_broker

    url = demo_broker(mqtt)
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


@app.command("ingest")
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
    import asyncio

    from shopfloor import logs
    from shopfloor.connectors.base import ConnectorConfigError
    from shopfloor.ingest.process import open_when_reachable, run_ingest

    logs.configure()
    try:
        engine, plant = open_when_reachable(db)
    except StoreError as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        return
    url = resolve_url(db)
    folder = buffer or (Path(url.split("///", 1)[1] + ".buffer") if url.startswith("sqlite") else Path("ingest-buffer"))
    try:
        asyncio.run(run_ingest(engine, plant, folder, set(connector) if connector else None, worker))
    except (ConnectorConfigError, ValueError) as exc:
        _fail(str(exc))


def _register_spc() -> None:
    from shopfloor.spc_cli import spc_command

    app.command("spc")(spc_command)


_register_spc()


def _register_lots() -> None:
    from shopfloor.lots_cli import recall_command, trace_command

    app.command("trace")(trace_command)
    app.command("recall")(recall_command)


_register_lots()


def _register_reports() -> None:
    from shopfloor.report_cli import report_app

    app.add_typer(report_app, name="report")


_register_reports()


def _register_hub() -> None:
    from shopfloor.hub.cli import hub_app

    app.add_typer(hub_app, name="hub")


_register_hub()


@app.command("backup")
def backup_cmd(
    file: Annotated[Path, typer.Argument(help="Backup file to write (gzip JSON lines).")],
    db: DbOption = None,
) -> None:
    """Write a backup of the whole store (SQLite or PostgreSQL)."""
    from shopfloor.store.backup import backup

    counts = backup(open_store(db), file)
    console.print(f"backup written to {file}: {sum(counts.values())} row(s) in {len(counts)} table(s)")


@app.command("restore")
def restore_cmd(
    file: Annotated[Path, typer.Argument(help="Backup file written by shopfloor backup.", exists=True, dir_okay=False)],
    db: DbOption = None,
) -> None:
    """Restore a backup into an empty store (also from SQLite to PostgreSQL and back)."""
    from shopfloor.store.backup import BackupError, restore

    try:
        counts = restore(open_store(db), file)
    except BackupError as exc:
        _fail(str(exc))
    console.print(f"restored {sum(counts.values())} row(s) into {resolve_url(db)}")


@app.command("bench")
def bench_cmd(
    names: Annotated[list[str] | None, typer.Argument(help="Benchmarks to run (default: all), e.g. bench_web.")] = None,
    quick: Annotated[bool, typer.Option("--quick", help="Small data sets, to check that the benchmarks run.")] = False,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the rows to this file.")] = None,
) -> None:
    """Run the benchmarks of bench/ and print each figure next to its baseline measured in the same run."""
    root = Path(__file__).resolve().parents[2]
    if not (root / "bench" / "__main__.py").is_file():
        _fail("the benchmarks live in the source tree (bench/): run this from a clone of the repository")
    sys.path.insert(0, str(root))
    from bench.__main__ import main as bench_main

    args = [*(names or []), *(["--quick"] if quick else []), *(["--json", str(json_out)] if json_out else [])]
    raise typer.Exit(bench_main(args))


connectors_app = typer.Typer(help="Machine data sources.", no_args_is_help=True)
app.add_typer(connectors_app, name="connectors")


@connectors_app.command("status")
def connectors_status(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    db: DbOption = None,
) -> None:
    """Per source: connected, last value time, messages/s, buffered, errors (as each running ingest saved it); a
    source whose process stopped reporting is shown stale, never connected."""
    from shopfloor.ingest.service import load_status

    status = load_status(open_store(db))
    if status is None:
        _fail("no connector status in this store: is `shopfloor demo` or `shopfloor serve` running on it?", 1)
    if as_json:
        sys.stdout.write(json.dumps(status, indent=2) + "\n")
        return
    table = Table(title=f"connectors at {status['at']} (buffered: {status['buffered']})")
    for col in (
        "name",
        "protocol",
        "endpoint",
        "worker",
        "connected",
        "last value",
        "msg/s",
        "errors",
        "quarantined",
        "last error",
    ):
        table.add_column(col)
    for c in status["connectors"]:
        table.add_row(
            c["name"],
            c["protocol"],
            c["endpoint"],
            c.get("worker", ""),
            f"STALE (no report since {c['reported_at']})" if c.get("stale") else "yes" if c["connected"] else "NO",
            c["last_value_at"] or "-",
            "-" if c.get("stale") else f"{c['messages_per_s']:.1f}",
            str(c["errors_total"]),
            str(c["quarantined_total"]),
            (c["last_error"] or "")[:60],
        )
    console.print(table)


user_app = typer.Typer(help="Accounts: users with roles, and API tokens.", no_args_is_help=True)
app.add_typer(user_app, name="user")


@user_app.command("add")
def user_add(
    username: Annotated[str, typer.Argument(help="Sign-in name.")],
    role: Annotated[
        str, typer.Option(help="operator, supervisor, quality, manager or admin; at a hub office, sponsor or factory.")
    ] = "operator",
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    org: Annotated[str | None, typer.Option("--org", help="Hub: the organisation the user belongs to.")] = None,
    badge: Annotated[str | None, typer.Option(help="Badge number (operators sign in with badge and PIN).")] = None,
    language: Annotated[str | None, typer.Option(help="ko, en or vi.")] = None,
    pin: Annotated[bool, typer.Option("--pin", help="Ask for a PIN instead of a password (operators).")] = False,
    db: DbOption = None,
) -> None:
    """Create a user; the password (or PIN) is asked for and stored as an argon2id hash."""
    from shopfloor.store import accounts, audit
    from shopfloor.store.audit import current_actor

    secret = typer.prompt("PIN" if pin else "Password", hide_input=True, confirmation_prompt=True)
    engine = open_store(db)
    with engine.begin() as conn:
        try:
            user = accounts.create_user(
                conn,
                username,
                role,
                password=None if pin else secret,
                pin=secret if pin else None,
                display_name=name,
                badge=badge,
                language=language,
                organisation=org,
            )
        except accounts.AccountError as exc:
            _fail(str(exc))
        audit.record(conn, current_actor(), "user.create", f"user:{user.username}", {"role": user.role})
    console.print(f"user {user.username} ({user.role}) created")


@user_app.command("token")
def user_token(
    username: Annotated[str, typer.Argument(help="The user the token acts as.")],
    purpose: Annotated[str, typer.Option("--name", help="What the token is for.")] = "script",
    db: DbOption = None,
) -> None:
    """Create an API token for scripts and machines (printed once; send as 'Authorization: Bearer ...')."""
    from shopfloor.store import accounts, audit
    from shopfloor.store.audit import current_actor

    engine = open_store(db)
    with engine.begin() as conn:
        user = next((u for u in accounts.list_users(conn) if u.username == username), None)
        if user is None:
            _fail(f"no user {username!r}")
        token = accounts.create_api_token(conn, user, purpose)
        audit.record(conn, current_actor(), "token.create", f"user:{username}", {"name": purpose})
    sys.stdout.write(token + "\n")


@app.command("serve")
def serve_cmd(
    host: Annotated[str, typer.Option(help="Address to serve on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 8000,
    secure_cookies: Annotated[bool, typer.Option(help="Mark cookies Secure (behind HTTPS).")] = False,
    hub: Annotated[bool, typer.Option("--hub", help="Serve the hub too: programs, sponsors, shared outcomes.")] = False,
    db: DbOption = None,
) -> None:
    """Serve the web application and the REST API (OpenAPI at /api/openapi.json) on a store, and send the
    scheduled reports when they are due."""
    import asyncio

    import uvicorn

    from shopfloor import logs
    from shopfloor.actions.scheduled_reports import scheduler

    logs.configure()
    from shopfloor.api.app import Settings, create_app

    engine = open_store(db)
    app_ = create_app(Settings(secure_cookies=secure_cookies, hub=hub), engine=engine)

    async def main() -> None:
        reports = asyncio.create_task(scheduler(engine))
        try:
            config = uvicorn.Config(app_, host=host, port=port, log_level="info", log_config=None)
            await uvicorn.Server(config).serve()
        finally:
            reports.cancel()

    asyncio.run(main())


if __name__ == "__main__":  # pragma: no cover
    app()
