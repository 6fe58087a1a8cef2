"""Operating a store: ``shopfloor migrate``, ``backup``, ``restore``, and ``bench`` (the benchmarks)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from shopfloor.cli.common import DbOption, console, fail, settings, store
from shopfloor.store.backup import backup, restore
from shopfloor.store.db import resolve_url

cli = typer.Typer()
REPOSITORY = Path(__file__).resolve().parents[3]


@cli.command("migrate")
def migrate_cmd(db: DbOption = None) -> None:
    """Create the store or bring its schema up to date."""
    store(db)
    console.print(f"store ready: {resolve_url(settings(db=db).db)}")


@cli.command("backup")
def backup_cmd(
    file: Annotated[Path, typer.Argument(help="Backup file to write (gzip JSON lines).")],
    db: DbOption = None,
) -> None:
    """Write a backup of the whole store (SQLite or PostgreSQL)."""
    counts = backup(store(db), file)
    console.print(f"backup written to {file}: {sum(counts.values())} row(s) in {len(counts)} table(s)")


@cli.command("restore")
def restore_cmd(
    file: Annotated[Path, typer.Argument(help="Backup file written by shopfloor backup.", exists=True, dir_okay=False)],
    db: DbOption = None,
) -> None:
    """Restore a backup into an empty store (also from SQLite to PostgreSQL and back)."""
    counts = restore(store(db), file)
    console.print(f"restored {sum(counts.values())} row(s) into {resolve_url(settings(db=db).db)}")


@cli.command("bench")
def bench_cmd(
    names: Annotated[list[str] | None, typer.Argument(help="Benchmarks to run (default: all), e.g. bench_web.")] = None,
    quick: Annotated[bool, typer.Option("--quick", help="Small data sets, to check that the benchmarks run.")] = False,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the rows to this file.")] = None,
    markdown: Annotated[
        list[Path] | None,
        typer.Option(
            "--markdown",
            help="Print the rows of this --json file as the README's table and run nothing (repeat it for several).",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Run the benchmarks of bench/ and print each figure next to its baseline measured in the same run."""
    if not (REPOSITORY / "bench" / "__main__.py").is_file():
        fail("the benchmarks live in the source tree (bench/): run this from a clone of the repository")
    sys.path.insert(0, str(REPOSITORY))
    # Imported here: bench/ is a folder of the checkout, found only once it is on the path.
    from bench.__main__ import main as bench_main

    if markdown:
        raise typer.Exit(bench_main(["--markdown", *map(str, markdown)]))
    args = [*(names or []), *(["--quick"] if quick else []), *(["--json", str(json_out)] if json_out else [])]
    raise typer.Exit(bench_main(args))
