"""``shopfloor connectors status``: the machine data sources as the running ingest last saved them."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.table import Table

from shopfloor.cli.common import DbOption, console, fail, store
from shopfloor.ingest.service import load_status

connectors_cli = typer.Typer(help="Machine data sources.", no_args_is_help=True)


@connectors_cli.command("status")
def connectors_status(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    db: DbOption = None,
) -> None:
    """Per source: connected, last value time, messages/s, buffered, errors (as each running ingest saved it); a
    source whose process stopped reporting is shown stale, never connected."""
    status = load_status(store(db))
    if status is None:
        fail("no connector status in this store: is `shopfloor demo` or `shopfloor serve` running on it?", 1)
    if as_json:
        sys.stdout.write(json.dumps(status, indent=2) + "\n")
        return
    table = Table(title=f"connectors at {status['at']} (buffered: {status['buffered']})")
    for col in ("name", "protocol", "endpoint", "worker", "connected", "last value", "msg/s", "errors", "quarantined",
                "last error"):  # fmt: skip
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
