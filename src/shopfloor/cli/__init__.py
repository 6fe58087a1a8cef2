"""The ``shopfloor`` command: one module of ``shopfloor.cli`` per group of commands, each loaded only when one of
its commands runs, so that ``shopfloor --version`` and ``--help`` start without the store, the web framework or
the protocol stacks.

A module holds top-level commands in a ``typer.Typer`` named ``cli`` (``lots`` has ``trace`` and ``recall``), and
a group of subcommands in one named after the group (``report_cli`` for ``shopfloor report ...``).  To add a
command, write it in its module and name it in ``COMMANDS`` with the summary ``--help`` shows
(``tests/test_cli.py`` checks that the summary is how the command's own help begins).  Shared options, the
consoles and ``fail`` are in ``shopfloor.cli.common``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

from shopfloor import __version__
from shopfloor.errors import DomainError


@dataclass(frozen=True)
class Entry:
    module: str  # in shopfloor.cli
    summary: str  # the first line of the command's help
    group: bool = False  # the module's ``cli`` is this command's group of subcommands


COMMANDS: dict[str, Entry] = {
    "import": Entry("data", "Load the plant, machine events or master data from files.", group=True),
    "export": Entry("data", "Write data to files.", group=True),
    "kpi": Entry(
        "kpi",
        "ISO 22400-2 KPIs (availability, effectiveness, quality ratio, OEE, ...) for a machine, a line or the site.",
    ),
    "migrate": Entry("operations", "Create the store or bring its schema up to date."),
    "demo": Entry(
        "demo", "The demo: sample plant, simulated history, live simulated machines, the board and the terminal."
    ),
    "simulate": Entry(
        "demo", "Run the virtual plant's machines behind real protocol servers and print the plant-file connectors."
    ),
    "ingest": Entry(
        "serve", "Collect machine data: run the connectors of the plant file into the store (no web server)."
    ),
    "spc": Entry(
        "spc", "Control chart limits (per point where they vary), run-rule violations and capability from a CSV."
    ),
    "trace": Entry(
        "lots", "Trace a lot's genealogy backward or forward through every level, splits and merges included."
    ),
    "recall": Entry(
        "lots", "Recall report for a suspect lot: origin, every affected lot and where it is, shipments to customers."
    ),
    "report": Entry("reports", "Production and improvement reports (page, PDF, Excel, JSON).", group=True),
    "hub": Entry("hub", "The win-win hub: sharing signed outcomes with sponsors and the program office.", group=True),
    "backup": Entry("operations", "Write a backup of the whole store (SQLite or PostgreSQL)."),
    "restore": Entry("operations", "Restore a backup into an empty store (also from SQLite to PostgreSQL and back)."),
    "bench": Entry(
        "operations",
        "Run the benchmarks of bench/ and print each figure next to its baseline measured in the same run.",
    ),
    "connectors": Entry("connectors", "Machine data sources.", group=True),
    "user": Entry("users", "Accounts: users with roles, and API tokens.", group=True),
    "serve": Entry(
        "serve",
        "Serve the web application and the REST API (OpenAPI at /api/openapi.json) on a store, and send the "
        "scheduled reports when they are due.",
    ),
}


def load(name: str) -> Any:
    """The click command of ``name``, its module imported now."""
    entry = COMMANDS[name]
    module = importlib.import_module(f"shopfloor.cli.{entry.module}")
    if entry.group:
        group = typer.main.get_group(getattr(module, f"{name}_cli"))
        group.name = name
        return group
    command = typer.main.get_command(module.cli)
    return command.commands[name] if isinstance(command, TyperGroup) else command


class LazyGroup(TyperGroup):
    """The root group: lists its commands from ``COMMANDS`` and imports a command's module when it runs.  A
    refusal of the domain (an unknown lot, a bad file) ends any command the same way: its message and status 2."""

    _listing = False

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in COMMANDS:
            return None
        if self._listing:
            summary = COMMANDS[cmd_name].summary
            return TyperCommand(name=cmd_name, help=summary, short_help=summary)
        return load(cmd_name)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except DomainError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None


app = typer.Typer(
    cls=LazyGroup,
    help="shopfloor: MES, machine data, SPC and ISO 22400 KPIs for small factories.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback(invoke_without_command=True)
def main(version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False) -> None:
    if version:
        typer.echo(__version__)
        raise typer.Exit()
