"""Accounts: users and roles, argon2id password and PIN hashes, server-side sessions, API tokens, and login
throttling.

Secrets are never stored: passwords and PINs as argon2id hashes (RFC 9106), session and API tokens as their
SHA-256 (they are 256-bit random values, so a fast hash is enough and lookups stay indexed).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Connection, and_, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from shopfloor.errors import (
    BadgeTaken,
    LanguageUnknown,
    OrganisationNotFound,
    OrganisationRequired,
    OrganisationRoleMismatch,
    PasswordTooShort,
    PinInvalid,
    PinOnlyForOperators,
    RoleUnknown,
    SecretMissing,
    UserExists,
    UsernameInvalid,
    UserNotFound,
)
from shopfloor.model.reasons import NAME_LANGUAGES
from shopfloor.store.locks import lock_name
from shopfloor.store.schema import HUB_ROLES, ROLES, api_tokens, organisations, sessions, sign_in_throttle, users

# A user's own language: any of the terminal's (an operator may read Nepali; office pages then show the site's).
LANGUAGES = NAME_LANGUAGES
SESSION_LIFETIME = timedelta(hours=12)
THROTTLE_WINDOW = timedelta(minutes=15)
THROTTLE_LIMIT = 5  # failed attempts per key within the window
MIN_PASSWORD = 10


# argon2-cffi's default parameters: RFC 9106's low-memory profile.  No setting weakens them.
_hasher = PasswordHasher()
# A hash to verify against when the user does not exist, so that timing does not reveal which names exist; made
# on first use (0.1 s of hashing that a command which never checks a password does not pay) by ``dummy_hash``.
_DUMMY_HASH: str | None = None


def dummy_hash() -> str:
    """The hash a secret is checked against when there is no account: made once, with the current hasher."""
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = _hasher.hash("not a real password")
    return _DUMMY_HASH


def use_hasher(hasher: PasswordHasher) -> PasswordHasher:
    """Hash new secrets with ``hasher`` from now on; returns the one it replaces.  Only the test suite calls this,
    to make the thousands of accounts it creates cheap (``tests/conftest.py``); a server never does."""
    global _hasher, _DUMMY_HASH
    previous, _hasher = _hasher, hasher
    _DUMMY_HASH = None
    return previous


@dataclass(frozen=True)
class User:
    id: int
    username: str
    display_name: str
    role: str
    language: str | None
    active: bool
    badge: str | None = None
    organisation_id: int | None = None  # hub mode: the organisation the user belongs to


def _user(row) -> User:
    return User(
        row.id, row.username, row.display_name, row.role, row.language, row.active, row.badge, row.organisation_id
    )


def sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_user(
    conn: Connection,
    username: str,
    role: str,
    password: str | None = None,
    pin: str | None = None,
    display_name: str | None = None,
    badge: str | None = None,
    language: str | None = None,
    organisation: str | None = None,
) -> User:
    """A user; with ``organisation`` (a hub organisation's code), a hub user whose role is that organisation's
    kind (office, sponsor or factory)."""
    organisation_id = None
    if organisation is not None:
        org = conn.execute(
            select(organisations.c.id, organisations.c.kind).where(organisations.c.code == organisation)
        ).first()
        if org is None:
            raise OrganisationNotFound(organisation=organisation)
        if role != org.kind:
            raise OrganisationRoleMismatch(organisation=organisation, kind=org.kind, role=role)
        organisation_id = org.id
    elif role in HUB_ROLES:
        raise OrganisationRequired(role=role)
    elif role not in ROLES:
        raise RoleUnknown(role=role, roles=ROLES + HUB_ROLES)
    if language is not None and language not in LANGUAGES:
        raise LanguageUnknown(language=language, languages=LANGUAGES)
    if not username or len(username) > 64:
        raise UsernameInvalid()
    if password is None and pin is None:
        raise SecretMissing()
    if password is not None and len(password) < MIN_PASSWORD:
        raise PasswordTooShort(min_length=MIN_PASSWORD)
    if pin is not None and not (pin.isascii() and pin.isdigit() and 4 <= len(pin) <= 8):
        raise PinInvalid()
    if pin is not None and password is None and role != "operator":
        raise PinOnlyForOperators()
    lock_name(conn, "user", username)
    if badge:
        lock_name(conn, "badge", badge)
    if conn.execute(select(users.c.id).where(users.c.username == username)).first():
        raise UserExists(user=username)
    if badge and conn.execute(select(users.c.id).where(users.c.badge == badge)).first():
        raise BadgeTaken(badge=badge)
    uid = conn.execute(
        insert(users).values(
            username=username,
            display_name=display_name or username,
            role=role,
            password_hash=_hasher.hash(password) if password else None,
            pin_hash=_hasher.hash(pin) if pin else None,
            badge=badge or None,
            language=language,
            active=True,
            created_at=datetime.now(timezone.utc),
            organisation_id=organisation_id,
        )
    ).inserted_primary_key[0]
    return get_user(conn, uid)


def get_user(conn: Connection, user_id: int) -> User:
    row = conn.execute(select(users).where(users.c.id == user_id)).first()
    if row is None:
        raise UserNotFound(user=user_id)
    return _user(row)


def by_username(conn: Connection, username: str) -> User:
    row = conn.execute(select(users).where(users.c.username == username)).first()
    if row is None:
        raise UserNotFound(user=username)
    return _user(row)


def list_users(conn: Connection) -> list[User]:
    return [_user(r) for r in conn.execute(select(users).order_by(users.c.username))]


def set_language(conn: Connection, user_id: int, language: str) -> None:
    if language not in LANGUAGES:
        raise LanguageUnknown(language=language, languages=LANGUAGES)
    conn.execute(update(users).where(users.c.id == user_id).values(language=language))


def _verify(hash_: str | None, secret: str) -> bool:
    try:
        return _hasher.verify(hash_ or dummy_hash(), secret) and hash_ is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def check_password(conn: Connection, username: str, password: str) -> User | None:
    row = conn.execute(select(users).where(users.c.username == username)).first()
    ok = _verify(row.password_hash if row else None, password)
    if not ok or not row.active:
        return None
    if _hasher.check_needs_rehash(row.password_hash):
        conn.execute(update(users).where(users.c.id == row.id).values(password_hash=_hasher.hash(password)))
    return _user(row)


def check_pin(conn: Connection, who: str, pin: str) -> User | None:
    """An operator on a shared terminal: ``who`` is a badge number or a username."""
    row = conn.execute(
        select(users).where((users.c.badge == who) | (users.c.username == who)).order_by(users.c.id)
    ).first()
    ok = _verify(row.pin_hash if row else None, pin)
    if not ok or not row.active:
        return None
    return _user(row)


def update_user(
    conn: Connection,
    username: str,
    *,
    role: str | None = None,
    language: str | None = None,
    badge: str | None = None,
    display_name: str | None = None,
) -> tuple[User, dict]:
    """Change a user's role, language, badge or display name (``badge=""`` removes it); returns the user and
    what changed, ``{field: [before, after]}``.  A hub user's role is its organisation's kind and stays."""
    row = conn.execute(select(users).where(users.c.username == username).with_for_update()).first()
    if row is None:
        raise UserNotFound(user=username)
    values: dict = {}
    if role is not None and role != row.role:
        if row.organisation_id is not None or role in HUB_ROLES or role not in ROLES:
            raise RoleUnknown(role=role, roles=ROLES)
        if row.pin_hash and not row.password_hash and role != "operator":
            raise PinOnlyForOperators()
        values["role"] = role
    if language is not None and language != row.language:
        if language not in LANGUAGES:
            raise LanguageUnknown(language=language, languages=LANGUAGES)
        values["language"] = language
    if badge is not None and (badge or None) != row.badge:
        if badge:
            lock_name(conn, "badge", badge)
            if conn.execute(select(users.c.id).where(users.c.badge == badge, users.c.id != row.id)).first():
                raise BadgeTaken(badge=badge)
        values["badge"] = badge or None
    if display_name is not None and display_name.strip() and display_name != row.display_name:
        values["display_name"] = display_name.strip()[:200]
    if values:
        conn.execute(update(users).where(users.c.id == row.id).values(**values))
    changed = {k: [getattr(row, k), v] for k, v in values.items()}
    return get_user(conn, row.id), changed


def set_active(conn: Connection, username: str, active: bool) -> User:
    """Deactivate (or reactivate) a user; a deactivated user's sessions end and API tokens are revoked at once."""
    user = by_username(conn, username)
    conn.execute(update(users).where(users.c.id == user.id).values(active=active))
    if not active:
        end_sessions(conn, user.id)
        conn.execute(
            update(api_tokens)
            .where(api_tokens.c.user_id == user.id, api_tokens.c.revoked_at.is_(None))
            .values(revoked_at=datetime.now(timezone.utc))
        )
    return get_user(conn, user.id)


def set_password(conn: Connection, username: str, password: str) -> User:
    """A new password (an administrator's reset); the user's sessions end."""
    user = by_username(conn, username)
    if len(password) < MIN_PASSWORD:
        raise PasswordTooShort(min_length=MIN_PASSWORD)
    conn.execute(update(users).where(users.c.id == user.id).values(password_hash=_hasher.hash(password)))
    end_sessions(conn, user.id)
    clear_throttle(conn, user.id)
    return user


def set_pin(conn: Connection, username: str, pin: str) -> User:
    """A new PIN for an operator's shared-terminal sign-in; the operator's sessions end."""
    user = by_username(conn, username)
    if not (pin.isascii() and pin.isdigit() and 4 <= len(pin) <= 8):
        raise PinInvalid()
    if user.role != "operator":
        raise PinOnlyForOperators()
    conn.execute(update(users).where(users.c.id == user.id).values(pin_hash=_hasher.hash(pin)))
    end_sessions(conn, user.id)
    clear_throttle(conn, user.id)
    return user


def end_sessions(conn: Connection, user_id: int) -> int:
    """End every session of a user (signed out everywhere); returns how many."""
    return conn.execute(delete(sessions).where(sessions.c.user_id == user_id)).rowcount


def active_sessions(conn: Connection) -> dict[int, int]:
    """The number of open sessions per user id."""
    now = datetime.now(timezone.utc)
    rows = conn.execute(
        select(sessions.c.user_id, func.count()).where(sessions.c.expires_at > now).group_by(sessions.c.user_id)
    )
    return {uid: n for uid, n in rows}


# -- throttling ----------------------------------------------------------------------------------------------
# A try is reserved before its secret is checked, by a conditional UPDATE of one row per key that counts it as a
# failure; a success gives it back.  Parallel tries therefore wait on the row and see each other's reservations:
# no more than the limit are ever checked, however many arrive at once.
#
# - ``account:<id>``: the account, whichever alias named it (user name or badge), from any device: five failures
#   in fifteen minutes.  A name that is no account counts under ``name:<name>``, so that the answer does not
#   tell which names exist.
# - ``device:<address>``: a terminal (or any client).  Its failures over all accounts count too, so nobody can
#   try one PIN on every badge; past twenty, the device is not locked but slowed to one try every thirty
#   seconds, so a colleague with the right PIN is not kept out of a shared terminal for a quarter of an hour.
ACCOUNT_LIMIT = THROTTLE_LIMIT
DEVICE_LIMIT = 20
DEVICE_PACE = timedelta(seconds=30)


def _upsert_throttle(conn: Connection):
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(sign_in_throttle).on_conflict_do_nothing(index_elements=["key"])


def account_key(conn: Connection, name: str) -> str:
    """The throttle key of the account ``name`` (a user name or a badge) signs in to."""
    uid = conn.execute(
        select(users.c.id).where((users.c.badge == name) | (users.c.username == name)).order_by(users.c.id)
    ).scalar()
    return f"account:{uid}" if uid is not None else f"name:{name}"


def reserve_try(conn: Connection, account: str, device: str, now: datetime | None = None) -> int:
    """Count one try against ``account`` and ``device`` if both allow it; returns 0 when reserved, or the seconds
    to wait (nothing is counted then, once the caller's transaction rolls back)."""
    now = now or datetime.now(timezone.utc)
    t = sign_in_throttle.c
    for key in (account, device):  # always in this order, so two tries never wait on each other's rows
        conn.execute(_upsert_throttle(conn).values(key=key, failures=0, window_start=now))
        conn.execute(
            update(sign_in_throttle)
            .where(t.key == key, t.window_start <= now - THROTTLE_WINDOW)
            .values(failures=0, window_start=now)
        )
    taken = conn.execute(
        update(sign_in_throttle)
        .where(t.key == account, t.failures < ACCOUNT_LIMIT)
        .values(failures=t.failures + 1, last_try=now)
    ).rowcount
    if not taken:
        start = conn.execute(select(t.window_start).where(t.key == account)).scalar_one()
        return int((start + THROTTLE_WINDOW - now).total_seconds()) + 1
    taken = conn.execute(
        update(sign_in_throttle)
        .where(t.key == device, (t.failures < DEVICE_LIMIT) | t.last_try.is_(None) | (t.last_try <= now - DEVICE_PACE))
        .values(failures=t.failures + 1, last_try=now)
    ).rowcount
    if not taken:
        last = conn.execute(select(t.last_try).where(t.key == device)).scalar_one()
        return int((last + DEVICE_PACE - now).total_seconds()) + 1
    return 0


def try_succeeded(conn: Connection, account: str, device: str) -> None:
    """A reserved try found the right secret: the account's failures are forgotten, the device gets its try
    back."""
    t = sign_in_throttle.c
    conn.execute(update(sign_in_throttle).where(t.key == account).values(failures=0))
    conn.execute(update(sign_in_throttle).where(t.key == device, t.failures > 0).values(failures=t.failures - 1))
    conn.execute(delete(sign_in_throttle).where(t.window_start < datetime.now(timezone.utc) - THROTTLE_WINDOW * 4))


def clear_throttle(conn: Connection, user_id: int) -> None:
    """An administrator gave the account a new secret: its failures are forgotten."""
    conn.execute(delete(sign_in_throttle).where(sign_in_throttle.c.key == f"account:{user_id}"))


# -- sessions ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Session:
    token: str
    csrf_token: str
    user: User
    expires_at: datetime


def create_session(conn: Connection, user: User) -> Session:
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    now = datetime.now(timezone.utc)
    expires = now + SESSION_LIFETIME
    conn.execute(
        insert(sessions).values(
            token_hash=sha256(token), user_id=user.id, csrf_token=csrf, created_at=now, expires_at=expires
        )
    )
    conn.execute(delete(sessions).where(sessions.c.expires_at < now))
    return Session(token, csrf, user, expires)


def session_for(conn: Connection, token: str) -> Session | None:
    now = datetime.now(timezone.utc)
    row = conn.execute(
        select(sessions, users)
        .join(users, users.c.id == sessions.c.user_id)
        .where(sessions.c.token_hash == sha256(token), sessions.c.expires_at > now, users.c.active.is_(True))
    ).first()
    if row is None:
        return None
    return Session(token, row.csrf_token, _user(row), row.expires_at)


def end_session(conn: Connection, token: str) -> None:
    conn.execute(delete(sessions).where(sessions.c.token_hash == sha256(token)))


# -- API tokens ----------------------------------------------------------------------------------------------
def create_api_token(conn: Connection, user: User, name: str) -> str:
    """A new token for scripts and machines; it acts with ``user``'s role.  Shown once, stored hashed."""
    token = "sf_" + secrets.token_urlsafe(32)
    conn.execute(
        insert(api_tokens).values(
            name=name, token_hash=sha256(token), user_id=user.id, created_at=datetime.now(timezone.utc)
        )
    )
    return token


def user_for_api_token(conn: Connection, token: str) -> User | None:
    row = conn.execute(
        select(users, api_tokens.c.id.label("token_id"))
        .join(api_tokens, api_tokens.c.user_id == users.c.id)
        .where(api_tokens.c.token_hash == sha256(token), api_tokens.c.revoked_at.is_(None), users.c.active.is_(True))
    ).first()
    if row is None:
        return None
    conn.execute(
        update(api_tokens).where(api_tokens.c.id == row.token_id).values(last_used_at=datetime.now(timezone.utc))
    )
    return _user(row)


def revoke_api_token(conn: Connection, token_id: int) -> bool:
    return bool(
        conn.execute(
            update(api_tokens)
            .where(and_(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None)))
            .values(revoked_at=datetime.now(timezone.utc))
        ).rowcount
    )


def count_users(conn: Connection) -> int:
    return conn.execute(select(func.count()).select_from(users)).scalar_one()


def list_api_tokens(conn: Connection) -> list[dict]:
    """Tokens without their secret: id, name, user, created, last used, revoked."""
    rows = conn.execute(
        select(
            api_tokens.c.id,
            api_tokens.c.name,
            users.c.username,
            api_tokens.c.created_at,
            api_tokens.c.last_used_at,
            api_tokens.c.revoked_at,
        )
        .join(users, users.c.id == api_tokens.c.user_id)
        .order_by(api_tokens.c.id)
    ).mappings()
    return [dict(r) for r in rows]
