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
from shopfloor.store.schema import HUB_ROLES, ROLES, api_tokens, login_attempts, organisations, sessions, users

# A user's own language: any of the terminal's (an operator may read Nepali; office pages then show the site's).
LANGUAGES = NAME_LANGUAGES
SESSION_LIFETIME = timedelta(hours=12)
THROTTLE_WINDOW = timedelta(minutes=15)
THROTTLE_LIMIT = 5  # failed attempts per key within the window
MIN_PASSWORD = 10


# argon2-cffi's default parameters: RFC 9106's low-memory profile.  No setting weakens them.
_hasher = PasswordHasher()
# A hash to verify against when the user does not exist, so that timing does not reveal which names exist.
_DUMMY_HASH = _hasher.hash("not a real password")


def use_hasher(hasher: PasswordHasher) -> PasswordHasher:
    """Hash new secrets with ``hasher`` from now on; returns the one it replaces.  Only the test suite calls this,
    to make the thousands of accounts it creates cheap (``tests/conftest.py``); a server never does."""
    global _hasher, _DUMMY_HASH
    previous, _hasher = _hasher, hasher
    _DUMMY_HASH = hasher.hash("not a real password")
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
    if pin is not None and not (pin.isdigit() and 4 <= len(pin) <= 8):
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
        return _hasher.verify(hash_ or _DUMMY_HASH, secret) and hash_ is not None
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
    row = conn.execute(select(users).where((users.c.badge == who) | (users.c.username == who))).first()
    ok = _verify(row.pin_hash if row else None, pin)
    if not ok or not row.active:
        return None
    return _user(row)


# -- throttling ----------------------------------------------------------------------------------------------
def throttled_for(conn: Connection, keys: list[str], now: datetime | None = None) -> int:
    """Seconds to wait before another login attempt for any of ``keys`` (0 = allowed)."""
    now = now or datetime.now(timezone.utc)
    since = now - THROTTLE_WINDOW
    worst = 0
    for key in keys:
        rows = (
            conn.execute(
                select(login_attempts.c.ts)
                .where(login_attempts.c.key == key, login_attempts.c.ts >= since, login_attempts.c.success.is_(False))
                .order_by(login_attempts.c.ts)
            )
            .scalars()
            .all()
        )
        if len(rows) >= THROTTLE_LIMIT:
            wait = (rows[-THROTTLE_LIMIT] + THROTTLE_WINDOW - now).total_seconds()
            worst = max(worst, int(wait) + 1)
    return worst


def record_attempt(conn: Connection, keys: list[str], success: bool) -> None:
    now = datetime.now(timezone.utc)
    for key in keys:
        conn.execute(insert(login_attempts).values(key=key, ts=now, success=success))
    if success:
        # A successful login clears the failures counted against this name (not against the address).
        conn.execute(delete(login_attempts).where(login_attempts.c.key == keys[0], login_attempts.c.success.is_(False)))
    conn.execute(delete(login_attempts).where(login_attempts.c.ts < now - THROTTLE_WINDOW * 4))


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
