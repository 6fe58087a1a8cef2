"""Every lot status against every action: allowed, or refused naming the status and what the lot can still do."""

from __future__ import annotations

import pytest

from shopfloor.errors import LotActionNotAllowed, LotFinal
from shopfloor.model.lots import ALLOWED, Action, LotStatus, check_action, status_after

EXPECTED = {
    LotStatus.ACTIVE: {"issue", "split", "merge", "hold", "move", "ship", "scrap", "adjust", "return"},
    LotStatus.HOLD: {"release", "move", "scrap", "adjust", "return"},
    LotStatus.CONSUMED: set(),
    LotStatus.SHIPPED: set(),
    LotStatus.SCRAPPED: set(),
    LotStatus.RETURNED: set(),
}
ACTIONS = [a for a in Action if a not in (Action.RECEIVE, Action.PRODUCE)]  # these make a new lot


@pytest.mark.parametrize("status", list(LotStatus))
@pytest.mark.parametrize("action", ACTIONS)
def test_each_status_and_action(status, action):
    if action.value in EXPECTED[status]:
        check_action("L1", status, action)
    else:
        with pytest.raises((LotActionNotAllowed, LotFinal)) as refused:
            check_action("L1", status, action)
        can = sorted(EXPECTED[status])
        params = {"lot": "L1", "status": status.value, "action": action.value}
        assert refused.value == (LotActionNotAllowed(**params, can=can) if can else LotFinal(**params))


def test_the_table_is_the_one_documented():
    assert {s: {a.value for a in acts} for s, acts in ALLOWED.items()} == EXPECTED


@pytest.mark.parametrize(
    "action, status",
    [(Action.SHIP, LotStatus.SHIPPED), (Action.SCRAP, LotStatus.SCRAPPED), (Action.RETURN, LotStatus.RETURNED),
     (Action.ISSUE, LotStatus.CONSUMED),
     (Action.SPLIT, LotStatus.CONSUMED), (Action.MERGE, LotStatus.CONSUMED), (Action.ADJUST, LotStatus.CONSUMED)],
)  # fmt: skip
def test_a_lot_emptied_becomes_final_and_one_with_stock_keeps_its_status(action, status):
    assert status_after(0, action, LotStatus.ACTIVE) is status
    assert status_after(1, action, LotStatus.HOLD) is LotStatus.HOLD
