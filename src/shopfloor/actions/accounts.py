"""Accounts: users, API tokens, a user's language, and signing in and out.

Live events: ``("user", username)``.  Signing in reserves each try against the account and the device before the
secret is checked (five failures in fifteen minutes stop an account, whichever alias names it; a device that fails
often is slowed, see ``store.accounts``) and, when it succeeds, starts a new session (the one the browser had ends:
a token planted before sign-in is worthless).  Counting the tries and the last use of an API token is bookkeeping
of authentication, written without an audit row; everything else is audited.

Administrators change a user's role, language and badge, deactivate a user (sessions end and API tokens are
revoked at once), give a new password or PIN (the user's sessions end) and sign a user out everywhere.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Connection, Engine

from shopfloor.actions.core import change
from shopfloor.errors import CannotDeactivateSelf, SignInThrottled, TokenNotFound, UserExists, WrongSecret
from shopfloor.live import broker
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
    """Check a secret with ``check(conn)`` (password or PIN) and start a session; ``replaces`` is the session
    token the browser had, ended now.

    The try is reserved first against the account ``name`` names (by user name or badge) and against the
    ``client`` device (``store.accounts.reserve_try``), in a transaction of its own, so that parallel tries count
    each other; the secret is checked outside it, and a success gives the reservation back."""
    with writing(engine) as conn:
        account = accounts.account_key(conn, name)
        device = f"device:{client}"
        wait = accounts.reserve_try(conn, account, device)
        if wait:
            conn.rollback()
            raise SignInThrottled(seconds=wait)
    with engine.connect() as conn:
        user = check(conn)
        conn.commit()  # a password hash upgraded to the current parameters
    if user is None:
        raise WrongSecret()
    with change(engine, f"user:{user.username}") as c:
        accounts.try_succeeded(c.conn, account, device)
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


# -- sessions, remembered ----------------------------------------------------------------------------------------
# Every request of a signed-in terminal names its session: the row is remembered for a few seconds instead of read
# each time.  Whatever ends a session or changes its user (signing out, deactivating, a new role, password or PIN,
# signing out everywhere) publishes ("user", username) once committed, and that drops the user's sessions here, in
# this process and (PostgreSQL) in the others; a session is remembered only while those publications are known to
# arrive (``broker.in_step``).  Its expiry is checked on every use.
SESSION_MEMORY_S = 10.0
_sessions: dict[tuple[int, str], tuple[Session, float]] = {}
_sessions_lock = threading.Lock()
_sessions_generation = 0  # moves on every forgetting: a row read before it is not remembered after it
_sessions_watched = False


def _forget_sessions(topic: str, keys: list[str]) -> None:
    global _sessions_generation
    if topic not in ("user", "*"):
        return
    with _sessions_lock:
        _sessions_generation += 1
        if topic == "*":
            _sessions.clear()
            return
        names = set(keys)
        for key in [k for k, (s, _) in _sessions.items() if s.user.username in names]:
            del _sessions[key]


def remembered_session(engine: Engine, token: str) -> Session | None:
    """The session of ``token`` if it is remembered and still valid, else None (ask ``session_of``)."""
    hit = _sessions.get((id(engine), token))
    if hit is None or hit[1] < time.monotonic() or hit[0].expires_at <= datetime.now(timezone.utc):
        return None
    return hit[0]


def session_of(engine: Engine, token: str) -> Session | None:
    """The signed-in session a cookie's token names (None: unknown, ended, expired, or its user deactivated)."""
    global _sessions_watched
    session = remembered_session(engine, token)
    if session is not None:
        return session
    if not _sessions_watched:
        with _sessions_lock:
            if not _sessions_watched:
                broker.watch_everywhere(_forget_sessions)
                _sessions_watched = True
    generation = _sessions_generation
    with engine.connect() as conn:
        session = accounts.session_for(conn, token)
    if session is not None and broker.in_step():
        with _sessions_lock:
            if generation == _sessions_generation:
                now = time.monotonic()
                if len(_sessions) >= 10_000:  # the sessions no longer remembered go
                    for key in [k for k, (_, until) in _sessions.items() if until < now]:
                        del _sessions[key]
                _sessions[(id(engine), token)] = (session, now + SESSION_MEMORY_S)
    return session


def user_of_token(engine: Engine, token: str) -> User | None:
    """The user an API token acts as (None for an unknown or revoked one); its last use is noted."""
    with engine.begin() as conn:
        return accounts.user_for_api_token(conn, token)


def update_user(
    engine: Engine,
    actor: str,
    username: str,
    *,
    role: str | None = None,
    language: str | None = None,
    badge: str | None = None,
    display_name: str | None = None,
) -> dict[str, Any]:
    """Change a user's role, language, badge (``""`` removes it) or display name; the audit row keeps before and
    after."""
    with change(engine, actor) as c:
        user, changed = accounts.update_user(
            c.conn, username, role=role, language=language, badge=badge, display_name=display_name
        )
        c.audit("user.update", f"user:{username}", {"changed": changed})
        c.publish("user", username)
    return user_doc(user)


def deactivate_user(engine: Engine, actor: str, username: str, *, reason: str | None = None) -> dict[str, Any]:
    """The user can no longer sign in; their sessions end and their API tokens are revoked at once."""
    with change(engine, actor) as c:
        if actor == f"user:{username}":
            raise CannotDeactivateSelf(user=username)
        user = accounts.set_active(c.conn, username, False)
        c.audit("user.deactivate", f"user:{username}", {}, reason=reason)
        c.publish("user", username)
    return user_doc(user)


def activate_user(engine: Engine, actor: str, username: str) -> dict[str, Any]:
    """A deactivated user may sign in again (with new API tokens: the old ones stay revoked)."""
    with change(engine, actor) as c:
        user = accounts.set_active(c.conn, username, True)
        c.audit("user.activate", f"user:{username}")
        c.publish("user", username)
    return user_doc(user)


def reset_password(engine: Engine, actor: str, username: str, *, password: str) -> dict[str, Any]:
    """An administrator gives a user a new password; the user's sessions end and failed tries are forgotten."""
    with change(engine, actor) as c:
        user = accounts.set_password(c.conn, username, password)
        c.audit("user.reset_password", f"user:{username}")
        c.publish("user", username)
    return user_doc(user)


def reset_pin(engine: Engine, actor: str, username: str, *, pin: str) -> dict[str, Any]:
    """An administrator gives an operator a new PIN; the operator's sessions end and failed tries are forgotten."""
    with change(engine, actor) as c:
        user = accounts.set_pin(c.conn, username, pin)
        c.audit("user.reset_pin", f"user:{username}")
        c.publish("user", username)
    return user_doc(user)


def end_sessions(engine: Engine, actor: str, username: str) -> int:
    """Sign a user out everywhere (a lost phone, a shared terminal left signed in); returns how many sessions
    ended."""
    with change(engine, actor) as c:
        user = accounts.by_username(c.conn, username)
        ended = accounts.end_sessions(c.conn, user.id)
        c.audit("user.end_sessions", f"user:{username}", {"sessions": ended})
        c.publish("user", username)
    return ended
