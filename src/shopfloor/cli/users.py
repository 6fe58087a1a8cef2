"""``shopfloor user``: accounts (users with roles) and API tokens."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from shopfloor.actions.accounts import create_api_token, create_user
from shopfloor.cli.common import DbOption, console, store
from shopfloor.store.audit import current_actor

user_cli = typer.Typer(help="Accounts: users with roles, and API tokens.", no_args_is_help=True)


@user_cli.command("add")
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
    secret = typer.prompt("PIN" if pin else "Password", hide_input=True, confirmation_prompt=True)
    user = create_user(
        store(db),
        current_actor(),
        username=username,
        role=role,
        password=None if pin else secret,
        pin=secret if pin else None,
        display_name=name,
        badge=badge,
        language=language,
        organisation=org,
    )
    console.print(f"user {user['username']} ({user['role']}) created")


@user_cli.command("token")
def user_token(
    username: Annotated[str, typer.Argument(help="The user the token acts as.")],
    purpose: Annotated[str, typer.Option("--name", help="What the token is for.")] = "script",
    db: DbOption = None,
) -> None:
    """Create an API token for scripts and machines (printed once; send as 'Authorization: Bearer ...')."""
    token = create_api_token(store(db), current_actor(), username=username, name=purpose)
    sys.stdout.write(token + "\n")
