"""Half-open time intervals [start, end) on timezone-aware datetimes, and the set operations KPIs need.

Every KPI sums durations of intervals; counting an overlap twice is the classic bug, so the operations here
always return sorted, non-overlapping intervals.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone


@dataclass(frozen=True, order=True, slots=True)
class Interval:
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("interval bounds must be timezone-aware")
        if self.end < self.start:
            raise ValueError(f"interval ends before it starts: {self.start.isoformat()} > {self.end.isoformat()}")

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()

    def intersect(self, other: Interval) -> Interval | None:
        start = max(self.start, other.start)
        end = min(self.end, other.end)
        return Interval(start, end) if start < end else None

    def contains(self, ts: datetime) -> bool:
        return self.start <= ts < self.end


def utc(ts: datetime) -> datetime:
    """``ts`` converted to UTC; naive datetimes are refused because their meaning is unknown."""
    if ts.tzinfo is None:
        raise ValueError(f"timestamp {ts.isoformat()} has no time zone offset")
    return ts.astimezone(timezone.utc)


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Union of intervals as a sorted list of disjoint, non-touching intervals."""
    out: list[Interval] = []
    for iv in sorted(i for i in intervals if i.end > i.start):
        if out and iv.start <= out[-1].end:
            if iv.end > out[-1].end:
                out[-1] = Interval(out[-1].start, iv.end)
        else:
            out.append(iv)
    return out


def intersect_all(a: Iterable[Interval], b: Iterable[Interval]) -> list[Interval]:
    """Intersection of two interval sets (each merged first)."""
    left, right = merge(a), merge(b)
    out: list[Interval] = []
    i = j = 0
    while i < len(left) and j < len(right):
        part = left[i].intersect(right[j])
        if part is not None:
            out.append(part)
        if left[i].end <= right[j].end:
            i += 1
        else:
            j += 1
    return out


def subtract(a: Iterable[Interval], b: Iterable[Interval]) -> list[Interval]:
    """The parts of ``a`` not covered by ``b``."""
    out: list[Interval] = []
    cuts = merge(b)
    for iv in merge(a):
        cursor = iv.start
        for cut in cuts:
            if cut.end <= cursor:
                continue
            if cut.start >= iv.end:
                break
            if cut.start > cursor:
                out.append(Interval(cursor, cut.start))
            cursor = max(cursor, cut.end)
            if cursor >= iv.end:
                break
        if cursor < iv.end:
            out.append(Interval(cursor, iv.end))
    return out


def total_seconds(intervals: Iterable[Interval]) -> float:
    return sum(iv.seconds for iv in merge(intervals))


def hour_floor(ts: datetime) -> datetime:
    return ts.replace(minute=0, second=0, microsecond=0)


def hours(window: Interval) -> list[Interval]:
    """``window`` cut at every whole UTC hour."""
    out: list[Interval] = []
    cursor = window.start
    while cursor < window.end:
        nxt = min(hour_floor(cursor) + timedelta(hours=1), window.end)
        out.append(Interval(cursor, nxt))
        cursor = nxt
    return out
