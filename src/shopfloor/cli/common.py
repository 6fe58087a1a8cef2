"""What every ``shopfloor`` command shares: the consoles, the options (``--db``, ``--lang``, and the ``--line``,
``--pdf``, ``--xlsx``, ``--json`` of the reports), the settings with the options given on the command line, and
how a refusal ends a command."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from sqlalchemy import Engine

from shopfloor.settings import Settings
from shopfloor.store.db import open_store

# Reports are wide; a pipe or a CI log gets a wide page rather than columns cut to 80 characters.
console = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 160)

DbOption = Annotated[
    str | None, typer.Option("--db", help="Store URL or SQLite file; default $SHOPFLOOR_DB or ./shopfloor.db.")
]
LangOption = Annotated[str, typer.Option("--lang", help="Language of the PDF and workbook: en, ko or vi.")]
LineOption = Annotated[str | None, typer.Option("--line", help="One line; the whole plant by default.")]
PdfOption = Annotated[Path | None, typer.Option("--pdf", help="Write the report as PDF.")]
XlsxOption = Annotated[Path | None, typer.Option("--xlsx", help="Write the report as an Excel workbook.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the report as JSON.")]


def fail(message: str, code: int = 2) -> NoReturn:
    """End the command with ``error: message`` on standard error and exit status ``code``."""
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def settings(**options: object) -> Settings:
    """The settings from the environment, with the command-line options that were given taking precedence."""
    return Settings().with_options(**options)


def store(db: str | None) -> Engine:
    """The store named by ``--db`` (else ``SHOPFLOOR_DB``, else ./shopfloor.db), migrated."""
    return open_store(settings(db=db).db)
