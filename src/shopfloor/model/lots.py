"""Lots: quantities, statuses and which action each status allows.

Quantities are kept as integer thousandths of the item's unit (``milli``), so a split or a merge conserves the
quantity exactly; a quantity with more than three decimals is refused rather than rounded.

Statuses:

- ``active``: stock on hand that can be issued, split, merged, moved, shipped, scrapped or counted;
- ``hold``: blocked (quality, recall); it can be released, moved (e.g. to quarantine), scrapped or counted;
- ``consumed``: nothing left after issues, splits or a merge; ``shipped``: everything shipped;
  ``scrapped``: everything scrapped; ``returned``: everything sent back to the supplier.  These are final: the
  lot keeps its history and its genealogy.
"""

from __future__ import annotations

import enum
import math
from decimal import Decimal, InvalidOperation
from typing import Any

from shopfloor.errors import (
    LotActionNotAllowed,
    LotFinal,
    QuantityDecimals,
    QuantityNegative,
    QuantityNotFinite,
    QuantityNotNumber,
    QuantityNotPositive,
    QuantityTooLarge,
)

MAX_MILLI = 10**15  # a trillion units: far above any lot, far below a 64-bit column


class LotStatus(enum.StrEnum):
    ACTIVE = "active"
    HOLD = "hold"
    CONSUMED = "consumed"
    SHIPPED = "shipped"
    SCRAPPED = "scrapped"
    RETURNED = "returned"


class Action(enum.StrEnum):
    RECEIVE = "receive"
    PRODUCE = "produce"
    ISSUE = "issue"
    SPLIT = "split"
    MERGE = "merge"
    HOLD = "hold"
    RELEASE = "release"
    MOVE = "move"
    SHIP = "ship"
    SCRAP = "scrap"
    ADJUST = "adjust"
    RETURN = "return"


ALLOWED: dict[LotStatus, frozenset[Action]] = {
    LotStatus.ACTIVE: frozenset(
        {
            Action.ISSUE,
            Action.SPLIT,
            Action.MERGE,
            Action.HOLD,
            Action.MOVE,
            Action.SHIP,
            Action.SCRAP,
            Action.ADJUST,
            Action.RETURN,
        }
    ),
    LotStatus.HOLD: frozenset({Action.RELEASE, Action.MOVE, Action.SCRAP, Action.ADJUST, Action.RETURN}),
    LotStatus.CONSUMED: frozenset(),
    LotStatus.SHIPPED: frozenset(),
    LotStatus.SCRAPPED: frozenset(),
    LotStatus.RETURNED: frozenset(),
}


def check_action(code: str, status: LotStatus, action: Action) -> None:
    """Refuse ``action`` on a lot in ``status`` with the reason and what the lot can still do."""
    if action in ALLOWED[status]:
        return
    can = sorted(a.value for a in ALLOWED[status])
    if not can:
        raise LotFinal(lot=code, status=status.value, action=action.value)
    raise LotActionNotAllowed(lot=code, status=status.value, action=action.value, can=can)


def to_milli(value: Any, what: str = "quantity", allow_zero: bool = False) -> int:
    """A quantity (number or text, ``,`` or ``.`` as decimal mark) as integer thousandths; refused if it is not
    a finite number, is negative (or zero unless allowed) or has more than three decimals."""
    if isinstance(value, bool):
        raise QuantityNotNumber(what=what, value=repr(value))
    if isinstance(value, float) and not math.isfinite(value):
        raise QuantityNotFinite(what=what, value=str(value))
    text = str(value).strip().replace(",", ".") if isinstance(value, str) else str(value)
    try:
        dec = Decimal(text)
    except InvalidOperation:
        raise QuantityNotNumber(what=what, value=repr(value)) from None
    if not dec.is_finite():
        raise QuantityNotFinite(what=what, value=str(value))
    milli = dec * 1000
    if milli != milli.to_integral_value():
        raise QuantityDecimals(what=what, value=str(value))
    out = int(milli)
    if out > MAX_MILLI:
        raise QuantityTooLarge(what=what, value=str(value), limit=f"{MAX_MILLI // 1000:,}")
    if out < 0 or (out == 0 and not allow_zero):
        raise (QuantityNegative if allow_zero else QuantityNotPositive)(what=what, value=str(value))
    return out


def from_milli(milli: int) -> Decimal:
    """Thousandths back to a decimal quantity, without trailing zeros (``12.5``, ``3``)."""
    dec = Decimal(milli) / 1000
    return dec.quantize(Decimal(1)) if dec == dec.to_integral_value() else dec.normalize()


def qty_text(milli: int) -> str:
    return format(from_milli(milli), "f")


def status_after(on_hand_milli: int, emptied_by: Action, current: LotStatus) -> LotStatus:
    """The status after an action leaves ``on_hand_milli``: a lot emptied by it becomes final."""
    if on_hand_milli > 0:
        return current
    return {
        Action.SHIP: LotStatus.SHIPPED,
        Action.SCRAP: LotStatus.SCRAPPED,
        Action.RETURN: LotStatus.RETURNED,
    }.get(emptied_by, LotStatus.CONSUMED)
