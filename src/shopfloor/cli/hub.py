"""``shopfloor hub``: keys and sharing for a factory, organisations for the program office."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Annotated

import typer

from shopfloor.actions.hub import add_organisation
from shopfloor.actions.hub_share import monthly_kpis, push, signed_report
from shopfloor.cli.common import DbOption, LineOption, console, fail, settings, store
from shopfloor.errors import PublicKeyInvalid
from shopfloor.model.signing import generate_key
from shopfloor.store.audit import current_actor
from shopfloor.store.plant import current_plant

hub_cli = typer.Typer(
    help="The win-win hub: sharing signed outcomes with sponsors and the program office.", no_args_is_help=True
)


@hub_cli.command("keygen")
def keygen(key: Annotated[Path, typer.Argument(help="Where to write the factory's private key (PEM).")]) -> None:
    """Make the factory's Ed25519 key pair; prints the public key to register at the hub."""
    if key.exists():
        fail(f"{key} exists already: a factory keeps one key (remove it first to replace it)")
    pem, public = generate_key()
    key.write_bytes(pem)
    key.chmod(0o600)
    console.print(base64.b64encode(public).decode())


@hub_cli.command("push")
def push_cmd(
    hub: Annotated[str, typer.Option("--hub", help="The hub's address, e.g. https://hub.example.org")],
    key: Annotated[Path, typer.Option("--key", help="The factory's private key (PEM).", exists=True, dir_okay=False)],
    factory: Annotated[str, typer.Option("--factory", help="The factory's organisation code at the hub.")],
    sponsor: Annotated[str, typer.Option("--sponsor", help="The sponsor to share with.")],
    month: Annotated[str, typer.Option("--month", help="The month, YYYY-MM.")],
    kpis: Annotated[str, typer.Option("--kpis", help="KPIs to share, comma separated, e.g. ppm,on_time_delivery")],
    token: Annotated[
        str | None, typer.Option("--token", help="The factory's hub token; default $SHOPFLOOR_HUB_TOKEN.")
    ] = None,
    line: LineOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the signed report instead of sending it.")] = False,
    db: DbOption = None,
) -> None:
    """Compute a month's KPIs from this factory's store, sign them and send them to the hub."""
    sharing = settings(db=db, hub_token=token)
    with store(db).connect() as conn:
        plant = current_plant(conn)
        figures = monthly_kpis(conn, plant, month, [k.strip() for k in kpis.split(",") if k.strip()], line)
    envelope = signed_report(key.read_bytes(), factory, sponsor, month, figures)
    if dry_run:
        print(json.dumps(envelope, ensure_ascii=False, indent=2))
        return
    if sharing.hub_token is None:
        fail("give the factory's hub token: --token or SHOPFLOOR_HUB_TOKEN")
    answer = push(hub, sharing.hub_token.get_secret_value(), envelope)
    note = ""
    if figures.partial:
        cover = figures.coverage
        note = f" (partial: data from {cover['from']} to {cover['to']}, {cover['fraction'] * 100:.1f}% of the month)"
    console.print(f"{month} sent to {hub}: {answer['received_at']}{note}")


@hub_cli.command("org")
def add_org(
    code: Annotated[str, typer.Argument(help="The organisation's code.")],
    name: Annotated[str, typer.Option("--name", help="Its name.")],
    kind: Annotated[str, typer.Option("--kind", help="office, sponsor or factory.")],
    public_key: Annotated[str | None, typer.Option("--public-key", help="A factory's public key (base64).")] = None,
    db: DbOption = None,
) -> None:
    """Register an organisation at the hub (add its users with ``shopfloor user add NAME --org CODE``)."""
    try:
        key = base64.b64decode(public_key, validate=True) if public_key else None
    except ValueError:
        raise PublicKeyInvalid() from None
    doc = add_organisation(store(db), current_actor(), code=code, name=name, kind=kind, public_key=key)
    console.print(f"{doc['kind']} {doc['code']} registered")
