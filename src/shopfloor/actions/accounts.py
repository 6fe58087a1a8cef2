"""Accounts: users, API tokens, a user's language, and signing in and out.

Live events: ``("user", username)``.  Signing in records every attempt (five failures in fifteen minutes throttle
the name and the address) and, when it succeeds, starts a new session (the one the browser had ends: a token
planted before sign-in is worthless).  Recording the attempts and the last use of an API token is bookkeeping of
authentication, written without an audit row; everything else is audited.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Engine

from shopfloor.actions.core import change
from shopfloor.errors import SignInThrottled, TokenNotFound, UserExists, WrongSecret
from shopfloor.store import accounts
from shopfloor.store.accounts import Session, User
from shopfloor.store.db import writing


def user_doc(user: User) -> dict[str, Any]:
    return {"id": user.id, "username": user.username, "display_name": user.display_name, "role": user.role,
            "language": user.language, "active": user.active, "badge": user.badge}  # fmt: skip


def create_user(
    engine: Engine,
    actor: str,
    *,
    username: str,
    role: str,
    password: str | None = None,
    pin: str | None = None,
    display_name: str | None = None,
    badge: str | None = None,
    language: str | None = None,
    organisation: str | None = None,
) -> dict[str, Any]:
    """A user with a password, or an operator with a PIN (stored as argon2id hashes); with ``organisation``, a
    user of a hub organisation."""
    with change(engine, actor) as c:
        c.duplicate_means(UserExists(user=username))
        user = accounts.create_user(
            c.conn, username, role, password, pin, display_name, badge, language, organisation=organisation
        )
        c.audit("user.create", f"user:{user.username}", {"role": user.role})
        c.publish("user", user.username)
    return user_doc(user)


def create_api_token(engine: Engine, actor: str, *, username: str, name: str) -> str:
    """A token for scripts and machines acting with the user's role; returned once, stored hashed."""
    with change(engine, actor) as c:
        user = accounts.by_username(c.conn, username)
        token = accounts.create_api_token(c.conn, user, name)
        c.audit("token.create", f"user:{username}", {"name": name})
        c.publish("user", username)
    return token


def revoke_api_token(engine: Engine, actor: str, token_id: int) -> None:
    """The token stops working at once."""
    with change(engine, actor) as c:
        if not accounts.revoke_api_token(c.conn, token_id):
            raise TokenNotFound(token=token_id)
        c.audit("token.revoke", f"token:{token_id}")
        c.publish("token", str(token_id))


def set_language(engine: Engine, actor: str, user: User, language: str) -> None:
    """The language the user's pages, documents and refusals are shown in."""
    with change(engine, actor) as c:
        accounts.set_language(c.conn, user.id, language)
        c.audit("user.language", f"user:{user.username}", {"language": language})
        c.publish("user", user.username)


def sign_in(
    engine: Engine,
    name: str,
    client: str,
    check: Callable[[Connection], User | None],
    *,
    via: str,
    replaces: str | None = None,
) -> Session:
    """Check a secret with ``check(conn)`` (password or PIN) unless ``name`` or the ``client`` address is
    throttled, and start a session; ``replaces`` is the session token the browser had, ended now."""
    keys = [f"user:{name}", f"ip:{client}"]
    with writing(engine) as conn:
        wait = accounts.throttled_for(conn, keys)
        if wait:
            raise SignInThrottled(seconds=wait)
        user = check(conn)
        accounts.record_attempt(conn, keys, success=user is not None)
    if user is None:
        raise WrongSecret()
    with change(engine, f"user:{user.username}") as c:
        if replaces:
            accounts.end_session(c.conn, replaces)
        session = accounts.create_session(c.conn, user)
        c.audit("auth.login", f"user:{user.username}", {"via": via})
        c.publish("user", user.username)
    return session


def sign_out(engine: Engine, session: Session) -> None:
    with change(engine, f"user:{session.user.username}") as c:
        accounts.end_session(c.conn, session.token)
        c.audit("auth.logout", f"user:{session.user.username}")
        c.publish("user", session.user.username)


def user_of_token(engine: Engine, token: str) -> User | None:
    """The user an API token acts as (None for an unknown or revoked one); its last use is noted."""
    with engine.begin() as conn:
        return accounts.user_for_api_token(conn, token)
