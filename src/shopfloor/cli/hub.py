"""``shopfloor hub``: keys and sharing for a factory, organisations for the program office."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Annotated

import typer

from shopfloor.actions.hub import add_key, add_organisation
from shopfloor.actions.hub_share import key_rotation, monthly_kpis, push, signed_report
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
    month: Annotated[str, typer.Option("--month", help="The month, YYYY-MM.")],
    kpis: Annotated[str, typer.Option("--kpis", help="KPIs to share, comma separated, e.g. ppm,on_time_delivery")],
    sponsor: Annotated[
        str | None, typer.Option("--sponsor", help="A sponsor to share with (its consent must cover the KPIs).")
    ] = None,
    token: Annotated[
        str | None, typer.Option("--token", help="The factory's hub token; default $SHOPFLOOR_HUB_TOKEN.")
    ] = None,
    line: LineOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the signed report instead of sending it.")] = False,
    db: DbOption = None,
) -> None:
    """Compute a month's KPIs from this factory's store, sign them and send them to the hub (the program office
    sees them; a sponsor too, with a consent).  Sending a month again corrects it."""
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
    timezone: Annotated[
        str, typer.Option("--timezone", help="IANA zone its people read times in (Korean pages for Asia/Seoul).")
    ] = "Asia/Seoul",
    db: DbOption = None,
) -> None:
    """Register an organisation at the hub (add its users with ``shopfloor user add NAME --org CODE``)."""
    doc = add_organisation(store(db), current_actor(), code=code, name=name, kind=kind, public_key=_key(public_key),
                           timezone=timezone)  # fmt: skip
    console.print(f"{doc['kind']} {doc['code']} registered")


def _key(text: str | None) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True) if text else None
    except ValueError:
        raise PublicKeyInvalid() from None


@hub_cli.command("key")
def register_key(
    factory: Annotated[str, typer.Argument(help="The factory's organisation code.")],
    public_key: Annotated[str, typer.Option("--public-key", help="Its new public key (base64, from hub keygen).")],
    db: DbOption = None,
) -> None:
    """Register a factory's key at the hub (a first one, or one replacing a lost key); the key in use retires."""
    doc = add_key(store(db), current_actor(), factory, public_key=_key(public_key) or b"")
    console.print(f"key {doc['key']} of {factory} in use")


@hub_cli.command("rotate-key")
def rotate_key_cmd(
    hub: Annotated[str, typer.Option("--hub", help="The hub's address.")],
    key: Annotated[Path, typer.Option("--key", help="The key in use (PEM).", exists=True, dir_okay=False)],
    new_key: Annotated[Path, typer.Option("--new-key", help="Where to write the new private key (PEM).")],
    factory: Annotated[str, typer.Option("--factory", help="The factory's organisation code at the hub.")],
    token: Annotated[
        str | None, typer.Option("--token", help="The factory's hub token; default $SHOPFLOOR_HUB_TOKEN.")
    ] = None,
) -> None:
    """Replace the factory's key: a new key pair, registered at the hub with a request signed by the old key.
    Months signed by the old key stay verified; from now on only the new key signs."""
    if new_key.exists():
        fail(f"{new_key} exists already")
    sharing = settings(hub_token=token)
    if sharing.hub_token is None:
        fail("give the factory's hub token: --token or SHOPFLOOR_HUB_TOKEN")
    pem, envelope = key_rotation(key.read_bytes(), factory)
    answer = push(hub, sharing.hub_token.get_secret_value(), envelope, path="/api/v1/hub/keys/rotate")
    new_key.write_bytes(pem)
    new_key.chmod(0o600)
    console.print(f"key {answer['key']} in use at {hub}; keep {new_key} and retire {key}")
