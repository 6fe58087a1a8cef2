"""Numbers and times as people and files write them, read strictly.

Python's own parsers accept more than a plant's data should: ``int("١٢٣")`` is 123 (Arabic-Indic digits),
``int("1_000")`` and ``float("1_000")`` are 1000, ``float("inf")`` and ``float("nan")`` are numbers, a count of
twenty digits overflows the store's 64-bit column, and ``datetime.fromisoformat("0001-01-01T00:00:00+09:00")``
cannot even be converted to UTC.  The readers here accept ASCII digits only, no underscores, finite values, and
times in a plausible range; a caller that gets None refuses the value with its own message.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone

EARLIEST = datetime(1970, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(2999, 12, 31, tzinfo=timezone.utc)
MAX_DIGITS = 15  # a count of up to 999 trillion: far beyond any plant, far within a 64-bit column

_WHOLE = re.compile(rf"[+-]?[0-9]{{1,{MAX_DIGITS}}}")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,3})?")


def whole_number(text: str) -> int | None:
    """``text`` (trimmed) as a whole number written with ASCII digits, up to 15 of them; else None."""
    text = text.strip()
    return int(text) if _WHOLE.fullmatch(text) else None


def decimal_number(text: str) -> float | None:
    """``text`` (trimmed) as a finite decimal number written with ASCII digits (``1.5``, ``-2``, ``3e-4``); a
    decimal comma, digit group separators, ``inf`` and ``nan`` give None."""
    text = text.strip()
    if not _DECIMAL.fullmatch(text):
        return None
    value = float(text)
    return value if math.isfinite(value) else None


def plausible_time(ts: datetime) -> datetime | None:
    """``ts`` (with its UTC offset) in UTC if it lies between 1970 and 2999; else None."""
    if ts.tzinfo is None:
        return None
    try:
        utc = ts.astimezone(timezone.utc)
    except (OverflowError, ValueError):
        return None
    return utc if EARLIEST <= utc <= LATEST else None


def looks_like_cp949(content: bytes) -> bool:
    """Whether bytes that are not UTF-8 read as Korean text in CP949, the encoding Korean Excel saves
    "CSV (comma delimited)" files in: they decode without error and hold Hangul syllables."""
    try:
        text = content.decode("cp949")
    except UnicodeDecodeError:
        return False
    return any("\uac00" <= ch <= "\ud7a3" for ch in text)
