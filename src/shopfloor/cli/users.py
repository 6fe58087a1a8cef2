"""``shopfloor user``: accounts (users with roles) and API tokens."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from shopfloor.actions.accounts import (
    activate_user,
    create_api_token,
    create_user,
    deactivate_user,
    end_sessions,
    reset_password,
    reset_pin,
    update_user,
)
from shopfloor.cli.common import DbOption, console, store
from shopfloor.store import accounts
from shopfloor.store.audit import current_actor

user_cli = typer.Typer(help="Accounts: users with roles, and API tokens.", no_args_is_help=True)
UserArg = Annotated[str, typer.Argument(help="The user's sign-in name.")]


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


@user_cli.command("list")
def user_list(db: DbOption = None) -> None:
    """Users with role, language, badge, whether active, and their open sessions."""
    engine = store(db)
    with engine.connect() as conn:
        users, open_sessions = accounts.list_users(conn), accounts.active_sessions(conn)
    table = Table("user", "name", "role", "language", "badge", "active", "sessions")
    for u in users:
        active = "yes" if u.active else "no"
        sessions = str(open_sessions.get(u.id, 0))
        table.add_row(u.username, u.display_name, u.role, u.language or "", u.badge or "", active, sessions)
    console.print(table)


@user_cli.command("set")
def user_set(
    username: UserArg,
    role: Annotated[str | None, typer.Option(help="operator, supervisor, quality, manager or admin.")] = None,
    language: Annotated[str | None, typer.Option(help="ko, en or vi.")] = None,
    badge: Annotated[str | None, typer.Option(help="Badge number; '' removes it.")] = None,
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    db: DbOption = None,
) -> None:
    """Change a user's role, language, badge or display name (audited with before and after)."""
    user = update_user(
        store(db), current_actor(), username, role=role, language=language, badge=badge, display_name=name
    )
    console.print(f"user {user['username']}: {user['role']}, {user['language'] or '-'}, badge {user['badge'] or '-'}")


@user_cli.command("deactivate")
def user_deactivate(
    username: UserArg,
    reason: Annotated[str | None, typer.Option(help="Why (kept in the audit log).")] = None,
    db: DbOption = None,
) -> None:
    """Stop a user from signing in: their sessions end and their API tokens are revoked at once."""
    deactivate_user(store(db), current_actor(), username, reason=reason)
    console.print(f"user {username} deactivated; sessions ended, API tokens revoked")


@user_cli.command("activate")
def user_activate(username: UserArg, db: DbOption = None) -> None:
    """Let a deactivated user sign in again (old API tokens stay revoked)."""
    activate_user(store(db), current_actor(), username)
    console.print(f"user {username} active")


@user_cli.command("reset-password")
def user_reset_password(username: UserArg, db: DbOption = None) -> None:
    """Give a user a new password (asked for); their sessions end."""
    secret = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    reset_password(store(db), current_actor(), username, password=secret)
    console.print(f"user {username}: new password set; sessions ended")


@user_cli.command("reset-pin")
def user_reset_pin(username: UserArg, db: DbOption = None) -> None:
    """Give an operator a new PIN (asked for); their sessions end."""
    secret = typer.prompt("New PIN", hide_input=True, confirmation_prompt=True)
    reset_pin(store(db), current_actor(), username, pin=secret)
    console.print(f"user {username}: new PIN set; sessions ended")


@user_cli.command("sign-out")
def user_sign_out(username: UserArg, db: DbOption = None) -> None:
    """End every session of a user (signed out on every browser and terminal)."""
    ended = end_sessions(store(db), current_actor(), username)
    console.print(f"user {username}: {ended} session(s) ended")
