"""``shopfloor import`` and ``shopfloor export``: the plant, machine events and master data from and to files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shopfloor.actions.events import import_events
from shopfloor.actions.master_data import export_csv_zip, export_xlsx, import_master
from shopfloor.actions.plant import import_plant, read_plant_file
from shopfloor.cli.common import DbOption, console, fail, store
from shopfloor.store.audit import current_actor
from shopfloor.store.master import load_master

import_cli = typer.Typer(help="Load the plant, machine events or master data from files.", no_args_is_help=True)
export_cli = typer.Typer(help="Write data to files.", no_args_is_help=True)


@import_cli.command("plant")
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
    plant = read_plant_file(file)
    summary = import_plant(store(db), current_actor(), plant)
    console.print(
        f"plant {summary['site']} {'created' if summary['created'] else 'updated'}: "
        f"{summary['areas']} area(s), {summary['lines']} line(s), {summary['machines']} machine(s), "
        f"{summary['products']} product(s)"
        + (f", {summary['retired_machines']} machine(s) retired" if summary["retired_machines"] else "")
    )


@import_cli.command("events")
def import_events_cmd(
    file: Annotated[
        Path,
        typer.Argument(help="CSV with columns ts,machine,event,value,product,reason.", exists=True, dir_okay=False),
    ],
    db: DbOption = None,
) -> None:
    """Import machine events.  A file with any bad row is refused whole; rows already stored are skipped."""
    summary = import_events(store(db), current_actor(), file)
    collapsed = summary.get("collapsed_rows", 0)
    console.print(
        f"{summary['inserted']} event(s) imported from {summary['rows']} row(s); "
        f"{summary['duplicates_skipped']} already stored, skipped"
        + (f"; {collapsed} row(s) repeat an earlier row of the file and are stored once" if collapsed else "")
    )


@import_cli.command("master")
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
    summary = import_master(store(db), current_actor(), file.read_bytes(), file.name)
    counts = ", ".join(f"{k} {v}" for k, v in summary.items() if isinstance(v, int))
    console.print(f"master data imported from {file.name} ({summary['format']}): {counts}")


@export_cli.command("master")
def export_master_cmd(
    file: Annotated[Path, typer.Argument(help="File to write: .xlsx (one sheet per table) or .zip (CSV files).")],
    db: DbOption = None,
) -> None:
    """Export all master data as an Excel workbook or a zip of CSV files (UTF-8), ready to edit and import."""
    if file.suffix.lower() not in (".xlsx", ".zip"):
        fail(f"{file.name}: the file name must end in .xlsx or .zip")
    with store(db).connect() as conn:
        data = load_master(conn)
    file.write_bytes(export_xlsx(data) if file.suffix.lower() == ".xlsx" else export_csv_zip(data))
    console.print(f"master data written to {file}")
