"""``shopfloor hub``: keys and sharing for a factory, organisations for the program office."""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from shopfloor.store.db import open_store

hub_app = typer.Typer(help="The win-win hub: sharing signed outcomes with sponsors and the program office.",
                      no_args_is_help=True)  # fmt: skip
console = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True)
DbOption = Annotated[
    str | None, typer.Option("--db", help="Store URL or SQLite file; default $SHOPFLOOR_DB or ./shopfloor.db.")
]


def _fail(message: str) -> None:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(2)


@hub_app.command("keygen")
def keygen(key: Annotated[Path, typer.Argument(help="Where to write the factory's private key (PEM).")]) -> None:
    """Make the factory's Ed25519 key pair; prints the public key to register at the hub."""
    from shopfloor.hub.signing import generate_key

    if key.exists():
        _fail(f"{key} exists already: a factory keeps one key (remove it first to replace it)")
    pem, public = generate_key()
    key.write_bytes(pem)
    key.chmod(0o600)
    console.print(base64.b64encode(public).decode())


@hub_app.command("push")
def push_cmd(
    hub: Annotated[str, typer.Option("--hub", help="The hub's address, e.g. https://hub.example.org")],
    token: Annotated[str, typer.Option("--token", envvar="SHOPFLOOR_HUB_TOKEN", help="The factory's hub token.")],
    key: Annotated[Path, typer.Option("--key", help="The factory's private key (PEM).", exists=True, dir_okay=False)],
    factory: Annotated[str, typer.Option("--factory", help="The factory's organisation code at the hub.")],
    sponsor: Annotated[str, typer.Option("--sponsor", help="The sponsor to share with.")],
    month: Annotated[str, typer.Option("--month", help="The month, YYYY-MM.")],
    kpis: Annotated[str, typer.Option("--kpis", help="KPIs to share, comma separated, e.g. ppm,on_time_delivery")],
    line: Annotated[str | None, typer.Option("--line", help="One line; the whole plant by default.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the signed report instead of sending it.")] = False,
    db: DbOption = None,
) -> None:
    """Compute a month's KPIs from this factory's store, sign them and send them to the hub."""
    from shopfloor.hub.share import ShareError, monthly_kpis, push, signed_report
    from shopfloor.store.plant import StoreError, current_plant

    try:
        with open_store(db).connect() as conn:
            plant = current_plant(conn)
            figures = monthly_kpis(conn, plant, month, [k.strip() for k in kpis.split(",") if k.strip()], line)
        envelope = signed_report(key.read_bytes(), factory, sponsor, month, figures)
        if dry_run:
            print(json.dumps(envelope, ensure_ascii=False, indent=2))
            return
        answer = push(hub, token, envelope)
    except (ShareError, StoreError, ValueError) as exc:
        _fail(str(exc))
    note = ""
    if figures.partial:
        cover = figures.coverage
        note = f" (partial: data from {cover['from']} to {cover['to']}, {cover['fraction'] * 100:.1f}% of the month)"
    console.print(f"{month} sent to {hub}: {answer['received_at']}{note}")


@hub_app.command("org")
def add_org(
    code: Annotated[str, typer.Argument(help="The organisation's code.")],
    name: Annotated[str, typer.Option("--name", help="Its name.")],
    kind: Annotated[str, typer.Option("--kind", help="office, sponsor or factory.")],
    public_key: Annotated[str | None, typer.Option("--public-key", help="A factory's public key (base64).")] = None,
    db: DbOption = None,
) -> None:
    """Register an organisation at the hub (add its users with ``shopfloor user add NAME --org CODE``)."""
    from shopfloor.hub.store import HubError, add_organisation
    from shopfloor.store.db import writing

    try:
        key = base64.b64decode(public_key, validate=True) if public_key else None
        with writing(open_store(db)) as conn:
            doc = add_organisation(conn, code, name, kind, key)
    except (HubError, ValueError) as exc:
        _fail(str(exc))
    console.print(f"{doc['kind']} {doc['code']} registered")
