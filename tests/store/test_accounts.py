"""Accounts on both stores: argon2 hashes, PIN sign-in, sessions, API tokens, throttling."""

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from shopfloor.errors import (
    LanguageUnknown,
    PasswordTooShort,
    PinInvalid,
    PinOnlyForOperators,
    RoleUnknown,
    SecretMissing,
)
from shopfloor.store import accounts
from shopfloor.store.schema import api_tokens, sessions, sign_in_throttle, users


def test_passwords_and_pins_are_stored_as_argon2id_hashes(engine):
    with engine.begin() as conn:
        accounts.create_user(conn, "kim", "supervisor", password="correct horse battery")
        accounts.create_user(conn, "nguyen", "operator", pin="4821", badge="B-1001", language="vi")
        rows = {r.username: r for r in conn.execute(select(users))}
    assert rows["kim"].password_hash.startswith("$argon2id$")
    assert "correct horse" not in rows["kim"].password_hash
    assert rows["nguyen"].pin_hash.startswith("$argon2id$") and rows["nguyen"].password_hash is None
    with engine.begin() as conn:
        assert accounts.check_password(conn, "kim", "correct horse battery").role == "supervisor"
        assert accounts.check_password(conn, "kim", "wrong") is None
        assert accounts.check_password(conn, "nobody", "correct horse battery") is None
        assert accounts.check_pin(conn, "B-1001", "4821").username == "nguyen"
        assert accounts.check_pin(conn, "nguyen", "4821").language == "vi"
        assert accounts.check_pin(conn, "B-1001", "0000") is None
        assert accounts.check_pin(conn, "kim", "4821") is None


@pytest.mark.parametrize(
    "kwargs, refusal",
    [
        (
            {"username": "a", "role": "boss", "password": "x" * 12},
            RoleUnknown(role="boss", roles=accounts.ROLES + accounts.HUB_ROLES),
        ),
        ({"username": "a", "role": "operator"}, SecretMissing()),
        ({"username": "a", "role": "admin", "password": "short"}, PasswordTooShort(min_length=10)),
        ({"username": "a", "role": "operator", "pin": "12ab"}, PinInvalid()),
        ({"username": "a", "role": "admin", "pin": "1234"}, PinOnlyForOperators()),
        (
            {"username": "a", "role": "operator", "pin": "1234", "language": "fr"},
            LanguageUnknown(language="fr", languages=accounts.LANGUAGES),
        ),
    ],
)
def test_bad_accounts_are_refused_with_a_reason(engine, kwargs, refusal):
    with pytest.raises(type(refusal)) as refused, engine.begin() as conn:
        accounts.create_user(conn, **kwargs)
    assert refused.value == refusal


def test_sessions_store_only_a_hash_and_expire(engine):
    with engine.begin() as conn:
        user = accounts.create_user(conn, "lee", "quality", password="quality-password-1")
        s = accounts.create_session(conn, user)
        stored = conn.execute(select(sessions.c.token_hash)).scalar()
    assert stored == accounts.sha256(s.token) and s.token not in stored
    with engine.begin() as conn:
        assert accounts.session_for(conn, s.token).user.username == "lee"
        assert accounts.session_for(conn, "forged") is None
        conn.execute(sessions.update().values(expires_at=datetime.now(timezone.utc) - timedelta(seconds=1)))
        assert accounts.session_for(conn, s.token) is None


def test_api_tokens_act_as_their_user_until_revoked(engine):
    with engine.begin() as conn:
        user = accounts.create_user(conn, "line-plc", "supervisor", password="machine-password-1")
        token = accounts.create_api_token(conn, user, "WELD gateway")
        assert accounts.user_for_api_token(conn, token).username == "line-plc"
        token_id = conn.execute(select(api_tokens.c.id)).scalar()
        assert accounts.revoke_api_token(conn, token_id)
        assert accounts.user_for_api_token(conn, token) is None


def test_five_reserved_tries_throttle_the_account_until_the_window_ends(engine):
    account, device = "account:7", "device:10.0.0.9"
    with engine.begin() as conn:
        for _ in range(5):
            assert accounts.reserve_try(conn, account, device) == 0
        wait = accounts.reserve_try(conn, account, "device:10.0.0.10")
    assert 0 < wait <= 15 * 60 + 1
    with engine.begin() as conn:
        later = datetime.now(timezone.utc) + timedelta(minutes=16)
        assert accounts.reserve_try(conn, account, device, now=later) == 0


def test_a_success_forgets_the_accounts_failures_and_gives_the_device_its_try_back(engine):
    account, device = "account:7", "device:10.0.0.9"
    with engine.begin() as conn:
        for _ in range(4):
            accounts.reserve_try(conn, account, device)
        accounts.try_succeeded(conn, account, device)
        rows = dict(conn.execute(select(sign_in_throttle.c.key, sign_in_throttle.c.failures)).all())
    assert rows == {account: 0, device: 3}


def test_a_device_past_its_limit_is_slowed_not_locked(engine):
    device = "device:10.0.0.9"
    now = datetime.now(timezone.utc)
    with engine.begin() as conn:
        for i in range(accounts.DEVICE_LIMIT):
            assert accounts.reserve_try(conn, f"account:{i}", device, now=now) == 0
        assert 0 < accounts.reserve_try(conn, "account:99", device, now=now) <= 31
        assert accounts.reserve_try(conn, "account:99", device, now=now + accounts.DEVICE_PACE) == 0
        assert accounts.reserve_try(conn, "account:98", device, now=now + accounts.DEVICE_PACE) > 0
