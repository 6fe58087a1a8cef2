"""Sign-in throttling under parallel tries, on SQLite and PostgreSQL: hundreds of tries released together check no
more secrets than the limit allows, an account is counted whichever alias names it, and a shared terminal that
saw one person's failures still lets the next person in.

Each secret check is counted by wrapping ``check_pin``: the throttle is right when the count stays within the
limit, however many tries arrive at once (the check-then-record throttle it replaces let 18-19 of 400 through).
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import update

from shopfloor.actions.accounts import sign_in
from shopfloor.errors import SignInThrottled, WrongSecret
from shopfloor.store import accounts
from shopfloor.store.schema import sign_in_throttle
from tests.actions.test_races import together

TRIES = 300


class Counted:
    """``check_pin`` with a count of the secrets it checked."""

    def __init__(self):
        self.lock = threading.Lock()
        self.checked = 0

    def __call__(self, who: str, pin: str):
        def check(conn):
            with self.lock:
                self.checked += 1
            return accounts.check_pin(conn, who, pin)

        return check


@pytest.fixture
def operators(engine):
    with engine.begin() as conn:
        accounts.create_user(conn, "nguyen", "operator", pin="4821", badge="B-1001")
        accounts.create_user(conn, "park", "operator", pin="7350", badge="B-1002")
        for i in range(60):
            accounts.create_user(conn, f"op{i:02d}", "operator", pin=f"{9000 + i}", badge=f"B-2{i:03d}")
    return engine


def _outcomes(results):
    return {
        "wrong": sum(isinstance(r, WrongSecret) for r in results),
        "throttled": sum(isinstance(r, SignInThrottled) for r in results),
        "in": sum(isinstance(r, accounts.Session) for r in results),
    }


def test_hundreds_of_parallel_guesses_at_one_account_check_at_most_five_pins(operators):
    counted = Counted()
    # Alternate the account's aliases and spread the tries over many devices: only the account limit is left.
    calls = [
        lambda i=i: sign_in(operators, ("B-1001", "nguyen")[i % 2], f"10.1.{i // 250}.{i % 250}",
                            counted(("B-1001", "nguyen")[i % 2], f"{1000 + i:04d}"), via="test")
        for i in range(TRIES)
    ]  # fmt: skip
    results = together(calls)
    assert counted.checked == accounts.ACCOUNT_LIMIT
    assert _outcomes(results) == {"wrong": 5, "throttled": TRIES - 5, "in": 0}
    # The right PIN is refused as well until the window ends: the guesses spent the account's tries.
    with pytest.raises(SignInThrottled):
        sign_in(operators, "B-1001", "10.9.9.9", counted("B-1001", "4821"), via="test")


def test_one_terminal_trying_one_pin_on_every_badge_is_held_to_the_device_limit(operators):
    counted = Counted()
    calls = [
        lambda i=i: sign_in(operators, f"B-2{i % 60:03d}", "10.0.0.50", counted(f"B-2{i % 60:03d}", "1234"),
                            via="test")
        for i in range(TRIES)
    ]  # fmt: skip
    results = together(calls)
    assert counted.checked == accounts.DEVICE_LIMIT
    assert _outcomes(results) == {"wrong": accounts.DEVICE_LIMIT, "throttled": TRIES - accounts.DEVICE_LIMIT, "in": 0}


def test_a_colleague_with_the_right_pin_is_not_locked_out_of_a_shared_terminal(operators):
    terminal = "10.0.0.77"
    for guess in ("0000", "1111", "2222", "3333", "4444"):
        with pytest.raises(WrongSecret):
            sign_in(operators, "B-1001", terminal, Counted()("B-1001", guess), via="test")
    with pytest.raises(SignInThrottled):
        sign_in(operators, "B-1001", terminal, Counted()("B-1001", "4821"), via="test")
    session = sign_in(operators, "B-1002", terminal, Counted()("B-1002", "7350"), via="test")
    assert session.user.username == "park"


def test_a_terminal_past_its_limit_lets_the_next_person_in_after_the_pause(operators):
    terminal = "10.0.0.78"
    for i in range(accounts.DEVICE_LIMIT):  # four failures each on five accounts: none of them is locked
        with pytest.raises(WrongSecret):
            sign_in(operators, f"B-2{i // 4:03d}", terminal, Counted()(f"B-2{i // 4:03d}", "1234"), via="test")
    with pytest.raises(SignInThrottled) as refused:
        sign_in(operators, "B-1002", terminal, Counted()("B-1002", "7350"), via="test")
    assert refused.value.params["seconds"] <= accounts.DEVICE_PACE.total_seconds() + 1
    with operators.begin() as conn:  # the pause has passed
        conn.execute(
            update(sign_in_throttle)
            .where(sign_in_throttle.c.key == f"device:{terminal}")
            .values(last_try=datetime.now(timezone.utc) - accounts.DEVICE_PACE - timedelta(seconds=1))
        )
    assert sign_in(operators, "B-1002", terminal, Counted()("B-1002", "7350"), via="test").user.username == "park"


def test_a_right_pin_before_the_limit_forgets_the_failures(operators):
    terminal = "10.0.0.79"
    for _ in range(3):
        for guess in ("0000", "1111", "2222", "3333"):
            with pytest.raises(WrongSecret):
                sign_in(operators, "nguyen", terminal, Counted()("nguyen", guess), via="test")
        assert sign_in(operators, "B-1001", terminal, Counted()("B-1001", "4821"), via="test")
